"""The export use case: decide which traces go out and where, then stream them to files.

With a split (or ``--since``) a light first pass reads only ids, group columns and label
verdicts, chunk by chunk, to resolve, filter and place groups; a second pass reads the chosen
traces in uid order, a few hundred at a time, and writes them. Without a split one pass does
both, in uid order from the (project, uid) index. Memory stays flat however big the project,
and everything runs in one read transaction, so the export is one consistent snapshot even
while labelers keep working. Data files are written under temporary names and renamed only when
all of them are complete.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY

import annotator
from annotator.domain.label import Label
from annotator.domain.schema import LabelSchema
from annotator.formats.writers import SUFFIXES, open_writer
from annotator.formats.writers.atomic import write_atomic
from annotator.formats.writers.base import RecordWriter
from annotator.formats.writers.hf import DATA_DIR, data_file, dataset_card
from annotator.formats.writers.rows import (
    EXPORT_VERSION,
    AdjudicationEntry,
    ExportRow,
    LabelEntry,
)
from annotator.formats.writers.views import View, get_view
from annotator.gcpause import gc_paused
from annotator.services.exporting.filters import (
    ExportError,
    ExportOptions,
    TraceFacts,
    facts_matter,
    keep,
)
from annotator.services.exporting.manifest import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    HighWater,
    high_water_of,
    read_manifest,
    sha256_of,
    write_manifest,
)
from annotator.services.exporting.resolve import agreement_figures, resolve, resolve_verdict
from annotator.services.exporting.splits import SplitItem, assign_splits, split_names
from annotator.store.codec import original_bytes, turns_bytes
from annotator.store.database import Database
from annotator.store.detection_models import TraceCluster
from annotator.store.models import (
    Adjudication,
    Annotator,
    LabelEvent,
    LabelRow,
    Project,
    TraceRow,
)

SCAN_CHUNK = 5000
"""Traces per query in the first pass (ids and verdicts only)."""
WRITE_CHUNK = 400
"""Traces per query in the second pass (full text)."""
CARRIED_KEYS = ("annotator_labels", "annotator_adjudications")
UNLABELED = "(unlabeled)"
TIE = "(tie)"

_T: Table = TraceRow.__table__  # type: ignore[assignment]
_C: Table = TraceCluster.__table__  # type: ignore[assignment]
_L: Table = LabelRow.__table__  # type: ignore[assignment]
_A: Table = Adjudication.__table__  # type: ignore[assignment]
_E: Table = LabelEvent.__table__  # type: ignore[assignment]
_P: Table = Project.__table__  # type: ignore[assignment]
_N: Table = Annotator.__table__  # type: ignore[assignment]


class ExportCancelled(Exception):
    """The caller's cancel event was set; nothing was written under a final name."""


@dataclass(frozen=True)
class ExportProgress:
    """``phase``: ``scan`` (deciding what goes out) then ``write``."""

    phase: str
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class _Chosen:
    uid: str
    id: int
    split: str
    bucket: str


@dataclass
class ExportPlan:
    """What an export will contain: the counts a preview shows, and the traces in write order."""

    project: str
    project_id: int
    schema: LabelSchema
    options: ExportOptions
    splits: tuple[str, ...]
    chosen: list[_Chosen]
    split_counts: dict[str, int]
    label_counts: dict[str, dict[str, int]]
    skipped: dict[str, int]
    scanned: int
    high_water: HighWater
    since: HighWater | None = None
    n_rows: int | None = None
    """Set when the export chose traces while writing (no split: one pass, ``chosen`` empty)."""

    @property
    def rows(self) -> int:
        return len(self.chosen) if self.n_rows is None else self.n_rows

    def counts(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "scanned": self.scanned,
            "splits": dict(self.split_counts),
            "labels": {s: dict(c) for s, c in self.label_counts.items()},
            "skipped": dict(sorted(self.skipped.items())),
        }


@dataclass(frozen=True)
class ExportedFile:
    path: str
    """Relative to the export folder, with forward slashes."""
    split: str | None
    rows: int
    bytes: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "split": self.split,
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }


