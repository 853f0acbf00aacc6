"""Small dialogs: the labeler's name, choosing a project, a flag comment, the key map and its
cheat sheet. None of them touches the database: the window does that in the background."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.gui.keymap import KeyConflict, Keymap


def run_modal(dialog: QDialog) -> bool:
    """``dialog.exec()``, then its deletion scheduled: a dialog made with a long-lived parent
    (the main window) belongs to that parent, so each use would otherwise leave one behind
    for the rest of the session. Its values stay readable until control returns to the
    event loop. Returns whether it was accepted."""
    accepted = bool(dialog.exec())
    dialog.deleteLater()
    return accepted


class NameDialog(QDialog):
    """First run: who is labeling (recorded with every label)."""

    def __init__(self, parent: QWidget | None = None, name: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Trace Annotator")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Your name is recorded with every label you make, so your lead can see who "
            "labeled what. Use the name your lead knows you by."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.edit = QLineEdit(name)
        self.edit.setPlaceholderText("Your name")
        layout.addWidget(self.edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self._ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.edit.textChanged.connect(lambda text: self._ok.setEnabled(bool(text.strip())))
        self._ok.setEnabled(bool(name.strip()))

    def name(self) -> str:
        return self.edit.text().strip()


class ProjectDialog(QDialog):
    """Open an existing project, create one, or take the demo project."""

    DEMO = "demo"
    OPEN = "open"
    NEW = "new"

    def __init__(self, projects: list[tuple[str, int]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a project")
        self.choice = ""
        self.resize(460, 360)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Projects in this database:"))
        self.list = QListWidget()
        for name, count in projects:
            item = QListWidgetItem(f"{name}  ({count:,} traces)")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)
        if projects:
            self.list.setCurrentRow(0)
        else:
            hint = QListWidgetItem("No projects yet: try the demo, or create one.")
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(hint)
        self.list.itemActivated.connect(lambda _item: self._choose(self.OPEN))
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open")
        self.open_button.setEnabled(bool(projects))
        self.open_button.clicked.connect(lambda: self._choose(self.OPEN))
        new_button = QPushButton("New project…")
        new_button.clicked.connect(lambda: self._choose(self.NEW))
        demo_button = QPushButton("Try the demo project")
        demo_button.setToolTip("About 60 example traces, legitimate and distillation-like")
        demo_button.clicked.connect(lambda: self._choose(self.DEMO))
        row.addWidget(demo_button)
        row.addStretch(1)
        row.addWidget(new_button)
        row.addWidget(self.open_button)
        layout.addLayout(row)
        (self.open_button if projects else demo_button).setDefault(True)

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()

    def project_name(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))


class NewProjectDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.resize(480, 160)
        form = QFormLayout(self)
        self.name = QLineEdit()
        form.addRow("Name", self.name)
        self.schema = self._file_row(form, "Label schema", "Schema (*.toml *.json)")
        self.guidelines = self._file_row(form, "Guidelines", "Markdown (*.md *.markdown *.txt)")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.name.textChanged.connect(lambda text: ok.setEnabled(bool(text.strip())))

    def _file_row(self, form: QFormLayout, title: str, pattern: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText("default")
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit, title, pattern))
        row = QHBoxLayout()
        row.addWidget(edit)
        row.addWidget(browse)
        form.addRow(title, row)
        return edit

    def _browse(self, edit: QLineEdit, title: str, pattern: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, title, "", pattern)
        if path:
            edit.setText(path)

    def values(self) -> tuple[str, Path | None, Path | None]:
        schema = self.schema.text().strip()
        guidelines = self.guidelines.text().strip()
        return (
            self.name.text().strip(),
            Path(schema) if schema else None,
            Path(guidelines) if guidelines else None,
        )


class FlagDialog(QDialog):
    """Flag the trace for the lead: a comment is required."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Flag for the lead")
        self.resize(420, 200)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("What should your lead look at? (Ctrl+Enter to send)"))
        self.comment = QPlainTextEdit()
        self.comment.setObjectName("flagComment")
        layout.addWidget(self.comment)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Flag")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.comment.textChanged.connect(
            lambda: ok.setEnabled(bool(self.comment.toPlainText().strip()))
        )
        for seq in ("Ctrl+Return", "Ctrl+Enter"):
            send = QShortcut(QKeySequence(seq), self.comment)
            send.setContext(Qt.ShortcutContext.WidgetShortcut)
            send.activated.connect(self._send_if_ready)
        self._ok = ok

    def _send_if_ready(self) -> None:
        if self._ok.isEnabled():
            self.accept()

    def text(self) -> str:
        return self.comment.toPlainText().strip()


class KeymapDialog(QDialog):
    """Remap keys. A key another action holds is refused with a message; nothing is half-saved:
    the window applies the returned keymap only on OK."""

    def __init__(self, keymap: Keymap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(620, 560)
        self.keymap = Keymap(keymap.specs.values(), keymap.overrides())
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel("Select an action, press the new key in the box, then Assign. Clear removes it.")
        )
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Group", "Action", "Keys"])
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        self.editor = QKeySequenceEdit()
        self.editor.setMaximumSequenceLength(1)
        row.addWidget(self.editor, 1)
        assign = QPushButton("Assign")
        assign.clicked.connect(self.assign_current)
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: self._set_current(()))
        reset = QPushButton("Reset all")
        reset.clicked.connect(self._reset)
        row.addWidget(assign)
        row.addWidget(clear)
        row.addWidget(reset)
        layout.addLayout(row)
        self.message = QLabel("")
        self.message.setObjectName("problems")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._fill()

    def _fill(self) -> None:
        rows = self.keymap.rows()
        current = self.table.currentRow()
        self.table.setRowCount(len(rows))
        for i, (spec, keys) in enumerate(rows):
            for col, text in enumerate((spec.group, spec.title, " or ".join(keys))):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, spec.name)
                self.table.setItem(i, col, item)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(2)
        if current >= 0:
            self.table.selectRow(current)

    def select_action(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(row)
                return

    def current_action(self) -> str | None:
        item = self.table.item(self.table.currentRow(), 0)
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def assign_current(self) -> bool:
        sequence = self.editor.keySequence()
        if sequence.isEmpty():
            self._say("Press a key in the box first.")
            return False
        return self._set_current((sequence.toString(QKeySequence.SequenceFormat.PortableText),))

    def _set_current(self, keys: tuple[str, ...]) -> bool:
        name = self.current_action()
        if name is None:
            self._say("Select an action first.")
            return False
        try:
            self.keymap.assign(name, keys)
        except KeyConflict as exc:
            self._say(str(exc))
            return False
        self._say("")
        self._fill()
        return True

    def _reset(self) -> None:
        self.keymap = Keymap(self.keymap.specs.values())
        self._say("")
        self._fill()

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))


class CheatSheet(QDialog):
    """Every current binding at a glance (the ? key)."""

    def __init__(self, keymap: Keymap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keys")
        self.resize(520, 620)
        layout = QVBoxLayout(self)
        table = QTableWidget(0, 2)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        rows = keymap.rows()
        table.setRowCount(len(rows))
        for i, (spec, keys) in enumerate(rows):
            native = [
                QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys
            ]
            table.setItem(i, 0, QTableWidgetItem(" or ".join(native) or "(none)"))
            table.setItem(i, 1, QTableWidgetItem(f"{spec.group}: {spec.title}"))
        table.resizeColumnToContents(0)
        self.table = table
        layout.addWidget(table)
        note = QLabel(
            "Keys do not act while you type in the rationale or the search box: press Esc to "
            "give them back. Remap them in Edit > Keyboard shortcuts."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
