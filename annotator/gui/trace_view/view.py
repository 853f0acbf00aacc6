"""TraceView: the centre of the labeling workstation.

A read-only QTextBrowser whose document is written with QTextCursor (render.py, markdown.py), never
from HTML; ``loadResource`` refuses and records every request, links never open. Evidence spans and
find matches are extra selections (highlight.py). Reasoning collapses by hiding its QTextBlocks.

Speed: the document is built detached, at the viewport's width, and only its first ~48,000
characters before it is shown; the rest is appended in idle-time steps of ~32,000 characters, each
laid out at once, so a 1 MB trace paints in a few tens of milliseconds and the event loop is never
busy for long while the rest arrives. Anything that needs the whole trace (find, scroll_to_span,
collapsing, re-rendering) finishes it first. Markdown beyond a per-trace parse budget is shown plain
and re-rendered once parsed in idle time; :meth:`TraceView.prefetch` parses the next trace ahead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QKeySequence,
    QMouseEvent,
    QShortcut,
    QTextCursor,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from annotator.domain.label import EvidenceSpan
from annotator.domain.trace import BlockKind, Trace
from annotator.gui.trace_view import highlight, markdown
from annotator.gui.trace_view.find_bar import FindBar
from annotator.gui.trace_view.render import (
    MARKDOWN_BUDGET,
    DocumentBuilder,
    RenderMap,
    set_collapsed,
)
from annotator.gui.trace_view.styles import Styles

FIRST_CHARS: Final = 48_000
"""Characters of a trace written before it is shown; the rest follows in idle-time steps."""
STEP_CHARS: Final = 32_000
"""Characters appended per idle step (~5 ms of building, ~15 ms of layout)."""
FIND_DEBOUNCE_CHARS: Final = 100_000
"""Above this many characters, find waits for a pause in typing instead of running per key."""


class SafeBrowser(QTextBrowser):
    """A QTextBrowser that loads nothing: every resource request is refused and recorded."""

    clickedAt = Signal(int, int, bool)
    """Left click: exact document position (-1 off text), fuzzy position, whether it was a drag."""
    hoveredAt = Signal(int)
    """Fuzzy document position under the mouse while no button is pressed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.resource_requests: list[tuple[int, str]] = []
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setAcceptDrops(False)  # a dropped file or URL is not something to open either
        self._press: QPoint | None = None

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        self.resource_requests.append((int(type), QUrl(name).toString()))
        return None

    def setSource(self, name: QUrl | str, type: Any = None) -> None:
        """Navigation is refused too (recorded like a resource request)."""
        self.resource_requests.append((-1, QUrl(name).toString()))

    def doSetSource(self, name: QUrl | str, type: Any = None) -> None:
        self.setSource(name)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def _doc_point(self, pos: QPoint) -> QPointF:
        scroll = QPoint(self.horizontalScrollBar().value(), self.verticalScrollBar().value())
        return (pos + scroll).toPointF()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        if event.buttons() == Qt.MouseButton.NoButton:
            point = self._doc_point(event.position().toPoint())
            layout = self.document().documentLayout()
            self.hoveredAt.emit(layout.hitTest(point, Qt.HitTestAccuracy.FuzzyHit))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        pos = event.position().toPoint()
        dragged = (pos - self._press).manhattanLength() > 4 or self.textCursor().hasSelection()
        self._press = None
        point = self._doc_point(pos)
        layout = self.document().documentLayout()
        exact = layout.hitTest(point, Qt.HitTestAccuracy.ExactHit)
        fuzzy = layout.hitTest(point, Qt.HitTestAccuracy.FuzzyHit)
        self.clickedAt.emit(exact, fuzzy, dragged)


