"""Handing out work: N items to chosen labelers, k labelers per item, gold items mixed in.

A labeler's queue is their ``Assignment`` rows by position (see services/queue.py). Every
function here is lead-only and runs in one transaction: it checks everything first and raises
:class:`AssignmentError` (or :class:`RoleError`) before writing, so bad input changes nothing.
Labels are never touched: unassigning or reassigning only moves queue entries.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from annotator.domain.label import Label, LabelStatus, validate_label
from annotator.domain.schema import LabelSchema
from annotator.services.detection.suggest import DETECTOR, SUSPECT_AT
from annotator.services.projects import get_project
from annotator.services.review import (
    ReviewError,
    RoleError,
    find_trace,
    member_role,
    require_lead,
)
from annotator.store.database import Database
from annotator.store.models import (
    Annotator,
    Assignment,
    LabelRow,
    Project,
    Suggestion,
    TraceRow,
    utcnow,
)

__all__ = [
    "ORDERS",
    "SCORE_COLUMNS",
    "AssignmentError",
    "AssignmentResult",
    "MoveResult",
    "RoleError",
    "assign",
    "mark_gold",
    "reassign",
    "unassign",
    "unmark_gold",
]

ORDERS = ("random", "import", "score", "uncertainty")
"""``uncertainty``: items whose heuristic suggestion is least certain first (score nearest the
suspect line, as ``detection.suggest.ordered_trace_ids``), items without a suggestion last."""
SCORE_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "reasoning_chars": TraceRow.reasoning_chars,
    "input_tokens": TraceRow.input_tokens,
    "output_tokens": TraceRow.output_tokens,
    "reasoning_tokens": TraceRow.reasoning_tokens,
    "n_turns": TraceRow.n_turns,
    "truncated_count": TraceRow.truncated_count,
    "created_at": TraceRow.created_at,
}
"""Trace columns ``order="score"`` can sort by (highest first); ``suggestion:DETECTOR`` sorts
by that detector's score."""
STARTED = (LabelStatus.DONE.value, LabelStatus.SKIPPED.value, LabelStatus.FLAGGED.value)


class AssignmentError(ValueError):
    """An assignment that cannot be made as asked; nothing was changed."""


@dataclass(frozen=True)
class AssignmentResult:
    n_items: int
    n_gold: int
    per_labeler: dict[str, int]
    """New queue entries per labeler."""
    trace_ids: tuple[int, ...] = field(default=(), repr=False)
    """The traces handed out, in queue order."""

    @property
    def n_assignments(self) -> int:
        return sum(self.per_labeler.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.n_items,
            "gold": self.n_gold,
            "assignments": self.n_assignments,
            "per_labeler": self.per_labeler,
        }


@dataclass(frozen=True)
class MoveResult:
    moved: int
    kept_labeled: int
    """Entries left in place because the labeler already labeled the item."""
    skipped_duplicate: int = 0
    """Entries not moved because the receiver already had the item."""

    def as_dict(self) -> dict[str, int]:
        return {
            "moved": self.moved,
            "kept_labeled": self.kept_labeled,
            "skipped_duplicate": self.skipped_duplicate,
        }


def _members(session: Session, project: Project, names: Sequence[str]) -> dict[str, int]:
    """Annotator ids of ``names``, each checked to be a member of the project."""
    out: dict[str, int] = {}
    for raw in names:
        name = raw.strip()
        if name in out:
            raise AssignmentError(f"{name!r} is listed twice")
        if member_role(session, project, name) is None:
            raise AssignmentError(
                f"{name!r} is not a member of project {project.name!r} "
                f"(add them: annotator members add --project {project.name!r} {name!r})"
            )
        annotator_id = session.scalar(select(Annotator.id).where(Annotator.name == name))
        assert annotator_id is not None
        out[name] = annotator_id
    return out


