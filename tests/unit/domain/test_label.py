"""Schema rules on labels produce sentences a labeler can act on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from annotator.domain.label import EvidenceSpan, Label, validate_label
from annotator.resources import default_schema

SCHEMA = default_schema()


def test_valid_label_has_no_problems() -> None:
    label = Label(
        verdict="suspected_distillation",
        tags=("REASONING_ELICIT", "TEMPLATE_AT_SCALE"),
        counter_tags=(),
        confidence=2,
        rationale="Template across six accounts.",
        spans=(EvidenceSpan(turn=1, block=0, start=0, end=12, text="Show every s"),),
    )
    assert validate_label(label, SCHEMA) == []


def test_verdict_required() -> None:
    assert validate_label(Label(), SCHEMA) == ["Choose a verdict."]


def test_confidence_required_unless_cannot_determine() -> None:
    problems = validate_label(Label(verdict="legitimate"), SCHEMA)
    assert problems == ["Confidence is required for “Legitimate”."]
    assert validate_label(Label(verdict="cannot_determine"), SCHEMA) == []


def test_out_of_range_confidence_and_unknown_tags() -> None:
    label = Label(
        verdict="legitimate", confidence=7, tags=("NOPE",), counter_tags=("REASONING_ELICIT",)
    )
    assert validate_label(label, SCHEMA) == [
        "Confidence must be between 1 and 3.",
        "Unknown evidence tags: NOPE.",
        "Unknown counter-evidence tags: REASONING_ELICIT.",
    ]


def test_span_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="end after it starts"):
        EvidenceSpan(turn=0, block=0, start=5, end=5)
