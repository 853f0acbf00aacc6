"""Write-ahead-log checkpoints on a thread of their own while a bulk writer runs (SQLite).

In WAL mode every page is written twice: appended to the log at commit, then copied into the
database file by a checkpoint. SQLite runs that checkpoint inside the commit that crosses
``wal_autocheckpoint`` pages, so an import's writer spent about half its time copying (a 50 MB
import: inserts 0.10 s, commits 0.11 s, checkpoints 0.20 s, measured). A PASSIVE checkpoint on
another connection copies every frame committed before the writer's current transaction without
blocking it, and SQLite does that work with the GIL released, so here it runs beside the writer.

The log only starts over when a write transaction begins after a checkpoint that copied all of
it; with the writer always a step ahead that never happens by itself (a 200 MB import grew the
log to 197 MB and left it there). So once the log passes :data:`WAL_LIMIT_BYTES` the writer
waits for one complete checkpoint (:meth:`WalCheckpointer.drain`) and its next transaction
rewinds the log, which ``journal_size_limit`` then truncates back to that size.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

DEFAULT_AUTOCHECKPOINT = 1000
"""SQLite's default ``wal_autocheckpoint`` (pages)."""
WAL_LIMIT_BYTES = 64 * 1024 * 1024
"""Log size at which the writer waits for the checkpoints to catch up (and the file size the
log is truncated to when it starts over)."""


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection each time it is poked."""

    def __init__(self, engine: Engine, page_size: int = 4096, schema: str = "main") -> None:
        self._engine = engine
        self.page_size = page_size
        self.schema = schema
        self._cond = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._stopped = False
        self.checkpoints = 0
        self.log_frames = 0
        """Frames in the log at the end of the latest checkpoint."""
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """New frames were committed: copy them when the thread is free (pokes coalesce)."""
        with self._cond:
            self._requested += 1
            self._cond.notify_all()

    def drain(self) -> None:
        """Wait until a checkpoint started after this call has finished (everything committed so
        far is then in the database file, so the writer's next transaction rewinds the log)."""
        with self._cond:
            self._requested += 1
            target = self._requested
            self._cond.notify_all()
            while self._completed < target and not self._stopped:
                self._cond.wait()
            self.log_frames = 0  # the next write transaction starts the log over

    def after_commit(self) -> None:
        """Hand the new frames over; past :data:`WAL_LIMIT_BYTES` of log, wait for the
        checkpoints to catch up so that the writer's next transaction starts the log over."""
        self.poke()
        if self.log_frames * self.page_size >= WAL_LIMIT_BYTES:
            self.drain()

    def close(self) -> None:
        """Stop after the checkpoint in progress (the caller's final checkpoint does the rest).
        Closing again does nothing."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        try:
            with self._engine.connect() as conn:
                while True:
                    with self._cond:
                        while self._completed >= self._requested and not self._stopped:
                            self._cond.wait()
                        if self._stopped:
                            return
                        taken = self._requested
                    _busy, frames, _copied = conn.exec_driver_sql(
                        f"PRAGMA {self.schema}.wal_checkpoint(PASSIVE)"
                    ).one()
                    conn.commit()
                    with self._cond:
                        self._completed = taken
                        self.checkpoints += 1
                        self.log_frames = int(frames)
                        self._cond.notify_all()
        except DBAPIError as exc:  # the writer's own final checkpoint still runs
            log.warning("background checkpoints stopped: %s", exc)
        finally:
            with self._cond:
                self._stopped = True
                self._cond.notify_all()


@contextmanager
def checkpoints_beside(conn: Connection, schema: str = "main") -> Iterator[WalCheckpointer | None]:
    """Turn off automatic checkpoints on ``conn`` (a bulk writer of ``schema`` with no
    transaction open) and run them on a background thread instead; yields the checkpointer
    (None on other databases), to call :meth:`~WalCheckpointer.after_commit` after each commit.
    Restores the settings afterwards."""
    if conn.dialect.name != "sqlite":
        yield None
        return
    before = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    limit = conn.exec_driver_sql(f"PRAGMA {schema}.journal_size_limit").scalar()
    page_size = int(conn.exec_driver_sql(f"PRAGMA {schema}.page_size").scalar() or 4096)
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    conn.exec_driver_sql(f"PRAGMA {schema}.journal_size_limit={WAL_LIMIT_BYTES}")
    conn.commit()
    checkpointer = WalCheckpointer(conn.engine, page_size, schema)
    try:
        yield checkpointer
    finally:
        checkpointer.close()
        if conn.in_transaction():
            conn.rollback()
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(before or DEFAULT_AUTOCHECKPOINT)}")
        conn.exec_driver_sql(
            f"PRAGMA {schema}.journal_size_limit={int(-1 if limit is None else limit)}"
        )
        conn.commit()
