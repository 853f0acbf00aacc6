"""A column-wise copy of one project's label rows, shared by the dashboard's services
(:mod:`annotator.services.progress` and :mod:`annotator.services.agreement`) and kept per
database engine, so that a dashboard refresh on a million labels does not rescan and reparse them.

Why: every aggregate the lead sees (status counts, throughput, buckets, verdicts, tags, the
agreement matrices) derives from the same few label columns plus the tags and spans inside
``label_json``. Reading them costs about a second per pass over 1M rows and parsing the JSON
another; the numbers themselves take tens of milliseconds with numpy. So the rows are read once
(one pass, driver-level cursor on SQLite), parsed once, and afterwards only what changed is read.

Change detection is cheap and exact for every writer in the services: each label write (submit,
skip, flag, undo, import) appends a ``label_events`` row, so the highest event id moves; new label
rows move the highest ``labels.id``. Deletions (cascades from a trace, project or person) never
write events: they show as a label count (all projects: SQLite counts a whole table from its
b-tree pages in milliseconds, a project's rows take a scan of an index) that falls short of the
old count plus the new ids; then the project's own count decides. The rows at the old highest
label and event ids must still be the ones seen (a deleted top id is reused by SQLite; a
restored backup has another history). When few events are new, only the label rows of their
(trace, labeler) pairs are read again, through one join on the unique (trace, labeler) index.

The table also persists between processes (:mod:`annotator.services.label_snapshot`): when a
snapshot directory is configured (``label_snapshot.use_snapshots``, by the GUI and the CLI), a
process without a cached table starts from the project's snapshot file and updates it as above,
and :func:`flush_snapshots` (called by the dashboard after a refresh was shown) rewrites the
file after a full read or once enough changed since.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from sqlalchemy import Connection, Engine, text

from annotator.domain.label import LabelStatus
from annotator.gcpause import gc_paused
from annotator.services import label_snapshot
from annotator.services.label_choices import (
    extend_vocab,
    parse_columns,
    parse_document,
    parse_rows,
)
from annotator.store.database import Database

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
_T = TypeVar("_T")

NO_TIME = np.iinfo(np.int64).min
"""Epoch-seconds placeholder for a missing timestamp."""
NONE_CODE = -1
"""Verdict code of a label without a verdict."""
INCREMENTAL_LIMIT = 250_000
"""Above this many new label events (all projects) a full read is done instead of merging the
changed rows: reading a changed row by its (trace, labeler) costs a few times a row of a full
read, so a day of a team's work (tens of thousands of labels) is still far cheaper merged."""
SAVE_AFTER = 2_000
"""New label rows plus events since the snapshot file after which :func:`flush_snapshots`
rewrites it (a file a few labels behind costs a few milliseconds to catch up)."""
_FETCH = 20_000
"""Rows per fetch of a full read."""
COLUMNWISE_MIN = 2_000
"""A full read's chunk with fewer submitted labels than this is parsed row by row (the
column-wise reader's fixed cost per call is about a millisecond); a database with fewer
labels reads their JSON with the rows."""
READ_MMAP_BYTES = 1 << 34
"""SQLite memory-maps the database file while the label rows are read: the changed rows of a
refresh are random lookups through two indexes, and pages read through the mapping instead of
a read() each cost about a third less (20,000 changed rows at 1M labels: 155 -> 105 ms).
Only around these reads: mapped pages count towards the process's resident memory."""


class Fingerprint(NamedTuple):
    """What a label table was read at; any label change moves it."""

    label_id: int
    """Highest ``labels.id``."""
    event_id: int
    """Highest ``label_events.id``."""
    labels: int
    """Label rows in the database (all projects)."""
    label_key: str
    """``project:trace:labeler`` of the label row at ``label_id`` ('' if none)."""
    event_key: str
    """``trace:labeler:created_at`` of the event at ``event_id`` ('' if none)."""


@dataclass(frozen=True)
class LabelTable:
    """The label rows of one project, one array entry per row in ``labels.id`` order.

    ``tag_row``/``tag_code`` list every tag a row chose (``tag_vocab[code]`` is ``(key, tag)``
    with key ``tags`` or ``counter_tags``); ``span_*`` every evidence span, in document order."""

    fingerprint: Fingerprint
    """The database's label state this table reflects."""
    ids: IntArray
    trace: IntArray
    annotator: IntArray
    status: IntArray
    """Index into ``statuses``."""
    statuses: tuple[str, ...]
    verdict: IntArray
    """Index into ``verdicts``; :data:`NONE_CODE` without a verdict."""
    verdicts: tuple[str, ...]
    seconds: FloatArray
    when: IntArray
    """UTC epoch seconds of ``coalesce(submitted_at, updated_at)`` (:data:`NO_TIME` if none)."""
    submitted: IntArray
    """UTC epoch seconds of ``submitted_at`` (:data:`NO_TIME` if none)."""
    tag_row: IntArray
    tag_code: IntArray
    tag_vocab: tuple[tuple[str, str], ...]
    span_row: IntArray
    span_turn: IntArray
    span_block: IntArray
    span_start: IntArray
    span_end: IntArray

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def status_code(self, status: LabelStatus) -> int:
        """Code of ``status`` in ``status`` (-1 if no row has it)."""
        return self.statuses.index(status.value) if status.value in self.statuses else -1


