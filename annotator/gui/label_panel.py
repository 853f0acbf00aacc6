"""The label panel, built from the project's schema: verdict, evidence and counter-evidence tags,
confidence, rationale and evidence spans, each control showing the key that drives it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QMouseEvent, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from annotator.domain.label import EvidenceSpan, Label
from annotator.domain.schema import LabelSchema, TagDef, TagLevel
from annotator.gui.keymap import Keymap

NO_CONFIDENCE = -1
SPAN_PREVIEW = 70


def key_text(keys: tuple[str, ...]) -> str:
    """The first binding as the platform shows it (``⌘`` on macOS), or nothing."""
    if not keys:
        return ""
    return QKeySequence(keys[0]).toString(QKeySequence.SequenceFormat.NativeText)


class KeyBadge(QLabel):
    """A small monospace key cap beside a control."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setObjectName("keyBadge")
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.setMinimumWidth(44)
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class ClickLabel(QLabel):
    """A wrapped description that checks its button when clicked, like the button's own text."""

    def __init__(self, text: str, button: QAbstractButton) -> None:
        super().__init__(text)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._button = button

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._button.click()
        super().mousePressEvent(event)


def span_caption(span: EvidenceSpan) -> str:
    text = " ".join(span.text.split())
    if len(text) > SPAN_PREVIEW:
        text = text[: SPAN_PREVIEW - 1] + "…"
    return f"turn {span.turn + 1}, block {span.block + 1}: “{text}”"


