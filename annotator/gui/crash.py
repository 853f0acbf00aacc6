"""What a labeler sees when the code has a bug: a dialog, not a vanished window.

PySide6 hands an exception raised in a slot to ``sys.excepthook`` and then carries on with the
event loop, so the application is still usable afterwards; by default the traceback only goes
to a console nobody sees. ``CrashHandler`` logs it, and shows what happened, where the log file
is and a "Copy details" button. Work already saved (drafts, submitted labels) lives in the
database and is not touched. Exceptions of worker threads reach the same dialog through a queued
signal. Everything shown is plain text: exception messages can quote trace content."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, QtMsgType, QUrl, Signal, qInstallMessageHandler
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from annotator import __version__

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
MAX_DETAILS_CHARS = 200_000  # a pathological repr must not freeze the dialog


@dataclass(frozen=True)
class CrashReport:
    """One unhandled exception, described for a person and for a bug report."""

    summary: str
    where: str
    details: str
    log_file: Path | None
    thread: str


def build_report(
    exc_info: ExcInfo, log_file: Path | None, thread: str | None = None
) -> CrashReport:
    """Summary line, innermost frame, and the full text that "Copy details" puts on the
    clipboard (version, platform, thread, traceback, log location)."""
    from annotator.logging_setup import platform_summary

    exc_type, exc, tb = exc_info
    message = str(exc).strip()
    first_line = message.splitlines()[0] if message else ""
    summary = f"{exc_type.__name__}: {first_line}" if first_line else exc_type.__name__
    frames = traceback.extract_tb(tb) if tb is not None else []
    if frames:
        last = frames[-1]
        where = f"{last.name} ({Path(last.filename).name}, line {last.lineno})"
    else:
        where = "unknown location"
    thread_name = thread or threading.current_thread().name
    lines = [
        f"Trace Annotator {__version__}",
        f"Platform: {platform_summary()}",
        f"Thread: {thread_name}",
        f"Log file: {log_file if log_file is not None else 'not configured'}",
        "",
        *traceback.format_exception(exc_type, exc, tb),
    ]
    details = "\n".join(line.rstrip("\n") for line in lines)
    if len(details) > MAX_DETAILS_CHARS:
        details = details[:MAX_DETAILS_CHARS] + "\n[... cut ...]"
    return CrashReport(
        summary=summary[:500], where=where, details=details, log_file=log_file, thread=thread_name
    )


def _plain_label(text: str, parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class CrashDialog(QDialog):
    """Non-blocking report: the window underneath stays usable. Further errors while it is
    open are appended to it instead of opening a new dialog per error."""

    def __init__(self, report: CrashReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Trace Annotator: unexpected error")
        self.setObjectName("crashDialog")
        self.reports: list[CrashReport] = []
        layout = QVBoxLayout(self)
        self.headline = _plain_label(
            "Something went wrong inside Trace Annotator. Your saved drafts and submitted labels "
            "are safe in the database; you can keep working.",
            self,
        )
        self.headline.setStyleSheet("font-weight: bold")
        self.what = _plain_label("", self)
        self.log_line = _plain_label("", self)
        self.count = _plain_label("", self)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setMinimumSize(560, 180)
        for widget in (self.headline, self.what, self.log_line, self.count, self.details):
            layout.addWidget(widget)

        buttons = QDialogButtonBox(self)
        self.copy_button = QPushButton("Copy details", self)
        self.copy_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon))
        self.copy_button.clicked.connect(self.copy_details)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.open_log_button = QPushButton("Open log folder", self)
        self.open_log_button.clicked.connect(self.open_log_folder)
        buttons.addButton(self.open_log_button, QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.accept)
        close.setDefault(True)
        layout.addWidget(buttons)
        self.add_report(report)

    def add_report(self, report: CrashReport) -> None:
        self.reports.append(report)
        first = self.reports[0]
        self.what.setText(f"What happened: {first.summary}\nWhere: {first.where}")
        self.log_line.setText(
            f"The details are in the log file:\n{first.log_file}"
            if first.log_file is not None
            else "No log file is configured for this session."
        )
        self.open_log_button.setEnabled(first.log_file is not None)
        more = len(self.reports) - 1
        self.count.setText(
            f"{more} more error(s) since; all are in the details below." if more else ""
        )
        self.count.setVisible(bool(more))
        self.details.setPlainText(self.details_text())

    def details_text(self) -> str:
        return "\n\n".join(r.details for r in self.reports)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details_text())
        self.copy_button.setText("Copied")

    def open_log_folder(self) -> None:
        log_file = self.reports[0].log_file
        if log_file is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file.parent)))


class CrashHandler(QObject):
    """Installs itself as ``sys.excepthook`` and ``threading.excepthook``.

    Call ``install()`` once the QApplication exists; ``uninstall()`` restores the previous hooks.
    ``show_dialogs=False`` only logs (for runs without a screen)."""

    reported = Signal(object)

    def __init__(
        self,
        log_file: Path | None = None,
        parent: QObject | None = None,
        *,
        show_dialogs: bool = True,
    ) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.show_dialogs = show_dialogs
        self.reports: list[CrashReport] = []
        self.dialog: CrashDialog | None = None
        self._previous_hook: Callable[..., Any] | None = None
        self._previous_thread_hook: Callable[..., Any] | None = None
        self._handling = False
        # Emitted from any thread, delivered on the thread this object lives in (the GUI thread).
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> CrashHandler:
        if self._previous_hook is None:
            self._previous_hook = sys.excepthook
            self._previous_thread_hook = threading.excepthook
            sys.excepthook = self.excepthook
            threading.excepthook = self._thread_hook
        return self

    def uninstall(self) -> None:
        if self._previous_hook is not None:
            if sys.excepthook == self.excepthook:
                sys.excepthook = self._previous_hook
            if threading.excepthook == self._thread_hook and self._previous_thread_hook:
                threading.excepthook = self._previous_thread_hook
            self._previous_hook = None
            self._previous_thread_hook = None
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        self.handle((exc_type, exc, tb))

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        thread = args.thread.name if args.thread is not None else None
        self.handle((args.exc_type, args.exc_value, args.exc_traceback), thread)

    def handle(self, exc_info: ExcInfo, thread: str | None = None) -> None:
        """Log, remember and (on the GUI thread, soon) show one exception. Never raises."""
        exc_type = exc_info[0]
        if issubclass(exc_type, KeyboardInterrupt):
            # Ctrl+C in the terminal that started the app: leave as the user asked.
            app = QApplication.instance()
            if app is not None:
                app.quit()
            return
        if self._handling:  # an error while reporting an error: the console is all that is left
            sys.__excepthook__(*exc_info)
            return
        self._handling = True
        try:
            log.critical("unhandled exception", exc_info=exc_info)
            report = build_report(exc_info, self.log_file, thread)
            self.reports.append(report)
            self.reported.emit(report)
        except Exception:
            sys.__excepthook__(*exc_info)
        finally:
            self._handling = False

    def _show(self, report: CrashReport) -> None:
        if not self.show_dialogs or QApplication.instance() is None:
            return
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.add_report(report)
            return
        if self.dialog is not None:
            self.dialog.deleteLater()
        parent = QApplication.activeWindow()
        self.dialog = CrashDialog(report, parent)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.dialog.setWindowModality(Qt.WindowModality.NonModal)
        self.dialog.show()
        self.dialog.raise_()


_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def route_qt_messages_to_log() -> Any:
    """Qt's own warnings (missing plugin, bad style sheet...) go to the log file too. Returns the
    handler that was installed before, for ``qInstallMessageHandler`` to put back."""
    qt_log = logging.getLogger("qt")

    def handler(mode: QtMsgType, context: Any, message: str) -> None:
        qt_log.log(_QT_LEVELS.get(mode, logging.WARNING), "%s", message)

    _installed_qt_handlers.append(handler)  # Qt holds no reference of its own
    return qInstallMessageHandler(handler)


_installed_qt_handlers: list[Callable[[QtMsgType, Any, str], None]] = []


def install_crash_handler(log_file: Path | None, parent: QObject | None = None) -> CrashHandler:
    """The one call for ``run_gui``: after the QApplication exists, before the window."""
    return CrashHandler(log_file, parent).install()