@dataclass
class _Parsed:
    """Rows read so far, as numpy chunks (Python objects per row would be kept alive and make
    the garbage collector rescan millions of them), with the vocabularies their codes use."""

    statuses: list[str]
    verdicts: list[str]
    tag_vocab: list[tuple[str, str]]
    columns: dict[str, list[IntArray | FloatArray]]
    tag_row: list[IntArray]
    tag_code: list[IntArray]
    spans: list[IntArray]

    def column(self, name: str) -> IntArray | FloatArray:
        parts = self.columns.get(name, [])
        if name == "seconds":
            return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0, np.float64)
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _time_sql(dialect: str, column: str) -> str:
    """Epoch seconds (UTC) computed by the database: parsing a million timestamps in Python
    costs more than every aggregate together. On SQLite from ``julianday`` (whole milliseconds
    inside, so adding half of one before truncating gives what ``strftime('%s')`` gives, for
    about 0.15 s less per million rows)."""
    if dialect == "sqlite":
        return f"CAST((julianday({column}) - 2440587.5) * 86400 + 0.0005 AS INTEGER)"
    return f"CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)"


def _select_sql(dialect: str, where: str, *, with_json: bool = True) -> str:
    """The label columns; ``updated_at`` converted only where ``submitted_at`` is missing (the
    table's ``when`` is the first of the two present: one conversion per row, not two).
    Without ``label_json`` when the tags and spans are read apart (:func:`_choices_by_sql`)."""
    return (
        "SELECT id, trace_id, annotator_id, status, verdict, seconds_spent, "
        f"CASE WHEN submitted_at IS NULL THEN {_time_sql(dialect, 'updated_at')} END, "
        f"{_time_sql(dialect, 'submitted_at')}{', label_json' if with_json else ''} "
        f"FROM labels WHERE {where}"
    )


def _rows(
    connection: Connection, where: str, params: dict[str, Any], *, with_json: bool = True
) -> Iterable[Sequence[Sequence[Any]]]:
    """Chunks of rows of the label query: a driver-level cursor on SQLite (about 5x cheaper
    per row than SQLAlchemy result rows), named parameters elsewhere. Chunks keep memory flat
    (a million rows with their JSON would hold half a gigabyte at once)."""
    dialect = connection.dialect.name
    sql = _select_sql(dialect, where, with_json=with_json)
    if dialect == "sqlite":
        raw = connection.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            cursor.execute(sql, params)
            while chunk := cursor.fetchmany(_FETCH):
                yield chunk
        finally:
            cursor.close()
        return
    result = connection.execute(text(sql), params)
    while chunk := result.fetchmany(_FETCH):
        yield chunk


@contextmanager
def _mapped(connection: Connection) -> Iterator[None]:
    """:data:`READ_MMAP_BYTES` of memory-mapped reads on a SQLite ``connection``, for the
    duration of the block."""
    if connection.dialect.name != "sqlite":
        yield
        return
    connection.exec_driver_sql(f"PRAGMA mmap_size={READ_MMAP_BYTES}")
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA mmap_size=0")


def _parse(
    chunks: Iterable[Sequence[Sequence[Any]]],
    base: LabelTable | _Header | None = None,
    *,
    columnwise: bool = False,
    apart: Future[_Choices] | None = None,
) -> _Parsed:
    """Split rows into columns (``zip`` per chunk, numpy per column, no per-row Python for
    the plain columns) and pull tags and spans out of ``label_json`` of submitted labels only
    (text, rationale and confidence are not needed here). Codes extend ``base``'s
    vocabularies.

    ``columnwise``: a full read, whose chunks' tags and spans are parsed by pyarrow on a
    worker (:mod:`annotator.services.label_choices`); a process's first use of it costs about
    0.1 s, more than the loop over the few thousand rows of a catch-up. ``apart``: a full
    read whose rows come without ``label_json``; the tags and spans are those being read by
    :func:`_choices_by_sql`."""
    out = _Parsed(
        list(base.statuses) if base else [],
        list(base.verdicts) if base else [],
        list(base.tag_vocab) if base else [],
        {},
        [],
        [],
        [],
    )
    offset = 0
    choices: list[Future[tuple[IntArray, IntArray, IntArray]]] = []
    # One worker parses the JSON of each chunk (mostly in pyarrow, without the GIL) while the
    # next chunk is fetched; one worker, so the tag vocabulary grows in row order.
    with gc_paused(), ThreadPoolExecutor(1, thread_name_prefix="label-json") as pool:
        for chunk in chunks:
            columns = tuple(zip(*chunk, strict=True))
            ids, traces, aids, statuses, verdicts, seconds, updated, submitted = columns[:8]
            for name, values in (
                ("ids", _ints(ids)),
                ("trace", _ints(traces)),
                ("annotator", _ints(aids)),
                ("status", _codes(statuses, out.statuses)),
                ("verdict", _codes(verdicts, out.verdicts)),
                ("seconds", _floats(seconds)),
                ("when", _when(submitted, updated)),
                ("submitted", _times(submitted)),
            ):
                out.columns.setdefault(name, []).append(values)
            if apart is None:
                done_rows = np.flatnonzero(out.columns["status"][-1] == _done_code(out))
                jsons = columns[8]
                chosen = [jsons[k] for k in done_rows.tolist()]
                if columnwise and len(chosen) >= COLUMNWISE_MIN:
                    future = pool.submit(_choices, done_rows + offset, chosen, out.tag_vocab)
                    choices.append(future)
                else:  # no thread; after the chunks before it, for the vocabulary's order
                    wait(choices)
                    rows = (done_rows + offset).tolist()
                    choices.append(_done(parse_rows(rows, chosen, out.tag_vocab)))
            offset += len(chunk)
        for future in choices:
            tag_row, tag_code, spans = future.result()
            out.tag_row.append(tag_row)
            out.tag_code.append(tag_code)
            out.spans.append(spans)
    if apart is not None:
        _attach(out, apart.result())
    return out