class TraceView(QWidget):
    """Shows one trace; maps selections to evidence spans; highlights spans and find matches."""

    spanClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, find_shortcut: bool = True) -> None:
        """``find_shortcut=False``: no Ctrl+F of its own (the window maps a key to show_find)."""
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.browser = SafeBrowser(self)
        self.browser.setObjectName("traceBrowser")
        self.browser.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.find_bar = FindBar(self)
        self.find_bar.hide()
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.find_bar)
        self._trace: Trace | None = None
        self._size = 0
        self._spans: list[EvidenceSpan] = []
        self._span_ranges: list[tuple[int, int, int]] = []  # (doc start, doc end, span index)
        self._map = RenderMap([])
        self._doc: QTextDocument | None = None
        self._collapsed = False
        self._styles = Styles.from_palette(self.palette(), self.font())
        self._plain: str | None = None
        self._matches: list[tuple[int, int]] = []
        self._current = -1
        self._query = ""
        self._prefetch: list[str] = []
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.setInterval(0)
        self._prefetch_timer.timeout.connect(self._prefetch_step)
        self._find_timer = QTimer(self)
        self._find_timer.setSingleShot(True)
        self._find_timer.setInterval(150)
        self._find_timer.timeout.connect(self._run_find)
        self._deferred: list[str] = []
        self._builder: DocumentBuilder | None = None
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.setInterval(0)
        self._build_timer.timeout.connect(self._build_step)
        self.browser.clickedAt.connect(self._on_click)
        self.browser.hoveredAt.connect(self._on_hover)
        self.find_bar.queryChanged.connect(self._on_query_typed)
        self.find_bar.nextRequested.connect(lambda: self._step(1))
        self.find_bar.previousRequested.connect(lambda: self._step(-1))
        self.find_bar.closed.connect(self._on_find_closed)
        ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
        if find_shortcut:
            find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
            find.setContext(ctx)
            find.activated.connect(self.show_find)
        for key, step in ((Qt.Key.Key_F3, 1), (Qt.Modifier.SHIFT | Qt.Key.Key_F3, -1)):
            sc = QShortcut(QKeySequence(key), self.browser)
            sc.setContext(Qt.ShortcutContext.WidgetShortcut)
            sc.activated.connect(lambda s=step: self._step(s))
        self.set_trace(None)

    # ---- public API --------------------------------------------------------------------------

    def trace(self) -> Trace | None:
        return self._trace

    def set_trace(self, trace: Trace | None, spans: Sequence[EvidenceSpan] = ()) -> None:
        """Show ``trace`` (None: an empty view) with ``spans`` highlighted, scrolled to the top."""
        self._trace = trace
        self._size = sum(len(b.text) for _, _, b in trace.blocks()) if trace is not None else 0
        self._spans = list(spans)
        self._render({}, MARKDOWN_BUDGET)
        self.browser.verticalScrollBar().setValue(0)

    def _render(self, overrides: dict[tuple[int, int], bool], budget: int) -> None:
        trace = self._trace
        doc = QTextDocument(self.browser)
        doc.setUndoRedoEnabled(False)
        doc.setDefaultFont(self.font())
        doc.setDocumentMargin(12)
        doc.setIndentWidth(24)  # list levels (the default 40 px pushes nested lists far right)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        doc.setDefaultTextOption(option)
        # Laid out at the width it will be shown at: attaching a document of another width to the
        # browser re-lays it out (~90 ms for a 1 MB line). The scroll bar is always on so the
        # viewport width does not change when a long trace follows a short one.
        doc.setTextWidth(self.browser.viewport().width())
        self._deferred = []
        self._builder = None
        self._build_timer.stop()
        done = True
        if trace is None:
            self._map = RenderMap([])
        else:
            builder = DocumentBuilder(
                doc,
                self._styles,
                collapsed=self._collapsed,
                overrides=overrides,
                markdown_budget=budget,
            )
            self._builder = builder
            done = builder.start(trace, FIRST_CHARS)
            self._map = builder.map
        old = self._doc
        self.browser.setDocument(doc)
        self._doc = doc
        if old is not None:
            old.deleteLater()
        self._plain = None
        self._matches = []
        self._current = -1
        if done:
            self._build_done()
        else:
            self._refresh_selections()
            self._build_timer.start()

    def finish_rendering(self) -> None:
        """Write the rest of a long trace now (it is otherwise written in idle time)."""
        while self._builder is not None:
            self._build_step()

    def rendering_done(self) -> bool:
        return self._builder is None

    def _build_step(self) -> None:
        """Append the next part of a long trace; the lazy layout then never has much to catch up
        with at once (Qt lays out up to 200,000 characters per background step otherwise)."""
        builder = self._builder
        if builder is None:
            return
        builder.c.beginEditBlock()
        done = builder.resume(STEP_CHARS)
        builder.c.endEditBlock()
        # Lay the new part out now, while it is small: left to Qt's lazy layout, appended parts
        # pile up and get laid out in steps of up to 200,000 characters (a ~100 ms stall).
        doc = builder.doc
        doc.documentLayout().blockBoundingRect(doc.lastBlock())
        self._plain = None
        if done:
            self._build_done()
        else:
            self._build_timer.start()

    def _build_done(self) -> None:
        builder = self._builder
        self._builder = None
        self._build_timer.stop()
        if builder is not None:
            self._deferred = builder.deferred
            if self._deferred:
                self._prefetch_timer.start()
        if self.find_bar.isVisible() and self._query:
            current = self._matches[self._current] if self._current >= 0 else None
            self._run_find(reveal=False)
            if current in self._matches:
                assert current is not None
                self._current = self._matches.index(current)
                self._refresh_selections()
                self.find_bar.set_count(self._current, len(self._matches), self._query)
        else:
            self._refresh_selections()

    def _rerender(self) -> None:
        """Rebuild the document for the same trace, keeping what the labeler sees.

        Used when deferred markdown has been parsed and when the palette changes: per-block
        collapse state, the selection and the passage at the top of the view are restored.
        """
        if self._trace is None:
            return
        self.finish_rendering()
        bar = self.browser.verticalScrollBar()
        value = bar.value()
        anchor = None
        top = self.browser.cursorForPosition(QPoint(0, 0)).position()
        rb = self._map.block_at(top)
        seg = rb.segment_at(top) if rb is not None else None
        if rb is not None and seg is not None and seg.omap is not None:
            dy = self.browser.cursorRect(self._cursor_at(top)).top()
            anchor = (rb.turn, rb.index, seg.to_src(top), dy)
        selection = self.selected_span()
        overrides = {(b.turn, b.index): b.collapsed for b in self._map.blocks if b.collapsible}
        self._render(overrides, 1 << 62)
        if selection is not None:
            rng = self._map.doc_range(selection)
            if rng is not None:
                cursor = self._cursor_at(rng[0])
                cursor.setPosition(rng[1], QTextCursor.MoveMode.KeepAnchor)
                self.browser.setTextCursor(cursor)
        pos = self._map.position_of(*anchor[:3]) if anchor is not None else None
        if anchor is not None and pos is not None:
            rect = self.browser.cursorRect(self._cursor_at(pos))
            bar.setValue(bar.value() + rect.top() - anchor[3])
        else:
            bar.setValue(value)

    def _cursor_at(self, pos: int) -> QTextCursor:
        cursor = QTextCursor(self.browser.document())
        cursor.setPosition(pos)
        return cursor

    def set_spans(self, spans: Sequence[EvidenceSpan]) -> None:
        self._spans = list(spans)
        self._refresh_selections()

    def spans(self) -> list[EvidenceSpan]:
        return list(self._spans)

    def selected_span(self) -> EvidenceSpan | None:
        cursor = self.browser.textCursor()
        if not cursor.hasSelection():
            return None
        return self._map.selection_to_span(
            cursor.selectionStart(), cursor.selectionEnd(), cursor.selectedText()
        )

    def scroll_to_span(self, span: EvidenceSpan) -> None:
        """Expand the span's reasoning if collapsed, put the caret on it and bring it into view."""
        self.finish_rendering()
        rb = self._map.get(span.turn, span.block)
        if rb is None:
            return
        if rb.collapsed:
            self._set_block_collapsed(rb, False)
        rng = self._map.doc_range(span)
        if rng is None:
            return
        self._reveal(rng[0], rng[1])

    def show_find(self) -> None:
        self.find_bar.show()
        self.find_bar.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find_bar.edit.selectAll()
        if self.find_bar.edit.text():
            self._on_query(self.find_bar.edit.text())

    def set_collapsed_reasoning(self, collapsed: bool) -> None:
        """Collapse or expand every reasoning block (also the default for the next traces)."""
        self._collapsed = collapsed
        self.finish_rendering()
        if self._doc is None:
            return
        for rb in self._map.blocks:
            if rb.collapsible and rb.collapsed != collapsed:
                set_collapsed(self._doc, rb, collapsed)
        self._plain = None

    def collapsed_reasoning(self) -> bool:
        return self._collapsed

    def prefetch(self, trace: Trace) -> None:
        """Parse ``trace``'s markdown a block per event-loop turn so its set_trace is fast."""
        self._prefetch = [
            b.text
            for _, _, b in trace.blocks()
            if b.kind is BlockKind.TEXT
            and markdown.markdown_candidate(b.text)
            and markdown.cached_tokens(b.text) is None
        ]
        if self._prefetch:
            self._prefetch_timer.start()

    # ---- find --------------------------------------------------------------------------------

    def find_matches(self) -> list[tuple[int, int]]:
        return list(self._matches)

    def current_match(self) -> int:
        return self._current

    def find_text(self, query: str) -> int:
        """Highlight all case-insensitive matches of ``query``; returns their number."""
        self._query = query
        self._run_find()
        return len(self._matches)

    def find_next(self) -> None:
        self._step(1)

    def find_previous(self) -> None:
        self._step(-1)

    def _plain_text(self) -> str:
        if self._plain is None:
            self._plain = self.browser.document().toPlainText()
        return self._plain

    def _on_query_typed(self, query: str) -> None:
        """Search as the labeler types; on long traces wait for a pause in typing."""
        self._query = query
        if self._size > FIND_DEBOUNCE_CHARS:
            self._find_timer.start()
        else:
            self._run_find()

    def _on_query(self, query: str) -> None:
        self._query = query
        self._run_find()

    def _run_find(self, *, reveal: bool = True) -> None:
        """Find all matches; ``reveal``: make the first one below the view's top current.

        A new trace keeps the query and its highlights but stays at its top (reveal=False)."""
        query = self._query
        self.finish_rendering()
        self._matches = []
        self._current = -1
        if query:
            pattern = re.compile(re.escape(query), re.IGNORECASE)
            self._matches = [(m.start(), m.end()) for m in pattern.finditer(self._plain_text())]
        if self._matches and reveal:
            here = self.browser.cursorForPosition(QPoint(0, 0)).position()
            self._current = next((i for i, (a, _) in enumerate(self._matches) if a >= here), 0)
            self._goto_current()
        else:
            self._refresh_selections()
        self.find_bar.set_count(self._current, len(self._matches), query)

    def _step(self, delta: int) -> None:
        if self._find_timer.isActive():  # Enter before the typing pause: search now
            self._find_timer.stop()
            self._run_find()
            return
        if not self._matches:
            return
        if self._current < 0:
            self._current = 0 if delta > 0 else len(self._matches) - 1
        else:
            self._current = (self._current + delta) % len(self._matches)
        self._goto_current()
        self.find_bar.set_count(self._current, len(self._matches), self._query)

    def _goto_current(self) -> None:
        a, b = self._matches[self._current]
        rb = self._map.block_at(a)
        if rb is not None and rb.collapsed and rb.heading is not None and a > rb.heading[1]:
            self._set_block_collapsed(rb, False)
        self._refresh_selections()
        self._reveal(a, b, select=False)

    def _on_find_closed(self) -> None:
        self._matches = []
        self._current = -1
        self._refresh_selections()
        self.browser.setFocus(Qt.FocusReason.OtherFocusReason)

    # ---- internals ---------------------------------------------------------------------------

    def _refresh_selections(self) -> None:
        self._span_ranges = []
        for i, span in enumerate(self._spans):
            rng = self._map.doc_range(span)
            if rng is not None:
                self._span_ranges.append((rng[0], rng[1], i))
        doc = self.browser.document()
        self.browser.setExtraSelections(
            highlight.build(
                doc,
                self._styles,
                [(a, b) for a, b, _ in self._span_ranges],
                self._matches,
                self._current,
            )
        )

    def _reveal(self, start: int, end: int, *, select: bool = False) -> None:
        cursor = QTextCursor(self.browser.document())
        cursor.setPosition(end)
        cursor.setPosition(
            start, QTextCursor.MoveMode.KeepAnchor if select else QTextCursor.MoveMode.MoveAnchor
        )
        self.browser.setTextCursor(cursor)
        rect = self.browser.cursorRect(cursor)
        bar = self.browser.verticalScrollBar()
        viewport_h = self.browser.viewport().height()
        if rect.top() < viewport_h // 6 or rect.bottom() > viewport_h * 5 // 6:
            bar.setValue(bar.value() + rect.top() - viewport_h // 3)

    def _set_block_collapsed(self, rb: Any, collapsed: bool) -> None:
        if self._doc is not None:
            set_collapsed(self._doc, rb, collapsed)
            self._plain = None

    def _on_click(self, exact: int, fuzzy: int, dragged: bool) -> None:
        if dragged:
            return
        rb = self._map.heading_at(fuzzy) if fuzzy >= 0 else None
        if rb is not None:
            self._set_block_collapsed(rb, not rb.collapsed)
            return
        if exact < 0:
            return
        for a, b, index in self._span_ranges:
            if a <= exact < b:
                self.spanClicked.emit(index)
                return

    @property
    def deferred_markdown(self) -> int:
        """Text blocks shown plain for now because the markdown budget ran out."""
        return len(self._deferred)

    def _on_hover(self, fuzzy: int) -> None:
        """A pointing hand over reasoning headings (they toggle on click), else the text beam."""
        heading = fuzzy >= 0 and self._map.heading_at(fuzzy) is not None
        shape = Qt.CursorShape.PointingHandCursor if heading else Qt.CursorShape.IBeamCursor
        viewport = self.browser.viewport()
        if viewport.cursor().shape() != shape:
            viewport.setCursor(shape)

    def _prefetch_step(self) -> None:
        """Idle work, one block per turn: deferred markdown of this trace first, then prefetch."""
        if self._deferred:
            markdown.parse(self._deferred.pop())
            if not self._deferred:
                self._rerender()
        elif self._prefetch:
            markdown.parse(self._prefetch.pop())
        if self._deferred or self._prefetch:
            self._prefetch_timer.start()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._styles = Styles.from_palette(self.palette(), self.font())
            self._rerender()
