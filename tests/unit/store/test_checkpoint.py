"""Background WAL checkpoints during a bulk write."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from annotator.store import checkpoint
from annotator.store.checkpoint import WalCheckpointer, checkpoints_beside
from annotator.store.database import Database
from annotator.store.open import open_database

MB = 1_000_000


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite3"


@pytest.fixture
def db(path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{path}", backup_dir=None)
    yield database
    database.dispose()


def _autocheckpoint(conn: Connection) -> int:
    value = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    conn.commit()
    return int(value or 0)


def _write_megabytes(conn: Connection, n: int) -> None:
    for _ in range(n):
        conn.exec_driver_sql("INSERT INTO blobs VALUES (randomblob(1000000))")
        conn.commit()


def _wait_for_checkpoint(checkpointer: WalCheckpointer, done_before: int) -> None:
    deadline = time.monotonic() + 10
    while checkpointer.checkpoints == done_before and time.monotonic() < deadline:
        time.sleep(0.005)
    assert checkpointer.checkpoints > done_before


def test_the_writer_stops_checkpointing_and_a_thread_does_it(db: Database, path: Path) -> None:
    with db.engine.connect() as conn:
        before = _autocheckpoint(conn)
        conn.exec_driver_sql("CREATE TABLE blobs (data BLOB)")
        conn.commit()
        with checkpoints_beside(conn) as checkpointer:
            assert checkpointer is not None
            assert _autocheckpoint(conn) == 0
            start = path.stat().st_size
            _write_megabytes(conn, 20)  # well past SQLite's 1000-page automatic checkpoint
            assert path.stat().st_size - start < MB  # all of it still in the log only
            done_before = checkpointer.checkpoints
            checkpointer.poke()
            _wait_for_checkpoint(checkpointer, done_before)
            assert path.stat().st_size - start >= 20 * MB  # copied by the background thread
        assert _autocheckpoint(conn) == before == 1000


def test_closing_twice_is_harmless(db: Database) -> None:
    with db.engine.connect() as conn, checkpoints_beside(conn) as checkpointer:
        assert checkpointer is not None
        checkpointer.close()
        checkpointer.poke()
    assert not checkpointer._thread.is_alive()


def test_the_log_starts_over_past_its_limit(
    db: Database, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the writer always one transaction ahead the log would never rewind by itself: past
    the limit the writer waits for a full checkpoint, and the file is truncated back to it."""
    monkeypatch.setattr(checkpoint, "WAL_LIMIT_BYTES", 3 * MB)
    wal = path.with_name(path.name + "-wal")
    largest = 0
    with db.engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (data BLOB)")
        conn.commit()
        with checkpoints_beside(conn) as checkpointer:
            assert checkpointer is not None
            for _ in range(30):
                _write_megabytes(conn, 1)
                checkpointer.after_commit()
                largest = max(largest, wal.stat().st_size)
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == -1
        assert conn.exec_driver_sql("SELECT count(*), sum(length(data)) FROM blobs").one() == (
            30,
            30 * MB,
        )
        conn.commit()
    assert largest < 15 * MB  # 30 MB went through a log that kept starting over (~3-8 MB)
