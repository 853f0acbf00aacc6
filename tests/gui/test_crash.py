"""An unhandled exception in the GUI: a dialog (what, where the log is, copy details), the app
keeps running, and drafts and submitted labels are intact afterwards."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from annotator.gui.crash import CrashHandler, build_report
from annotator.logging_setup import setup_logging, shutdown_logging
from annotator.paths import resolve_paths

pytestmark = pytest.mark.qt_no_exception_capture


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = setup_logging(resolve_paths(tmp_path / "home"))
    yield path
    shutdown_logging()


@pytest.fixture
def handler(qtbot: Any, log_file: Path) -> Iterator[CrashHandler]:
    before = sys.excepthook
    crash = CrashHandler(log_file).install()
    assert sys.excepthook == crash.excepthook
    yield crash
    crash.uninstall()
    assert sys.excepthook is before


class Emitter(QObject):
    fire = Signal()


def press(
    window: Any, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    QTest.keyClick(QApplication.focusWidget() or window, key, modifier)


def stored(url: str) -> dict[int, Any]:
    from annotator.services.labeling import LabelingService
    from annotator.store.open import open_database

    db = open_database(url)
    try:
        service = LabelingService(db, "P", "Ada")
        return {i: service.open(i) for i in service.queue_ids()}
    finally:
        db.dispose()


def test_raise_in_a_slot_while_labeling(
    qtbot: Any, project_db: str, open_window: Any, handler: CrashHandler, log_file: Path
) -> None:
    window = open_window(project_db)
    window.trace_view.setFocus()
    first = window.current.trace_id
    press(window, Qt.Key.Key_1)  # legitimate
    press(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    press(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current is not None and window.current.trace_id != first)
    second = window.current.trace_id
    window.trace_view.setFocus()
    press(window, Qt.Key.Key_4)  # cannot determine: a draft, saved as the labeler works
    qtbot.waitUntil(lambda: not window._dirty and window.bg.is_idle(), timeout=5000)

    def broken_slot(trace_id: int) -> None:
        raise RuntimeError(f"<b>boom</b> while showing trace {trace_id}")

    # A bug in a slot that runs on ordinary navigation.
    window.traceShown.connect(broken_slot)
    window.trace_view.setFocus()
    press(window, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible())
    third = window.current.trace_id
    assert third != second
    window.traceShown.disconnect(broken_slot)

    dialog = handler.dialog
    assert dialog is not None
    what = dialog.what.text()
    assert "RuntimeError: <b>boom</b> while showing trace" in what
    assert dialog.what.textFormat() == Qt.TextFormat.PlainText  # exception text is never HTML
    assert "broken_slot (test_crash.py, line" in what
    assert str(log_file) in dialog.log_line.text()
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "Traceback (most recent call last)" in copied
    assert "raise RuntimeError" in copied and str(log_file) in copied
    assert "Trace Annotator 0." in copied and "Thread: MainThread" in copied

    # The app keeps running: the labeler closes the dialog and carries on.
    dialog.close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.trace_view.setFocus()
    press(window, Qt.Key.Key_1)
    press(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    press(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current is not None and window.current.trace_id != third)
    qtbot.waitUntil(window.bg.is_idle, timeout=5000)
    window.close()

    labels = stored(project_db)
    assert labels[first].status == "done" and labels[first].label.verdict == "legitimate"
    assert labels[second].status == "draft"
    assert labels[second].label.verdict == "cannot_determine"
    assert labels[third].status == "done" and labels[third].label.confidence == 1
    assert len(handler.reports) == 1
    for h in logging.getLogger().handlers:
        h.flush()
    text = log_file.read_text(encoding="utf-8")
    assert "unhandled exception" in text and "RuntimeError: <b>boom</b>" in text


def test_errors_in_a_row_share_one_dialog(qtbot: Any, handler: CrashHandler) -> None:
    emitter = Emitter()

    def bad() -> None:
        raise ValueError("bad value")

    emitter.fire.connect(bad)
    for _ in range(3):
        emitter.fire.emit()
    qtbot.waitUntil(lambda: handler.dialog is not None and len(handler.dialog.reports) == 3)
    dialog = handler.dialog
    assert dialog is not None
    assert "2 more error(s)" in dialog.count.text()
    assert dialog.details_text().count("ValueError: bad value") == 3
    dialog.close()
    # A later error after the dialog was closed opens a fresh one.
    QTimer.singleShot(0, bad)
    qtbot.waitUntil(lambda: handler.dialog is not dialog and handler.dialog is not None)
    assert handler.dialog is not None and len(handler.dialog.reports) == 1


def test_worker_thread_exception_reaches_the_gui_thread(qtbot: Any, handler: CrashHandler) -> None:
    def work() -> None:
        raise OSError("disk went away")

    thread = threading.Thread(target=work, name="export-worker")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible())
    assert handler.dialog is not None
    assert "OSError: disk went away" in handler.dialog.what.text()
    assert "Thread: export-worker" in handler.dialog.details_text()


def test_report_without_traceback_or_message() -> None:
    report = build_report((KeyError, KeyError(), None), None)
    assert report.summary == "KeyError"
    assert report.where == "unknown location"
    assert "Log file: not configured" in report.details


def test_qt_warnings_reach_the_log(qtbot: Any, caplog: pytest.LogCaptureFixture) -> None:
    from PySide6.QtCore import qInstallMessageHandler, qWarning

    from annotator.gui.crash import route_qt_messages_to_log

    previous = route_qt_messages_to_log()
    try:
        with caplog.at_level(logging.WARNING, logger="qt"):
            qWarning("a Qt warning for the log")
    finally:
        qInstallMessageHandler(previous)
    assert [r.getMessage() for r in caplog.records if r.name == "qt"] == [
        "a Qt warning for the log"
    ]
