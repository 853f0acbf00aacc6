"""Full-text search over trace text, indexed in a deferred step.

Indexing inside the import transaction makes imports about 8x slower (measured), so imports only
insert traces and ``index_pending`` catches the index up afterwards, in batches, each committed
together with its watermark (every trace id up to it is indexed): interrupting it loses nothing
and the next call resumes where it stopped.

SQLite: contentless FTS5 tables ``<shard>.trace_fts`` (rowid = trace id) in the index files
attached to every connection (:data:`annotator.store.database.SEARCH_SHARD_LIST`); shard ``k``
holds the traces whose id modulo the number of shards is ``k``, and keeps its own watermark in
``<shard>.search_state`` (every trace of the shard up to it is indexed). One indexer per shard
runs at once, each on its own thread and connection: FTS5 tokenises with the GIL released, so
they use every core. An indexer reads the traces in statements of their own and writes only its
index file, so it never holds the database's write lock: a labeler's save never waits for it.
SQLite has one writer at a time and ``traces`` is AUTOINCREMENT, so ids become visible in
increasing order and are never reused: the watermarks alone say what is pending. A watermark
also names its trace, so an index file that belongs to another copy of the database is noticed
and rebuilt. PostgreSQL: table ``trace_search`` with a GIN tsvector index; concurrent imports may
commit ids out of order there, so pending traces are found by an anti-join (the watermark, in
``app_state``, is the highest id indexed).

Results are unranked and ordered by trace id with keyset pagination: ranking every hit costs
seconds on common words, the first page of an unranked search costs well under a millisecond."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from annotator.gcpause import long_lived_frozen
from annotator.store.checkpoint import checkpoints_beside
from annotator.store.codec import search_text_of
from annotator.store.database import SEARCH_SHARD_LIST, SEARCH_SHARDS, Database, SearchShard
from annotator.store.errors import SearchTooBroadError
from annotator.store.models import AppState, TraceRow

log = logging.getLogger(__name__)

WATERMARK_KEY = "fts_indexed_upto"
MAX_TERMS = 32
"""Query terms beyond this are ignored: a pasted page of text is not a useful query."""
MIN_PREFIX_CHARS = 3
"""FTS5 answers ``ab*`` by merging the postings of every word starting with ab, inside one call
that cannot be interrupted (2 s at 50k traces, measured); shorter prefixes count as whole words."""
SEARCH_TIMEOUT_S = 5.0
"""Time budget of one search page: a rare word in a small project of a big database walks many
other projects' hits (the budget cannot cut FTS5's own prefix merging short, see above)."""

_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_TOKEN = re.compile(r"[^\W_]+")
_CHUNK = 500


@dataclass(frozen=True)
class Term:
    """One query term: a word or a "quoted phrase" (its tokens must be adjacent), optionally a
    prefix (``word*``: the last token may continue)."""

    tokens: tuple[str, ...]
    prefix: bool = False


def parse_query(query: str) -> list[Term]:
    """Split a user's plain query into terms. Nothing in it is query syntax except "phrases" and a
    trailing ``*``: AND, OR, NEAR, -, parentheses and column filters are ordinary words."""
    terms: list[Term] = []
    for match in _TERM.finditer(query):
        phrase, word = match.group(1), match.group(2)
        tokens = tuple(_TOKEN.findall(phrase if phrase is not None else word))
        prefix = (
            word is not None
            and word.endswith("*")
            and bool(tokens)
            and word.rstrip("*").endswith(tokens[-1])
            and len(tokens[-1]) >= MIN_PREFIX_CHARS
        )
        if tokens:
            terms.append(Term(tokens, prefix))
        if len(terms) == MAX_TERMS:
            break
    return terms


def fts5_expression(terms: Sequence[Term]) -> str:
    """FTS5 MATCH text: every term a quoted string (tokens are letters and digits only, so the
    quotes cannot be broken out of), implicitly ANDed."""
    return " ".join('"' + " ".join(t.tokens) + '"' + (" *" if t.prefix else "") for t in terms)


def tsquery_expression(terms: Sequence[Term]) -> str:
    """PostgreSQL ``to_tsquery`` text with every lexeme quoted: phrases use ``<->``."""

    def lexemes(term: Term) -> str:
        parts = [f"'{tok}'" for tok in term.tokens]
        if term.prefix:
            parts[-1] += ":*"
        joined = " <-> ".join(parts)
        return f"({joined})" if len(parts) > 1 else joined

    return " & ".join(lexemes(t) for t in terms)


def search_trace_ids(
    session: Session,
    project_id: int,
    query: str,
    *,
    limit: int = 50,
    after_id: int = 0,
    timeout_s: float = SEARCH_TIMEOUT_S,
) -> list[int]:
    """Ids of the project's indexed traces matching every term, ascending; pass the last id of a
    page as ``after_id`` for the next page. An empty or punctuation-only query matches nothing.
    Raises ``SearchTooBroadError`` when the page takes longer than ``timeout_s``."""
    terms = parse_query(query)
    if not terms or limit <= 0:
        return []
    params: dict[str, Any] = {"pid": project_id, "after": after_id, "limit": limit}
    if _is_sqlite(session):
        params["q"] = fts5_expression(terms)
        return _sqlite_with_deadline(session, params, timeout_s)
    sql = text(
        "SELECT s.trace_id FROM trace_search s JOIN traces t ON t.id = s.trace_id "
        "WHERE to_tsvector('simple', s.text) @@ to_tsquery('simple', :q) "
        "AND s.trace_id > :after AND t.project_id = :pid "
        "ORDER BY s.trace_id LIMIT :limit"
    )
    params["q"] = tsquery_expression(terms)
    return _pg_with_deadline(session, sql, params, timeout_s)


def _shard_query(shard: SearchShard) -> TextClause:
    return text(
        f"SELECT f.rowid FROM {shard.schema}.trace_fts f JOIN traces ON traces.id = f.rowid "
        "WHERE f.trace_fts MATCH :q AND f.rowid > :after AND traces.project_id = :pid "
        "ORDER BY f.rowid LIMIT :limit"
    )


def _sqlite_with_deadline(session: Session, params: dict[str, Any], timeout_s: float) -> list[int]:
    """The first ``limit`` hits of every shard, merged: the page's hits are among them. SQLite
    has no statement timeout: a progress handler interrupts the queries at the deadline."""
    raw: Any = session.connection().connection.driver_connection
    deadline = time.monotonic() + timeout_s
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        hits: list[int] = []
        for shard in SEARCH_SHARD_LIST:
            hits += (int(row[0]) for row in session.execute(_shard_query(shard), params))
        return sorted(hits)[: int(params["limit"])]
    except OperationalError as exc:
        if "interrupted" in str(exc.orig):
            raise SearchTooBroadError(_TOO_BROAD) from exc
        raise
    finally:
        raw.set_progress_handler(None, 0)


def _pg_with_deadline(
    session: Session, sql: TextClause, params: dict[str, Any], timeout_s: float
) -> list[int]:
    """A statement timeout inside a savepoint, so a cancelled search leaves the caller's
    transaction usable; the previous timeout is restored afterwards."""
    try:
        with session.begin_nested():
            previous = session.scalar(text("SELECT current_setting('statement_timeout')"))
            set_timeout = text("SELECT set_config('statement_timeout', :v, true)")
            session.execute(set_timeout, {"v": f"{max(1, int(timeout_s * 1000))}ms"})
            ids = [int(row[0]) for row in session.execute(sql, params)]
            session.execute(set_timeout, {"v": str(previous)})
            return ids
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled
            raise SearchTooBroadError(_TOO_BROAD) from exc
        raise


_TOO_BROAD = "the search is too broad to finish in time; use longer words or fewer *"


@dataclass(frozen=True)
class _IndexState:
    """The SQLite watermark as stored, and whether it still names the same trace."""

    upto: int
    trace: str
    valid: bool


def _sqlite_state(conn: Connection | Session, shard: SearchShard) -> _IndexState:
    row = conn.execute(
        text(
            "SELECT s.indexed_upto, s.indexed_trace, s.indexed_upto = 0 OR coalesce("
            "s.indexed_trace = (SELECT t.project_id || ':' || t.uid FROM traces t "
            f"WHERE t.id = s.indexed_upto), 0) FROM {shard.schema}.search_state s WHERE s.id = 1"
        )
    ).first()
    if row is None:
        return _IndexState(0, "", True)
    return _IndexState(int(row[0]), str(row[1]), bool(row[2]))


def _stored_state(conn: Connection, shard: SearchShard) -> tuple[int, str]:
    """A shard's watermark row alone (reads nothing of the database file)."""
    row = conn.execute(
        text(f"SELECT indexed_upto, indexed_trace FROM {shard.schema}.search_state WHERE id = 1")
    ).first()
    return (0, "") if row is None else (int(row[0]), str(row[1]))


