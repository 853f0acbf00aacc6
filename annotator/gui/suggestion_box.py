"""The heuristic suggestion beside the label panel: score, suggested verdict and the tags whose
signals fired, each with the passage or group figure that fired it.

It is a suggestion, never a label: nothing is filled in until the labeler accepts it (one key),
and even then the labeler still submits. Trace text reaches the widgets as plain text only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.domain.label import EvidenceSpan, Label

if TYPE_CHECKING:
    from annotator.gui.label_panel import LabelPanel
    from annotator.services.detection.suggest import SuggestionView

PASSAGE_PREVIEW = 90
MAX_HITS_HEIGHT = 210
SPAN_ROLE = Qt.ItemDataRole.UserRole + 1


def passage_span(hit: Mapping[str, Any]) -> EvidenceSpan | None:
    """The evidence span of a trace signal's matched passage (None for group signals)."""
    try:
        turn, block, start, end = (int(hit[k]) for k in ("turn", "block", "start", "end"))
    except (KeyError, TypeError, ValueError):
        return None
    if start < 0 or end <= start or turn < 0 or block < 0:
        return None
    return EvidenceSpan(turn=turn, block=block, start=start, end=end, text=str(hit.get("text", "")))


def _one_line(text: str, limit: int = PASSAGE_PREVIEW) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def accept_into(panel: LabelPanel, suggestion: SuggestionView) -> Label:
    """Copy the suggested verdict and tags into the panel as edits of the labeler's own (what
    the labeler already ticked stays); returns the panel's label afterwards."""
    if suggestion.verdict:
        panel.set_verdict(suggestion.verdict)
    current = panel.label()
    have = set(current.tags) | set(current.counter_tags)
    for tag in suggestion.tags:
        if tag not in have:
            panel.toggle_tag(tag)
    return panel.label()


class SuggestionBox(QFrame):
    """Shows one trace's suggestion. ``accepted`` asks the window to copy it into the panel;
    ``passageClicked`` carries the :class:`EvidenceSpan` of a matched passage."""

    accepted = Signal()
    passageClicked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("suggestionBox")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.suggestion: SuggestionView | None = None
        self.trace_id: int | None = None
        self._titles: dict[str, str] = {}
        self._tinting = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        head = QHBoxLayout()
        self.title = QLabel("Suggestion")
        self.title.setObjectName("suggestionTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        head.addWidget(self.title, 1)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("acceptSuggestion")
        self.accept_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.accept_button.clicked.connect(self.accepted.emit)
        head.addWidget(self.accept_button)
        layout.addLayout(head)
        self.summary = QLabel("")
        self.summary.setObjectName("suggestionSummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.hits = QTreeWidget()
        self.hits.setObjectName("suggestionHits")
        self.hits.setHeaderHidden(True)
        self.hits.setColumnCount(1)
        self.hits.setRootIsDecorated(True)
        self.hits.setWordWrap(True)
        self.hits.setUniformRowHeights(False)
        self.hits.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.hits.itemClicked.connect(self._clicked)
        self.hits.itemActivated.connect(self._clicked)
        layout.addWidget(self.hits)
        self._tint()
        self.show_message("No suggestion yet.")

    def _tint(self) -> None:
        """A faint tint marks the box as the machine's, apart from the labeler's own panel
        (from the application's palette, so a theme switch re-tints it)."""
        window = QApplication.palette(self).color(QPalette.ColorRole.Window)
        tinted = window.darker(106) if window.lightness() > 128 else window.lighter(125)
        palette = QPalette()  # only the background is ours; text follows the theme
        palette.setColor(QPalette.ColorRole.Window, tinted)
        self._tinting = True
        try:
            self.setPalette(palette)
        finally:
            self._tinting = False
        self.setAutoFillBackground(True)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        kinds = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
        if event.type() in kinds and not self._tinting:
            self._tint()

    def set_verdict_titles(self, titles: Mapping[str, str]) -> None:
        self._titles = dict(titles)

    def set_accept_key(self, key: str) -> None:
        self.accept_button.setText(f"Accept ({key})" if key else "Accept")
        self.accept_button.setToolTip(
            "Copy the suggested verdict and tags into the label (you still submit)"
        )

    def show_message(self, text: str, trace_id: int | None = None) -> None:
        """No suggestion to show (loading, none stored, detection not run)."""
        self.suggestion = None
        self.trace_id = trace_id
        self.title.setText("Suggestion")
        self.summary.setText(text)
        self.hits.clear()
        self.hits.setVisible(False)
        self.accept_button.setEnabled(False)

    def set_suggestion(self, suggestion: SuggestionView) -> None:
        self.suggestion = suggestion
        self.trace_id = suggestion.trace_id
        verdict = suggestion.verdict or ""
        title = self._titles.get(verdict, verdict.replace("_", " ") or "no verdict")
        self.title.setText(f"Suggestion: {title}")
        n = len(suggestion.tags)
        fired = (
            f"{n} tag{'s' if n != 1 else ''} fired; click a passage to see it in the trace"
            if n
            else "no signal fired"
        )
        self.summary.setText(f"Score {suggestion.score:.2f} · {fired}")
        self.hits.clear()
        by_tag: dict[str, list[dict[str, Any]]] = {}
        for hit in suggestion.evidence:
            by_tag.setdefault(str(hit.get("tag", "")), []).append(dict(hit))
        rows = 0
        for tag in suggestion.tags:
            rows += 1 + len(by_tag.get(tag, []))
            top = QTreeWidgetItem([tag])
            top.setToolTip(0, tag)
            self.hits.addTopLevelItem(top)
            for hit in by_tag.get(tag, []):
                text = self._hit_text(hit)
                child = QTreeWidgetItem([text])
                span = passage_span(hit)
                if span is not None:
                    child.setData(0, SPAN_ROLE, span)
                    child.setToolTip(0, f"{text}\nClick to show the passage in the trace")
                else:
                    child.setToolTip(0, f"{hit.get('signal', '')}: {text}")
                top.addChild(child)
            top.setExpanded(True)
        row_height = self.hits.sizeHintForRow(0) or self.hits.fontMetrics().height()
        self.hits.setFixedHeight(min(rows * row_height + 6, MAX_HITS_HEIGHT))
        self.hits.setVisible(bool(suggestion.tags))
        self.accept_button.setEnabled(True)

    @staticmethod
    def _hit_text(hit: Mapping[str, Any]) -> str:
        signal = str(hit.get("signal", ""))
        if hit.get("text") is not None and passage_span(hit) is not None:
            return f"{signal}: “{_one_line(str(hit['text']))}”"
        detail = str(hit.get("detail", ""))
        return _one_line(detail) if detail else signal

    def passage_items(self) -> list[QTreeWidgetItem]:
        """The rows that carry a matched passage (tests and keyboard users)."""
        out: list[QTreeWidgetItem] = []
        for i in range(self.hits.topLevelItemCount()):
            top = self.hits.topLevelItem(i)
            for j in range(top.childCount() if top is not None else 0):
                child = top.child(j) if top is not None else None
                if child is not None and child.data(0, SPAN_ROLE) is not None:
                    out.append(child)
        return out

    def _clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        span = item.data(0, SPAN_ROLE)
        if isinstance(span, EvidenceSpan):
            self.passageClicked.emit(span)