@dataclass
class ExportSummary:
    out_dir: Path
    plan: ExportPlan
    files: list[ExportedFile] = field(default_factory=list)
    seconds: float = 0.0
    manifest: Path | None = None

    @property
    def rows(self) -> int:
        return self.plan.rows

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "project": self.plan.project,
            "options": self.plan.options.as_dict(),
            "counts": self.plan.counts(),
            "files": [f.as_dict() for f in self.files],
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "manifest": str(self.manifest) if self.manifest else None,
        }


# --- first pass --------------------------------------------------------------------------------


def _project(conn: Connection, name: str) -> tuple[int, LabelSchema]:
    row = conn.execute(select(_P.c.id, _P.c.schema_json).where(_P.c.name == name)).first()
    if row is None:
        raise ExportError(f"no project named {name!r}")
    return int(row.id), LabelSchema.model_validate_json(row.schema_json)


def _high_water(conn: Connection, pid: int) -> HighWater:
    event = conn.execute(select(func.max(_E.c.id)).where(_E.c.project_id == pid)).scalar()
    adj = conn.execute(select(func.max(_A.c.id)).where(_A.c.project_id == pid)).scalar()
    updated = conn.execute(select(func.max(_L.c.updated_at)).where(_L.c.project_id == pid)).scalar()
    return HighWater(int(event or 0), int(adj or 0), updated)


def _changed_since(conn: Connection, pid: int, mark: HighWater) -> set[int]:
    changed: set[int] = set()
    queries = [
        select(_E.c.trace_id).where(_E.c.project_id == pid, _E.c.id > mark.label_event_id),
        select(_A.c.trace_id).where(_A.c.project_id == pid, _A.c.id > mark.adjudication_id),
    ]
    if mark.label_updated_at is not None:
        queries.append(
            select(_L.c.trace_id).where(
                _L.c.project_id == pid, _L.c.updated_at > mark.label_updated_at
            )
        )
    for query in queries:
        changed.update(int(r[0]) for r in conn.execute(query.distinct()))
    return changed


def _group_columns(group_by: str) -> list[Any]:
    if group_by == "account":
        return [_T.c.account_id]
    if group_by == "session":
        return [_T.c.session_id]
    if group_by == "cluster":
        # The near-duplicate prompt cluster from the detection step (annotator detect run).
        return [
            select(_C.c.cluster_id)
            .where(_C.c.trace_id == _T.c.id)
            .scalar_subquery()
            .label("cluster")
        ]
    return []


def _dt(value: Any) -> datetime | None:
    """A stored date-time as aware UTC: SQLite hands back text (read raw, which is several times
    cheaper than SQLAlchemy's per-row conversion), other databases datetimes."""
    if value is None:
        return None
    if type(value) is str:
        if len(value) == 26 and value[19] == ".":
            # SQLAlchemy's SQLite form, naive UTC: parsing it with the zone is 6x cheaper than
            # parsing and then replacing the zone.
            return datetime.fromisoformat(value + "+00:00")
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _raw(column: Any) -> Any:
    """A date-time column read without SQLAlchemy's result conversion (see :func:`_dt`)."""
    return type_coerce(column, String).label(column.key)


