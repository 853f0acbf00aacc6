"""Evidence spans and find matches as QTextEdit extra selections.

Extra selections are painted over the document without editing it, so highlighting never shifts
positions, never touches the undo stack and never re-lays out a 1 MB document. (No
QSyntaxHighlighter: see tests/gui/test_trace_view_highlighter_pin.py for why that matters.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from PySide6.QtGui import QBrush, QTextCharFormat, QTextCursor, QTextDocument, QTextFormat
from PySide6.QtWidgets import QTextEdit

from annotator.gui.trace_view.styles import Styles

MAX_FIND_HIGHLIGHTS: Final = 1000
"""Matches painted at once, around the current one; the count still reports all. Every paint walks
every extra selection for every visible block: 5,000 cost ~200 ms a frame on a 1 MB trace."""


def _selection(
    doc: QTextDocument, start: int, end: int, fmt: QTextCharFormat
) -> QTextEdit.ExtraSelection:
    sel = QTextEdit.ExtraSelection()
    cursor = QTextCursor(doc)
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    sel.cursor = cursor
    sel.format = fmt
    return sel


def span_format(styles: Styles) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setBackground(QBrush(styles.span_bg))
    fmt.setProperty(QTextFormat.Property.FullWidthSelection, False)
    return fmt


def build(
    doc: QTextDocument,
    styles: Styles,
    spans: Iterable[tuple[int, int]],
    matches: list[tuple[int, int]],
    current: int,
) -> list[QTextEdit.ExtraSelection]:
    """Spans first, then find matches, then the current match on top."""
    out = [_selection(doc, a, b, span_format(styles)) for a, b in spans]
    if matches:
        fmt = QTextCharFormat()
        fmt.setBackground(QBrush(styles.find_bg))
        lo = 0
        if len(matches) > MAX_FIND_HIGHLIGHTS and current >= 0:
            lo = max(0, min(current - MAX_FIND_HIGHLIGHTS // 2, len(matches) - MAX_FIND_HIGHLIGHTS))
        for a, b in matches[lo : lo + MAX_FIND_HIGHLIGHTS]:
            out.append(_selection(doc, a, b, fmt))
        if 0 <= current < len(matches):
            cur = QTextCharFormat()
            cur.setBackground(QBrush(styles.current_bg))
            cur.setForeground(QBrush(styles.current_fg))
            a, b = matches[current]
            out.append(_selection(doc, a, b, cur))
    return out