def _shard_upto(conn: Connection | Session, shard: SearchShard) -> int:
    """A shard's watermark; 0 when its file belongs to another copy of the database."""
    state = _sqlite_state(conn, shard)
    return state.upto if state.valid else 0


def indexed_upto(session: Session) -> int:
    """The watermark: every trace id up to it is in the index (SQLite: the lowest of the
    shards'; 0 when an index file belongs to another copy of the database and will be rebuilt),
    or the highest id indexed (PostgreSQL)."""
    if _is_sqlite(session):
        return min(_shard_upto(session, shard) for shard in SEARCH_SHARD_LIST)
    value = session.get(AppState, WATERMARK_KEY)
    return int(value.value) if value is not None else 0


def unindexed_count(session: Session) -> int:
    """Traces not searchable yet (the UI says "N traces not yet searchable")."""
    if _is_sqlite(session):
        count = sum(
            int(
                session.scalar(
                    select(func.count())
                    .select_from(TraceRow)
                    .where(
                        TraceRow.id > _shard_upto(session, shard),
                        TraceRow.id % SEARCH_SHARDS == shard.number,
                    )
                )
                or 0
            )
            for shard in SEARCH_SHARD_LIST
        )
    else:
        count = session.scalar(
            text(
                "SELECT count(*) FROM traces t WHERE NOT EXISTS "
                "(SELECT 1 FROM trace_search s WHERE s.trace_id = t.id)"
            )
        )
    return int(count or 0)