def _scan(
    conn: Connection,
    pid: int,
    options: ExportOptions,
    people: dict[int, str],
    progress: Callable[[ExportProgress], None] | None,
    cancel: threading.Event | None,
) -> Iterator[TraceFacts]:
    """TraceFacts for every trace of the project, in id order, a chunk at a time. Columns a
    filter does not need (labelers, times) are not read."""
    total = conn.execute(select(func.count()).where(_T.c.project_id == pid)).scalar() or 0
    group_cols = _group_columns(options.group_by if options.split else "none")
    want_names = bool(options.labelers)
    want_times = options.since_date is not None or options.until_date is not None
    label_cols = [_L.c.trace_id, _L.c.verdict]
    if want_names:
        label_cols.append(_L.c.annotator_id)
    if want_times:
        label_cols += [_raw(_L.c.submitted_at), _raw(_L.c.updated_at)]
    last, done = 0, 0
    while True:
        if cancel is not None and cancel.is_set():
            raise ExportCancelled
        rows = conn.execute(
            select(_T.c.id, _T.c.uid, _T.c.is_gold, _T.c.batch_id, *group_cols)
            # "+ 0" keeps SQLite on the primary key: with an index on project_id it would
            # otherwise read the whole project and sort it for every chunk.
            .where((_T.c.project_id + 0) == pid, _T.c.id > last)
            .order_by(_T.c.id)
            .limit(SCAN_CHUNK)
        ).all()
        if not rows:
            break
        lo, hi = rows[0][0], rows[-1][0]
        last = hi
        facts: dict[int, TraceFacts] = {}
        for r in rows:
            group = r[4] if group_cols else None
            facts[r[0]] = TraceFacts(
                id=r[0],
                uid=r[1],
                is_gold=bool(r[2]),
                batch_id=r[3],
                group=None if group is None else str(group),
            )
        labels = conn.execute(
            select(*label_cols).where(
                _L.c.project_id == pid,
                _L.c.status == "done",
                _L.c.trace_id >= lo,
                _L.c.trace_id <= hi,
            )
        ).all()
        for lab in labels:
            f = facts.get(lab[0])
            if f is None or lab[1] is None:
                continue
            f.votes.append(lab[1])
            if want_names:
                f.labelers.append(people.get(lab[2], ""))
            if want_times:
                f.saw(_dt(lab[-2] or lab[-1]))
        for adj in conn.execute(
            select(_A.c.trace_id, _A.c.verdict, _raw(_A.c.created_at))
            .where((_A.c.project_id + 0) == pid, _A.c.trace_id >= lo, _A.c.trace_id <= hi)
            .order_by(_A.c.trace_id, _A.c.created_at, _A.c.id)
        ):
            f = facts.get(adj[0])
            if f is not None:
                f.adjudicated = adj[1]
                if want_times:
                    f.saw(_dt(adj[2]))
        yield from facts.values()
        done += len(rows)
        if progress is not None:
            progress(ExportProgress("scan", done, total))


def _header(
    conn: Connection, project: str, options: ExportOptions
) -> tuple[int, LabelSchema, HighWater, HighWater | None, set[int] | None]:
    """Project id and schema, the high-water marks now, and with ``since`` the marks then and
    the traces changed after them."""
    pid, schema = _project(conn, project)
    high_water = _high_water(conn, pid)
    since: HighWater | None = None
    changed: set[int] | None = None
    if options.since is not None:
        manifest = read_manifest(options.since)
        if manifest.get("project") != project:
            raise ExportError(
                f"{options.since}: that manifest is for project {manifest.get('project')!r}, "
                f"not {project!r}"
            )
        since = high_water_of(manifest, options.since)
        changed = _changed_since(conn, pid, since)
    return pid, schema, high_water, since, changed


def _plan(
    conn: Connection,
    project: str,
    options: ExportOptions,
    progress: Callable[[ExportProgress], None] | None,
    cancel: threading.Event | None,
) -> ExportPlan:
    options.checked()
    pid, schema, high_water, since, changed = _header(conn, project, options)
    people = {int(r.id): r.name for r in conn.execute(select(_N.c.id, _N.c.name))}
    skipped: Counter[str] = Counter()
    picked: list[tuple[TraceFacts, str | None, str]] = []
    scanned = 0
    clustered = 0
    for facts in _scan(conn, pid, options, people, progress, cancel):
        scanned += 1
        if changed is not None and facts.id not in changed:
            skipped["unchanged"] += 1
            continue
        method, verdict, _tied = resolve_verdict(facts.votes, facts.adjudicated, options.resolve)
        _votes, share, _pairwise = agreement_figures(facts.votes, verdict)
        reason = keep(facts, method, verdict, share, options)
        if reason is not None:
            skipped[reason] += 1
            continue
        if facts.group is not None:
            clustered += 1
        bucket = _bucket(method, verdict)
        picked.append((facts, verdict, bucket))
    if options.split and options.group_by == "cluster" and picked and not clustered:
        raise ExportError(
            "--group-by cluster: no trace has a near-duplicate cluster yet "
            "(run the detection step first, or group by account or session)"
        )
    if options.split:
        names = split_names(options.split)
        assignment = assign_splits(
            [
                SplitItem(
                    key=f.id,
                    group=("group", f.group) if f.group is not None else ("trace", f.uid),
                    stratum=bucket,
                )
                for f, _v, bucket in picked
            ],
            options.split,
            options.seed,
        )
    else:
        names = ("train",) if options.format == "hf" else ("data",)
        assignment = {}
    chosen = sorted(
        (_Chosen(f.uid, f.id, assignment.get(f.id, names[0]), bucket) for f, _v, bucket in picked),
        key=lambda c: c.uid,
    )
    split_counts = {name: 0 for name in names}
    label_counts: dict[str, dict[str, int]] = {name: {} for name in names}
    for c in chosen:
        split_counts[c.split] += 1
        label_counts[c.split][c.bucket] = label_counts[c.split].get(c.bucket, 0) + 1
    return ExportPlan(
        project=project,
        project_id=pid,
        schema=schema,
        options=options,
        splits=names,
        chosen=chosen,
        split_counts=split_counts,
        label_counts={s: dict(sorted(c.items())) for s, c in label_counts.items()},
        skipped=dict(skipped),
        scanned=scanned,
        high_water=high_water,
        since=since,
    )


