"""File > Import: choose files, import them in the background with progress and cancel, then
show what was rejected (file:line: reason) so the lead can fix the source."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from annotator.gui.background import Background

if TYPE_CHECKING:
    from annotator.services.importing import ImportProgress, ImportSummary
    from annotator.store.database import Database

MAX_ERRORS_SHOWN = 500


class _ProgressRelay(QObject):
    """Carries progress snapshots from the import thread to the dialog (queued signal)."""

    progressed = Signal(object)


class ImportDialog(QDialog):
    finishedImport = Signal(object)

    def __init__(
        self,
        bg: Background,
        db: Database,
        project: str,
        *,
        imported_by: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import into {project}")
        self.resize(640, 420)
        self._bg = bg
        self._db = db
        self._project = project
        self._imported_by = imported_by
        self._cancel = threading.Event()
        self._relay = _ProgressRelay(self)
        self._relay.progressed.connect(self._show_progress)
        self.summary: ImportSummary | None = None
        self.running = False

        layout = QVBoxLayout(self)
        self.title = QLabel("")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        layout.addWidget(self.bar)
        self.detail = QLabel("")
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.detail)
        self.errors = QPlainTextEdit()
        self.errors.setReadOnly(True)
        self.errors.setObjectName("importErrors")
        self.errors.setVisible(False)
        layout.addWidget(self.errors, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Cancel | QDialogButtonBox.StandardButton.Close
        )
        self.buttons.rejected.connect(self._cancel_or_close)
        self.buttons.button(QDialogButtonBox.StandardButton.Close).clicked.connect(self.accept)
        layout.addWidget(self.buttons)

    def choose_and_start(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self.parentWidget(),
            "Import traces",
            "",
            "Trace files (*.jsonl *.json *.gz *.parquet *.traj *.yaml *.yml);;All files (*)",
        )
        if files:
            self.start([Path(f) for f in files])

    def start(self, paths: list[Path]) -> None:
        self.title.setText(f"Importing {len(paths)} file(s)…")
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setEnabled(False)
        self.running = True
        self.show()
        db, project, who, cancel, relay = (
            self._db,
            self._project,
            self._imported_by,
            self._cancel,
            self._relay,
        )

        def work() -> ImportSummary:
            from annotator.services.importing import import_files

            return import_files(
                db,
                project,
                paths,
                imported_by=who,
                progress=relay.progressed.emit,
                cancel=cancel,
            )

        self._bg.run(work, self._done, self._failed, context=self)

    def cancel(self) -> None:
        self._cancel.set()
        self.title.setText("Cancelling…")

    def _cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.reject()

    def _show_progress(self, p: ImportProgress) -> None:
        if p.phase == "index" and p.index_total:
            self.bar.setValue(int(1000 * p.indexed / max(p.index_total, 1)))
            self.detail.setText(f"Indexing for search: {p.indexed:,} / {p.index_total:,}")
            return
        if p.bytes_total:
            self.bar.setValue(int(1000 * p.bytes_done / p.bytes_total))
        name = Path(p.file).name
        self.detail.setText(
            f"File {p.file_index + 1}/{p.n_files} {name}: {p.records:,} records, "
            f"{p.imported:,} new, {p.duplicates:,} duplicates, {p.rejected:,} rejected"
        )

    def _done(self, summary: ImportSummary) -> None:
        self.running = False
        self.summary = summary
        self.bar.setValue(1000)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setEnabled(True)
        state = "Cancelled" if summary.cancelled else "Done"
        if summary.stopped:
            state = f"Stopped: {summary.stopped}"
        self.title.setText(
            f"{state}. {summary.imported:,} traces imported, {summary.duplicates:,} duplicates, "
            f"{summary.rejected:,} rejected."
        )
        lines = summary_lines(summary)
        self.errors.setPlainText("\n".join(lines) if lines else "No errors.")
        self.errors.setVisible(True)
        self.finishedImport.emit(summary)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setEnabled(True)
        self.title.setText(f"Import failed: {exc}")


def summary_lines(summary: Any) -> list[str]:
    """Rejected records and failed files as ``file:line: reason`` lines."""
    lines: list[str] = []
    for result in summary.files:
        if result.error:
            lines.append(f"{result.file}: {result.error}")
        for error in result.errors:
            lines.append(str(error))
            if len(lines) >= MAX_ERRORS_SHOWN:
                lines.append(f"… (more in {result.reject_file or 'the reject file'})")
                return lines
        if result.reject_file:
            lines.append(f"Rejected records were written to {result.reject_file}")
    return lines