def _ordered_candidates(
    session: Session,
    project: Project,
    *,
    gold: bool,
    order: str,
    score_column: str | None,
    rng: random.Random,
) -> list[int]:
    """Trace ids of the project (gold or not), in the requested order."""
    where = [TraceRow.project_id == project.id, TraceRow.is_gold.is_(gold)]
    if order == "uncertainty":
        # The same definition as suggest.ordered_trace_ids, but in SQL inside this transaction.
        distance = (
            select(func.abs(Suggestion.score - SUSPECT_AT))
            .where(Suggestion.trace_id == TraceRow.id, Suggestion.detector == DETECTOR)
            .scalar_subquery()
        )
        stmt = select(TraceRow.id).where(*where).order_by(distance.asc().nulls_last(), TraceRow.id)
        return list(session.scalars(stmt).all())
    if order == "score":
        assert score_column is not None
        if score_column.startswith("suggestion:"):
            detector = score_column.split(":", 1)[1]
            score = (
                select(func.max(Suggestion.score))
                .where(Suggestion.trace_id == TraceRow.id, Suggestion.detector == detector)
                .scalar_subquery()
            )
            stmt = (
                select(TraceRow.id).where(*where).order_by(score.desc().nulls_last(), TraceRow.id)
            )
        else:
            column = SCORE_COLUMNS[score_column]
            stmt = (
                select(TraceRow.id).where(*where).order_by(column.desc().nulls_last(), TraceRow.id)
            )
        return list(session.scalars(stmt).all())
    ids = list(session.scalars(select(TraceRow.id).where(*where).order_by(TraceRow.id)).all())
    if order == "random":
        rng.shuffle(ids)
    return ids


def _taken(session: Session, project: Project) -> tuple[dict[int, set[int]], set[int]]:
    """Per trace, the annotators it is assigned to or labeled by; and the traces touched at all
    (assigned, or labeled beyond a bare todo row)."""
    holders: dict[int, set[int]] = defaultdict(set)
    for trace_id, annotator_id in session.execute(
        select(Assignment.trace_id, Assignment.annotator_id).where(
            Assignment.project_id == project.id
        )
    ):
        holders[trace_id].add(annotator_id)
    for trace_id, annotator_id, status in session.execute(
        select(LabelRow.trace_id, LabelRow.annotator_id, LabelRow.status).where(
            LabelRow.project_id == project.id
        )
    ):
        if status != LabelStatus.TODO.value:
            holders[trace_id].add(annotator_id)
    return holders, set(holders)


def _check_options(
    n_items: int, n_labelers: int, overlap_k: int, gold_rate: float, order: str, score: str | None
) -> None:
    if n_items < 1:
        raise AssignmentError("assign at least one item")
    if n_labelers == 0:
        raise AssignmentError("choose at least one labeler")
    if overlap_k < 1:
        raise AssignmentError("each item needs at least one labeler (k >= 1)")
    if overlap_k > n_labelers:
        raise AssignmentError(
            f"k = {overlap_k} labelers per item is more than the {n_labelers} chosen"
        )
    if not 0.0 <= gold_rate <= 1.0:
        raise AssignmentError("the gold rate must be between 0 and 1")
    if order not in ORDERS:
        raise AssignmentError(f"unknown order {order!r}; use {', '.join(ORDERS)}")
    if order == "score":
        if not score:
            raise AssignmentError("order by score needs a score column")
        if score not in SCORE_COLUMNS and not score.startswith("suggestion:"):
            known = ", ".join([*SCORE_COLUMNS, "suggestion:DETECTOR"])
            raise AssignmentError(f"unknown score column {score!r}; use one of {known}")


