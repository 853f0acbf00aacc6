"""The labeler's queue: which traces they have to do, in which order, filtered and sorted.

Queries select ids only (a 1M-row queue is a list of ints, not of ORM objects) and never look
at other annotators' labels or at gold flags: labelers label blind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, select, true
from sqlalchemy.orm import Session

from annotator.domain.label import LabelStatus
from annotator.store.models import Assignment, LabelRow, TraceRow
from annotator.store.search import search_trace_ids

SORTS = ("queue", "newest", "oldest", "model", "account")
"""Accepted values of :attr:`QueueFilter.sort`."""

STATUSES = tuple(s.value for s in LabelStatus)


@dataclass(frozen=True)
class QueueFilter:
    """What part of the queue to show. ``None`` means no restriction."""

    statuses: frozenset[str] | None = None
    """LabelStatus values; ``todo`` also matches traces the annotator never touched."""
    verdicts: frozenset[str] | None = None
    search: str | None = None
    """Full-text query over the trace text (the store's FTS index: words, "phrases", prefix*)."""
    sort: str = "queue"
    """``queue`` (assignment position, else import order), ``newest``, ``oldest`` (trace time,
    unknown times last), ``model``, ``account``."""


@dataclass(frozen=True)
class QueueRow:
    """What the queue table shows for one trace: cheap columns plus this annotator's status."""

    trace_id: int
    status: str
    verdict: str | None
    preview: str
    model: str | None
    account_id: str | None
    created_at: datetime | None
    source_format: str


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time we store is UTC, so say so."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def has_assignments(session: Session, project_id: int, annotator_id: int) -> bool:
    """Whether the annotator works from an assigned list (else: every trace of the project).

    Once a lead hands out work in a project, everyone in it works from their own list only,
    even when that list is empty: a labeler never falls back to the whole project, where they
    would meet gold items and other people's work."""
    del annotator_id  # the rule is per project; kept in the signature for the callers
    return (
        session.scalar(select(Assignment.id).where(Assignment.project_id == project_id).limit(1))
        is not None
    )


def queue_size(session: Session, project_id: int, annotator_id: int) -> int:
    if has_assignments(session, project_id, annotator_id):
        stmt = select(func.count(Assignment.id)).where(
            Assignment.annotator_id == annotator_id, Assignment.project_id == project_id
        )
    else:
        stmt = select(func.count(TraceRow.id)).where(TraceRow.project_id == project_id)
    return session.scalar(stmt) or 0


def _status_condition(
    statuses: frozenset[str], trace_id: Any, project_id: int, annotator_id: int
) -> ColumnElement[bool]:
    """Traces whose status for the annotator is one of ``statuses``.

    Both branches are driven by the (annotator_id, project_id, status) index on labels: an
    IN-subquery becomes one ephemeral lookup table rather than a probe per trace."""
    unknown = sorted(statuses - set(STATUSES))
    if unknown:
        raise ValueError(f"unknown status {', '.join(unknown)}; use {', '.join(STATUSES)}")
    mine = and_(LabelRow.annotator_id == annotator_id, LabelRow.project_id == project_id)
    if LabelStatus.TODO.value in statuses:
        # No label row means todo, so exclude the traces whose status is anything else.
        others = sorted(set(STATUSES) - statuses)
        if not others:
            return true()
        excluded: ColumnElement[bool] = ~trace_id.in_(
            select(LabelRow.trace_id).where(mine, LabelRow.status.in_(others))
        )
        return excluded
    if not statuses:
        return false()
    included: ColumnElement[bool] = trace_id.in_(
        select(LabelRow.trace_id).where(mine, LabelRow.status.in_(sorted(statuses)))
    )
    return included


def _verdict_condition(
    verdicts: frozenset[str], trace_id: Any, project_id: int, annotator_id: int
) -> ColumnElement[bool]:
    if not verdicts:
        return false()
    included: ColumnElement[bool] = trace_id.in_(
        select(LabelRow.trace_id).where(
            LabelRow.annotator_id == annotator_id,
            LabelRow.project_id == project_id,
            LabelRow.verdict.in_(sorted(verdicts)),
        )
    )
    return included


SEARCH_PAGE = 5000
SEARCH_IN_LIMIT = 500
"""Up to this many hits go into the query as ``IN (...)``; more are intersected in Python."""


def search_hits(session: Session, project_id: int, query: str) -> list[int]:
    """Every trace id of the project matching a full-text query (all pages), ascending."""
    hits: list[int] = []
    while True:
        page = search_trace_ids(
            session, project_id, query, limit=SEARCH_PAGE, after_id=hits[-1] if hits else 0
        )
        hits.extend(page)
        if len(page) < SEARCH_PAGE:
            return hits


def fetch_ids(session: Session, stmt: Select[Any]) -> list[int]:
    """First column of ``stmt`` through the driver's cursor: result rows through SQLAlchemy cost
    ~1.5 µs each, too much for a million ids (a query of only ints and strings needs no type
    processing)."""
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = (
        tuple(params[name] for name in compiled.positiontup)
        if compiled.positiontup is not None
        else params
    )
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        return [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()


def queue_ids(
    session: Session, project_id: int, annotator_id: int, flt: QueueFilter = QueueFilter()
) -> list[int]:
    """Trace ids of the annotator's queue, filtered and sorted; ids only, one query."""
    if flt.sort not in SORTS:
        raise ValueError(f"unknown sort {flt.sort!r}; use {', '.join(SORTS)}")
    assigned = has_assignments(session, project_id, annotator_id)
    needs_trace_columns = flt.sort != "queue"
    stmt: Select[Any]
    if assigned:
        trace_id: Any = Assignment.trace_id
        stmt = select(Assignment.trace_id).where(
            Assignment.annotator_id == annotator_id, Assignment.project_id == project_id
        )
        if needs_trace_columns:
            stmt = stmt.join(TraceRow, TraceRow.id == Assignment.trace_id)
    else:
        trace_id = TraceRow.id
        stmt = select(TraceRow.id).where(TraceRow.project_id == project_id)
    if flt.statuses is not None:
        stmt = stmt.where(_status_condition(flt.statuses, trace_id, project_id, annotator_id))
    if flt.verdicts is not None:
        stmt = stmt.where(_verdict_condition(flt.verdicts, trace_id, project_id, annotator_id))
    hits: list[int] | None = None
    if flt.search and flt.search.strip():
        hits = search_hits(session, project_id, flt.search.strip())
        if not hits:
            return []
        if len(hits) <= SEARCH_IN_LIMIT:
            stmt = stmt.where(trace_id.in_(hits))
    if flt.sort == "queue":
        # Import order is id order: sorting the ids here is cheaper than SQLite's temp b-tree.
        order: list[Any] = [Assignment.position, Assignment.id] if assigned else []
    elif flt.sort == "newest":
        order = [TraceRow.created_at.desc().nulls_last(), TraceRow.id.desc()]
    elif flt.sort == "oldest":
        order = [TraceRow.created_at.asc().nulls_last(), TraceRow.id]
    elif flt.sort == "model":
        order = [TraceRow.model.asc().nulls_last(), TraceRow.id]
    else:
        order = [TraceRow.account_id.asc().nulls_last(), TraceRow.id]
    ids = fetch_ids(session, stmt.order_by(*order))
    if not order:
        ids.sort()
    if hits is not None and len(hits) > SEARCH_IN_LIMIT:
        wanted = set(hits)
        ids = [i for i in ids if i in wanted]
    return ids


def queue_rows(
    session: Session, project_id: int, annotator_id: int, ids: Sequence[int]
) -> dict[int, QueueRow]:
    """The table columns for a page of ids in one query; ids of other projects are left out
    (in Python: a project condition in SQL lures SQLite into scanning the project's index)."""
    if not ids:
        return {}
    stmt = (
        select(
            TraceRow.id,
            TraceRow.project_id,
            TraceRow.preview,
            TraceRow.model,
            TraceRow.account_id,
            TraceRow.created_at,
            TraceRow.source_format,
            LabelRow.status,
            LabelRow.verdict,
        )
        .outerjoin(
            LabelRow,
            and_(LabelRow.trace_id == TraceRow.id, LabelRow.annotator_id == annotator_id),
        )
        .where(TraceRow.id.in_(list(ids)))
    )
    out: dict[int, QueueRow] = {}
    for tid, pid, preview, model, account, created, fmt, status, verdict in session.execute(stmt):
        if pid != project_id:
            continue
        out[tid] = QueueRow(
            trace_id=tid,
            status=status or LabelStatus.TODO.value,
            verdict=verdict,
            preview=preview,
            model=model,
            account_id=account,
            created_at=aware(created),
            source_format=fmt,
        )
    return out