def _done_code(parsed: _Parsed) -> int:
    """The code of a submitted label in ``parsed`` (-2, matching no row, if none is)."""
    done = LabelStatus.DONE.value
    return parsed.statuses.index(done) if done in parsed.statuses else -2


@dataclass(frozen=True)
class _Choices:
    """Tags and spans of submitted labels, read apart from their rows (another connection,
    maybe another moment): each refers to its label by position in ``ids``."""

    ids: IntArray
    tag_at: IntArray
    tag_code: IntArray
    """Codes in ``vocab``."""
    spans: IntArray
    """``(position in ids, turn, block, start, end)`` per span."""
    vocab: list[tuple[str, str]]


def _attach(out: _Parsed, found: _Choices) -> None:
    """Give ``out``'s submitted rows (a full read: no earlier vocabulary) the tags and spans
    of ``found``, matched by label id. A label submitted in one read and not in the other
    changed after the fingerprint, so the next refresh reads it again anyway."""
    ids = out.column("ids")
    status = out.column("status")
    pos = np.searchsorted(ids, found.ids)
    at = np.minimum(pos, max(ids.size - 1, 0))
    matched = (pos < ids.size) & (ids[at] == found.ids) & (status[at] == _done_code(out))
    row_of = np.where(matched, at, -1)
    tag_row = row_of[found.tag_at]
    span_row = row_of[found.spans[:, 0]]
    spans = found.spans[span_row >= 0].copy()
    spans[:, 0] = span_row[span_row >= 0]
    out.tag_row = [tag_row[tag_row >= 0]]
    out.tag_code = [found.tag_code[tag_row >= 0]]
    out.spans = [spans]
    out.tag_vocab = found.vocab


CHOICES_CHUNK = 20_000
"""Submitted labels per query of :func:`_choices_by_sql` (their JSON is held twice at once:
the document and pyarrow's columns)."""
_CHOICES_SQL = (
    "SELECT group_concat(id), "
    "CAST(group_concat(coalesce(nullif(label_json, ''), '{}'), char(10)) AS BLOB), max(id) "
    "FROM (SELECT id, label_json FROM labels WHERE project_id = ? AND status = ? "
    "AND id > ? ORDER BY id LIMIT ?)"
)
_CHOICE_ROWS_SQL = (
    "SELECT id, label_json FROM labels WHERE project_id = ? AND status = ? AND id > ? "
    "AND id <= ? ORDER BY id"
)


def _choices_by_sql(engine: Engine, project_id: int) -> _Choices:
    """The tags and spans of the project's submitted labels on a connection of its own:
    SQLite joins each chunk's JSON into one newline-delimited document, handed over as bytes
    (and its ids into one string), and pyarrow parses it, both without the GIL and without a
    Python object per label. Beside the main read of the rows without their JSON, a first
    read of 1M labels takes about half as long. A chunk that is not in the services' shape is
    read again row by row for the loop."""
    vocab: list[tuple[str, str]] = []
    id_parts: list[IntArray] = []
    tag_at: list[IntArray] = []
    tag_code: list[IntArray] = []
    spans: list[IntArray] = []
    done = LabelStatus.DONE.value
    count = 0
    last = -(2**63)
    with engine.connect() as connection, _mapped(connection):
        raw = connection.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            while True:
                params = (project_id, done, last, CHOICES_CHUNK)
                id_text, document, top = cursor.execute(_CHOICES_SQL, params).fetchone()
                if top is None:
                    break
                ids = np.fromstring(id_text, dtype=np.int64, sep=",")
                found = parse_document(np.arange(count, count + ids.size), document, vocab)
                if found is None:
                    rows = cursor.execute(
                        _CHOICE_ROWS_SQL, (project_id, done, last, top)
                    ).fetchall()
                    ids = _ints([row[0] for row in rows])
                    positions = list(range(count, count + len(rows)))
                    found = parse_rows(positions, [row[1] for row in rows], vocab)
                id_parts.append(ids)
                tag_at.append(found[0])
                tag_code.append(found[1])
                spans.append(found[2])
                count += ids.size
                last = int(top)
        finally:
            cursor.close()
    return _Choices(
        np.concatenate(id_parts) if id_parts else np.zeros(0, np.int64),
        np.concatenate(tag_at) if tag_at else np.zeros(0, np.int64),
        np.concatenate(tag_code) if tag_code else np.zeros(0, np.int64),
        np.concatenate(spans) if spans else np.zeros((0, 5), np.int64),
        vocab,
    )