def assign(
    db: Database,
    project: str,
    *,
    n_items: int,
    labelers: Sequence[str],
    overlap_k: int = 1,
    gold_rate: float = 0.0,
    order: str = "random",
    seed: int = 0,
    score_column: str | None = None,
    assigned_by: str,
) -> AssignmentResult:
    """Lead-only. Hand out ``n_items`` items, each to ``overlap_k`` of ``labelers``, in one
    transaction.

    ``round(n_items * gold_rate)`` of the items are gold items (they need an answer), mixed at
    seeded random places, so each queue has about that share of gold. Items nobody has been
    given or has labeled come first; an item is never given twice to the same labeler. Each item
    goes to the labelers with the fewest new items so far (ties broken by a seeded order), so
    loads differ by at most one when every labeler can take every item. Entries are appended
    after each labeler's current queue."""
    names = [n.strip() for n in labelers]
    _check_options(n_items, len(names), overlap_k, gold_rate, order, score_column)
    rng = random.Random(seed)
    n_gold = round(n_items * gold_rate)
    n_regular = n_items - n_gold
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, assigned_by)
        ids = _members(session, project_row, names)
        holders, touched = _taken(session, project_row)
        chosen_ids = set(ids.values())

        def pick(candidates: list[int], count: int, what: str) -> list[int]:
            eligible = [
                t for t in candidates if len(chosen_ids - holders.get(t, set())) >= overlap_k
            ]
            fresh = [t for t in eligible if t not in touched]
            rest = [t for t in eligible if t in touched]
            pool = fresh + rest
            if count > len(pool):
                raise AssignmentError(
                    f"asked for {count} {what} but only {len(pool)} of the project's "
                    f"{len(candidates)} {what} can still go to {overlap_k} of these labelers"
                )
            return pool[:count]

        regular = _ordered_candidates(
            session, project_row, gold=False, order=order, score_column=score_column, rng=rng
        )
        chosen = pick(regular, n_regular, "items")
        gold_items: list[int] = []
        if n_gold:
            gold = _ordered_candidates(
                session, project_row, gold=True, order="random", score_column=None, rng=rng
            )
            unanswered = session.scalars(
                select(TraceRow.uid).where(
                    TraceRow.project_id == project_row.id,
                    TraceRow.is_gold.is_(True),
                    TraceRow.gold_json.is_(None),
                )
            ).all()
            if unanswered:
                raise AssignmentError(
                    f"gold item {unanswered[0]!r} has no answer"
                    + (f" (and {len(unanswered) - 1} more)" if len(unanswered) > 1 else "")
                    + f"; set one: annotator gold set --project {project_row.name!r} "
                    f"--trace {unanswered[0]!r} --verdict V"
                )
            gold_items = pick(gold, n_gold, "gold items")
        items = list(chosen)
        for trace_id in gold_items:
            items.insert(rng.randint(0, len(items)), trace_id)

        tiebreak = {aid: i for i, aid in enumerate(rng.sample(sorted(chosen_ids), len(ids)))}
        load = dict.fromkeys(chosen_ids, 0)
        next_pos: dict[int, int] = {}
        for aid in chosen_ids:
            top = session.scalar(
                select(func.max(Assignment.position)).where(
                    Assignment.project_id == project_row.id, Assignment.annotator_id == aid
                )
            )
            next_pos[aid] = (top + 1) if top is not None else 0
        now = utcnow()
        lead_name = assigned_by.strip()
        rows: list[dict[str, Any]] = []
        for trace_id in items:
            free = sorted(
                chosen_ids - holders.get(trace_id, set()), key=lambda a: (load[a], tiebreak[a])
            )
            for aid in free[:overlap_k]:
                rows.append(
                    {
                        "project_id": project_row.id,
                        "trace_id": trace_id,
                        "annotator_id": aid,
                        "position": next_pos[aid],
                        "assigned_by": lead_name,
                        "assigned_at": now,
                    }
                )
                next_pos[aid] += 1
                load[aid] += 1
        if rows:  # one executemany, not an ORM object per queue entry
            session.execute(insert(Assignment), rows)
        by_name = {aid: name for name, aid in ids.items()}
        return AssignmentResult(
            n_items=len(items),
            n_gold=len(gold_items),
            per_labeler={
                by_name[aid]: n for aid, n in sorted(load.items(), key=lambda x: by_name[x[0]])
            },
            trace_ids=tuple(items),
        )


def _queue(
    session: Session, project: Project, annotator_id: int, traces: Sequence[str | int] | None
) -> list[Assignment]:
    stmt = (
        select(Assignment)
        .where(Assignment.project_id == project.id, Assignment.annotator_id == annotator_id)
        .order_by(Assignment.position, Assignment.id)
    )
    if traces is not None:
        wanted = [find_trace(session, project, ref).id for ref in traces]
        stmt = stmt.where(Assignment.trace_id.in_(wanted))
    return list(session.scalars(stmt).all())