@long_lived_frozen()
def index_pending(
    db: Database,
    *,
    batch_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    commit_chars: int = 0,
) -> int:
    """Index every trace not yet searchable, one committed batch at a time; returns how many.

    Traces are read ``batch_size`` at a time; a transaction takes further batches until
    ``commit_chars`` characters of text are in it (0: one batch per transaction).
    ``progress(done, total)`` is called on the calling thread after each commit; setting
    ``cancel`` stops after the current one (what is committed stays indexed). Safe to run from
    a worker thread, and two indexers at once simply take turns."""
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    with db.session() as session:
        total = unindexed_count(session)
    done = 0
    if progress is not None:
        progress(0, total)
    if total == 0:
        return 0  # nothing to open a connection and a checkpoint thread for
    if db.is_sqlite:
        batches = _sqlite_shards(db, batch_size, commit_chars, cancel)
    else:
        batches = _pg_batches(db, batch_size, commit_chars, cancel)
    for indexed in batches:
        done += indexed
        if progress is not None:
            progress(done, max(total, done))
    return done


INDEX_CACHE_KIB = 32 * 1024 // SEARCH_SHARDS
"""Page cache of an index file while indexing (FTS5 merges segments it has just written): 32 MB
in all, shared by the shards. 64 MB for one file cost 20 MB more peak memory for no measurable
speed; with two shards, 16 MB each indexed as fast as 32 MB each (1.55-1.82 s against
1.60-1.81 s for 200 MB, alternated) with 10-20 MB less peak memory."""


