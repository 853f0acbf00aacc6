"""The project's team: who is a labeler and who is a lead, adding someone or changing a role
(a lead's act; the service refuses to remove the last lead), and the selected person's open
work: moved to someone else or taken back (their labels are never touched)."""

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
from annotator.services.assignment import MoveResult, reassign, unassign
from annotator.services.review import ROLES, MemberInfo, list_members, set_member
from annotator.store.database import Database


class MembersDialog(QDialog):
    """``changed`` fires after a member was added or got a new role; ``queues_changed`` after
    open work was moved or taken back."""

    changed = Signal(object)
    queues_changed = Signal(object)

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
        work = QHBoxLayout()
        work.addWidget(QLabel("Open items of the selected person:"))
        self.move_button = QPushButton("Move to")
        self.move_button.setToolTip(
            "Their assigned items not labeled yet go to the end of this person's queue"
        )
        self.move_button.clicked.connect(self.move_work)
        work.addWidget(self.move_button)
        self.move_to = QComboBox()
        work.addWidget(self.move_to, 1)
        self.take_back_button = QPushButton("Take back")
        self.take_back_button.setToolTip(
            "Take their assigned items not labeled yet out of their queue (labels stay)"
        )
        self.take_back_button.clicked.connect(self.take_back)
        work.addWidget(self.take_back_button)
        layout.addLayout(work)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.busy = False
        self._update_work_buttons()
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
        self._update_work_buttons()

    def _selected(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.members):
            self.name_edit.setText(self.members[row].name)
            self.role.setCurrentIndex(max(self.role.findData(self.members[row].role), 0))
        self._update_work_buttons()

    def selected_member(self) -> str | None:
        row = self.table.currentRow()
        selected = self.table.selectionModel().hasSelection()
        return self.members[row].name if selected and 0 <= row < len(self.members) else None

    def _update_work_buttons(self) -> None:
        """The other members as receivers of the selected person's open items, labelers
        first."""
        who = self.selected_member()
        current = self.move_to.currentData()
        self.move_to.clear()
        for member in sorted(self.members, key=lambda m: m.role != "labeler"):
            if member.name != who:
                self.move_to.addItem(member.name, member.name)
        if current is not None and self.move_to.findData(current) >= 0:
            self.move_to.setCurrentIndex(self.move_to.findData(current))
        self.move_button.setEnabled(who is not None and self.move_to.count() > 0)
        self.take_back_button.setEnabled(who is not None)

    def move_work(self) -> None:
        source, target = self.selected_member(), self.move_to.currentData()
        if source is None or target is None or self.busy:
            return
        db, project, lead = self.db, self.project, self.lead
        self.busy = True
        self.bg.run(
            lambda: reassign(
                db, project, from_labeler=source, to_labeler=str(target), assigned_by=lead
            ),
            lambda result: self._moved(result, source, str(target)),
            self._failed,
            context=self,
        )

    def take_back(self) -> None:
        who = self.selected_member()
        if who is None or self.busy:
            return
        db, project, lead = self.db, self.project, self.lead
        self.busy = True
        self.bg.run(
            lambda: unassign(db, project, labeler=who, assigned_by=lead),
            lambda result: self._taken_back(result, who),
            self._failed,
            context=self,
        )

    def _moved(self, result: MoveResult, source: str, target: str) -> None:
        self.busy = False
        self._say(
            f"Moved {result.moved:,} open items from {source} to {target}; "
            f"{result.kept_labeled:,} already labeled stay with {source}"
            + (
                f"; {result.skipped_duplicate:,} {target} already had"
                if result.skipped_duplicate
                else ""
            )
            + ".",
            error=False,
        )
        self.queues_changed.emit(result)

    def _taken_back(self, result: MoveResult, who: str) -> None:
        self.busy = False
        self._say(
            f"Took {result.moved:,} open items out of {who}'s queue; "
            f"{result.kept_labeled:,} already labeled stay.",
            error=False,
        )
        self.queues_changed.emit(result)

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