def _snapshot(conn: Connection) -> None:
    """Make every query of this connection read one snapshot: SQLite's driver does not begin a
    transaction for reads on its own, PostgreSQL's default isolation reads anew per statement."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")
    else:
        conn.execution_options(isolation_level="REPEATABLE READ")


def plan_export(
    db: Database,
    project: str,
    options: ExportOptions,
    *,
    progress: Callable[[ExportProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> ExportPlan:
    """The counts an export with ``options`` would produce (per split and label, and why traces
    are left out), without writing anything. The GUI preview runs this in the background."""
    with db.engine.connect() as conn:
        _snapshot(conn)
        return _plan(conn, project, options, progress, cancel)


# --- second pass -------------------------------------------------------------------------------


_LABEL_KEYS = frozenset(Label.model_fields)
_N_LABEL_KEYS = len(_LABEL_KEYS)


def _label_object(text: str | None) -> tuple[dict[str, Any], bool]:
    """The stored Label JSON, normalised the way the importer stores it (so a round trip is
    exact), and whether it is clean (complete and valid). Rows the app wrote (every Label field
    present, as ``model_dump_json`` writes them) are already in that form and skip pydantic; a
    row that no longer validates is passed through as it stands, marked not clean."""
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return {}, False
    if not isinstance(value, dict):
        return {}, False
    if len(value) == _N_LABEL_KEYS and _LABEL_KEYS.issuperset(value):
        return value, True
    try:
        return Label.model_validate(value).model_dump(mode="json"), True
    except ValidationError:
        return value, False


def _original(stored: bytes | None) -> Any:
    data = original_bytes(stored)
    if data is None:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", errors="replace")


_TRACE_COLUMNS = [
    _T.c.id,
    _T.c.uid,
    _T.c.source_format,
    _T.c.model,
    _T.c.account_id,
    _T.c.session_id,
    _raw(_T.c.created_at),
    _T.c.input_tokens,
    _T.c.output_tokens,
    _T.c.reasoning_tokens,
    _T.c.source_file,
    _T.c.source_line,
    _T.c.meta_extra,
    _T.c.turns_json,
    _T.c.is_gold,
    _T.c.batch_id,
]
_N_TRACE_COLUMNS = len(_TRACE_COLUMNS)
_LABEL_COLUMNS = [
    _L.c.trace_id,
    _L.c.annotator_id,
    _L.c.status,
    _L.c.verdict,
    _L.c.label_json,
    _L.c.seconds_spent,
    _L.c.comment,
    _L.c.schema_version,
    _raw(_L.c.updated_at),
    _raw(_L.c.submitted_at),
]
_ADJ_COLUMNS = [
    _A.c.trace_id,
    _A.c.lead_id,
    _A.c.verdict,
    _A.c.label_json,
    _A.c.note,
    _raw(_A.c.created_at),
]


_HAS_JSON_EACH = sqlite3.sqlite_version_info >= (3, 38, 0)
"""JSON functions are built into SQLite from 3.38 (optional before)."""


def _id_in(conn: Connection, column: Any) -> Any:
    """``column IN :ids`` as ONE parameter (a JSON array on SQLite, an array on PostgreSQL; see
    :func:`_ids`): SQLAlchemy spends ~3 ms binding a 400-item IN list, more than SQLite spends
    running it."""
    name = conn.dialect.name
    if name == "sqlite" and _HAS_JSON_EACH:
        values = func.json_each(bindparam("ids", type_=String)).table_valued("value")
        return column.in_(select(values.c.value))
    if name == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    return column.in_(bindparam("ids", expanding=True))


def _ids(conn: Connection, ids: list[int]) -> Any:
    """The value of the ``ids`` parameter of :func:`_id_in`."""
    if conn.dialect.name == "sqlite" and _HAS_JSON_EACH:
        return orjson.dumps(ids).decode()
    return ids


class _Query:
    """A select compiled once per export. On SQLite it runs on the DB-API connection under the
    SQLAlchemy one (same transaction, so the same snapshot) and returns the driver's plain
    tuples: building SQLAlchemy Row objects cost more than SQLite's own work on these reads.
    The columns it reads need no result conversion (date-times are read raw, see :func:`_dt`)."""

    def __init__(self, conn: Connection, stmt: Any) -> None:
        self._conn = conn
        self._stmt = stmt
        self._driver: sqlite3.Connection | None = None
        if conn.dialect.name == "sqlite" and _HAS_JSON_EACH:
            compiled = stmt.compile(dialect=conn.dialect)
            assert compiled.positiontup is not None  # SQLite's paramstyle is positional
            self._compiled = compiled
            self._sql = str(compiled)
            self._order = list(compiled.positiontup)
            driver = conn.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            self._driver = driver

    def rows(self, **params: Any) -> Sequence[Any]:
        if self._driver is None:
            return self._conn.execute(self._stmt, params).all()
        values = self._compiled.construct_params(params)
        return self._driver.execute(self._sql, [values[k] for k in self._order]).fetchall()


@dataclass
class _Reads:
    """The second pass's queries, compiled once per export."""

    conn: Connection
    traces_first: _Query
    """The first chunk of traces of ``pid`` in uid order; ``traces_after`` those after ``last``."""
    traces_after: _Query
    traces: _Query
    labels: _Query
    adjudications: _Query

    @classmethod
    def of(cls, conn: Connection, options: ExportOptions) -> _Reads:
        columns = _trace_columns(options)
        first = select(*columns).where(_T.c.project_id == bindparam("pid"))
        return cls(
            conn=conn,
            traces_first=_Query(conn, first.order_by(_T.c.uid).limit(WRITE_CHUNK)),
            traces_after=_Query(
                conn,
                select(*columns)
                .where(_T.c.project_id == bindparam("pid"), _T.c.uid > bindparam("last"))
                .order_by(_T.c.uid)
                .limit(WRITE_CHUNK),
            ),
            traces=_Query(conn, select(*columns).where(_id_in(conn, _T.c.id))),
            labels=_Query(conn, select(*_LABEL_COLUMNS).where(_id_in(conn, _L.c.trace_id))),
            adjudications=_Query(
                conn,
                select(*_ADJ_COLUMNS)
                .where(_id_in(conn, _A.c.trace_id))
                .order_by(_A.c.trace_id, _A.c.created_at, _A.c.id),
            ),
        )


