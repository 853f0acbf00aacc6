"""Read-only tables of plain text for the lead screens, fitted to their rows (the window
scrolls, not the table), and the number format they share. Cells are QTableWidgetItems:
text, never HTML, whatever a labeler or tag is called."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


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
