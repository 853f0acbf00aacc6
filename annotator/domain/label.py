"""A label as a labeler makes it, and the schema rules it must satisfy."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from annotator.domain.schema import LabelSchema


class LabelStatus(StrEnum):
    TODO = "todo"
    DRAFT = "draft"
    DONE = "done"
    SKIPPED = "skipped"
    FLAGGED = "flagged"


class EvidenceSpan(BaseModel):
    """A highlighted passage: character offsets into one block's text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    turn: int = Field(ge=0)
    block: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> EvidenceSpan:
        if self.end <= self.start:
            raise ValueError("an evidence span must end after it starts")
        return self


class Label(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: str | None = None
    tags: tuple[str, ...] = ()
    counter_tags: tuple[str, ...] = ()
    confidence: int | None = None
    rationale: str = ""
    spans: tuple[EvidenceSpan, ...] = ()


def validate_label(label: Label, schema: LabelSchema) -> list[str]:
    """Every way ``label`` breaks ``schema``, as sentences a labeler can act on (empty if valid)."""
    problems: list[str] = []
    if label.verdict is None:
        return ["Choose a verdict."]
    if label.verdict not in schema.verdict_values:
        problems.append(f"Unknown verdict {label.verdict!r}.")
    conf = schema.confidence
    if label.confidence is None:
        if label.verdict not in conf.optional_for:
            title = (
                schema.verdict(label.verdict).title
                if label.verdict in schema.verdict_values
                else label.verdict
            )
            problems.append(f"Confidence is required for “{title}”.")
    elif not conf.min <= label.confidence <= conf.max:
        problems.append(f"Confidence must be between {conf.min} and {conf.max}.")
    unknown = sorted(set(label.tags) - schema.tag_names)
    if unknown:
        problems.append(f"Unknown evidence tags: {', '.join(unknown)}.")
    unknown = sorted(set(label.counter_tags) - schema.counter_tag_names)
    if unknown:
        problems.append(f"Unknown counter-evidence tags: {', '.join(unknown)}.")
    if label.verdict in schema.rationale_required_for and not label.rationale.strip():
        problems.append("A rationale is required for this verdict.")
    return problems