def _trace_columns(options: ExportOptions) -> list[Any]:
    return [*_TRACE_COLUMNS, _T.c.original] if options.include_original else list(_TRACE_COLUMNS)


_BY_ANNOTATOR = attrgetter("annotator")
_NONE: list[Any] = []
"""Shared stand-in for "no labels" (only read)."""


class _Names(dict[int, str]):
    """Annotator names by id; an id without a row (deleted since) reads as ``#id``."""

    def __missing__(self, key: int) -> str:
        return f"#{key}"


def _build(
    reads: _Reads,
    options: ExportOptions,
    people: dict[int, str],
    traces: Sequence[Any],
) -> Iterator[tuple[Any, ExportRow]]:
    """ExportRows for fetched trace rows (see ``_trace_columns``), with every label and
    adjudication, in the given order."""
    steps = options.resolve
    raw_turns = options.view == "full"
    names = _Names(people)
    ids = _ids(reads.conn, [t[0] for t in traces])
    labels: dict[int, list[LabelEntry]] = defaultdict(list)
    for (
        tid,
        aid,
        status,
        verdict,
        lj,
        secs,
        comment,
        version,
        updated,
        submitted,
    ) in reads.labels.rows(ids=ids):
        when = _dt(submitted)
        label, clean = _label_object(lj)
        labels[tid].append(
            LabelEntry(  # positional (the field order): a third cheaper than keywords here
                names[aid],  # annotator
                status,
                verdict,
                label,
                float(secs or 0.0),  # seconds_spent
                comment,
                int(version or 1),  # schema_version
                when or _dt(updated),  # created_at
                when,  # submitted_at
                clean,
            )
        )
    adjudications: dict[int, list[AdjudicationEntry]] = defaultdict(list)
    for tid, lead, verdict, lj, note, created in reads.adjudications.rows(ids=ids):
        label, clean = _label_object(lj)
        adjudications[tid].append(
            AdjudicationEntry(
                lead=names[lead],
                verdict=verdict,
                label=label,
                note=note,
                created_at=_dt(created),
                clean=clean,
            )
        )
    for t in traces:
        tid = t[0]
        stored_extra = t[12]
        extra = {} if not stored_extra or stored_extra == "{}" else orjson.loads(stored_extra)
        if extra and isinstance(extra, dict) and any(k in extra for k in CARRIED_KEYS):
            extra = {k: v for k, v in extra.items() if k not in CARRIED_KEYS}
        entries = labels.get(tid, _NONE)
        if len(entries) > 1:
            entries.sort(key=_BY_ANNOTATOR)
        adjs = adjudications.get(tid, _NONE)
        yield (
            t,
            ExportRow(
                uid=t[1],
                turns=[] if raw_turns else orjson.loads(turns_bytes(t[13])),
                turns_json=turns_bytes(t[13]) if raw_turns else None,
                meta={
                    "source_format": t[2],
                    "model": t[3],
                    "account_id": t[4],
                    "session_id": t[5],
                    "created_at": _dt(t[6]),
                    "input_tokens": t[7],
                    "output_tokens": t[8],
                    "reasoning_tokens": t[9],
                    "source_file": t[10],
                    "source_line": t[11],
                    "extra": extra,
                },
                is_gold=bool(t[14]),
                labels=tuple(entries),
                adjudications=tuple(adjs),
                resolution=resolve(entries, adjs[-1] if adjs else None, steps),
                original=_original(t[_N_TRACE_COLUMNS]) if options.include_original else None,
                has_original=options.include_original,
            ),
        )


