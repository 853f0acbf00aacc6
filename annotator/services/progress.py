"""How the work is going, for the lead's dashboard and ``annotator progress``: per labeler done
and assigned, throughput (items per active hour), time per item, progress over time, and the
verdict and tag distribution.

Lead-only (it counts everyone's labels and the gold items). Results are plain frozen dataclasses
with numbers and short lists (histograms, not raw samples) so a chart can be drawn from them
directly and they pickle across threads; ``as_dict`` gives JSON.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import ColumnElement, Connection, and_, distinct, func, select, text

from annotator.domain.label import LabelStatus
from annotator.services.projects import get_project
from annotator.services.review import require_lead
from annotator.store.database import Database
from annotator.store.models import (
    Adjudication,
    Annotator,
    Assignment,
    LabelRow,
    ProjectMember,
    TraceRow,
)

BUCKETS = ("day", "hour")
TIME_BINS = 20
"""Bins of the time-per-item histogram."""


@dataclass(frozen=True)
class LabelerProgress:
    name: str
    role: str | None
    """``labeler``/``lead``; None for someone who labeled but is not (or no longer) a member."""
    assigned: int
    done: int
    """Items with a submitted label (assigned or not)."""
    done_assigned: int
    """Assigned items with a submitted label."""
    skipped: int
    flagged: int
    drafts: int
    seconds: float
    """Active time on submitted items."""
    items_per_hour: float | None
    """Submitted items per active hour; None before a minute of active time."""
    median_seconds: float | None
    p90_seconds: float | None

    @property
    def remaining(self) -> int:
        return max(self.assigned - self.done_assigned, 0)

    @property
    def share_done(self) -> float | None:
        return self.done_assigned / self.assigned if self.assigned else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "assigned": self.assigned,
            "done": self.done,
            "done_assigned": self.done_assigned,
            "remaining": self.remaining,
            "share_done": self.share_done,
            "skipped": self.skipped,
            "flagged": self.flagged,
            "drafts": self.drafts,
            "seconds": self.seconds,
            "items_per_hour": self.items_per_hour,
            "median_seconds": self.median_seconds,
            "p90_seconds": self.p90_seconds,
        }


@dataclass(frozen=True)
class ProgressPoint:
    """Submitted labels in one time bucket (UTC), per labeler and cumulative."""

    start: datetime
    done: dict[str, int]
    total: int
    cumulative: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "done": self.done,
            "total": self.total,
            "cumulative": self.cumulative,
        }


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]
    """``len(counts) + 1`` bin edges."""
    counts: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "counts": list(self.counts)}


@dataclass(frozen=True)
class ProgressReport:
    project: str
    traces: int
    assigned_items: int
    """Distinct traces in someone's queue."""
    labeled_items: int
    """Distinct traces with at least one submitted label."""
    complete_items: int
    """Assigned traces every assignee has submitted."""
    adjudicated_items: int
    gold_items: int
    labelers: tuple[LabelerProgress, ...]
    over_time: tuple[ProgressPoint, ...]
    bucket: str
    time_per_item: Histogram
    """Seconds per submitted item, all labelers (clipped at the 99th percentile)."""
    verdicts: dict[str, int]
    tags: dict[str, int]
    counter_tags: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "traces": self.traces,
            "assigned_items": self.assigned_items,
            "labeled_items": self.labeled_items,
            "complete_items": self.complete_items,
            "adjudicated_items": self.adjudicated_items,
            "gold_items": self.gold_items,
            "labelers": [p.as_dict() for p in self.labelers],
            "bucket": self.bucket,
            "over_time": [p.as_dict() for p in self.over_time],
            "time_per_item": self.time_per_item.as_dict(),
            "verdicts": self.verdicts,
            "tags": self.tags,
            "counter_tags": self.counter_tags,
        }


def _bucket_expr(dialect: str, bucket: str) -> ColumnElement[Any]:
    """The UTC start of a label's time bucket, computed by the database (one GROUP BY instead
    of a million timestamps parsed in Python). SQLite keeps UTC text; PostgreSQL timestamptz."""
    when = func.coalesce(LabelRow.submitted_at, LabelRow.updated_at)
    if dialect == "sqlite":
        pattern = "%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00"
        return func.strftime(pattern, when)
    return func.date_trunc(bucket, func.timezone("UTC", when))


def _as_utc(value: str | datetime) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _tag_counts(connection: Connection, project_id: int, key: str) -> Counter[str]:
    """How often each tag (``key``: tags or counter_tags) was chosen in submitted labels.
    SQLite counts inside the database with json_each; elsewhere the JSON is parsed here."""
    is_done = and_(LabelRow.project_id == project_id, LabelRow.status == LabelStatus.DONE.value)
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text(
                "SELECT j.value, count(*) FROM labels, json_each("
                "CASE WHEN json_valid(labels.label_json) THEN labels.label_json ELSE '{}' END, "
                ":path) AS j WHERE labels.project_id = :pid AND labels.status = :done "
                "GROUP BY j.value"
            ),
            {"path": f"$.{key}", "pid": project_id, "done": LabelStatus.DONE.value},
        ).all()
        return Counter({str(tag): int(n) for tag, n in rows})
    counts: Counter[str] = Counter()
    for (label_json,) in connection.execute(select(LabelRow.label_json).where(is_done)):
        counts.update(orjson.loads(label_json or "{}").get(key) or ())
    return counts


def _histogram(seconds: np.ndarray[Any, np.dtype[np.float64]]) -> Histogram:
    if seconds.size == 0:
        return Histogram((), ())
    top = float(np.quantile(seconds, 0.99))
    if top <= 0.0:
        top = 1.0
    counts, edges = np.histogram(np.clip(seconds, 0.0, top), bins=TIME_BINS, range=(0.0, top))
    return Histogram(tuple(float(e) for e in edges), tuple(int(c) for c in counts))


