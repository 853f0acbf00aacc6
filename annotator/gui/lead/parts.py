"""Parts the lead screens share: read-only tables fitted to their rows (the window scrolls,
not the table), plain-text and bold labels, a frameless scroll area, and the number format.
Cells and labels are plain text, never HTML, whatever a labeler or tag is called."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)


def fmt(value: float | None, spec: str = ".2f") -> str:
    """``value`` in ``spec``, or an en dash when there is none."""
    return "–" if value is None else format(value, spec)


def fixed_table(columns: Sequence[str]) -> QTableWidget:
    """A read-only table of plain-text items that shows all its rows (the window scrolls)."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    return table


def fill(table: QTableWidget, rows: Sequence[Sequence[str]], *, text_columns: int = 1) -> None:
    """Plain-text cells (never HTML); numbers (the columns after the first ``text_columns``)
    right-aligned; height fitted to the rows."""
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col >= text_columns:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, col, item)
    height = sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(height + table.horizontalHeader().height() + 4)


def cells(table: QTableWidget) -> list[list[str]]:
    """The table's text, row by row (for tests and copying)."""
    out = []
    for r in range(table.rowCount()):
        row = []
        for c in range(table.columnCount()):
            item = table.item(r, c)
            row.append("" if item is None else item.text())
        out.append(row)
    return out


def plain_label(text: str = "") -> QLabel:
    """A label that shows its text as text (never rich text) and wraps it."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


def bold(label: QLabel, scale: float = 1.0) -> QLabel:
    """``label`` in bold (``scale`` times its font size)."""
    font = QFont(label.font())
    font.setBold(True)
    if scale != 1.0:
        font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    return label


def scrolled(body: QWidget) -> QScrollArea:
    """``body`` in a frameless scroll area that resizes it to its width."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(body)
    return scroll
