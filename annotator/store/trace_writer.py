"""The import hot path: domain traces into ``traces`` rows, many at a time.

Measured on this machine: Core ``insert(table)`` with an executemany of plain dicts runs on par
with raw sqlite3, while ``Session.add_all`` (0.2-0.6x) and ``RETURNING`` (0.66-0.93x) do not, so
this module builds dicts and never touches ORM objects. Duplicates on (project_id, uid) are found
with one ``SELECT uid ... IN (...)`` per batch and the insert itself ignores conflicts, so a
concurrent importer cannot make a batch fail either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Dialect, Insert, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from annotator.domain.trace import BlockKind, Trace
from annotator.store.codec import encode_original, encode_turns
from annotator.store.models import TraceRow, utcnow

TRACES: Table = TraceRow.__table__  # type: ignore[assignment]
IMPORT_ONLY_EXTRA_KEYS: frozenset[str] = frozenset({"annotator_labels", "annotator_adjudications"})
"""``meta.extra`` keys that carry labels into an import; they become label rows, never meta."""

IMPORT_CACHE_KIB = 32 * 1024
"""SQLite page cache while importing (32 MiB, default 2 MiB): faster inserts into the indexes,
bounded memory (64 MiB added ~60 MB peak RSS and no speed with 13 KB+ traces)."""

_UID_CHUNK = 500
"""Uids per ``IN (...)`` lookup: well under SQLite's parameter limit."""


@dataclass(frozen=True, slots=True)
class PendingTrace:
    """A trace on its way into the database, with the source bytes where the container kept them."""

    trace: Trace
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    duplicates: int
    inserted_uids: tuple[str, ...]
    """Uids this call added (in input order), for callers that attach rows to new traces."""


def _tokens(value: int | None) -> int | None:
    return value if value is None or value >= 0 else None


PREVIEW_WIDTH = 160


def _preview(trace: Trace) -> str:
    """``Trace.preview()`` without normalising the whitespace of a whole (maybe 1 MB) prompt:
    a prefix gives the same first ``PREVIEW_WIDTH`` characters whenever it is long enough."""
    prompt = trace.prompt
    head = prompt[: PREVIEW_WIDTH * 8]
    if len(head) == len(prompt):
        return trace.preview(PREVIEW_WIDTH)
    text = " ".join(head.split())
    if len(text) <= PREVIEW_WIDTH:  # mostly whitespace: let the domain rule see all of it
        return trace.preview(PREVIEW_WIDTH)
    return text[: PREVIEW_WIDTH - 1] + "…"


def trace_values(
    trace: Trace,
    *,
    project_id: int,
    batch_id: int | None,
    raw: bytes | None,
    imported_at: datetime,
    strip_extra: frozenset[str] = IMPORT_ONLY_EXTRA_KEYS,
) -> dict[str, Any]:
    """The column values of one trace row (every column named, so executemany stays one shape)."""
    meta = trace.meta
    reasoning_chars = 0
    truncated = 0
    for turn in trace.turns:
        for block in turn.blocks:
            if block.kind is BlockKind.REASONING:
                reasoning_chars += len(block.text)
            if block.truncated:
                truncated += 1
    extra = meta.extra
    if extra and not strip_extra.isdisjoint(extra):
        extra = {k: v for k, v in extra.items() if k not in strip_extra}
    return {
        "project_id": project_id,
        "uid": trace.uid,
        "batch_id": batch_id,
        "source_format": meta.source_format,
        "model": meta.model,
        "account_id": meta.account_id,
        "session_id": meta.session_id,
        "created_at": meta.created_at,
        "input_tokens": _tokens(meta.input_tokens),
        "output_tokens": _tokens(meta.output_tokens),
        "reasoning_tokens": _tokens(meta.reasoning_tokens),
        "n_turns": len(trace.turns),
        "reasoning_chars": reasoning_chars,
        "truncated_count": truncated,
        "preview": _preview(trace),
        "source_file": meta.source_file,
        "source_line": meta.source_line,
        "meta_extra": orjson.dumps(extra, option=orjson.OPT_NON_STR_KEYS).decode()
        if extra
        else "{}",
        "turns_json": encode_turns(trace.turns),
        "original": encode_original(trace.original, raw),
        "is_gold": False,
        "gold_json": None,
        "imported_at": imported_at,
    }


def _insert_ignoring_duplicates(conn: Connection) -> Insert:
    """An INSERT that skips rows whose (project_id, uid) already exists, where the dialect can."""
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(TRACES).on_conflict_do_nothing(index_elements=["project_id", "uid"])
    if name == "postgresql":
        return postgresql.insert(TRACES).on_conflict_do_nothing(
            index_elements=["project_id", "uid"]
        )
    return insert(TRACES)


def existing_uids(conn: Connection, project_id: int, uids: Iterable[str]) -> set[str]:
    """Which of ``uids`` the project already holds.

    On SQLite the lookup goes to the driver as plain SQL: the import's writer thread runs it
    once per chunk, and SQLAlchemy's statement with an expanding ``IN`` held the GIL twice as
    long (a 200 MB import: 0.08 -> 0.04 s of CPU, 3-5% faster overall, measured)."""
    wanted = list(dict.fromkeys(uids))
    found: set[str] = set()
    sqlite = conn.dialect.name == "sqlite"
    for start in range(0, len(wanted), _UID_CHUNK):
        chunk = wanted[start : start + _UID_CHUNK]
        if sqlite:
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT uid FROM {TRACES.name} WHERE project_id = ? AND uid IN ({marks})"
            found.update(str(row[0]) for row in conn.exec_driver_sql(sql, (project_id, *chunk)))
            continue
        found.update(
            conn.execute(
                select(TRACES.c.uid).where(
                    TRACES.c.project_id == project_id, TRACES.c.uid.in_(chunk)
                )
            ).scalars()
        )
    return found


