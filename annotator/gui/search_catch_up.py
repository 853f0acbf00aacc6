"""Search catches up when the window opens on a SQLite database: traces an interrupted import
left out of the full-text index are indexed on a thread of their own, at low priority, so the
labeler's work goes first and the search box soon finds everything."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from annotator.gui.low_priority import lower_this_thread

if TYPE_CHECKING:
    from annotator.store.database import Database

log = logging.getLogger(__name__)

NICENESS = 10
BATCH = 200
"""Traces per index transaction: a save, and closing the window, wait at most for one."""


class SearchCatchUp(QObject):
    """One run of ``index_pending`` on a dedicated thread (a pool thread must not keep the
    lowered priority). ``finished(n)`` arrives on the GUI thread with how many were indexed."""

    finished = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, db: Database) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(db,), name="search-catch-up", daemon=True
        )
        self._thread.start()

    def _run(self, db: Database) -> None:
        from annotator.store.search import index_pending  # not on the window's startup path

        lower_this_thread(NICENESS)
        try:
            indexed = index_pending(db, batch_size=BATCH, cancel=self._cancel)
        except Exception:  # search stays as it was; the next import indexes the rest
            log.warning("indexing for search stopped", exc_info=True)
            return
        if indexed and not self._cancel.is_set():
            with contextlib.suppress(RuntimeError):  # the window went away meanwhile
                self.finished.emit(indexed)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the batch in progress (what is committed stays indexed)."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
