"""Modal dialogs of the main window (name, key map, flag comment, ...) belong to it as Qt
children: each use must delete its dialog afterwards, or a long labeling session keeps one
per flag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from annotator.gui.dialogs import FlagDialog, KeymapDialog, NameDialog


def _answer(kind: type[QDialog], accept: bool) -> None:
    """Close the next modal dialog of ``kind`` as soon as it is shown."""

    def close() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, kind)
        if accept:
            dialog.accept()
        else:
            dialog.reject()

    QTimer.singleShot(0, close)


def _children(window: Any, kind: type[QDialog]) -> int:
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # the deleteLater()s
    return len(window.findChildren(kind))


def test_modal_dialogs_are_deleted_after_use(
    qtbot: Any, project_db: str, open_window: Callable[..., Any]
) -> None:
    window = open_window(project_db)
    qtbot.waitUntil(window.is_settled, timeout=10_000)
    for accept in (False, True):
        _answer(KeymapDialog, accept)
        window.edit_keys()
        _answer(NameDialog, accept=False)
        window.change_name()
    assert _children(window, KeymapDialog) == 0
    assert _children(window, NameDialog) == 0

    # Flagging twice: the trace is flagged (the comment was read) and no dialog stays.
    qtbot.waitUntil(lambda: window.current is not None, timeout=10_000)
    first = window.current.trace_id
    _answer(FlagDialog, accept=True)
    window.flag()
    qtbot.waitUntil(
        lambda: window.current is not None and window.current.trace_id != first, timeout=10_000
    )
    _answer(FlagDialog, accept=False)
    window.flag()
    assert _children(window, FlagDialog) == 0
    qtbot.waitUntil(window.is_settled, timeout=10_000)