def _sqlite_shards(
    db: Database, batch_size: int, commit_chars: int, cancel: threading.Event | None
) -> Iterator[int]:
    """Every shard indexed on a thread of its own (created here, so it runs at the caller's
    priority); yields each commit's count on the calling thread. A failure, or the caller
    stopping (Ctrl+C, closing the generator), stops every shard after its current transaction."""
    stop = threading.Event()
    commits: queue.Queue[int | None] = queue.Queue()

    def stopped() -> bool:
        return stop.is_set() or (cancel is not None and cancel.is_set())

    # Each shard commits its share of the text: as much in memory at once as with one file
    # (15-25 MB less peak memory than a whole share each, and as fast, measured).
    share = commit_chars // SEARCH_SHARDS

    def run(shard: SearchShard) -> None:
        try:
            for indexed in _sqlite_batches(db, shard, batch_size, share, stopped):
                commits.put(indexed)
        except BaseException:
            stop.set()
            raise
        finally:
            commits.put(None)

    with ThreadPoolExecutor(SEARCH_SHARDS, thread_name_prefix="index-shard") as pool:
        shards = [pool.submit(run, shard) for shard in SEARCH_SHARD_LIST]
        try:
            running = len(shards)
            while running:
                indexed = commits.get()
                if indexed is None:
                    running -= 1
                else:
                    yield indexed
        finally:
            stop.set()
    for shard_run in shards:
        shard_run.result()


def _sqlite_batches(
    db: Database,
    shard: SearchShard,
    batch_size: int,
    commit_chars: int,
    stopped: Callable[[], bool],
) -> Iterator[int]:
    """One shard's committed batches, as counts. One connection for the whole run, with the
    index file's WAL checkpoints on a thread beside it (FTS5 writes its segments at each
    commit): indexing 200 MB of traces 3.9 -> 3.6 s, its commits 1.0 -> 0.65 s (measured)."""
    schema = shard.schema
    with (
        db.engine.connect() as conn,
        checkpoints_beside(conn, schema) as checkpointer,
        ThreadPoolExecutor(1, thread_name_prefix=f"index-reader-{schema}") as pool,
    ):
        before = conn.exec_driver_sql(f"PRAGMA {schema}.cache_size").scalar()
        conn.exec_driver_sql(f"PRAGMA {schema}.cache_size=-{INDEX_CACHE_KIB}")
        conn.commit()
        try:
            _tune_index(conn, shard)
            read_ahead = _ReadAhead(db, shard, batch_size, pool)
            while not stopped():
                step = _sqlite_transaction(conn, read_ahead, commit_chars, shard)
                if step is None:
                    continue  # another indexer moved the watermark, or the index was reset
                if checkpointer is not None:
                    checkpointer.after_commit()
                if step.indexed:
                    yield step.indexed
                if step.finished:
                    return
        finally:  # the pooled connection goes back with its usual cache
            if conn.in_transaction():
                conn.rollback()
            conn.exec_driver_sql(f"PRAGMA {schema}.cache_size={int(before or -2000)}")
            conn.commit()


def _pg_batches(
    db: Database, batch_size: int, commit_chars: int, cancel: threading.Event | None
) -> Iterator[int]:
    with db.engine.connect() as conn:
        while cancel is None or not cancel.is_set():
            with Session(bind=conn) as session, session.begin():
                indexed = _pg_transaction(session, batch_size, commit_chars)
            if indexed == 0:
                return
            yield indexed


FTS_AUTOMERGE = 8
"""FTS5 merges a level's segments once this many are there (its default is 4): indexing 200 MB
of traces 2.6-2.8 -> 2.3-2.4 s of inserts, the index no larger and the first page of a search
as fast (measured)."""
FTS_HASHSIZE = 64 * 1024 * 1024
"""Bytes of pending terms FTS5 keeps in memory before writing a segment (its default is 1 MB,
a few segments per 2,000-trace batch; each batch now writes one): indexing 200 MB of traces
5-15% faster in three A/B rounds, peak memory +20 MB, whatever the size from 16 MB up. A
ceiling, not an allocation: a small batch holds what it has."""
_FTS_SETTINGS = {"automerge": FTS_AUTOMERGE, "hashsize": FTS_HASHSIZE}


