"""Export options and the per-trace filter, applied in the runner's first (light) pass.

The filter sees :class:`TraceFacts`, the few columns and vote counts a decision needs, so
deciding which traces go out never loads a trace's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from annotator.formats.writers import FORMATS
from annotator.formats.writers.views import VIEW_NAMES
from annotator.services.exporting.resolve import METHODS, RESOLVE_STEPS, TIE_POLICIES, parse_steps
from annotator.services.exporting.splits import parse_ratios

GROUP_BY = ("account", "session", "cluster", "none")


class ExportError(ValueError):
    """Options or a destination that cannot work; the message says what to change."""


@dataclass(frozen=True)
class ExportOptions:
    """Everything that decides an export's content (all of it goes into the manifest).

    ``statuses`` keeps traces whose resolution method is one of them (``adjudicated``,
    ``unanimous``, ``majority``, ``tie``, ``unresolved``, ``none``). The date range
    ``[since_date, until_date)`` applies to when a trace was last labeled (latest ``done`` label
    or adjudication). ``labelers`` keeps traces that at least one of them labeled (``done``)."""

    format: str = "jsonl"
    view: str = "full"
    resolve: tuple[str, ...] = RESOLVE_STEPS
    ties: str = "skip"
    unlabeled: bool = False
    include_original: bool = False
    verdicts: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    min_labelers: int = 0
    min_agreement: float | None = None
    since_date: datetime | None = None
    until_date: datetime | None = None
    labelers: tuple[str, ...] = ()
    gold: bool = True
    batches: tuple[int, ...] = ()
    split: tuple[float, ...] | None = None
    seed: int = 0
    group_by: str = "account"
    since: Path | None = None
    overwrite: bool = False

    def checked(self) -> ExportOptions:
        """Self, or ExportError naming the bad option."""
        if self.format not in FORMATS:
            raise ExportError(f"unknown format {self.format!r}; choose from {', '.join(FORMATS)}")
        if self.view not in VIEW_NAMES:
            raise ExportError(f"unknown view {self.view!r}; choose from {', '.join(VIEW_NAMES)}")
        if self.ties not in TIE_POLICIES:
            raise ExportError(f"--ties must be one of {', '.join(TIE_POLICIES)}")
        if self.group_by not in GROUP_BY:
            raise ExportError(f"--group-by must be one of {', '.join(GROUP_BY)}")
        try:
            parse_steps(self.resolve)
            if self.split is not None:
                parse_ratios(self.split)
        except ValueError as exc:
            raise ExportError(str(exc)) from None
        unknown = sorted(set(self.statuses) - set(METHODS))
        if unknown:
            raise ExportError(
                f"unknown status {', '.join(unknown)}; choose from {', '.join(METHODS)}"
            )
        if self.min_agreement is not None and not 0.0 <= self.min_agreement <= 1.0:
            raise ExportError("--min-agreement must be between 0 and 1")
        if self.min_labelers < 0:
            raise ExportError("--min-labelers must not be negative")
        if self.include_original and self.view != "full":
            raise ExportError("--include-original only applies to the full view")
        return self

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the manifest and for --json."""

        def when(d: datetime | None) -> str | None:
            return None if d is None else _aware(d).isoformat()

        return {
            "format": self.format,
            "view": self.view,
            "resolve": list(self.resolve),
            "ties": self.ties,
            "unlabeled": self.unlabeled,
            "include_original": self.include_original,
            "verdicts": sorted(self.verdicts),
            "statuses": sorted(self.statuses),
            "min_labelers": self.min_labelers,
            "min_agreement": self.min_agreement,
            "since_date": when(self.since_date),
            "until_date": when(self.until_date),
            "labelers": sorted(self.labelers),
            "gold": self.gold,
            "batches": sorted(self.batches),
            "split": list(self.split) if self.split else None,
            "seed": self.seed,
            "group_by": self.group_by,
            "since": str(self.since) if self.since else None,
        }


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(slots=True)
class TraceFacts:
    """What the filter needs about one trace."""

    id: int
    uid: str
    is_gold: bool
    batch_id: int | None
    group: str | None
    votes: list[str] = field(default_factory=list)
    labelers: list[str] = field(default_factory=list)
    adjudicated: str | None = None
    labeled_at: datetime | None = None

    def saw(self, when: datetime | None) -> None:
        if when is not None:
            when = _aware(when)
            if self.labeled_at is None or when > self.labeled_at:
                self.labeled_at = when


def facts_matter(options: ExportOptions) -> bool:
    """Whether :func:`keep` looks at a trace's facts at all with these options (without gold,
    batch, labeler-count, labeler or date filters it decides on the resolution alone)."""
    return bool(
        not options.gold
        or options.batches
        or options.min_labelers > 0
        or options.labelers
        or options.since_date is not None
        or options.until_date is not None
    )


def keep(
    facts: TraceFacts,
    method: str,
    verdict: str | None,
    share: float | None,
    options: ExportOptions,
) -> str | None:
    """None if the trace goes out, else the reason it does not (for the summary)."""
    if verdict is None:
        marked_tie = method == "tie" and options.ties == "mark"
        if not (options.unlabeled or marked_tie):
            return "tie" if method == "tie" else "unresolved"
    if not options.gold and facts.is_gold:
        return "gold"
    if options.batches and facts.batch_id not in options.batches:
        return "batch"
    if options.verdicts and verdict not in options.verdicts:
        return "verdict"
    if options.statuses and method not in options.statuses:
        return "status"
    if len(facts.votes) < options.min_labelers:
        return "min_labelers"
    if options.min_agreement is not None and (share is None or share < options.min_agreement):
        return "min_agreement"
    if options.labelers and not set(options.labelers) & set(facts.labelers):
        return "labeler"
    if options.since_date is not None or options.until_date is not None:
        when = facts.labeled_at
        if when is None:
            return "date"
        if options.since_date is not None and when < _aware(options.since_date):
            return "date"
        if options.until_date is not None and when >= _aware(options.until_date):
            return "date"
    return None
