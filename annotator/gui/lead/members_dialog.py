"""The project's team: who is a labeler and who is a lead, and adding someone or changing a
role (a lead's act; the service refuses to remove the last lead)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.gui.background import Background
from annotator.services.review import ROLES, MemberInfo, list_members, set_member
from annotator.store.database import Database


class MembersDialog(QDialog):
    """``changed`` fires after a member was added or got a new role."""

    changed = Signal(object)

    def __init__(
        self,
        bg: Background,
        db: Database,
        project: str,
        *,
        lead: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bg = bg
        self.db = db
        self.project = project
        self.lead = lead
        self.members: list[MemberInfo] = []
        self.setWindowTitle(f"Team - {project}")
        self.setMinimumSize(420, 360)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Name", "Role"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Name")
        row.addWidget(self.name_edit, 1)
        self.role = QComboBox()
        for role in ROLES:
            self.role.addItem(role, role)
        row.addWidget(self.role)
        self.save_button = QPushButton("Add / set role")
        self.save_button.clicked.connect(self.save)
        self.name_edit.returnPressed.connect(self.save)
        row.addWidget(self.save_button)
        layout.addLayout(row)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.busy = False
        self.reload()

    def reload(self) -> None:
        db, project = self.db, self.project
        self.busy = True
        self.bg.run(lambda: list_members(db, project), self._listed, self._failed, context=self)

    def _listed(self, members: list[MemberInfo]) -> None:
        self.busy = False
        self.members = members
        self.table.setRowCount(len(members))
        for n, member in enumerate(members):
            self.table.setItem(n, 0, QTableWidgetItem(member.name))
            self.table.setItem(n, 1, QTableWidgetItem(member.role))

    def _selected(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.members):
            self.name_edit.setText(self.members[row].name)
            self.role.setCurrentIndex(max(self.role.findData(self.members[row].role), 0))

    def save(self) -> None:
        name = self.name_edit.text().strip()
        if not name or self.busy:
            return
        db, project, lead, role = self.db, self.project, self.lead, str(self.role.currentData())
        self.busy = True
        self.bg.run(
            lambda: set_member(db, project, name=name, role=role, acting=lead),
            self._saved,
            self._failed,
            context=self,
        )

    def _saved(self, member: MemberInfo) -> None:
        self.name_edit.clear()
        self._say(f"{member.name} is a {member.role}.", error=False)
        self.changed.emit(member)
        self.reload()

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setObjectName("problems" if error else "")
        self.message.setText(text)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self._say(str(exc), error=True)