def _facts(row: ExportRow, t: Any, options: ExportOptions) -> TraceFacts:
    """What the filter needs, from a built row (the one-pass export); the same facts the first
    pass of a split export reads (labelers and times only when a filter asks for them)."""
    facts = TraceFacts(id=t[0], uid=row.uid, is_gold=row.is_gold, batch_id=t[15], group=None)
    names = bool(options.labelers)
    times = options.since_date is not None or options.until_date is not None
    if not (names or times or options.min_labelers):
        return facts  # no filter looks at the votes
    for e in row.labels:
        if e.status == "done" and e.verdict is not None:
            facts.votes.append(e.verdict)
            if names:
                facts.labelers.append(e.annotator)
            if times:
                facts.saw(e.created_at)
    for a in row.adjudications:
        facts.adjudicated = a.verdict
        if times:
            facts.saw(a.created_at)
    return facts


def _one_pass(
    reads: _Reads,
    plan: ExportPlan,
    people: dict[int, str],
    write: Callable[[ExportRow], None],
    progress: Callable[[ExportProgress], None] | None,
    cancel: threading.Event | None,
) -> None:
    """Without a split every trace is decided as it is written, in uid order from the
    (project, uid) index: one read of each trace instead of two."""
    options = plan.options
    name = plan.splits[0]
    pid = plan.project_id
    total = reads.conn.execute(select(func.count()).where(_T.c.project_id == pid)).scalar()
    skipped: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    # Without filters on them, one placeholder stands in for every trace's facts.
    no_facts = None if facts_matter(options) else TraceFacts(0, "", False, None, None)
    rows = reads.traces_first.rows(pid=pid)
    while rows:
        if cancel is not None and cancel.is_set():
            raise ExportCancelled
        for t, row in _build(reads, options, people, rows):
            res = row.resolution
            facts = _facts(row, t, options) if no_facts is None else no_facts
            reason = keep(facts, res.method, res.verdict, res.agreement, options)
            if reason is not None:
                skipped[reason] += 1
                continue
            write(row)
            counts[_bucket(res.method, res.verdict)] += 1
        plan.scanned += len(rows)
        if progress is not None:
            progress(ExportProgress("write", plan.scanned, int(total or 0)))
        rows = reads.traces_after.rows(pid=pid, last=rows[-1][1])
    plan.n_rows = sum(counts.values())
    plan.split_counts = {name: plan.n_rows}
    plan.label_counts = {name: dict(sorted(counts.items()))}
    plan.skipped = dict(skipped)