def _started(session: Session, annotator_id: int, trace_ids: Sequence[int]) -> set[int]:
    """Which of ``trace_ids`` the annotator has labeled (submitted, skipped or flagged). Reads
    all their labels rather than an IN list, which a long queue would push past SQLite's
    parameter limit."""
    labeled = set(
        session.scalars(
            select(LabelRow.trace_id).where(
                LabelRow.annotator_id == annotator_id, LabelRow.status.in_(STARTED)
            )
        ).all()
    )
    return labeled.intersection(trace_ids)


def reassign(
    db: Database,
    project: str,
    *,
    from_labeler: str,
    to_labeler: str,
    assigned_by: str,
    traces: Sequence[str | int] | None = None,
) -> MoveResult:
    """Lead-only. Move ``from_labeler``'s queue entries they have not labeled (all, or the
    given traces) to the end of ``to_labeler``'s queue. Labeled entries stay; labels (and
    drafts) are never touched."""
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, assigned_by)
        ids = _members(session, project_row, [from_labeler, to_labeler])
        source, target = ids[from_labeler.strip()], ids[to_labeler.strip()]
        entries = _queue(session, project_row, source, traces)
        started = _started(session, source, [e.trace_id for e in entries])
        target_has = set(
            session.scalars(
                select(Assignment.trace_id).where(
                    Assignment.project_id == project_row.id, Assignment.annotator_id == target
                )
            ).all()
        ) | set(
            session.scalars(
                select(LabelRow.trace_id).where(
                    LabelRow.project_id == project_row.id,
                    LabelRow.annotator_id == target,
                    LabelRow.status.in_(STARTED),
                )
            ).all()
        )
        top = session.scalar(
            select(func.max(Assignment.position)).where(
                Assignment.project_id == project_row.id, Assignment.annotator_id == target
            )
        )
        position = (top + 1) if top is not None else 0
        moved = kept = duplicate = 0
        for entry in entries:
            if entry.trace_id in started:
                kept += 1
            elif entry.trace_id in target_has:
                duplicate += 1
            else:
                entry.annotator_id = target
                entry.position = position
                entry.assigned_by = assigned_by.strip()
                entry.assigned_at = utcnow()
                position += 1
                moved += 1
        return MoveResult(moved, kept, duplicate)


def unassign(
    db: Database,
    project: str,
    *,
    labeler: str,
    assigned_by: str,
    traces: Sequence[str | int] | None = None,
    include_labeled: bool = False,
) -> MoveResult:
    """Lead-only. Take entries (all, or the given traces) out of ``labeler``'s queue; labeled
    ones stay unless ``include_labeled``, and labels are kept either way. A labeler left with
    no entry at all works from the whole project again (services/queue.py)."""
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, assigned_by)
        annotator_id = _members(session, project_row, [labeler])[labeler.strip()]
        entries = _queue(session, project_row, annotator_id, traces)
        started = (
            set()
            if include_labeled
            else _started(session, annotator_id, [e.trace_id for e in entries])
        )
        doomed = [e.id for e in entries if e.trace_id not in started]
        if doomed:
            session.execute(delete(Assignment).where(Assignment.id.in_(doomed)))
        return MoveResult(len(doomed), len(entries) - len(doomed))


def mark_gold(db: Database, project: str, trace: str | int, label: Label, *, lead: str) -> int:
    """Lead-only. Make a trace a gold item with ``label`` as its known answer (checked against
    the schema); returns the trace id. Labelers never see that an item is gold."""
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        try:
            row = find_trace(session, project_row, trace)
        except ReviewError as exc:
            raise AssignmentError(str(exc)) from None
        problems = validate_label(label, LabelSchema.model_validate_json(project_row.schema_json))
        if problems:
            raise AssignmentError("the gold answer is not a valid label: " + " ".join(problems))
        row.is_gold = True
        row.gold_json = label.model_dump_json()
        return row.id


def unmark_gold(db: Database, project: str, trace: str | int, *, lead: str) -> int:
    """Lead-only. Make a gold item an ordinary one again (its answer is dropped)."""
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        try:
            row = find_trace(session, project_row, trace)
        except ReviewError as exc:
            raise AssignmentError(str(exc)) from None
        row.is_gold = False
        row.gold_json = None
        return row.id
