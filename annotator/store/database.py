"""Engine and session factory for any SQLAlchemy URL; SQLite gets WAL, foreign keys, a busy
timeout and its full-text index (attached as ``search``) on every connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_PAGE_SIZE = 16_384
"""Page size of new SQLite databases. Trace rows are tens of KB (turns plus the original record),
stored in overflow pages: 16 KB pages write them about 1.4x faster than the default 4 KB
(measured: a 50 MB import's inserts 0.53 s -> 0.37 s), and small-row tables do not mind."""


SEARCH_SCHEMA = "search"
SEARCH_FILE_SUFFIX = "-search"
"""The full-text index lives in files of its own beside the database (``db.sqlite3-search``),
attached to every connection as schema ``search``. SQLite locks a whole file for writing, so an
index in the same file made every write wait while the indexer tokenised a batch (0.3-0.9 s):
an import could not index what it had stored so far, and a labeler's save waited behind the
indexer. With a file of its own the indexer only reads the traces. The index is derived data:
rebuilt from the traces when the file is missing or belongs to another copy of the database."""
SEARCH_SHARDS = 2
"""The index is split by trace id over this many files (shard ``k`` holds the traces whose
``id % SEARCH_SHARDS == k``), so that as many indexers tokenise at once, each holding only its
own file's write lock: FTS5 tokenising is single-threaded and most of the index's cost (200 MB
of traces: 2.3-2.4 s with one file, 1.4-1.7 s with two on two cores, measured)."""


@dataclass(frozen=True)
class SearchShard:
    """One index file: the schema it is attached as and the suffix of its file name."""

    number: int
    schema: str
    suffix: str


SEARCH_SHARD_LIST = tuple(
    SearchShard(
        k,
        SEARCH_SCHEMA if k == 0 else f"{SEARCH_SCHEMA}{k}",
        SEARCH_FILE_SUFFIX if k == 0 else f"{SEARCH_FILE_SUFFIX}{k}",
    )
    for k in range(SEARCH_SHARDS)
)


def search_ddl(schema: str) -> tuple[str, ...]:
    """The tables of one index file."""
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {schema}.trace_fts USING fts5("
        "text, content='', tokenize='unicode61 remove_diacritics 2')",
        # One row: every trace id up to indexed_upto that belongs to this file is in it, and
        # indexed_trace names the trace at indexed_upto ("project_id:uid"), so an index that
        # belongs to another copy of the database (a restored backup, a copied file) is noticed
        # and rebuilt.
        f"CREATE TABLE IF NOT EXISTS {schema}.search_state ("
        "id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL, "
        "indexed_trace TEXT NOT NULL)",
    )


def search_file_of(database: str | None, shard: SearchShard = SEARCH_SHARD_LIST[0]) -> str:
    """An index file of a SQLite database file; ``:memory:`` for an in-memory database."""
    if not database or database == ":memory:":
        return ":memory:"
    if database.startswith("file:"):
        path, sep, query = database.partition("?")
        return f"{path}{shard.suffix}{sep}{query}"
    return database + shard.suffix


def search_files_of(database: str | None) -> list[str]:
    """Every index file of a SQLite database file, shard by shard."""
    return [search_file_of(database, shard) for shard in SEARCH_SHARD_LIST]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, *, database: str | None) -> None:
    cur = dbapi_conn.cursor()
    # Only a new, empty file takes it (an existing database keeps its page size): set before WAL.
    cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    for shard in SEARCH_SHARD_LIST:
        _attach_search(cur, search_file_of(database, shard), shard.schema)
    cur.close()


def _attach_search(cur: Any, search_file: str, schema: str) -> None:
    """Attach an index file, creating its tables the first time (each statement commits alone,
    and ``IF NOT EXISTS`` makes a second connection doing the same harmless)."""
    cur.execute(f"ATTACH DATABASE ? AS {schema}", (search_file,))
    # A new file only: FTS5 writes its segments as ~4 KB blobs, and with 4 KB pages indexing
    # 200 MB took 0.5-1 s longer (measured).
    cur.execute(f"PRAGMA {schema}.page_size={SQLITE_PAGE_SIZE}")
    cur.execute(f"PRAGMA {schema}.journal_mode=WAL")
    cur.execute(f"PRAGMA {schema}.synchronous=NORMAL")
    present = cur.execute(
        f"SELECT count(*) FROM {schema}.sqlite_master WHERE name IN ('trace_fts', 'search_state')"
    ).fetchone()[0]
    if present < 2:
        for ddl in search_ddl(schema):
            cur.execute(ddl)


def make_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        database = make_url(url).database
        event.listen(engine, "connect", partial(_sqlite_pragmas, database=database))
    return engine


@dataclass
class Database:
    """An open database: one engine, and short-lived sessions from ``session()``.

    Sessions never cross threads and never outlive a unit of work (see DESIGN.md)."""

    url: str
    engine: Engine

    def __post_init__(self) -> None:
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any exception."""
        with self._factory() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