def _bucket(method: str, verdict: str | None) -> str:
    return verdict if verdict is not None else (TIE if method == "tie" else UNLABELED)


def _check_destination(out_dir: Path, overwrite: bool) -> bool:
    """True if the folder already existed. Refuses a non-empty folder without ``overwrite``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir():
        if any(out_dir.iterdir()) and not overwrite:
            raise ExportError(
                f"{out_dir} exists and is not empty; choose another folder or use --overwrite"
            )
        return True
    return False


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _target(out_dir: Path, fmt: str, split: str) -> Path:
    if fmt == "hf":
        return out_dir / data_file(split)
    return out_dir / f"{split}{SUFFIXES[fmt]}"


def _stale_files(out_dir: Path, written: set[str]) -> list[Path]:
    """Files a previous export in this folder listed that this one did not write."""
    path = out_dir / MANIFEST_NAME
    if not path.is_file():
        return []
    try:
        old = read_manifest(path)
    except ExportError:
        return []
    stale = []
    root = out_dir.resolve()
    for entry in old.get("files") or ():
        rel = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(rel, str) or rel in written:
            continue
        candidate = (out_dir / rel).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            stale.append(candidate)
    return stale


NOTHING_FOR_HF = "nothing to export with these options (a dataset folder needs at least one row)"


def _two_pass_write(
    reads: _Reads,
    plan: ExportPlan,
    people: dict[int, str],
    writers: dict[str, RecordWriter],
    view: View,
    progress: Callable[[ExportProgress], None] | None,
    cancel: threading.Event | None,
) -> None:
    """The chosen traces, in uid order, a chunk at a time, each to its split's file."""
    done = 0
    for start in range(0, plan.rows, WRITE_CHUNK):
        if cancel is not None and cancel.is_set():
            raise ExportCancelled
        chunk = plan.chosen[start : start + WRITE_CHUNK]
        ids = _ids(reads.conn, [c.id for c in chunk])
        fetched = {r[0]: r for r in reads.traces.rows(ids=ids)}
        ordered = [fetched[c.id] for c in chunk]
        for c, (_t, row) in zip(chunk, _build(reads, plan.options, people, ordered), strict=True):
            writers[c.split].write(view.build(row))
        done += len(chunk)
        if progress is not None:
            progress(ExportProgress("write", done, plan.rows))