def prepare_rows(
    items: Sequence[PendingTrace], *, project_id: int, batch_id: int | None
) -> list[dict[str, Any]]:
    """Row values for ``items``: the CPU half of a write, which needs no connection (an importer
    can build the next chunk while the database writes this one)."""
    now = utcnow()
    return [
        trace_values(
            item.trace, project_id=project_id, batch_id=batch_id, raw=item.raw, imported_at=now
        )
        for item in items
    ]


_ROWS_PER_STATEMENT = 50
"""Rows per SQLite INSERT statement (26 columns: well under the 32,766 parameter limit)."""


def _bind_processors(dialect: Dialect, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    return [TRACES.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def _sqlite_insert_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` with multi-row ``INSERT ... VALUES (...), (...)`` statements; returns how
    many were inserted (conflicting uids are skipped).

    Why not one executemany: the driver takes the GIL back after every row it steps, and the
    import's parser holds it, so the writer thread waited for the GIL once per 50 KB row (a
    50 MB import: writer busy 0.38 s of CPU in 0.75 s); 50 rows per statement cut that wait and
    made the whole import ~1.3x faster (measured). The rows left over go in statements of
    25, 12, 6, 3 and 1 rows, a handful per chunk: one row per statement there still meant ~25
    waits per chunk, and halving them made a 200 MB import 0-13% faster (8 alternated rounds,
    7 faster). Only these six statement texts are ever used: the driver caches each prepared
    statement with a copy of its last parameters, and a text per remainder size kept up to 50
    copies of 2 MB of trace bytes alive (peak memory grew with the file)."""
    columns = list(rows[0])
    processors = _bind_processors(conn.dialect, columns)
    quote = conn.dialect.identifier_preparer.quote
    head = f"INSERT INTO {TRACES.name} ({', '.join(quote(c) for c in columns)}) VALUES "
    one = "(" + ", ".join("?" for _ in columns) + ")"
    tail = " ON CONFLICT (project_id, uid) DO NOTHING"
    pairs = list(zip(columns, processors, strict=True))

    def values(row: dict[str, Any]) -> Iterator[Any]:
        for name, process in pairs:
            value = row[name]
            yield value if process is None else process(value)

    inserted = start = 0
    size = _ROWS_PER_STATEMENT
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        params = tuple(v for row in rows[start : start + size] for v in values(row))
        statement = head + ", ".join([one] * size) + tail
        inserted += conn.exec_driver_sql(statement, params).rowcount
        start += size
    return inserted


def insert_rows(
    conn: Connection, project_id: int, batch_id: int | None, rows: Sequence[dict[str, Any]]
) -> WriteResult:
    """Insert prepared rows in the caller's transaction; uids already present (in the database or
    earlier in ``rows``) count as duplicates and are left alone."""
    if not rows:
        return WriteResult(0, 0, ())
    known = existing_uids(conn, project_id, (row["uid"] for row in rows))
    fresh: list[dict[str, Any]] = []
    uids: list[str] = []
    for row in rows:
        uid = row["uid"]
        if uid in known:
            continue
        known.add(uid)
        uids.append(uid)
        fresh.append(row)
    if fresh:
        if conn.dialect.name == "sqlite":
            rowcount = _sqlite_insert_many(conn, fresh)
        else:
            rowcount = conn.execute(_insert_ignoring_duplicates(conn), fresh).rowcount
        if rowcount != len(fresh):
            # Another writer took some of these uids in between (or the driver cannot count):
            # what is ours is what carries this batch id.
            mine = set(
                conn.execute(
                    select(TRACES.c.uid).where(
                        TRACES.c.project_id == project_id,
                        TRACES.c.batch_id == batch_id,
                        TRACES.c.uid.in_(uids),
                    )
                ).scalars()
            )
            uids = [u for u in uids if u in mine]
    return WriteResult(len(uids), len(rows) - len(uids), tuple(uids))


def write_traces(
    conn: Connection,
    project_id: int,
    batch_id: int | None,
    items: Sequence[PendingTrace],
) -> WriteResult:
    """Insert ``items`` in the caller's transaction (see :func:`insert_rows`)."""
    rows = prepare_rows(items, project_id=project_id, batch_id=batch_id)
    return insert_rows(conn, project_id, batch_id, rows)


def trace_ids(conn: Connection, project_id: int, uids: Iterable[str]) -> dict[str, int]:
    """Row ids for ``uids`` in the project (uids not present are left out)."""
    wanted = list(dict.fromkeys(uids))
    out: dict[str, int] = {}
    for start in range(0, len(wanted), _UID_CHUNK):
        chunk = wanted[start : start + _UID_CHUNK]
        rows = conn.execute(
            select(TRACES.c.uid, TRACES.c.id).where(
                TRACES.c.project_id == project_id, TRACES.c.uid.in_(chunk)
            )
        )
        out.update({uid: trace_id for uid, trace_id in rows})
    return out


@contextmanager
def import_tuning(conn: Connection) -> Iterator[None]:
    """A larger SQLite page cache for the duration of an import, restored afterwards.

    Call it on a connection with no transaction going: the pragmas are committed right away so
    the caller can ``begin()`` its own transactions inside."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
    conn.commit()
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")
        conn.commit()