class LabelPanel(QWidget):
    """Edits one :class:`Label`. ``changed`` fires on every edit the labeler makes (not when a
    label is loaded), so the window can debounce a draft save."""

    changed = Signal()
    spanActivated = Signal(object)
    spansChanged = Signal()

    def __init__(self, schema: LabelSchema, keymap: Keymap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.schema = schema
        self._loading = False
        self._badges: dict[str, KeyBadge] = {}
        self._tag_boxes: dict[str, QCheckBox] = {}
        self._counter_boxes: dict[str, QCheckBox] = {}
        self._verdict_buttons: dict[str, QRadioButton] = {}
        self._confidence_buttons: dict[int, QRadioButton] = {}
        self._spans: list[EvidenceSpan] = []

        # Status and problems on top, the choices in a scroll area, rationale and spans pinned
        # at the bottom: what the labeler writes and marks is always in view.
        main = QVBoxLayout(self)
        main.setContentsMargins(0, 0, 0, 0)
        main.setSpacing(0)
        head = QVBoxLayout()
        head.setContentsMargins(8, 6, 8, 4)
        main.addLayout(head)
        body = QWidget()
        body.setObjectName("labelChoices")
        self._body = body
        outer = QVBoxLayout(body)
        outer.setContentsMargins(8, 0, 8, 4)
        outer.setSpacing(6)
        self.choices = QScrollArea()
        self.choices.setWidgetResizable(True)
        self.choices.setFrameShape(QFrame.Shape.NoFrame)
        self.choices.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.choices.setWidget(body)
        main.addWidget(self.choices, 1)
        foot_widget = QWidget()
        foot = QVBoxLayout(foot_widget)
        foot.setContentsMargins(8, 4, 8, 8)
        foot.setSpacing(4)
        main.addWidget(foot_widget)

        self.status_label = QLabel("")
        self.status_label.setObjectName("labelStatus")
        head.addWidget(self.status_label)

        self.problems = QLabel("")
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.PlainText)
        self.problems.setVisible(False)
        head.addWidget(self.problems)

        # Verdict
        verdict_box = QGroupBox("Verdict")
        grid = QGridLayout(verdict_box)
        self.verdict_group = QButtonGroup(self)
        for row, verdict in enumerate(schema.verdicts):
            button = QRadioButton(verdict.title)
            button.setToolTip(verdict.description)
            self.verdict_group.addButton(button)
            self._verdict_buttons[verdict.value] = button
            self._add_row(grid, row, f"verdict:{verdict.value}", button)
        self.verdict_group.buttonClicked.connect(self._user_changed)
        outer.addWidget(verdict_box)

        # Confidence
        conf = schema.confidence
        conf_box = QGroupBox("Confidence")
        grid = QGridLayout(conf_box)
        self.confidence_group = QButtonGroup(self)
        row = 0
        for level in range(conf.min, conf.max + 1):
            desc = conf.descriptions.get(str(level), "")
            button = QRadioButton(str(level))
            button.setToolTip(desc)
            self.confidence_group.addButton(button, level)
            self._confidence_buttons[level] = button
            self._add_row(grid, row, f"confidence:{level}", button)
            if desc:  # long descriptions wrap beside the button instead of being cut off
                text = ClickLabel(desc, button)
                text.setToolTip(desc)
                grid.addWidget(text, row, 2)
            row += 1
        none_button = QRadioButton("none")
        optional = ", ".join(schema.verdict(v).title for v in conf.optional_for)
        none_button.setToolTip(
            f"Allowed only for: {optional}" if optional else "Confidence is always required."
        )
        self.confidence_group.addButton(none_button, NO_CONFIDENCE)
        self._confidence_buttons[NO_CONFIDENCE] = none_button
        self._add_row(grid, row, "confidence:none", none_button)
        self.confidence_group.buttonClicked.connect(self._user_changed)
        grid.setColumnStretch(1, 0)
        grid.setColumnStretch(2, 1)
        outer.addWidget(conf_box)

        # Tags
        trace_tags = [t for t in schema.evidence_tags if t.level is TagLevel.TRACE]
        group_tags = [t for t in schema.evidence_tags if t.level is TagLevel.GROUP]
        for title, tags, boxes in (
            ("Evidence: this trace", trace_tags, self._tag_boxes),
            ("Evidence: session, account or cluster", group_tags, self._tag_boxes),
            ("Counter-evidence", list(schema.counter_tags), self._counter_boxes),
        ):
            if tags:
                outer.addWidget(self._tag_section(title, tags, boxes))

        # Rationale
        outer.addStretch(1)
        foot.addWidget(QLabel("Rationale"))
        self.rationale = QPlainTextEdit()
        self.rationale.setObjectName("rationale")
        self.rationale.setPlaceholderText("Why? (Esc returns the keys to the trace)")
        self.rationale.setTabChangesFocus(True)
        self.rationale.setFixedHeight(72)
        self.rationale.textChanged.connect(self._user_changed)
        foot.addWidget(self.rationale)

        # Evidence spans
        span_head = QHBoxLayout()
        span_head.addWidget(QLabel("Evidence spans"))
        span_head.addStretch(1)
        self.span_badge = KeyBadge()
        span_head.addWidget(self.span_badge)
        foot.addLayout(span_head)
        self.span_list = QListWidget()
        self.span_list.setObjectName("spanList")
        self.span_list.setMinimumHeight(56)
        self.span_list.setMaximumHeight(110)
        self.span_list.setWordWrap(True)
        self.span_list.itemClicked.connect(self._span_clicked)
        self.span_list.itemActivated.connect(self._span_clicked)
        foot.addWidget(self.span_list)
        for key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            shortcut = QShortcut(QKeySequence(key), self.span_list)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.remove_selected_span)
        buttons = QHBoxLayout()
        self.remove_span_button = QPushButton("Remove span")
        self.remove_span_button.setToolTip("Remove the selected span (Delete in the list)")
        self.remove_span_button.clicked.connect(self.remove_selected_span)
        self.remove_span_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_span_button)
        foot.addLayout(buttons)

        self.set_keymap(keymap)
        self.set_label(Label())
        self._tune_contrast()
        self._fit_choices_width()

    def _fit_choices_width(self) -> None:
        """The choices scroll only vertically, so their area is never narrower than what it
        holds plus its scroll bar: a narrow pane would cut the tag names off on the right."""
        bar = self.choices.verticalScrollBar().sizeHint().width()
        frame = 2 * self.choices.frameWidth()
        self.choices.setMinimumWidth(self._body.minimumSizeHint().width() + bar + frame)

    def _tune_contrast(self) -> None:
        """Check boxes and radio buttons are filled with Base; on a dark palette Base is darker
        than the window, so empty boxes vanish. Give the choices a lighter Base there."""
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        tuned = QPalette(self._body.palette())
        if base.lightness() < text.lightness():
            tuned.setColor(
                QPalette.ColorRole.Base, palette.color(QPalette.ColorRole.Window).lighter(160)
            )
        else:
            tuned.setColor(QPalette.ColorRole.Base, base)
        self._body.setPalette(tuned)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._tune_contrast()
        elif event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_choices_width()

    # -- building ----------------------------------------------------------------------

    def _add_row(self, grid: QGridLayout, row: int, action: str, control: QWidget) -> None:
        badge = KeyBadge()
        self._badges[action] = badge
        control.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        grid.addWidget(badge, row, 0)
        grid.addWidget(control, row, 1)
        grid.setColumnStretch(grid.columnCount() - 1, 1)

    def _tag_section(
        self, title: str, tags: list[TagDef], boxes: dict[str, QCheckBox]
    ) -> QGroupBox:
        box = QGroupBox(title)
        grid = QGridLayout(box)
        grid.setVerticalSpacing(2)
        for row, tag in enumerate(tags):
            check = QCheckBox(tag.name)
            check.setToolTip(tag.description)
            check.toggled.connect(self._user_changed)
            boxes[tag.name] = check
            self._add_row(grid, row, f"tag:{tag.name}", check)
        return box

    def set_keymap(self, keymap: Keymap) -> None:
        for action, badge in self._badges.items():
            badge.setText(key_text(keymap.keys(action)))
        self.span_badge.setText(key_text(keymap.keys("span")))

    # -- reading and writing the label --------------------------------------------------

    def set_label(self, label: Label, status: str = "") -> None:
        """Show ``label`` without emitting ``changed``."""
        self._loading = True
        try:
            for group in (self.verdict_group, self.confidence_group):
                group.setExclusive(False)
                for button in group.buttons():
                    button.setChecked(False)
                group.setExclusive(True)
            if label.verdict in self._verdict_buttons:
                self._verdict_buttons[label.verdict].setChecked(True)
            if label.confidence in self._confidence_buttons:
                self._confidence_buttons[label.confidence].setChecked(True)
            elif label.confidence is None and label.verdict is not None:
                self._confidence_buttons[NO_CONFIDENCE].setChecked(True)
            for name, check in self._tag_boxes.items():
                check.setChecked(name in label.tags)
            for name, check in self._counter_boxes.items():
                check.setChecked(name in label.counter_tags)
            if self.rationale.toPlainText() != label.rationale:
                self.rationale.setPlainText(label.rationale)
            self._spans = list(label.spans)
            self._refresh_spans()
            self.set_problems([])
            self.status_label.setText(status)
        finally:
            self._loading = False

    def label(self) -> Label:
        verdict = next((value for value, b in self._verdict_buttons.items() if b.isChecked()), None)
        confidence = self.confidence_group.checkedId()
        return Label(
            verdict=verdict,
            tags=tuple(n for n, c in self._tag_boxes.items() if c.isChecked()),
            counter_tags=tuple(n for n, c in self._counter_boxes.items() if c.isChecked()),
            confidence=None if confidence in (NO_CONFIDENCE, -1) else confidence,
            rationale=self.rationale.toPlainText(),
            spans=tuple(self._spans),
        )

    def set_problems(self, problems: list[str]) -> None:
        self.problems.setText("\n".join(f"• {p}" for p in problems))
        self.problems.setVisible(bool(problems))

    # -- actions driven by keys ---------------------------------------------------------

    def set_verdict(self, value: str) -> None:
        button = self._verdict_buttons.get(value)
        if button is not None and not button.isChecked():
            button.setChecked(True)
            self._user_changed()

    def set_confidence(self, level: int | None) -> None:
        button = self._confidence_buttons.get(NO_CONFIDENCE if level is None else level)
        if button is not None and not button.isChecked():
            button.setChecked(True)
            self._user_changed()

    def toggle_tag(self, name: str) -> None:
        check = self._tag_boxes.get(name) or self._counter_boxes.get(name)
        if check is not None:
            check.toggle()

    def spans(self) -> tuple[EvidenceSpan, ...]:
        return tuple(self._spans)

    def add_span(self, span: EvidenceSpan) -> bool:
        """Add a span unless the same passage is already listed."""
        if span in self._spans:
            return False
        self._spans.append(span)
        self._spans.sort(key=lambda s: (s.turn, s.block, s.start, s.end))
        self._refresh_spans()
        self.span_list.setCurrentRow(self._spans.index(span))
        self.spansChanged.emit()
        self._user_changed()
        return True

    def remove_selected_span(self) -> None:
        row = self.span_list.currentRow()
        if 0 <= row < len(self._spans):
            del self._spans[row]
            self._refresh_spans()
            self.span_list.setCurrentRow(min(row, len(self._spans) - 1))
            self.spansChanged.emit()
            self._user_changed()

    def _refresh_spans(self) -> None:
        self.span_list.clear()
        for span in self._spans:
            item = QListWidgetItem(span_caption(span))
            item.setToolTip(span.text[:2000])
            self.span_list.addItem(item)
        self.remove_span_button.setEnabled(bool(self._spans))

    def _span_clicked(self, item: QListWidgetItem) -> None:
        row = self.span_list.row(item)
        if 0 <= row < len(self._spans):
            self.spanActivated.emit(self._spans[row])

    def _user_changed(self, *_: object) -> None:
        if not self._loading:
            self.set_problems([])
            self.changed.emit()

    def verdict_buttons(self) -> dict[str, QAbstractButton]:
        return dict(self._verdict_buttons)