def _tune_index(conn: Connection, shard: SearchShard) -> None:
    """Set :data:`FTS_AUTOMERGE` and :data:`FTS_HASHSIZE` on a shard's index (FTS5 settings
    stored with it), once."""
    schema = shard.schema
    current: dict[str, object] = dict(
        conn.exec_driver_sql(
            f"SELECT k, v FROM {schema}.trace_fts_config WHERE k IN ('automerge', 'hashsize')"
        ).all()
    )
    conn.commit()
    if all(current.get(key) == value for key, value in _FTS_SETTINGS.items()):
        return
    with conn.begin():
        for key, value in _FTS_SETTINGS.items():
            conn.exec_driver_sql(
                f"INSERT INTO {schema}.trace_fts(trace_fts, rank) VALUES ('{key}', {int(value)})"
            )


@dataclass(frozen=True)
class _Chunk:
    """The next traces of a shard with their text, read ahead of the index."""

    entries: list[dict[str, Any]]
    """The shard's traces among those read."""
    chars: int
    read: int
    """Traces read, the shard's and the others'."""
    last: int
    """The last id read (``after`` when nothing was)."""
    last_trace: str
    """That trace as the watermark names it, ``project_id:uid``."""


class _ReadAhead:
    """Reads the traces after the ones being indexed, and extracts the text of the shard's, on
    a worker.

    FTS5 tokenises with the GIL released, and reading rows and decoding their JSON is Python
    work: done beside it they overlap. The other shards' traces are read too (without their
    turns), so that the watermark can name the last trace read whatever its shard."""

    def __init__(
        self, db: Database, shard: SearchShard, batch_size: int, pool: ThreadPoolExecutor
    ) -> None:
        self._db = db
        self.batch_size = batch_size
        self._pool = pool
        self._next: tuple[int, Future[_Chunk]] | None = None
        self._sql = text(
            "SELECT id, project_id, uid, "
            f"CASE WHEN id % {SEARCH_SHARDS} = {shard.number} THEN turns_json END "
            "FROM traces WHERE id > :after ORDER BY id LIMIT :n"
        )
        self._number = shard.number

    def take(self, after: int) -> _Chunk:
        """The traces after id ``after``; starts reading the ones after them meanwhile."""
        if self._next is None or self._next[0] != after:
            self._next = (after, self._pool.submit(self._read, after))
        chunk = self._next[1].result()
        full = chunk.read == self.batch_size
        self._next = (chunk.last, self._pool.submit(self._read, chunk.last)) if full else None
        return chunk

    def _read(self, after: int) -> _Chunk:
        with self._db.engine.connect() as conn:
            rows = conn.execute(self._sql, {"after": after, "n": self.batch_size}).all()
        entries: list[dict[str, Any]] = [
            {"id": row[0], "text": _indexable_text(row[0], row[3])}
            for row in rows
            if row[0] % SEARCH_SHARDS == self._number
        ]
        chars = sum(len(entry["text"]) for entry in entries)
        if not rows:
            return _Chunk(entries, chars, 0, after, "")
        last = rows[-1]
        return _Chunk(entries, chars, len(rows), int(last[0]), f"{last[1]}:{last[2]}")


def _lock_watermark(session: Session) -> int:
    """PostgreSQL's watermark, locked: the row lock makes a second indexer wait."""
    session.execute(
        pg_insert(AppState).values(key=WATERMARK_KEY, value="0").on_conflict_do_nothing()
    )
    return int(
        session.scalars(
            select(AppState.value).where(AppState.key == WATERMARK_KEY).with_for_update()
        ).one()
    )


def _set_watermark(session: Session, value: int) -> None:
    session.execute(update(AppState).where(AppState.key == WATERMARK_KEY).values(value=str(value)))


