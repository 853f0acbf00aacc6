"""Run work off the GUI thread and hand the result back on it (Anki's ``run_in_background``).

The GUI thread never waits on the database: every query, write, search and import goes through a
:class:`Background` runner. Results and errors arrive as ordinary calls on the GUI thread through a
queued signal, so callbacks may touch widgets. Two pools: a serial one for the labeling session
(open, draft, submit, skip...) so writes keep their order and a read after a write sees it, and a
parallel one for queue pages, searches and imports.
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

OnSuccess = Callable[[Any], None]
OnFailure = Callable[[BaseException], None]


@dataclass
class _Job:
    on_success: OnSuccess | None
    on_failure: OnFailure | None
    context: QObject | None = None


class _Bridge(QObject):
    """Lives on the GUI thread; a signal emitted from a worker is queued to it."""

    finished = Signal(int, bool, object)


class _Runnable(QRunnable):
    def __init__(self, job_id: int, fn: Callable[[], Any], bridge: _Bridge) -> None:
        super().__init__()
        self._job_id = job_id
        self._fn = fn
        self._bridge = bridge
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result: object = self._fn()
            ok = True
        except BaseException as exc:
            log.debug("background job failed:\n%s", traceback.format_exc())
            result, ok = exc, False
        try:
            self._bridge.finished.emit(self._job_id, ok, result)
        except RuntimeError:  # the window went away meanwhile: nobody is left to tell
            log.debug("background job %d finished after its owner was deleted", self._job_id)


class Background(QObject):
    """Submit callables; success/failure callbacks are called later on the GUI thread.

    ``default_failure`` receives errors for jobs that gave no ``on_failure`` (the main window
    shows them as a non-blocking message)."""

    def __init__(
        self, parent: QObject | None = None, *, default_failure: OnFailure | None = None
    ) -> None:
        super().__init__(parent)
        self._bridge = _Bridge(self)
        self._bridge.finished.connect(self._deliver)
        self._serial = QThreadPool(self)
        self._serial.setMaxThreadCount(1)
        self._parallel = QThreadPool(self)
        self._parallel.setMaxThreadCount(2)
        self._ids = itertools.count(1)
        self._jobs: dict[int, _Job] = {}
        self._lock = threading.Lock()
        self.default_failure = default_failure
        self._closed = False

    def run(
        self,
        fn: Callable[[], Any],
        on_success: OnSuccess | None = None,
        on_failure: OnFailure | None = None,
        *,
        serial: bool = False,
        context: QObject | None = None,
    ) -> int:
        """Start ``fn`` on a worker thread; returns a job id (0 once shut down: not run).

        With ``context`` (typically the dialog whose widgets the callbacks touch), the callbacks
        are dropped if that object has been deleted by the time the job finishes."""
        if self._closed:
            log.debug("background job refused: shutting down")
            return 0
        job_id = next(self._ids)
        with self._lock:
            self._jobs[job_id] = _Job(on_success, on_failure, context)
        pool = self._serial if serial else self._parallel
        pool.start(_Runnable(job_id, fn, self._bridge))
        return job_id

    def serial(
        self,
        fn: Callable[[], Any],
        on_success: OnSuccess | None = None,
        on_failure: OnFailure | None = None,
        *,
        context: QObject | None = None,
    ) -> int:
        """Run on the ordered labeling-session worker."""
        return self.run(fn, on_success, on_failure, serial=True, context=context)

    @Slot(int, bool, object)
    def _deliver(self, job_id: int, ok: bool, payload: object) -> None:
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            return
        if job.context is not None and not shiboken6.isValid(job.context):
            log.debug("background job %d: its window is gone, result dropped", job_id)
            return
        if ok:
            if job.on_success is not None:
                job.on_success(payload)
            return
        assert isinstance(payload, BaseException)
        handler = job.on_failure or self.default_failure
        if handler is not None:
            handler(payload)
        else:
            log.error("background job failed: %s", payload)

    @property
    def pending(self) -> int:
        """Jobs started whose callbacks have not run yet."""
        with self._lock:
            return len(self._jobs)

    def is_idle(self) -> bool:
        return (
            self.pending == 0
            and self._serial.activeThreadCount() == 0
            and self._parallel.activeThreadCount() == 0
        )

    def wait_workers(self, msecs: int = 30_000) -> bool:
        """Block until the worker threads are done (close and tests only, never mid-session)."""
        ok_serial = self._serial.waitForDone(msecs)
        ok_parallel = self._parallel.waitForDone(msecs)
        return ok_serial and ok_parallel

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Finish queued work, refuse new jobs, and let idle threads exit so none outlive the
        window."""
        self._closed = True
        for pool in (self._serial, self._parallel):
            pool.setExpiryTimeout(0)
        return self.wait_workers(msecs)