def _reads_apart(connection: Connection, fp: Fingerprint) -> bool:
    """Whether a full read takes the tags and spans from :func:`_choices_by_sql`: a SQLite
    file (another connection sees the same data) with enough labels to be worth a thread."""
    url = connection.engine.url
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    return connection.dialect.name == "sqlite" and not in_memory and fp.labels >= COLUMNWISE_MIN


def _done(
    value: tuple[IntArray, IntArray, IntArray],
) -> Future[tuple[IntArray, IntArray, IntArray]]:
    future: Future[tuple[IntArray, IntArray, IntArray]] = Future()
    future.set_result(value)
    return future


def _choices(
    rows: IntArray, jsons: list[str | None], vocab: list[tuple[str, str]]
) -> tuple[IntArray, IntArray, IntArray]:
    """Tags and spans of ``jsons`` (:mod:`annotator.services.label_choices`): column-wise
    when they take the services' shape, else row by row."""
    found = parse_columns(rows, jsons, vocab)
    return found if found is not None else parse_rows(rows.tolist(), jsons, vocab)


def _codes(values: Sequence[Any], vocab: list[Any]) -> IntArray:
    """Codes of ``values`` in ``vocab`` (extended in place); None is :data:`NONE_CODE`."""
    index: dict[Any, int] = extend_vocab(vocab, set(values) - {None})
    index[None] = NONE_CODE
    return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))


def _times(values: Sequence[int | None]) -> IntArray:
    """Epoch seconds with :data:`NO_TIME` for None."""
    floats = np.asarray(values, dtype=np.float64)
    missing = np.isnan(floats)
    out = np.full(floats.shape[0], NO_TIME, dtype=np.int64)
    out[~missing] = floats[~missing].astype(np.int64)
    return out


def _when(submitted: Sequence[int | None], updated: Sequence[int | None]) -> IntArray:
    """Epoch seconds of ``coalesce(submitted_at, updated_at)``."""
    at = _times(submitted)
    return np.where(at != NO_TIME, at, _times(updated))


def _floats(values: Sequence[float | None]) -> FloatArray:
    """Seconds spent, 0 for None."""
    floats = np.asarray(values, dtype=np.float64)
    floats[np.isnan(floats)] = 0.0
    return floats


def _ints(values: Sequence[int]) -> IntArray:
    return np.fromiter(values, dtype=np.int64, count=len(values))


def _table(
    parsed: _Parsed,
    fingerprint: Fingerprint,
    base: LabelTable | None = None,
    keep: np.ndarray[Any, np.dtype[np.bool_]] | None = None,
) -> LabelTable:
    """Arrays from ``parsed``, appended to the rows of ``base`` selected by ``keep``, in id order."""
    statuses, verdicts, vocab = parsed.statuses, parsed.verdicts, parsed.tag_vocab
    spans = np.concatenate(parsed.spans) if parsed.spans else np.zeros((0, 5), dtype=np.int64)
    new: dict[str, IntArray | FloatArray] = {
        name: parsed.column(name)
        for name in (
            "ids",
            "trace",
            "annotator",
            "status",
            "verdict",
            "seconds",
            "when",
            "submitted",
        )
    }
    tag_row = np.concatenate(parsed.tag_row) if parsed.tag_row else np.zeros(0, np.int64)
    tag_code = np.concatenate(parsed.tag_code) if parsed.tag_code else np.zeros(0, np.int64)
    span_cols = [np.ascontiguousarray(spans[:, j]) for j in range(5)]
    if base is not None and keep is not None:
        old_rows = np.flatnonzero(keep)
        offset = old_rows.size
        for name in new:
            new[name] = np.concatenate([getattr(base, name)[keep], new[name]])
        # Renumber the kept rows' tag and span references, then shift the new ones after them.
        renumber = np.full(len(base), -1, dtype=np.int64)
        renumber[old_rows] = np.arange(offset, dtype=np.int64)
        tag_keep = keep[base.tag_row]
        tag_row = np.concatenate([renumber[base.tag_row[tag_keep]], tag_row + offset])
        tag_code = np.concatenate([base.tag_code[tag_keep], tag_code])
        span_keep = keep[base.span_row]
        span_cols[0] = np.concatenate([renumber[base.span_row[span_keep]], span_cols[0] + offset])
        for j, name in enumerate(("span_turn", "span_block", "span_start", "span_end"), start=1):
            span_cols[j] = np.concatenate([getattr(base, name)[span_keep], span_cols[j]])
    order = np.argsort(new["ids"], kind="stable")
    if order.size and np.any(order[1:] < order[:-1]):
        position = np.empty_like(order)
        position[order] = np.arange(order.size, dtype=np.int64)
        new = {name: values[order] for name, values in new.items()}
        tag_sort = np.argsort(position[tag_row], kind="stable")
        tag_row, tag_code = position[tag_row][tag_sort], tag_code[tag_sort]
        span_sort = np.argsort(position[span_cols[0]], kind="stable")
        span_cols[0] = position[span_cols[0]]
        span_cols = [c[span_sort] for c in span_cols]
    return LabelTable(
        fingerprint=fingerprint,
        ids=new["ids"].astype(np.int64),
        trace=new["trace"].astype(np.int64),
        annotator=new["annotator"].astype(np.int64),
        status=new["status"].astype(np.int64),
        statuses=tuple(statuses),
        verdict=new["verdict"].astype(np.int64),
        verdicts=tuple(verdicts),
        seconds=new["seconds"].astype(np.float64),
        when=new["when"].astype(np.int64),
        submitted=new["submitted"].astype(np.int64),
        tag_row=tag_row.astype(np.int64),
        tag_code=tag_code.astype(np.int64),
        tag_vocab=tuple(vocab),
        span_row=span_cols[0].astype(np.int64),
        span_turn=span_cols[1].astype(np.int64),
        span_block=span_cols[2].astype(np.int64),
        span_start=span_cols[3].astype(np.int64),
        span_end=span_cols[4].astype(np.int64),
    )