@dataclass(frozen=True)
class _Step:
    """What one indexing transaction did."""

    indexed: int
    finished: bool
    """No trace was left after it."""


def _sqlite_transaction(
    conn: Connection, read_ahead: _ReadAhead, commit_chars: int, shard: SearchShard
) -> _Step | None:
    """Index a shard's traces after its watermark, chunk by chunk, until ``commit_chars``
    characters are in or no trace is left; None when the watermark changed meanwhile (the
    caller reads it again).

    Each commit writes one FTS5 segment: 200-trace commits wrote 41 segments for 200 MB and
    merged them, 2.7 s of indexing against 2.4 s with 32 MB of text per commit, for 8 MB more
    peak memory (measured). Traces committed meanwhile have higher ids, so the chunks read ahead
    on another connection are the next ones whatever an import does."""
    state = _sqlite_state(conn, shard)
    conn.commit()
    schema = shard.schema
    with conn.begin():
        _take_index_lock(conn, shard)
        if _stored_state(conn, shard) != (state.upto, state.trace):
            return None
        if not state.valid:
            log.warning(
                "the search index %s belongs to another copy of the database: rebuilding", schema
            )
            _clear_sqlite_index(conn, shard)
            return None
        top, trace = state.upto, state.trace
        indexed = chars = 0
        while True:
            chunk = read_ahead.take(top)
            if chunk.entries:
                conn.execute(
                    text(f"INSERT INTO {schema}.trace_fts(rowid, text) VALUES (:id, :text)"),
                    chunk.entries,
                )
                indexed += len(chunk.entries)
                chars += chunk.chars
            top, trace = (chunk.last, chunk.last_trace) if chunk.read else (top, trace)
            finished = chunk.read < read_ahead.batch_size
            if finished or chars >= commit_chars:
                break
        if top != state.upto:
            conn.execute(
                text(
                    f"UPDATE {schema}.search_state SET indexed_upto = :upto, "
                    "indexed_trace = :trace WHERE id = 1"
                ),
                {"upto": top, "trace": trace},
            )
    return _Step(indexed, finished)


def _take_index_lock(conn: Connection | Session, shard: SearchShard) -> None:
    """A first statement that writes a shard's index file takes its write lock, not the
    database's (a second indexer of the shard waits here); it also makes sure the watermark row
    exists."""
    conn.execute(
        text(
            f"INSERT OR IGNORE INTO {shard.schema}.search_state (id, indexed_upto, indexed_trace) "
            "VALUES (1, 0, '')"
        )
    )


def _clear_sqlite_index(conn: Connection | Session, shard: SearchShard) -> None:
    conn.execute(text(f"INSERT INTO {shard.schema}.trace_fts(trace_fts) VALUES ('delete-all')"))
    conn.execute(
        text(
            f"UPDATE {shard.schema}.search_state SET indexed_upto = 0, indexed_trace = '' "
            "WHERE id = 1"
        )
    )


def _pg_transaction(session: Session, batch_size: int, commit_chars: int) -> int:
    """PostgreSQL: batches of traces missing from ``trace_search`` (ids may commit out of
    order there) until ``commit_chars`` characters are in or none are left."""
    mark = _lock_watermark(session)
    indexed = chars = 0
    while True:
        rows = session.execute(
            text(
                "SELECT t.id, t.turns_json FROM traces t WHERE NOT EXISTS "
                "(SELECT 1 FROM trace_search s WHERE s.trace_id = t.id) ORDER BY t.id LIMIT :n"
            ),
            {"n": batch_size},
        ).all()
        if rows:
            entries = [{"id": row[0], "text": _indexable_text(row[0], row[1])} for row in rows]
            _pg_insert(session, entries)
            indexed += len(rows)
            chars += sum(len(str(entry["text"])) for entry in entries)
            mark = max(mark, max(int(row[0]) for row in rows))
        if len(rows) < batch_size or chars >= commit_chars:
            break
    if indexed:
        _set_watermark(session, mark)
    return indexed


