"""Label resolution: adjudicated, unanimous, majority, ties, and the resolved label's details."""

from __future__ import annotations

import pytest

from annotator.formats.writers.rows import AdjudicationEntry, LabelEntry
from annotator.services.exporting.resolve import (
    agreement_figures,
    parse_steps,
    resolve,
    resolve_verdict,
)


def entry(
    who: str,
    verdict: str,
    *,
    tags: tuple[str, ...] = (),
    confidence: int | None = 2,
    status: str = "done",
    spans: tuple[dict[str, object], ...] = (),
) -> LabelEntry:
    return LabelEntry(
        annotator=who,
        status=status,
        verdict=verdict,
        label={
            "verdict": verdict,
            "tags": list(tags),
            "counter_tags": [],
            "confidence": confidence,
            "rationale": "",
            "spans": list(spans),
        },
    )


def test_unanimous_majority_tie_and_none() -> None:
    assert resolve_verdict(["a", "a"], None) == ("unanimous", "a", ())
    assert resolve_verdict(["a", "a", "b"], None) == ("majority", "a", ())
    assert resolve_verdict(["a", "b", "b", "a"], None) == ("tie", None, ("a", "b"))
    assert resolve_verdict([], None) == ("none", None, ())


def test_adjudication_wins_over_any_vote() -> None:
    assert resolve_verdict(["a", "a", "a"], "b") == ("adjudicated", "b", ())


def test_steps_are_selectable_and_ordered() -> None:
    assert resolve_verdict(["a", "a", "b"], None, ("adjudicated", "unanimous")) == (
        "unresolved",
        None,
        (),
    )
    # majority before adjudication: the votes decide even though a lead adjudicated
    assert resolve_verdict(["a", "a", "b"], "b", ("majority", "adjudicated")) == (
        "majority",
        "a",
        (),
    )
    assert parse_steps("majority, adjudicated,majority") == ("majority", "adjudicated")
    with pytest.raises(ValueError, match="unknown resolution step"):
        parse_steps("vote")
    with pytest.raises(ValueError, match="at least one"):
        parse_steps("")


def test_agreement_figures() -> None:
    votes, share, pairwise = agreement_figures(["a", "a", "b"], "a")
    assert votes == (("a", 2), ("b", 1))
    assert share == pytest.approx(2 / 3)
    assert pairwise == pytest.approx(2 / 6)  # one agreeing pair out of three, counted both ways
    assert agreement_figures(["a"], "a")[1:] == (1.0, None)
    assert agreement_figures([], None)[1:] == (None, None)


def test_majority_label_details_come_from_the_agreeing_labelers() -> None:
    span = {"turn": 1, "block": 0, "start": 2, "end": 5, "text": "abc"}
    res = resolve(
        [
            entry("carol", "a", tags=("X", "Y"), confidence=3, spans=(span,)),
            entry("alice", "a", tags=("X",), confidence=1, spans=(span,)),
            entry("bob", "b", tags=("Z",), confidence=3),
            entry("dave", "a", tags=("X",), confidence=2, status="draft"),
        ],
        None,
    )
    assert (res.method, res.verdict, res.n_labelers) == ("majority", "a", 3)
    assert res.tags == ("X", "Y")  # Y: one of two agreeing labelers is half, kept; Z is not
    assert res.confidence == 1  # lower median of (1, 3)
    assert [s["labeler"] for s in res.spans] == ["alice"]  # same span once, first by name
    assert res.votes == (("a", 2), ("b", 1))
    assert res.agreement == pytest.approx(2 / 3)


def test_adjudicated_label_details_are_the_leads() -> None:
    adj = AdjudicationEntry(
        lead="lead",
        verdict="b",
        label={"verdict": "b", "tags": ["Q"], "confidence": 3, "spans": []},
    )
    res = resolve([entry("alice", "a"), entry("bob", "a")], adj)
    assert (res.method, res.verdict, res.tags, res.confidence) == ("adjudicated", "b", ("Q",), 3)
    assert res.agreement == 0.0


def test_drafts_do_not_vote() -> None:
    res = resolve([entry("alice", "a", status="draft")], None)
    assert (res.method, res.verdict, res.n_labelers) == ("none", None, 0)
