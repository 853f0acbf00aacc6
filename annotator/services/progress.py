"""How the work is going, for the lead's dashboard and ``annotator progress``: per labeler done
and assigned, throughput (items per active hour), time per item, progress over time, and the
verdict and tag distribution.

Lead-only (it counts everyone's labels and the gold items). Results are plain frozen dataclasses
with numbers and short lists (histograms, not raw samples) so a chart can be drawn from them
directly and they pickle across threads; ``as_dict`` gives JSON.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, Engine, case, distinct, func, select

from annotator.domain.label import LabelStatus
from annotator.gcpause import gc_paused
from annotator.services import label_snapshot
from annotator.services import label_table as label_tables
from annotator.services.label_table import NO_TIME, IntArray, LabelTable, label_table
from annotator.services.projects import get_project
from annotator.services.review import require_lead
from annotator.store.database import Database
from annotator.store.models import (
    Adjudication,
    Annotator,
    Assignment,
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


@dataclass(frozen=True)
class _Assigned:
    key: tuple[tuple[int, ...], int, tuple[tuple[int, int], ...]]
    trace: IntArray
    annotator: IntArray


_ASSIGNED: weakref.WeakKeyDictionary[Engine, dict[int, _Assigned]] = weakref.WeakKeyDictionary()
_ASSIGNED_LOCK = threading.Lock()
_ASSIGNED_SAVED: weakref.WeakKeyDictionary[Engine, dict[int, Any]] = weakref.WeakKeyDictionary()
"""Per engine and project, the key of the assignments in the snapshot file."""
_REPORTS: weakref.WeakKeyDictionary[
    Engine, tuple[LabelTable, _Assigned, tuple[Any, ...], ProgressReport]
] = weakref.WeakKeyDictionary()


def _assignments(db: Database, connection: Connection, project_id: int) -> _Assigned:
    """The project's (trace, labeler) assignments, cached per engine and project under the
    table's state: the row at the highest id and the row count of the whole table (assign,
    unassign; SQLite counts a table from its b-tree pages in milliseconds, where the project's
    rows take a scan of an index, 60-100 ms at 1M) and each person's last queue position in
    the project (a reassign moves entries in place, to the end of the target's queue). All are
    index lookups; reading 1M pairs costs a third of a second."""
    top = connection.execute(
        select(Assignment.id, Assignment.project_id, Assignment.trace_id, Assignment.annotator_id)
        .order_by(Assignment.id.desc())
        .limit(1)
    ).first()
    total = connection.execute(select(func.count()).select_from(Assignment)).scalar()
    last = (
        select(func.max(Assignment.position))
        .where(Assignment.annotator_id == Annotator.id, Assignment.project_id == project_id)
        .scalar_subquery()
    )
    ends = connection.execute(select(Annotator.id, last).order_by(Annotator.id)).all()
    key = (
        tuple(top) if top is not None else (),
        int(total or 0),
        tuple((int(aid), -1 if end is None else int(end)) for aid, end in ends),
    )
    with _ASSIGNED_LOCK:
        cached = _ASSIGNED.get(db.engine, {}).get(project_id)
    if cached is not None and cached.key == key:
        return cached
    directory = label_snapshot.snapshot_dir()
    if cached is None and directory is not None:
        loaded = _assignments_from_snapshot(connection, project_id, directory, key)
        if loaded is not None:
            with _ASSIGNED_LOCK:
                _ASSIGNED.setdefault(db.engine, {})[project_id] = loaded
                _ASSIGNED_SAVED.setdefault(db.engine, {})[project_id] = key
            return loaded
    stmt = select(Assignment.trace_id, Assignment.annotator_id).where(
        Assignment.project_id == project_id
    )
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            cursor.execute(
                "SELECT trace_id, annotator_id FROM assignments WHERE project_id = ?",
                (project_id,),
            )
            trace, annotator = _pair_columns(iter(lambda: cursor.fetchmany(_PAIRS_CHUNK), []))
        finally:
            cursor.close()
    else:
        result_rows = connection.execute(stmt)
        trace, annotator = _pair_columns(iter(lambda: result_rows.fetchmany(_PAIRS_CHUNK), []))
    result = _Assigned(key, trace, annotator)
    with _ASSIGNED_LOCK:
        _ASSIGNED.setdefault(db.engine, {})[project_id] = result
    return result


_PAIRS_CHUNK = 50_000


def _pair_columns(chunks: Iterable[Sequence[Sequence[Any]]]) -> tuple[IntArray, IntArray]:
    """Two int columns from chunks of row pairs: ``zip`` and ``np.fromiter`` per chunk (1M
    pairs in 0.4 s, where ``np.asarray`` of all the tuples took 0.6-0.8 s)."""
    firsts: list[IntArray] = []
    seconds: list[IntArray] = []
    with gc_paused():  # millions of short-lived tuples: no full collections meanwhile
        for chunk in chunks:
            first, second = zip(*chunk, strict=True)
            firsts.append(np.fromiter(first, dtype=np.int64, count=len(first)))
            seconds.append(np.fromiter(second, dtype=np.int64, count=len(second)))
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _key_json(key: Any) -> Any:
    """The key as JSON reads it back (lists, ints), for comparing with a snapshot's."""
    return orjson.loads(orjson.dumps(key))


def _assignments_from_snapshot(
    connection: Connection, project_id: int, directory: Path, key: Any
) -> _Assigned | None:
    """The assignments of the project's snapshot file when it was written from this database,
    project and schema generation under the same key; None otherwise."""
    identity = label_snapshot.read_identity(connection)
    if identity is None:
        return None
    path = label_snapshot.snapshot_path(directory, identity, project_id, "assignments")
    found = label_snapshot.read_arrays(path)
    if found is None:
        return None
    arrays, meta = found
    trace, annotator = arrays.get("trace"), arrays.get("annotator")
    if (
        meta.get("database") != identity
        or meta.get("project") != project_id
        or meta.get("key") != _key_json(key)
        or meta.get("generation") != label_snapshot.schema_generation(connection)
        or trace is None
        or annotator is None
        or trace.ndim != 1
        or trace.shape != annotator.shape
    ):
        return None
    return _Assigned(key, trace, annotator)


def flush_snapshots(db: Database, *, force: bool = False) -> int:
    """Write the snapshot files the dashboard starts from next time: the label tables (see
    :func:`annotator.services.label_table.flush_snapshots`) and the assignments whose file is
    missing or stale; returns how many files were written."""
    written = label_tables.flush_snapshots(db, force=force)
    directory = label_snapshot.snapshot_dir()
    if directory is None:
        return written
    engine = db.engine
    with _ASSIGNED_LOCK:
        saved = _ASSIGNED_SAVED.get(engine, {})
        due = [
            (pid, assigned)
            for pid, assigned in sorted(_ASSIGNED.get(engine, {}).items())
            if saved.get(pid) != assigned.key
        ]
    if not due:
        return written
    identity = label_snapshot.ensure_identity(db)
    with engine.connect() as connection:
        generation = label_snapshot.schema_generation(connection)
    for pid, assigned in due:
        label_snapshot.write_arrays(
            label_snapshot.snapshot_path(directory, identity, pid, "assignments"),
            {"trace": assigned.trace, "annotator": assigned.annotator},
            {
                "database": identity,
                "project": pid,
                "generation": generation,
                "key": _key_json(assigned.key),
            },
        )
        with _ASSIGNED_LOCK:
            _ASSIGNED_SAVED.setdefault(engine, {})[pid] = assigned.key
    return written + len(due)


def _sorted_counter(counts: dict[str, int]) -> Counter[str]:
    """A Counter filled in key order, so ``most_common`` breaks ties alphabetically (as the
    SQL ``GROUP BY`` it replaces did)."""
    return Counter({key: counts[key] for key in sorted(counts)})


def _tag_counts(
    table: LabelTable, done: np.ndarray[Any, np.dtype[np.bool_]]
) -> dict[str, Counter[str]]:
    """How often each tag was chosen in submitted labels, per key (tags, counter_tags)."""
    everything = table.tag_row.size == 0 or bool(done.all())
    hits = table.tag_code if everything else table.tag_code[done[table.tag_row]]
    per_code = np.bincount(hits, minlength=len(table.tag_vocab))
    out: dict[str, dict[str, int]] = {"tags": {}, "counter_tags": {}}
    for code, (key, tag) in enumerate(table.tag_vocab):
        if per_code[code]:
            bucket = out.setdefault(key, {})
            bucket[tag] = bucket.get(tag, 0) + int(per_code[code])
    return {key: _sorted_counter(counts) for key, counts in out.items()}


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
    when ``fill_gaps``).

    The label rows come from :func:`label_table` (read once, then only what changed), the
    assignments from a small cache; everything else is a few index lookups and numpy."""
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; use day or hour")
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        pid = project_row.id
        # The label table first: the dashboard's agreement job runs its gold queries meanwhile
        # and finds the table read (or merged) when it needs it.
        table = label_table(db, session.connection(), pid)
        # One pass over the (project_id, is_gold) index for both counts.
        traces, gold_items = session.execute(
            select(
                func.count(), func.coalesce(func.sum(case((TraceRow.is_gold.is_(True), 1))), 0)
            ).where(TraceRow.project_id == pid)
        ).one()
        names = dict(session.execute(select(Annotator.id, Annotator.name)).all())
        roles = dict(
            session.execute(
                select(ProjectMember.annotator_id, ProjectMember.role).where(
                    ProjectMember.project_id == pid
                )
            ).all()
        )
        adjudicated = (
            session.scalar(
                select(func.count(distinct(Adjudication.trace_id))).where(
                    Adjudication.project_id == pid
                )
            )
            or 0
        )
        assignments = _assignments(db, session.connection(), pid)
    # Same label table and assignments (cached objects: same identity while unchanged) and the
    # same small facts: the report is the one computed last time.
    key = (
        project_row.name,
        traces,
        gold_items,
        tuple(sorted(names.items())),
        tuple(sorted(roles.items())),
        adjudicated,
        bucket,
        fill_gaps,
    )
    with _ASSIGNED_LOCK:
        cached = _REPORTS.get(db.engine)
    if cached is not None and cached[0] is table and cached[1] is assignments and cached[2] == key:
        return cached[3]
    report = _report(
        table,
        assignments,
        project_row.name,
        traces,
        gold_items,
        names,
        roles,
        adjudicated,
        bucket,
        fill_gaps,
    )
    with _ASSIGNED_LOCK:
        # Holding the table and assignments keeps their identities from being reused.
        _REPORTS[db.engine] = (table, assignments, key, report)
    return report


def _report(
    table: LabelTable,
    assignments: _Assigned,
    project_name: str,
    traces: int,
    gold_items: int,
    names: dict[int, str],
    roles: dict[int, str],
    adjudicated: int,
    bucket: str,
    fill_gaps: bool,
) -> ProgressReport:
    """The report from the label table, the assignments and the small facts (no database)."""

    done = table.status == table.status_code(LabelStatus.DONE)
    everything = bool(done.all())

    def take(values: Any) -> Any:
        # Every label submitted: the column itself, no 8 MB gather.
        return values if everything else values[done]

    done_aids = take(table.annotator)
    done_traces = take(table.trace)
    done_seconds = take(table.seconds)
    # Labels and assignments are unique per (trace, labeler), so counting rows counts items;
    # a (trace x person) matrix answers "did the assignee submit?" without sorting 1M keys.
    person_ids = np.union1d(
        np.union1d(
            np.flatnonzero(np.bincount(table.annotator)),
            np.flatnonzero(np.bincount(assignments.annotator)),
        ),
        np.asarray(sorted(roles), dtype=np.int64),
    ).astype(np.int64)
    column = np.zeros(int(person_ids.max(initial=0)) + 1, dtype=np.int64)
    column[person_ids] = np.arange(person_ids.size, dtype=np.int64)
    n_traces = int(max(done_traces.max(initial=0), assignments.trace.max(initial=0))) + 1
    n_columns = max(person_ids.size, 1)
    submitted = np.zeros((n_traces, n_columns), dtype=bool)
    # Flat cell indexes: a store or lookup by one index is several times faster than by two.
    submitted.reshape(-1)[done_traces * n_columns + column[done_aids]] = True
    in_done = submitted.reshape(-1)[assignments.trace * n_columns + column[assignments.annotator]]
    n_assigned = np.bincount(column[assignments.annotator], minlength=person_ids.size)
    n_done = np.bincount(column[done_aids], minlength=person_ids.size)
    n_done_assigned = np.bincount(column[assignments.annotator[in_done]], minlength=person_ids.size)
    n_status = max(len(table.statuses), 1)
    status_counts = np.bincount(
        column[table.annotator] * n_status + table.status, minlength=person_ids.size * n_status
    ).reshape(-1, n_status)

    def status_count(aid: int, status: LabelStatus) -> int:
        code = table.status_code(status)
        return int(status_counts[column[aid], code]) if code >= 0 else 0

    per_bucket: dict[datetime, Counter[str]] = defaultdict(Counter)
    when = take(table.when)
    timed = when != NO_TIME
    all_timed = bool(timed.all())
    step_seconds = 3600 if bucket == "hour" else 86400
    slot = (when if all_timed else when[timed]) // step_seconds
    if slot.size:
        first = int(slot.min())
        n_slots = int(slot.max()) - first + 1
        per_slot = np.bincount(
            (slot - first) * person_ids.size + column[done_aids if all_timed else done_aids[timed]],
            minlength=n_slots * person_ids.size,
        ).reshape(n_slots, person_ids.size)
        for offset, j in zip(*np.nonzero(per_slot), strict=True):
            start = datetime.fromtimestamp((first + int(offset)) * step_seconds, UTC)
            aid = int(person_ids[j])
            per_bucket[start][names.get(aid, str(aid))] += int(per_slot[offset, j])
    verdict_n = np.bincount(take(table.verdict) + 1, minlength=len(table.verdicts) + 1)
    verdicts: Counter[str] = Counter()
    if verdict_n[0]:
        verdicts["(none)"] += int(verdict_n[0])
    for code in sorted(range(len(table.verdicts)), key=lambda c: table.verdicts[c]):
        if verdict_n[code + 1]:
            verdicts[table.verdicts[code] or "(none)"] += int(verdict_n[code + 1])
    tag_counts = _tag_counts(table, done)

    active = set(person_ids[(n_assigned > 0) | (n_done > 0)].tolist()) if person_ids.size else set()
    people = sorted(set(roles) | active, key=lambda a: names.get(a, ""))
    labelers = []
    for aid in people:
        spent = done_seconds[done_aids == aid]
        total = float(spent.sum())
        n = int(n_done[column[aid]])
        labelers.append(
            LabelerProgress(
                name=names.get(aid, str(aid)),
                role=roles.get(aid),
                assigned=int(n_assigned[column[aid]]),
                done=n,
                done_assigned=int(n_done_assigned[column[aid]]),
                skipped=status_count(aid, LabelStatus.SKIPPED),
                flagged=status_count(aid, LabelStatus.FLAGGED),
                drafts=status_count(aid, LabelStatus.DRAFT),
                seconds=total,
                items_per_hour=n / (total / 3600.0) if total >= 60.0 else None,
                median_seconds=float(np.median(spent)) if spent.size else None,
                p90_seconds=float(np.quantile(spent, 0.9)) if spent.size else None,
            )
        )

    assigned_per_trace = np.bincount(assignments.trace, minlength=n_traces)
    unfinished = np.bincount(assignments.trace[~in_done], minlength=n_traces)
    # Column by column: ``any`` along a handful of columns is several times slower.
    labeled = submitted[:, 0].copy()
    for j in range(1, submitted.shape[1]):
        labeled |= submitted[:, j]
    labeled_items = int(np.count_nonzero(labeled))
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
    return ProgressReport(
        project=project_name,
        traces=traces,
        assigned_items=int(np.count_nonzero(assigned_per_trace)),
        labeled_items=labeled_items,
        complete_items=int(np.count_nonzero((assigned_per_trace > 0) & (unfinished == 0))),
        adjudicated_items=adjudicated,
        gold_items=gold_items,
        labelers=tuple(labelers),
        over_time=tuple(points),
        bucket=bucket,
        time_per_item=_histogram(done_seconds),
        verdicts=dict(verdicts.most_common()),
        tags=dict(tag_counts.get("tags", Counter()).most_common()),
        counter_tags=dict(tag_counts.get("counter_tags", Counter()).most_common()),
    )


def warm_up(db: Database, project: str, *, lead: str) -> None:
    """Lead-only. Read what the dashboard starts from (the label table, the assignments) into
    this process's caches and write their snapshot files if due.

    Why: the dashboard's first open on a machine without snapshots reads and parses every
    label row (3.4 s at a million labels), while every later refresh takes milliseconds. The
    window calls this in the background when a lead opens a project, so the dashboard opens on
    tables that are ready."""
    progress(db, project, lead=lead)
    flush_snapshots(db)
