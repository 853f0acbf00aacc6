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
"""The full-text index lives in a file of its own beside the database (``db.sqlite3-search``),
attached to every connection as schema ``search``. SQLite locks a whole file for writing, so an
index in the same file made every write wait while the indexer tokenised a batch (0.3-0.9 s):
an import could not index what it had stored so far, and a labeler's save waited behind the
indexer. With a file of its own the indexer only reads the traces. The index is derived data:
rebuilt from the traces when the file is missing or belongs to another copy of the database."""
SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search.trace_fts USING fts5("
    "text, content='', tokenize='unicode61 remove_diacritics 2')",
    # One row: every trace id up to indexed_upto is in the index, and indexed_trace names that
    # trace ("project_id:uid"), so an index that belongs to another copy of the database (a
    # restored backup, a copied file) is noticed and rebuilt.
    "CREATE TABLE IF NOT EXISTS search.search_state ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL, "
    "indexed_trace TEXT NOT NULL)",
)


def search_file_of(database: str | None) -> str:
    """The index file of a SQLite database file; ``:memory:`` for an in-memory database."""
    if not database or database == ":memory:":
        return ":memory:"
    if database.startswith("file:"):
        path, sep, query = database.partition("?")
        return f"{path}{SEARCH_FILE_SUFFIX}{sep}{query}"
    return database + SEARCH_FILE_SUFFIX


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, *, search_file: str) -> None:
    cur = dbapi_conn.cursor()
    # Only a new, empty file takes it (an existing database keeps its page size): set before WAL.
    cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    _attach_search(cur, search_file)
    cur.close()


def _attach_search(cur: Any, search_file: str) -> None:
    """Attach the index file, creating its tables the first time (each statement commits alone,
    and ``IF NOT EXISTS`` makes a second connection doing the same harmless)."""
    cur.execute(f"ATTACH DATABASE ? AS {SEARCH_SCHEMA}", (search_file,))
    # A new file only: FTS5 writes its segments as ~4 KB blobs, and with 4 KB pages indexing
    # 200 MB took 0.5-1 s longer (measured).
    cur.execute(f"PRAGMA {SEARCH_SCHEMA}.page_size={SQLITE_PAGE_SIZE}")
    cur.execute(f"PRAGMA {SEARCH_SCHEMA}.journal_mode=WAL")
    cur.execute(f"PRAGMA {SEARCH_SCHEMA}.synchronous=NORMAL")
    present = cur.execute(
        f"SELECT count(*) FROM {SEARCH_SCHEMA}.sqlite_master "
        "WHERE name IN ('trace_fts', 'search_state')"
    ).fetchone()[0]
    if present < 2:
        for ddl in SEARCH_DDL:
            cur.execute(ddl)


def make_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        search_file = search_file_of(make_url(url).database)
        event.listen(engine, "connect", partial(_sqlite_pragmas, search_file=search_file))
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