def remove_from_index(session: Session, trace_ids: Iterable[int]) -> int:
    """Take traces out of the index. Call it in the transaction that deletes them, BEFORE the
    delete: SQLite's contentless index needs the original text, regenerated from the row.
    Returns how many index entries were removed."""
    ids = sorted(set(trace_ids))
    removed = 0
    if not _is_sqlite(session):
        for chunk in _chunks(ids):
            result: Any = session.execute(
                text("DELETE FROM trace_search WHERE trace_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": chunk},
            )
            removed += int(result.rowcount or 0)
        return removed
    for shard in SEARCH_SHARD_LIST:
        mark = _shard_upto(session, shard)
        mine = [i for i in ids if i <= mark and i % SEARCH_SHARDS == shard.number]
        for chunk in _chunks(mine):
            rows = session.execute(
                select(TraceRow.id, TraceRow.turns_json).where(TraceRow.id.in_(chunk))
            ).all()
            if rows:
                session.execute(
                    text(
                        f"INSERT INTO {shard.schema}.trace_fts(trace_fts, rowid, text) "
                        "VALUES ('delete', :id, :text)"
                    ),
                    [{"id": row[0], "text": _indexable_text(row[0], row[1])} for row in rows],
                )
            removed += len(rows)
    return removed


def reset_index(session: Session) -> None:
    """Empty the index and its watermark; the next ``index_pending`` rebuilds it from scratch.
    The way out when traces were deleted without ``remove_from_index`` (e.g. by a cascade)."""
    if _is_sqlite(session):
        for shard in SEARCH_SHARD_LIST:
            _take_index_lock(session, shard)
            _clear_sqlite_index(session, shard)
        return
    session.execute(text("DELETE FROM trace_search"))
    session.execute(delete(AppState).where(AppState.key == WATERMARK_KEY))


def stale_index_entries(session: Session) -> int:
    """Index entries whose trace no longer exists (deleted without ``remove_from_index``)."""
    if _is_sqlite(session):
        return sum(
            int(
                session.scalar(
                    text(
                        f"SELECT count(*) FROM {shard.schema}.trace_fts "
                        "WHERE rowid NOT IN (SELECT id FROM traces)"
                    )
                )
                or 0
            )
            for shard in SEARCH_SHARD_LIST
        )
    sql = (
        "SELECT count(*) FROM trace_search s "
        "WHERE NOT EXISTS (SELECT 1 FROM traces t WHERE t.id = s.trace_id)"
    )
    return int(session.scalar(text(sql)) or 0)


def _indexable_text(trace_id: int, turns_json: bytes) -> str:
    """The searchable text of a row; an unreadable row is indexed as empty (and logged) rather
    than stopping the indexer on it forever."""
    try:
        return search_text_of(turns_json)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("trace %s: turns are unreadable (%s); it will not be searchable", trace_id, exc)
        return ""


_PG_UPSERT = text(
    "INSERT INTO trace_search(trace_id, text) VALUES (:id, :text) "
    "ON CONFLICT (trace_id) DO UPDATE SET text = excluded.text"
)


def _pg_insert(session: Session, entries: list[dict[str, Any]]) -> None:
    """PostgreSQL text cannot hold NUL (adversarial traces may), and a tsvector is limited to 1 MB
    (a huge trace of unique tokens may exceed it). A batch that fails is retried row by row, each
    in a savepoint; a row that still fails is indexed without text and logged."""
    for entry in entries:
        entry["text"] = str(entry["text"]).replace("\x00", " ")
    try:
        with session.begin_nested():
            session.execute(_PG_UPSERT, entries)
        return
    except DBAPIError:
        pass
    for entry in entries:
        try:
            with session.begin_nested():
                session.execute(_PG_UPSERT, entry)
        except DBAPIError as exc:
            log.warning("trace %s: cannot be indexed (%s)", entry["id"], _reason(exc))
            session.execute(_PG_UPSERT, {"id": entry["id"], "text": ""})


def _reason(exc: DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"