def _label_key(connection: Connection, label_id: int) -> str:
    row = connection.execute(
        text("SELECT project_id, trace_id, annotator_id FROM labels WHERE id = :i"),
        {"i": label_id},
    ).first()
    return ":".join(str(v) for v in row) if row is not None else ""


def _event_key(connection: Connection, event_id: int) -> str:
    row = connection.execute(
        text("SELECT trace_id, annotator_id, created_at FROM label_events WHERE id = :i"),
        {"i": event_id},
    ).first()
    return ":".join(str(v) for v in row) if row is not None else ""


def fingerprint(connection: Connection, project_id: int) -> Fingerprint:
    """The label state of the database: two primary-key lookups, two rows by primary key and
    a table count (milliseconds at 1M labels on SQLite). ``project_id`` is unused: one state
    for all projects keeps the check free of a scan of the project's rows."""
    del project_id
    label_id = int(connection.execute(text("SELECT max(id) FROM labels")).scalar() or 0)
    event_id = int(connection.execute(text("SELECT max(id) FROM label_events")).scalar() or 0)
    labels = int(connection.execute(text("SELECT count(*) FROM labels")).scalar() or 0)
    return Fingerprint(
        label_id,
        event_id,
        labels,
        _label_key(connection, label_id) if label_id else "",
        _event_key(connection, event_id) if event_id else "",
    )


def _full(connection: Connection, project_id: int, fp: Fingerprint) -> LabelTable:
    where, params = "project_id = :pid ORDER BY id", {"pid": project_id}
    if _reads_apart(connection, fp):
        apart = _on_thread(_choices_by_sql, connection.engine, project_id)
        rows = _rows(connection, where, params, with_json=False)
        return _table(_parse(rows, apart=apart), fp)
    return _table(_parse(_rows(connection, where, params), columnwise=True), fp)


def _update(
    connection: Connection,
    project_id: int,
    base: LabelTable | _Header,
    fp: Fingerprint,
    *,
    arrays: Future[LabelTable | None] | None = None,
) -> LabelTable | None:
    """``base`` with the rows changed since it was read; None when a full read is needed.
    With ``arrays``, ``base`` is a snapshot's header and ``arrays`` its table being decoded
    (nobody else holds it, so it is patched in place)."""
    old = base.fingerprint
    if fp.label_id < old.label_id or fp.event_id < old.event_id:
        return None
    # The rows at the old frontier are still the ones seen: not a reused top id, not a
    # database restored from a backup with another history.
    if old.label_id and _label_key(connection, old.label_id) != old.label_key:
        return None
    if old.event_id and _event_key(connection, old.event_id) != old.event_key:
        return None
    events = connection.execute(
        text("SELECT count(*) FROM label_events WHERE id > :eid"), {"eid": old.event_id}
    ).scalar()
    if int(events or 0) > INCREMENTAL_LIMIT:
        return None
    added = connection.execute(
        text("SELECT count(*) FROM labels WHERE id > :lid"), {"lid": old.label_id}
    ).scalar()
    # Every row is accounted for (none deleted, none inserted under an old id) unless the
    # count says otherwise; then the project's own count checks the merged table.
    exact = fp.labels == old.labels + int(added or 0)
    params = {"lid": old.label_id, "eid": old.event_id, "pid": project_id}
    rows: list[Sequence[Any]] = [
        row
        for chunk in _rows(connection, "id > :lid AND project_id = :pid", params)
        for row in chunk
    ]
    # Existing rows of the (trace, labeler) pairs with new events: the events by their id range
    # (``+project_id`` keeps SQLite off the events' project index; no DISTINCT, which would
    # walk the (trace, labeler) index of every event ever), each label by its unique index.
    changed_where = (
        "id <= :lid AND project_id = :pid AND id IN (SELECT l.id FROM label_events e "
        "JOIN labels l ON l.trace_id = e.trace_id AND l.annotator_id = e.annotator_id "
        "WHERE e.id > :eid AND +e.project_id = :pid)"
    )
    if fp.event_id > old.event_id:
        rows.extend(row for chunk in _rows(connection, changed_where, params) for row in chunk)
    changed = _ints([r[0] for r in rows])
    parsed = _parse([rows] if rows else [], base)
    if arrays is not None:
        decoded = arrays.result()
        if decoded is None:
            return None
        base = decoded
    assert isinstance(base, LabelTable)
    table = _patch(base, parsed, fp, in_place=arrays is not None)
    if table is None:
        table = _table(parsed, fp, base, ~np.isin(base.ids, changed))
    if not exact:
        count = connection.execute(
            text("SELECT count(*) FROM labels WHERE project_id = :pid"), {"pid": project_id}
        ).scalar()
        if len(table) != int(count or 0):
            return None
    return table


