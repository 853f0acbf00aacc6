"""A plain-text trace view with the TraceView widget's interface.

Used when :mod:`annotator.gui.trace_view` cannot be imported (it is the rich view); it shows every
block as inert plain text under a role heading, maps a selection to an evidence span and
highlights spans, so labeling works with either widget."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from annotator.domain.label import EvidenceSpan
from annotator.domain.trace import BlockKind, Trace


class PlainTraceView(QWidget):
    spanClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setObjectName("traceText")
        layout.addWidget(self.text)
        bar = QHBoxLayout()
        self.find_edit = QLineEdit()
        self.find_edit.setPlaceholderText("Find in trace (Enter: next)")
        self.find_edit.returnPressed.connect(self._find_next)
        bar.addWidget(self.find_edit)
        self.find_bar = QWidget()
        self.find_bar.setLayout(bar)
        self.find_bar.setVisible(False)
        layout.addWidget(self.find_bar)
        self._ranges: dict[tuple[int, int], tuple[int, int]] = {}
        self._spans: tuple[EvidenceSpan, ...] = ()
        self._collapsed = False
        self._trace: Trace | None = None

    def set_trace(self, trace: Trace, spans: Iterable[EvidenceSpan] = ()) -> None:
        self._trace = trace
        parts: list[str] = []
        pos = 0
        self._ranges = {}
        for t, turn in enumerate(trace.turns):
            for b, block in enumerate(turn.blocks):
                head = f"── {turn.role.value.upper()} · {block.kind.value} ──\n"
                if block.kind is BlockKind.REDACTED_REASONING:
                    body = f"[redacted reasoning, {block.opaque_chars} characters]"
                elif block.kind is BlockKind.REASONING and self._collapsed:
                    body = f"[reasoning, {len(block.text)} characters, collapsed]"
                else:
                    body = block.text
                parts.append(head)
                pos += len(head)
                self._ranges[(t, b)] = (pos, pos + len(body))
                parts.append(body + "\n\n")
                pos += len(body) + 2
        self.text.setPlainText("".join(parts))
        self.set_spans(spans)

    def set_spans(self, spans: Iterable[EvidenceSpan]) -> None:
        self._spans = tuple(spans)
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(255, 213, 79, 150))
        selections = []
        for span in self._spans:
            where = self._ranges.get((span.turn, span.block))
            if where is None:
                continue
            cursor = QTextCursor(self.text.document())
            cursor.setPosition(min(where[0] + span.start, where[1]))
            cursor.setPosition(min(where[0] + span.end, where[1]), QTextCursor.MoveMode.KeepAnchor)
            sel = QTextEdit.ExtraSelection()
            sel.cursor = cursor  # type: ignore[misc]
            sel.format = fmt  # type: ignore[misc]
            selections.append(sel)
        self.text.setExtraSelections(selections)

    def selected_span(self) -> EvidenceSpan | None:
        cursor = self.text.textCursor()
        if not cursor.hasSelection():
            return None
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        for (t, b), (lo, hi) in self._ranges.items():
            s, e = max(start, lo), min(end, hi)
            if e > s:
                text = self.text.toPlainText()[s:e]
                return EvidenceSpan(turn=t, block=b, start=s - lo, end=e - lo, text=text)
        return None

    def scroll_to_span(self, span: EvidenceSpan) -> None:
        where = self._ranges.get((span.turn, span.block))
        if where is None:
            return
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(min(where[0] + span.start, where[1]))
        self.text.setTextCursor(cursor)
        self.text.centerCursor()

    def show_find(self) -> None:
        self.find_bar.setVisible(True)
        self.find_edit.setFocus()
        self.find_edit.selectAll()

    def _find_next(self) -> None:
        needle = self.find_edit.text()
        if needle and not self.text.find(needle):
            self.text.moveCursor(QTextCursor.MoveOperation.Start)
            self.text.find(needle, QTextDocument.FindFlag(0))

    def set_collapsed_reasoning(self, collapsed: bool) -> None:
        self._collapsed = collapsed
        if self._trace is not None:
            self.set_trace(self._trace, self._spans)
