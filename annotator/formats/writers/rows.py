"""What an export is made of: one trace with every label on it and the label it resolves to.

Plain frozen dataclasses filled by the export service and read by the pure view functions; no
database here. Turns stay in the store's compact JSON form (lists of dicts, default fields left
out) because rebuilding pydantic models for every block would cost more than writing the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EXPORT_MARKER = "annotator_export"
"""Key present in every ``full`` record; its value is the record layout version."""
EXPORT_VERSION = 1


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands back naive datetimes that are UTC by convention)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(slots=True)
class LabelEntry:
    """One labeler's current label on a trace (any status; only ``done`` counts as a vote)."""

    annotator: str
    status: str
    verdict: str | None
    label: dict[str, Any]
    """The domain ``Label`` as a JSON object (verdict, tags, counter_tags, confidence, ...)."""
    seconds_spent: float = 0.0
    comment: str | None = None
    schema_version: int = 1
    created_at: datetime | None = None
    submitted_at: datetime | None = None
    clean: bool = False
    """``label`` is a complete Label object as the app writes it (every field, right types), so
    readers may index it without checks."""


@dataclass(slots=True)
class AdjudicationEntry:
    lead: str
    verdict: str
    label: dict[str, Any]
    note: str | None = None
    created_at: datetime | None = None
    clean: bool = False
    """As :attr:`LabelEntry.clean`."""


@dataclass(slots=True)
class Resolution:
    """The label a trace resolves to and how it was reached.

    ``method``: ``adjudicated``, ``unanimous``, ``majority``, ``tie`` (no single most common
    verdict; ``tied`` lists the candidates) or ``none`` (no vote)."""

    method: str
    verdict: str | None = None
    tags: tuple[str, ...] = ()
    counter_tags: tuple[str, ...] = ()
    confidence: int | None = None
    spans: tuple[dict[str, Any], ...] = ()
    """Evidence spans (turn, block, start, end, text, labeler) behind the resolved label."""
    tied: tuple[str, ...] = ()
    n_labelers: int = 0
    votes: tuple[tuple[str, int], ...] = ()
    """(verdict, count) over ``done`` labels, sorted by verdict."""
    agreement: float | None = None
    """Share of labelers whose verdict equals the resolved verdict."""
    pairwise: float | None = None
    """Share of labeler pairs that gave the same verdict (None with fewer than two labelers)."""

    @property
    def labeled(self) -> bool:
        return self.verdict is not None


class RawJson:
    """JSON text embedded as it is (the JSONL writer hands it to orjson as a Fragment): the
    full view's turns, which the store already keeps as compact JSON, are not parsed and
    serialised again. Not a dataclass: orjson would serialise a dataclass field by field."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


@dataclass(slots=True)
class ExportRow:
    """One trace as the views see it. Every datetime in it is aware UTC (see :func:`utc`)."""

    uid: str
    turns: list[dict[str, Any]]
    meta: dict[str, Any]
    """source_format, model, account_id, session_id, created_at (datetime), token counts,
    source_file, source_line, extra (dict)."""
    is_gold: bool
    labels: tuple[LabelEntry, ...]
    adjudications: tuple[AdjudicationEntry, ...]
    resolution: Resolution
    original: Any = None
    has_original: bool = False
    """Whether the caller asked for the original record (``original`` may be None anyway)."""
    turns_json: bytes | None = None
    """The turns as the store keeps them (compact JSON). When set, the full view embeds these
    bytes and ``turns`` may be left empty; the other views need ``turns``."""
    extras: dict[str, Any] = field(default_factory=dict)