_ROW_COLUMNS = ("ids", "trace", "annotator", "status", "verdict", "seconds", "when", "submitted")


def _patch(
    base: LabelTable, parsed: _Parsed, fp: Fingerprint, *, in_place: bool = False
) -> LabelTable | None:
    """The common incremental case without a sort of every row: changed rows overwrite their
    old entries, new rows (ids above all old ones) go at the end. None when a changed row is
    neither (then :func:`_table` merges and sorts), with ``base`` untouched.

    ``in_place``: overwrite ``base``'s row arrays where no row is appended (a table fresh from
    a snapshot that nobody else holds): every fresh 8 MB array costs thousands of page faults."""
    new = {name: parsed.column(name) for name in _ROW_COLUMNS}
    ids = new["ids"].astype(np.int64)
    if ids.size and np.any(ids[1:] <= ids[:-1]):
        order = np.argsort(ids, kind="stable")
        return _patch(base, _reordered(parsed, order), fp, in_place=in_place)
    n_old = len(base)
    pos = np.searchsorted(base.ids, ids)
    pos_ok = np.minimum(pos, max(n_old - 1, 0))
    existing = (pos < n_old) & (base.ids[pos_ok] == ids) if n_old else np.zeros(ids.size, bool)
    appended = ~existing
    last = int(base.ids[-1]) if n_old else -1
    if np.any(ids[appended] <= last):
        return None
    n_new = int(appended.sum())
    # Where each parsed row lands in the patched table.
    target = np.where(existing, pos, n_old + np.cumsum(appended) - 1).astype(np.int64)
    columns: dict[str, Any] = {}
    for name in _ROW_COLUMNS:
        old = getattr(base, name)
        if n_new == 0 and np.array_equal(old[target], new[name]):
            # Unchanged (a row's id, trace and labeler never change): shared, not copied.
            # Cached tables are never written to, and a fresh 8 MB array costs page faults.
            columns[name] = old
            continue
        if in_place and n_new == 0:
            old[target] = new[name]
            columns[name] = old
            continue
        merged = np.empty(n_old + n_new, dtype=old.dtype)
        merged[:n_old] = old
        merged[target] = new[name]
        columns[name] = merged
    touched = np.zeros(n_old + n_new, dtype=bool)
    touched[target] = True
    spans = np.concatenate(parsed.spans) if parsed.spans else np.zeros((0, 5), dtype=np.int64)
    tag_new_row = np.concatenate(parsed.tag_row) if parsed.tag_row else np.zeros(0, np.int64)
    tag_new_code = np.concatenate(parsed.tag_code) if parsed.tag_code else np.zeros(0, np.int64)
    tag_keep = ~touched[base.tag_row]
    if tag_keep.all() and tag_new_row.size == 0:
        tag_row, tag_code = base.tag_row, base.tag_code
    else:
        tag_row = np.concatenate([base.tag_row[tag_keep], target[tag_new_row]])
        tag_code = np.concatenate([base.tag_code[tag_keep], tag_new_code])
    span_names = ("span_row", "span_turn", "span_block", "span_start", "span_end")
    span_keep = ~touched[base.span_row]
    if spans.shape[0] == 0:
        # Kept spans stay in row order (rows keep their positions): no sort.
        everything = bool(span_keep.all())
        span_cols = [
            getattr(base, name) if everything else getattr(base, name)[span_keep]
            for name in span_names
        ]
    else:
        span_row = np.concatenate([base.span_row[span_keep], target[spans[:, 0]]])
        span_order = np.argsort(span_row, kind="stable")  # rows in id order, as a full read
        span_cols = [span_row[span_order]] + [
            np.concatenate([getattr(base, name)[span_keep], spans[:, j]])[span_order]
            for j, name in enumerate(span_names[1:], start=1)
        ]
    return LabelTable(
        fingerprint=fp,
        statuses=tuple(parsed.statuses),
        verdicts=tuple(parsed.verdicts),
        tag_vocab=tuple(parsed.tag_vocab),
        tag_row=tag_row,
        tag_code=tag_code,
        **dict(zip(span_names, span_cols, strict=True)),
        **columns,
    )


def _reordered(parsed: _Parsed, order: IntArray) -> _Parsed:
    """``parsed`` with its rows in ``order`` (row references of tags and spans follow)."""
    position = np.empty_like(order)
    position[order] = np.arange(order.size, dtype=np.int64)
    spans = np.concatenate(parsed.spans) if parsed.spans else np.zeros((0, 5), dtype=np.int64)
    spans = spans.copy()
    spans[:, 0] = position[spans[:, 0]]
    tag_row = np.concatenate(parsed.tag_row) if parsed.tag_row else np.zeros(0, np.int64)
    return _Parsed(
        parsed.statuses,
        parsed.verdicts,
        parsed.tag_vocab,
        {name: [parsed.column(name)[order]] for name in _ROW_COLUMNS},
        [position[tag_row]],
        list(parsed.tag_code),
        [spans[np.argsort(spans[:, 0], kind="stable")]],
    )