def export_dataset(
    db: Database,
    project: str,
    out_dir: Path,
    options: ExportOptions,
    *,
    progress: Callable[[ExportProgress], None] | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
) -> ExportSummary:
    """Write the export to ``out_dir`` and its manifest; return what was written.

    Every file is written to a temporary name and renamed only when all of them are complete:
    an exception, Ctrl+C or ``cancel`` leaves no partial file under a final name."""
    started = time.perf_counter()
    options.checked()
    existed = _check_destination(out_dir, options.overwrite)
    view = get_view(options.view)
    schema = view.schema(include_original=options.include_original)
    writers: dict[str, RecordWriter] = {}
    committed = False
    one_pass = not options.split and options.since is None
    with db.engine.connect() as conn:
        _snapshot(conn)
        if one_pass:
            pid, label_schema, high_water, _since, _changed = _header(conn, project, options)
            name = "train" if options.format == "hf" else "data"
            plan = ExportPlan(
                project=project,
                project_id=pid,
                schema=label_schema,
                options=options,
                splits=(name,),
                chosen=[],
                split_counts={name: 0},
                label_counts={name: {}},
                skipped={},
                scanned=0,
                high_water=high_water,
                n_rows=0,
            )
        else:
            plan = _plan(conn, project, options, progress, cancel)
            if options.format == "hf" and not plan.rows:
                raise ExportError(NOTHING_FOR_HF)
        people = {int(r.id): r.name for r in conn.execute(select(_N.c.id, _N.c.name))}
        reads = _Reads.of(conn, options)
        out_dir.mkdir(parents=True, exist_ok=True)
        if options.format == "hf":
            (out_dir / DATA_DIR).mkdir(exist_ok=True)
        try:
            splits = (
                [s for s in plan.splits if plan.split_counts[s] or one_pass]
                if options.format == "hf"
                else list(plan.splits)
            )
            for split in splits:
                writers[split] = open_writer(
                    options.format, _target(out_dir, options.format, split), schema
                )
            if one_pass:
                only = writers[plan.splits[0]]

                def write(row: ExportRow) -> None:
                    only.write(view.build(row))

                with gc_paused():
                    _one_pass(reads, plan, people, write, progress, cancel)
                if options.format == "hf" and not plan.rows:
                    raise ExportError(NOTHING_FOR_HF)
            else:
                with gc_paused():
                    _two_pass_write(reads, plan, people, writers, view, progress, cancel)
            if cancel is not None and cancel.is_set():
                raise ExportCancelled
            for writer in writers.values():
                writer.commit()
            committed = True
        finally:
            if not committed:
                for writer in writers.values():
                    writer.abort()
                if not existed:
                    _remove_empty(out_dir)
    files = [
        ExportedFile(
            path=_relative(w.path, out_dir),
            split=split,
            rows=w.rows,
            bytes=w.path.stat().st_size,
            sha256=getattr(w, "sha256", None) or sha256_of(w.path),
        )
        for split, w in writers.items()
    ]
    if options.format == "hf":
        card = out_dir / "README.md"
        write_atomic(card, _card(plan, schema).encode("utf-8"))
        files.append(ExportedFile("README.md", None, 0, card.stat().st_size, sha256_of(card)))
    written = {f.path for f in files} | {MANIFEST_NAME}
    for stale in _stale_files(out_dir, written):
        stale.unlink()
    manifest_path = out_dir / MANIFEST_NAME
    write_manifest(manifest_path, _manifest(plan, files, now or datetime.now(UTC)))
    return ExportSummary(
        out_dir=out_dir,
        plan=plan,
        files=files,
        seconds=time.perf_counter() - started,
        manifest=manifest_path,
    )


def _remove_empty(out_dir: Path) -> None:
    for sub in (out_dir / DATA_DIR, out_dir):
        with contextlib.suppress(OSError):
            sub.rmdir()


def _provenance(plan: ExportPlan) -> dict[str, Any]:
    return {
        "app": f"Trace Annotator {annotator.__version__}",
        "project": plan.project,
        "label_schema": {"name": plan.schema.name, "version": plan.schema.version},
        "export_layout_version": EXPORT_VERSION,
        "options": plan.options.as_dict(),
        "traces_scanned": plan.scanned,
        "left_out": dict(sorted(plan.skipped.items())),
        "high_water": plan.high_water.as_dict(),
    }


def _card(plan: ExportPlan, schema: Any) -> str:
    kept = [s for s in plan.splits if plan.split_counts[s]]
    return dataset_card(
        title=f"{plan.project} ({plan.options.view} view)",
        view=plan.options.view,
        schema=schema,
        split_counts={s: plan.split_counts[s] for s in kept},
        label_counts={s: plan.label_counts[s] for s in kept},
        label_schema=plan.schema,
        provenance=_provenance(plan),
    )


def _manifest(plan: ExportPlan, files: list[ExportedFile], now: datetime) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "app_version": annotator.__version__,
        "export_layout_version": EXPORT_VERSION,
        "project": plan.project,
        "schema": {"name": plan.schema.name, "version": plan.schema.version},
        "options": plan.options.as_dict(),
        "counts": plan.counts(),
        "files": [f.as_dict() for f in files],
        "high_water": plan.high_water.as_dict(),
        "since": plan.since.as_dict() if plan.since else None,
        "exported_at": now.astimezone(UTC).isoformat(),
    }
