"""Hand out work: the lead picks labelers, how many items, how many labelers per item
(overlap k), the share of gold items, the order and its seed. The assignment runs in the
background as one transaction; a refusal (too many items, k larger than the team, a gold item
without an answer...) is shown as the service words it, and nothing was changed."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from annotator.gui.background import Background
from annotator.gui.lead.contrast import tune_base
from annotator.services.assignment import ORDERS, SCORE_COLUMNS, AssignmentResult, assign
from annotator.services.detection.suggest import DETECTOR
from annotator.services.review import MemberInfo, list_members
from annotator.store.database import Database

ORDER_TITLES = {
    "random": "Random (seeded)",
    "import": "Import order",
    "score": "By a score (highest first)",
    "uncertainty": "Least certain suggestion first",
}


def summary(result: AssignmentResult) -> str:
    people = ", ".join(f"{name} {n}" for name, n in result.per_labeler.items())
    gold = f" ({result.n_gold} gold)" if result.n_gold else ""
    return (
        f"Assigned {result.n_items} items{gold} as {result.n_assignments} queue entries: {people}."
    )


class AssignDialog(QDialog):
    """``assigned`` carries the :class:`AssignmentResult` of each successful assignment."""

    assigned = Signal(object)

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
        self.busy = False
        self.result_value: AssignmentResult | None = None
        self.setWindowTitle(f"Assign work - {project}")
        self.setMinimumWidth(460)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Labelers"))
        self.people = QListWidget()
        self.people.setToolTip("Each chosen person gets an equal share (within one item)")
        layout.addWidget(self.people, 1)
        form = QFormLayout()
        self.n_items = QSpinBox()
        self.n_items.setRange(1, 10_000_000)
        self.n_items.setValue(100)
        form.addRow("Items", self.n_items)
        self.overlap = QSpinBox()
        self.overlap.setRange(1, 50)
        self.overlap.setToolTip("How many labelers label each item (2 or more measures agreement)")
        form.addRow("Labelers per item (k)", self.overlap)
        self.gold_rate = QDoubleSpinBox()
        self.gold_rate.setRange(0.0, 100.0)
        self.gold_rate.setDecimals(1)
        self.gold_rate.setSuffix(" %")
        self.gold_rate.setToolTip("Share of the items that are gold items (need a known answer)")
        form.addRow("Gold items", self.gold_rate)
        self.order = QComboBox()
        for value in ORDERS:
            self.order.addItem(ORDER_TITLES.get(value, value), value)
        self.order.setItemData(
            self.order.findData("uncertainty"),
            "Items whose heuristic suggestion is nearest the suspect line first; "
            "items with no suggestion last",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.order.currentIndexChanged.connect(self._order_changed)
        form.addRow("Order", self.order)
        self.score = QComboBox()
        for column in SCORE_COLUMNS:
            self.score.addItem(column, column)
        self.score.addItem(f"suggestion score ({DETECTOR})", f"suggestion:{DETECTOR}")
        form.addRow("Score", self.score)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setToolTip("The same seed gives the same random order and split")
        form.addRow("Seed", self.seed)
        layout.addLayout(form)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.assign_button = QPushButton("Assign")
        self.assign_button.setDefault(True)
        buttons.addButton(self.assign_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.assign_button.clicked.connect(self.start)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._order_changed()
        tune_base([self.people], self.palette())
        self.assign_button.setEnabled(False)
        self.bg.run(lambda: list_members(db, project), self._members, self._failed, context=self)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "people"):
            tune_base([self.people], self.palette())

    def _members(self, members: list[MemberInfo]) -> None:
        self.people.clear()
        for member in members:
            item = QListWidgetItem(f"{member.name} ({member.role})")
            item.setData(Qt.ItemDataRole.UserRole, member.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = member.role == "labeler"
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.people.addItem(item)
        self.assign_button.setEnabled(True)

    def _order_changed(self, *_: object) -> None:
        self.score.setEnabled(self.order.currentData() == "score")

    def chosen(self) -> list[str]:
        out = []
        for row in range(self.people.count()):
            item = self.people.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def set_chosen(self, names: list[str]) -> None:
        for row in range(self.people.count()):
            item = self.people.item(row)
            wanted = item.data(Qt.ItemDataRole.UserRole) in names
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)

    def start(self) -> None:
        """Run the assignment with the form's values (read here, on the GUI thread)."""
        if self.busy:
            return
        db, project, lead = self.db, self.project, self.lead
        labelers = self.chosen()
        n_items, k = self.n_items.value(), self.overlap.value()
        rate, seed = self.gold_rate.value() / 100.0, self.seed.value()
        order = str(self.order.currentData())
        score = str(self.score.currentData()) if order == "score" else None
        self.busy = True
        self.assign_button.setEnabled(False)
        self._say("Assigning…", error=False)
        self.bg.run(
            lambda: assign(
                db,
                project,
                n_items=n_items,
                labelers=labelers,
                overlap_k=k,
                gold_rate=rate,
                order=order,
                seed=seed,
                score_column=score,
                assigned_by=lead,
            ),
            self._done,
            self._failed,
            context=self,
        )

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setObjectName("problems" if error else "")
        self.message.setText(text)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def _done(self, result: AssignmentResult) -> None:
        self.busy = False
        self.assign_button.setEnabled(True)
        self.result_value = result
        self._say(summary(result), error=False)
        self.assigned.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self.assign_button.setEnabled(self.people.count() > 0)
        self._say(str(exc), error=True)
