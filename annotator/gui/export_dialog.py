"""File > Export: choose project, format, view and options, see what the export would contain
(counts per split and label, computed in the background as the options change), then export in
the background with a progress bar and cancel, and read the summary.

Everything the dialog shows is plain text (labels in QLabel/QPlainTextEdit with PlainText
format): project and verdict names come from the database and are never rendered as HTML.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from annotator.gui.background import Background

if TYPE_CHECKING:
    from annotator.services.exporting import ExportOptions, ExportPlan, ExportSummary
    from annotator.store.database import Database

FORMATS = (
    ("jsonl", "JSON Lines"),
    ("csv", "CSV (spreadsheet-safe)"),
    ("parquet", "Parquet"),
    ("hf", "Hugging Face dataset folder"),
)
VIEWS = (
    ("full", "Full (everything, re-importable)"),
    ("classifier", "Classifier (text + label)"),
    ("chat", "Chat (TRL messages + label)"),
    ("spans", "Spans (evidence offsets)"),
)
RESOLVE = (
    ("adjudicated,unanimous,majority", "Adjudicated, then unanimous, then majority"),
    ("adjudicated,unanimous", "Adjudicated, then unanimous"),
    ("adjudicated", "Adjudicated only"),
    ("unanimous,majority", "Unanimous, then majority (ignore adjudications)"),
)
GROUPS = (("account", "Account"), ("session", "Session"), ("cluster", "Near-duplicate cluster"))
PREVIEW_DELAY_MS = 300


class _Relay(QObject):
    """Carries progress snapshots from the export thread to the dialog (queued signal)."""

    progressed = Signal(object)


def _combo(items: Sequence[tuple[str, str]]) -> QComboBox:
    box = QComboBox()
    for value, title in items:
        box.addItem(title, value)
    return box


def _plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


def describe_plan(plan: ExportPlan) -> str:
    """The preview: rows per split and label, and why traces are left out."""
    lines = [f"{plan.rows:,} of {plan.scanned:,} traces would be exported."]
    for split in plan.splits:
        counts = plan.label_counts.get(split, {})
        detail = ", ".join(f"{label} {n:,}" for label, n in counts.items()) or "empty"
        lines.append(f"  {split}: {plan.split_counts.get(split, 0):,} ({detail})")
    if plan.skipped:
        left = ", ".join(f"{reason} {n:,}" for reason, n in sorted(plan.skipped.items()))
        lines.append(f"Left out: {left}.")
    return "\n".join(lines)


def describe_summary(summary: ExportSummary) -> str:
    lines = [describe_plan(summary.plan), ""]
    lines += [f"{f.path}: {f.rows:,} rows, {f.bytes:,} bytes" for f in summary.files]
    lines.append(f"Manifest: {summary.manifest}")
    return "\n".join(lines)


class ExportDialog(QDialog):
    """``ExportDialog(bg, db, project, projects=[...], out_dir=None, parent=None)``.

    ``projects`` fills the project chooser (default: just ``project``). ``finishedExport`` is
    emitted with the :class:`ExportSummary` when an export completes."""

    finishedExport = Signal(object)
    previewReady = Signal(str)

    def __init__(
        self,
        bg: Background,
        db: Database,
        project: str,
        *,
        projects: Sequence[str] | None = None,
        out_dir: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export dataset")
        self.resize(620, 640)
        self._bg = bg
        self._db = db
        self._cancel = threading.Event()
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._show_progress)
        self._preview_generation = 0
        self.summary: ExportSummary | None = None
        self.plan: ExportPlan | None = None
        self.running = False
        self.preview_text = ""

        self.project = QComboBox()
        for name in projects or [project]:
            self.project.addItem(name, name)
        self.project.setCurrentIndex(max(self.project.findData(project), 0))
        self.format = _combo(FORMATS)
        self.view = _combo(VIEWS)
        self.resolve = _combo(RESOLVE)
        self.ties = _combo((("skip", "Leave ties out"), ("mark", "Export ties marked 'tie'")))
        self.unlabeled = QCheckBox("Also export traces without a resolved label")
        self.include_original = QCheckBox("Include the original source record")
        self.gold = QCheckBox("Include gold items")
        self.gold.setChecked(True)
        self.verdicts = QLineEdit()
        self.verdicts.setPlaceholderText("all verdicts (or comma-separated values)")
        self.labelers = QLineEdit()
        self.labelers.setPlaceholderText("anyone (or comma-separated names)")
        self.min_labelers = QSpinBox()
        self.min_labelers.setRange(0, 100)
        self.min_agreement = QDoubleSpinBox()
        self.min_agreement.setRange(0.0, 1.0)
        self.min_agreement.setSingleStep(0.05)
        self.min_agreement.setDecimals(2)
        self.split = QLineEdit()
        self.split.setPlaceholderText("no split (or e.g. 0.8,0.1,0.1)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.group_by = _combo(GROUPS)
        self.out_dir = QLineEdit(str(out_dir) if out_dir else "")
        self.out_dir.setPlaceholderText("folder to write (must be empty)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.overwrite = QCheckBox("Write into a non-empty folder")

        form = QFormLayout()
        form.addRow("Project", self.project)
        form.addRow("Format", self.format)
        form.addRow("View", self.view)
        form.addRow("Label", self.resolve)
        form.addRow("Ties", self.ties)
        form.addRow("", self.unlabeled)
        form.addRow("", self.include_original)
        form.addRow("", self.gold)
        form.addRow("Verdicts", self.verdicts)
        form.addRow("Labelers", self.labelers)
        form.addRow("Min. labelers", self.min_labelers)
        form.addRow("Min. agreement", self.min_agreement)
        form.addRow("Split", self.split)
        form.addRow("Seed", self.seed)
        form.addRow("Keep together by", self.group_by)
        folder = QHBoxLayout()
        folder.addWidget(self.out_dir, 1)
        folder.addWidget(browse)
        form.addRow("Folder", folder)
        form.addRow("", self.overwrite)

        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setObjectName("exportPreview")
        self.preview.setMaximumHeight(130)
        self.status = _plain_label()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setVisible(False)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self.close_button.clicked.connect(self.accept)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(_plain_label("Preview"))
        layout.addWidget(self.preview)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh_preview)
        for combo in (self.project, self.format, self.view, self.resolve, self.ties, self.group_by):
            combo.currentIndexChanged.connect(self._options_changed)
        for box in (self.unlabeled, self.include_original, self.gold):
            box.toggled.connect(self._options_changed)
        for edit in (self.verdicts, self.labelers, self.split):
            edit.textChanged.connect(self._options_changed)
        for spin in (self.min_labelers, self.seed):
            spin.valueChanged.connect(self._options_changed)
        self.min_agreement.valueChanged.connect(self._options_changed)
        self._sync_enabled()
        self.refresh_preview()

    # --- options ------------------------------------------------------------------------------

    def options(self) -> ExportOptions:
        """The options as set; ValueError (from the service's checks) if they cannot work."""
        from annotator.services.exporting import ExportOptions, parse_ratios
        from annotator.services.exporting.resolve import parse_steps

        def names(edit: QLineEdit) -> tuple[str, ...]:
            return tuple(x.strip() for x in edit.text().split(",") if x.strip())

        split = self.split.text().strip()
        view = str(self.view.currentData())
        return ExportOptions(
            format=str(self.format.currentData()),
            view=view,
            resolve=parse_steps(str(self.resolve.currentData())),
            ties=str(self.ties.currentData()),
            unlabeled=self.unlabeled.isChecked(),
            include_original=self.include_original.isChecked() and view == "full",
            verdicts=names(self.verdicts),
            labelers=names(self.labelers),
            min_labelers=self.min_labelers.value(),
            min_agreement=self.min_agreement.value() or None,
            gold=self.gold.isChecked(),
            split=parse_ratios(split) if split else None,
            seed=self.seed.value(),
            group_by=str(self.group_by.currentData()),
            overwrite=self.overwrite.isChecked(),
        ).checked()

    @property
    def project_name(self) -> str:
        return str(self.project.currentData())

    def _sync_enabled(self) -> None:
        self.include_original.setEnabled(self.view.currentData() == "full" and not self.running)
        has_split = bool(self.split.text().strip())
        self.seed.setEnabled(has_split)
        self.group_by.setEnabled(has_split)

    def _options_changed(self, *_: Any) -> None:
        self._sync_enabled()
        self._timer.start()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)

    # --- preview ------------------------------------------------------------------------------

    def refresh_preview(self) -> None:
        """Recompute the counts in the background; a newer request supersedes an older one."""
        self._timer.stop()
        self._preview_generation += 1
        generation = self._preview_generation
        try:
            options = self.options()
        except ValueError as exc:
            self._set_preview(f"Cannot export with these options: {exc}")
            return
        db, project = self._db, self.project_name
        self._set_preview("Counting…")

        def work() -> ExportPlan:
            from annotator.services.exporting import plan_export

            return plan_export(db, project, options)

        def done(plan: ExportPlan) -> None:
            if generation == self._preview_generation:
                self.plan = plan
                self._set_preview(describe_plan(plan))

        def failed(exc: BaseException) -> None:
            if generation == self._preview_generation:
                self._set_preview(f"Cannot count: {exc}")

        self._bg.run(work, done, failed, context=self)

    def _set_preview(self, text: str) -> None:
        self.preview_text = text
        self.preview.setPlainText(text)
        self.previewReady.emit(text)

    # --- export -------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the export in the background (the dialog stays responsive; Cancel stops it)."""
        if self.running:
            return
        folder = self.out_dir.text().strip()
        if not folder:
            self.status.setText("Choose a folder to export to.")
            return
        try:
            options = self.options()
        except ValueError as exc:
            self.status.setText(f"Cannot export: {exc}")
            return
        self._cancel.clear()
        self.running = True
        self.summary = None
        self.bar.setValue(0)
        self.bar.setVisible(True)
        self.export_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.status.setText("Exporting…")
        db, project, out, cancel, relay = (
            self._db,
            self.project_name,
            Path(folder),
            self._cancel,
            self._relay,
        )

        def work() -> ExportSummary:
            from annotator.services.exporting import export_dataset

            return export_dataset(
                db, project, out, options, progress=relay.progressed.emit, cancel=cancel
            )

        self._bg.run(work, self._done, self._failed, context=self)

    def cancel(self) -> None:
        if self.running:
            self._cancel.set()
            self.status.setText("Cancelling…")

    def _cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.reject()

    def reject(self) -> None:
        """Esc or the window's close button: a running export is cancelled first (the dialog
        stays open until it has stopped, so nothing is left half-written behind it)."""
        if self.running:
            self.cancel()
            return
        super().reject()

    def _show_progress(self, p: Any) -> None:
        if not self.running:
            return
        share = p.done / p.total if p.total else 1.0
        # selecting is the first fifth of the bar when there is a separate first pass
        value = 200 * share if p.phase == "scan" else 200 + 800 * share
        self.bar.setValue(int(value))
        what = "Selecting traces" if p.phase == "scan" else "Writing"
        self.status.setText(f"{what}: {p.done:,} / {p.total:,}")

    def _finish(self) -> None:
        self.running = False
        self.export_button.setEnabled(True)
        self.close_button.setEnabled(True)
        self._sync_enabled()

    def _done(self, summary: ExportSummary) -> None:
        self._finish()
        self.summary = summary
        self.bar.setValue(1000)
        self.status.setText(
            f"Done: {summary.rows:,} traces, {summary.bytes / 1e6:,.1f} MB in "
            f"{summary.seconds:.1f} s."
        )
        self.preview.setPlainText(describe_summary(summary))
        self.finishedExport.emit(summary)

    def _failed(self, exc: BaseException) -> None:
        from annotator.services.exporting import ExportCancelled

        self._finish()
        self.bar.setVisible(False)
        if isinstance(exc, ExportCancelled):
            self.status.setText("Cancelled: nothing was written.")
        else:
            self.status.setText(f"Export failed: {exc}")