class _Cache:
    """Per engine and project, the latest :class:`LabelTable` (and the fingerprint of the
    snapshot file, when one was read or written); one lock per engine so two jobs of one
    refresh (progress and agreement, in parallel) read the rows once, not twice."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._tables: weakref.WeakKeyDictionary[Engine, dict[int, LabelTable]] = (
            weakref.WeakKeyDictionary()
        )
        self._saved: weakref.WeakKeyDictionary[Engine, dict[int, Fingerprint]] = (
            weakref.WeakKeyDictionary()
        )
        self._locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()

    def lock(self, engine: Engine) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(engine)
            if lock is None:
                lock = self._locks[engine] = threading.Lock()
            return lock

    def get(self, engine: Engine, project_id: int) -> LabelTable | None:
        with self._guard:
            return self._tables.get(engine, {}).get(project_id)

    def put(self, engine: Engine, project_id: int, table: LabelTable) -> None:
        with self._guard:
            self._tables.setdefault(engine, {})[project_id] = table

    def tables(self, engine: Engine) -> dict[int, LabelTable]:
        with self._guard:
            return dict(self._tables.get(engine, {}))

    def saved(self, engine: Engine, project_id: int) -> Fingerprint | None:
        with self._guard:
            return self._saved.get(engine, {}).get(project_id)

    def mark_saved(self, engine: Engine, project_id: int, fp: Fingerprint) -> None:
        with self._guard:
            self._saved.setdefault(engine, {})[project_id] = fp

    def clear(self) -> None:
        with self._guard:
            self._tables.clear()
            self._saved.clear()


_CACHE = _Cache()
use_snapshots = label_snapshot.use_snapshots


def clear_cache() -> None:
    """Forget every cached table (tests; or after writing labels behind the services' back).
    Snapshot files stay: the next read checks them against the database."""
    _CACHE.clear()


_ARRAYS = (
    *_ROW_COLUMNS,
    "tag_row",
    "tag_code",
    "span_row",
    "span_turn",
    "span_block",
    "span_start",
    "span_end",
)


@dataclass(frozen=True)
class _Header:
    """What a snapshot file says about its table before its arrays are read: enough to read
    the rows changed since (:func:`_update`) while the arrays are decoded on a thread."""

    fingerprint: Fingerprint
    statuses: tuple[str, ...]
    verdicts: tuple[str, ...]
    tag_vocab: tuple[tuple[str, str], ...]
    path: Path


def _snapshot_header(connection: Connection, project_id: int, directory: Path) -> _Header | None:
    """The header of the project's snapshot if it belongs to this database, project and schema
    generation; None otherwise (then nothing of it is used)."""
    identity = label_snapshot.read_identity(connection)
    if identity is None:
        return None
    path = label_snapshot.snapshot_path(directory, identity, project_id)
    meta = label_snapshot.read_meta(path)
    if meta is None:
        return None
    try:
        if (
            meta.get("database") != identity
            or meta.get("project") != project_id
            or meta.get("generation") != label_snapshot.schema_generation(connection)
        ):
            return None
        label_id, event_id, labels, label_key, event_key = meta["fingerprint"]
        return _Header(
            Fingerprint(int(label_id), int(event_id), int(labels), str(label_key), str(event_key)),
            tuple(str(v) for v in meta["statuses"]),
            tuple(str(v) for v in meta["verdicts"]),
            tuple((str(k), str(t)) for k, t in meta["tag_vocab"]),
            path,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _snapshot_table(header: _Header) -> LabelTable | None:
    """The table of ``header``'s file when its arrays are whole (CRC), belong to that header
    and are consistent; None otherwise. Touches no database: runs on a thread."""
    found = label_snapshot.read_arrays(header.path)
    if found is None:
        return None
    arrays, meta = found
    try:
        if list(header.fingerprint) != list(meta["fingerprint"]):
            return None  # the file was replaced in between
        columns: dict[str, Any] = {
            name: arrays[name].astype(np.float64 if name == "seconds" else np.int64, copy=False)
            for name in _ARRAYS
        }
    except (KeyError, TypeError, ValueError):
        return None
    table = LabelTable(
        fingerprint=header.fingerprint,
        statuses=header.statuses,
        verdicts=header.verdicts,
        tag_vocab=header.tag_vocab,
        **columns,
    )
    return table if _consistent(table) else None


def _decoding(header: _Header) -> Future[LabelTable | None]:
    """:func:`_snapshot_table` on a thread of its own (file reads, CRC, widening: mostly
    without the GIL) while the caller's connection reads the rows changed since: a first open
    after a day of work waits for the longer of the two instead of both (20k changes at 1M
    labels: about 0.1 s sooner)."""
    return _on_thread(_snapshot_table, header)


def _on_thread(work: Callable[..., _T], *args: Any) -> Future[_T]:
    """``work(*args)`` on a thread of its own that ends with it (nothing lingers); its
    result or exception is handed over by the future."""
    future: Future[_T] = Future()

    def run() -> None:
        try:
            future.set_result(work(*args))
        except BaseException as exc:  # handed to the caller, which raises it
            future.set_exception(exc)

    threading.Thread(target=run, name=f"labels-{work.__name__}", daemon=True).start()
    return future


def _consistent(table: LabelTable) -> bool:
    """Shapes and codes a table read from the database always has."""
    n = len(table)
    rows_ok = all(getattr(table, name).shape == (n,) for name in _ROW_COLUMNS)
    tags_ok = table.tag_row.shape == table.tag_code.shape and table.tag_row.ndim == 1
    spans = ("span_row", "span_turn", "span_block", "span_start", "span_end")
    spans_ok = all(getattr(table, name).shape == table.span_row.shape for name in spans)
    if not (rows_ok and tags_ok and spans_ok and table.span_row.ndim == 1):
        return False

    def within(values: IntArray, low: int, high: int) -> bool:
        return values.size == 0 or (int(values.min()) >= low and int(values.max()) < high)

    return (
        bool(np.all(table.ids[1:] > table.ids[:-1]))
        and within(table.status, 0, len(table.statuses))
        and within(table.verdict, NONE_CODE, len(table.verdicts))
        and within(table.tag_row, 0, n)
        and within(table.tag_code, 0, len(table.tag_vocab))
        and within(table.span_row, 0, n)
    )


def save_snapshot(
    path: Path, table: LabelTable, identity: str, project_id: int, generation: str
) -> None:
    """Write ``table`` to ``path`` (atomically) with what :func:`_snapshot_header` and
    :func:`_snapshot_table` check."""
    label_snapshot.write_arrays(
        path,
        {name: getattr(table, name) for name in _ARRAYS},
        {
            "database": identity,
            "project": project_id,
            "generation": generation,
            "fingerprint": list(table.fingerprint),
            "statuses": list(table.statuses),
            "verdicts": list(table.verdicts),
            "tag_vocab": [list(pair) for pair in table.tag_vocab],
        },
    )


def _worth_saving(fp: Fingerprint, saved: Fingerprint | None, force: bool) -> bool:
    if saved == fp:
        return False
    if saved is None or force:
        return True
    moved = abs(fp.label_id - saved.label_id) + abs(fp.event_id - saved.event_id)
    return moved >= SAVE_AFTER


def flush_snapshots(db: Database, *, force: bool = False) -> int:
    """Write the snapshot of each of ``db``'s cached tables whose file is missing or
    :data:`SAVE_AFTER` changes behind (any difference when ``force``, e.g. when the dashboard
    closes); returns how many were written. Call it after a refresh was delivered: the write
    costs about as much as a refresh."""
    directory = label_snapshot.snapshot_dir()
    if directory is None:
        return 0
    engine = db.engine
    due = [
        (pid, table)
        for pid, table in sorted(_CACHE.tables(engine).items())
        if _worth_saving(table.fingerprint, _CACHE.saved(engine, pid), force)
    ]
    if not due:
        return 0
    identity = label_snapshot.ensure_identity(db)
    with engine.connect() as connection:
        generation = label_snapshot.schema_generation(connection)
    for pid, table in due:
        save_snapshot(
            label_snapshot.snapshot_path(directory, identity, pid), table, identity, pid, generation
        )
        _CACHE.mark_saved(engine, pid, table.fingerprint)
    return len(due)


def label_table(db: Database, connection: Connection, project_id: int) -> LabelTable:
    """The project's label rows as of ``connection``'s transaction: the cached table (or the
    snapshot file) when nothing changed, the changed rows merged in when few did, else one
    full read."""
    engine = db.engine
    with _CACHE.lock(engine):
        fp = fingerprint(connection, project_id)
        cached = _CACHE.get(engine, project_id)
        directory = label_snapshot.snapshot_dir()
        table: LabelTable | None = None
        if cached is None and directory is not None:
            header = _snapshot_header(connection, project_id, directory)
            if header is not None:
                table = _catch_up(connection, project_id, header, fp)
                if table is not None:
                    _CACHE.mark_saved(engine, project_id, header.fingerprint)
        elif cached is not None and cached.fingerprint == fp:
            table = cached
        elif cached is not None:
            with _mapped(connection):
                table = _update(connection, project_id, cached, fp)
        if table is None:
            with _mapped(connection):
                table = _full(connection, project_id, fp)
        _CACHE.put(engine, project_id, table)
        return table


def _catch_up(
    connection: Connection, project_id: int, header: _Header, fp: Fingerprint
) -> LabelTable | None:
    """The snapshot's table with what changed since merged in (None: a full read is needed).
    When something changed, the arrays are decoded on a thread (:func:`_decoding`) while the
    changed rows are read here; the table is nobody else's yet, so it is patched in place."""
    if header.fingerprint == fp:
        return _snapshot_table(header)  # nothing to read meanwhile
    pending = _decoding(header)
    with _mapped(connection):
        return _update(connection, project_id, header, fp, arrays=pending)