def progress(
    db: Database, project: str, *, lead: str, bucket: str = "day", fill_gaps: bool = True
) -> ProgressReport:
    """Lead-only. The project's progress; ``bucket`` (``day`` or ``hour``, UTC) sets the
    resolution of ``over_time`` (empty buckets between the first and last are filled with 0
    when ``fill_gaps``)."""
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; use day or hour")
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        pid = project_row.id
        traces = session.scalar(select(func.count()).where(TraceRow.project_id == pid)) or 0
        gold_items = (
            session.scalar(
                select(func.count()).where(TraceRow.project_id == pid, TraceRow.is_gold.is_(True))
            )
            or 0
        )
        names = dict(session.execute(select(Annotator.id, Annotator.name)).all())
        roles = dict(
            session.execute(
                select(ProjectMember.annotator_id, ProjectMember.role).where(
                    ProjectMember.project_id == pid
                )
            ).all()
        )
        assigned: dict[int, set[int]] = defaultdict(set)
        for trace_id, aid in session.execute(
            select(Assignment.trace_id, Assignment.annotator_id).where(Assignment.project_id == pid)
        ):
            assigned[aid].add(trace_id)
        status_counts: dict[int, Counter[str]] = defaultdict(Counter)
        for aid, status, n in session.execute(
            select(LabelRow.annotator_id, LabelRow.status, func.count())
            .where(LabelRow.project_id == pid)
            .group_by(LabelRow.annotator_id, LabelRow.status)
        ):
            status_counts[aid][status] = n
        is_done = and_(LabelRow.project_id == pid, LabelRow.status == LabelStatus.DONE.value)
        connection = session.connection()
        done_rows = connection.execute(
            select(LabelRow.annotator_id, LabelRow.trace_id, LabelRow.seconds_spent).where(is_done)
        ).all()
        when = _bucket_expr(connection.dialect.name, bucket)
        per_bucket_rows = connection.execute(
            select(when, LabelRow.annotator_id, func.count())
            .where(is_done)
            .group_by(when, LabelRow.annotator_id)
        ).all()
        verdict_rows = connection.execute(
            select(LabelRow.verdict, func.count()).where(is_done).group_by(LabelRow.verdict)
        ).all()
        tags = _tag_counts(connection, pid, "tags")
        counter_tags = _tag_counts(connection, pid, "counter_tags")
        adjudicated = (
            session.scalar(
                select(func.count(distinct(Adjudication.trace_id))).where(
                    Adjudication.project_id == pid
                )
            )
            or 0
        )

    done_by: dict[int, set[int]] = defaultdict(set)
    seconds_by: dict[int, list[float]] = defaultdict(list)
    for aid, trace_id, seconds in done_rows:
        done_by[aid].add(trace_id)
        seconds_by[aid].append(float(seconds or 0.0))
    per_bucket: dict[datetime, Counter[str]] = defaultdict(Counter)
    for raw, aid, n in per_bucket_rows:
        if raw is not None:
            per_bucket[_as_utc(raw)][names.get(aid, str(aid))] += n
    verdicts: Counter[str] = Counter()
    for verdict, n in verdict_rows:
        verdicts[verdict or "(none)"] += n

    people = sorted(set(roles) | set(assigned) | set(done_by), key=lambda a: names.get(a, ""))
    labelers = []
    for aid in people:
        spent = np.asarray(seconds_by.get(aid, []), dtype=np.float64)
        total = float(spent.sum())
        done = len(done_by.get(aid, ()))
        counts = status_counts.get(aid, Counter())
        labelers.append(
            LabelerProgress(
                name=names.get(aid, str(aid)),
                role=roles.get(aid),
                assigned=len(assigned.get(aid, ())),
                done=done,
                done_assigned=len(done_by.get(aid, set()) & assigned.get(aid, set())),
                skipped=counts[LabelStatus.SKIPPED.value],
                flagged=counts[LabelStatus.FLAGGED.value],
                drafts=counts[LabelStatus.DRAFT.value],
                seconds=total,
                items_per_hour=done / (total / 3600.0) if total >= 60.0 else None,
                median_seconds=float(np.median(spent)) if spent.size else None,
                p90_seconds=float(np.quantile(spent, 0.9)) if spent.size else None,
            )
        )

    assigned_items: set[int] = set().union(*assigned.values()) if assigned else set()
    complete = sum(
        1
        for trace_id in assigned_items
        if all(
            trace_id in done_by.get(aid, set())
            for aid, queue in assigned.items()
            if trace_id in queue
        )
    )
    points = []
    running = 0
    starts = sorted(per_bucket)
    if starts and fill_gaps:
        step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        filled, cursor = [], starts[0]
        while cursor <= starts[-1]:
            filled.append(cursor)
            cursor += step
        starts = filled
    for start in starts:
        counts = per_bucket.get(start, Counter())
        total_n = sum(counts.values())
        running += total_n
        points.append(ProgressPoint(start, dict(sorted(counts.items())), total_n, running))
    all_seconds = np.asarray([s for v in seconds_by.values() for s in v], dtype=np.float64)
    return ProgressReport(
        project=project_row.name,
        traces=traces,
        assigned_items=len(assigned_items),
        labeled_items=len(set().union(*done_by.values())) if done_by else 0,
        complete_items=complete,
        adjudicated_items=adjudicated,
        gold_items=gold_items,
        labelers=tuple(labelers),
        over_time=tuple(points),
        bucket=bucket,
        time_per_item=_histogram(all_seconds),
        verdicts=dict(verdicts.most_common()),
        tags=dict(tags.most_common()),
        counter_tags=dict(counter_tags.most_common()),
    )
