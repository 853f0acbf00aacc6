"""Write-ahead-log checkpoints on a thread of their own while a bulk writer runs (SQLite).

In WAL mode every page is written twice: appended to the log at commit, then copied into the
database file by a checkpoint. SQLite runs that checkpoint inside the commit that crosses
``wal_autocheckpoint`` pages, so an import's writer spent about half its time copying (a 50 MB
import: inserts 0.10 s, commits 0.11 s, checkpoints 0.20 s, measured). A PASSIVE checkpoint on
another connection copies every frame committed before the writer's current transaction without
blocking it, and SQLite does that work with the GIL released, so here it runs beside the writer.
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


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection each time it is poked."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wake = threading.Event()
        self._stop = False
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """New frames were committed: copy them when the thread is free (pokes coalesce)."""
        self._wake.set()

    def close(self) -> None:
        """Stop after the checkpoint in progress (the caller's final checkpoint does the rest).
        Closing again does nothing."""
        self._stop = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            with self._engine.connect() as conn:
                while True:
                    self._wake.wait()
                    self._wake.clear()
                    if self._stop:
                        return
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
                    conn.commit()
                    self.checkpoints += 1
        except DBAPIError as exc:  # the writer's own final checkpoint still runs
            log.warning("background checkpoints stopped: %s", exc)


@contextmanager
def checkpoints_beside(conn: Connection) -> Iterator[WalCheckpointer | None]:
    """Turn off automatic checkpoints on ``conn`` (a bulk writer with no transaction open) and
    run them on a background thread instead; yields the checkpointer to poke after each commit
    (None on other databases). Restores the setting afterwards."""
    if conn.dialect.name != "sqlite":
        yield None
        return
    before = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    conn.commit()
    checkpointer = WalCheckpointer(conn.engine)
    try:
        yield checkpointer
    finally:
        checkpointer.close()
        if conn.in_transaction():
            conn.rollback()
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(before or DEFAULT_AUTOCHECKPOINT)}")
        conn.commit()
