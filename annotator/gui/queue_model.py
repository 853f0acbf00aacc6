"""The queue table: a model over a list of trace ids with a lazy, paged row cache.

The model holds ids only (a 1M-row queue is a list of ints). Rows are fetched a page at a time
in the background when the view first asks for them; until a page arrives its cells show "…".
A QTableView over this model shows a million rows in milliseconds (a QListView takes seconds).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

PAGE = 200
MAX_PAGES = 60
"""Pages kept in the row cache (12,000 rows); the least recently loaded go first, so scrolling
through a million rows neither grows memory nor makes the garbage collector pause."""
LOADING = "…"
COLUMNS = ("Status", "Verdict", "Preview", "Model", "Account")
STATUS_TEXT = {
    "todo": "○ to do",
    "draft": "◐ draft",
    "done": "● done",
    "skipped": "↷ skipped",
    "flagged": "⚑ flagged",
}
STATUS_COLOURS = {
    "todo": None,
    "draft": QColor("#c98a00"),
    "done": QColor("#2e9d4f"),
    "skipped": QColor("#8a8a8a"),
    "flagged": QColor("#d0453a"),
}

AnyIndex = QModelIndex | QPersistentModelIndex
PageFetcher = Callable[[int, list[int]], None]
"""Called with (page number, ids of that page); must later call ``page_loaded``."""


class QueueModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._ids: list[int] = []
        self._rows: dict[int, Any] = {}
        self._requested: set[int] = set()
        self._loaded: OrderedDict[int, list[int]] = OrderedDict()
        self._generation = 0
        self.fetch_page: PageFetcher | None = None
        self.verdict_titles: dict[str, str] = {}

    # -- content -------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Bumped on every reset so a page for an old id list is dropped."""
        return self._generation

    def set_ids(self, ids: Sequence[int]) -> None:
        self.beginResetModel()
        self._ids = list(ids)
        self._rows.clear()
        self._requested.clear()
        self._loaded.clear()
        self._generation += 1
        self.endResetModel()

    def ids(self) -> list[int]:
        return self._ids

    def id_at(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, trace_id: int) -> int | None:
        try:
            return self._ids.index(trace_id)
        except ValueError:
            return None

    def page_ids(self, page: int) -> list[int]:
        return self._ids[page * PAGE : (page + 1) * PAGE]

    def page_loaded(self, generation: int, page: int, rows: dict[int, Any]) -> None:
        """Store a fetched page (ignored if the id list changed meanwhile)."""
        if generation != self._generation:
            return
        self._rows.update(rows)
        self._loaded[page] = list(rows)
        self._loaded.move_to_end(page)
        while len(self._loaded) > MAX_PAGES:
            old_page, old_ids = self._loaded.popitem(last=False)
            for trace_id in old_ids:
                self._rows.pop(trace_id, None)
            self._requested.discard(old_page)
        first = page * PAGE
        last = min(first + PAGE, len(self._ids)) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))

    def page_failed(self, generation: int, page: int) -> None:
        """Allow a failed page to be asked for again."""
        if generation == self._generation:
            self._requested.discard(page)

    def invalidate(self, trace_ids: Sequence[int]) -> None:
        """Forget cached rows (after a submit changed their status) and refetch their pages."""
        for trace_id in trace_ids:
            self._rows.pop(trace_id, None)
            row = self.row_of(trace_id)
            if row is not None:
                self._requested.discard(row // PAGE)
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def update_row(self, trace_id: int, row_data: Any) -> None:
        self._rows[trace_id] = row_data
        row = self.row_of(trace_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def cached(self, trace_id: int) -> Any:
        return self._rows.get(trace_id)

    # -- Qt model interface ------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            return None
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return section + 1 if 0 <= section < len(self._ids) else None
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        trace_id = self._ids[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return trace_id
        if role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.ForegroundRole,
        ):
            return None
        row = self._rows.get(trace_id)
        if row is None:
            self._request(index.row() // PAGE)
            return LOADING if role == Qt.ItemDataRole.DisplayRole else None
        column = index.column()
        if role == Qt.ItemDataRole.ForegroundRole:
            if column != 0:
                return None
            colour = STATUS_COLOURS.get(row.status)
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 2:
                return row.preview or None
            return None
        if column == 0:
            return STATUS_TEXT.get(row.status, row.status)
        if column == 1:
            return self.verdict_titles.get(row.verdict or "", row.verdict or "")
        if column == 2:
            return " ".join((row.preview or "").split())
        if column == 3:
            return row.model or ""
        return row.account_id or ""

    def _request(self, page: int) -> None:
        if page in self._requested or self.fetch_page is None:
            return
        self._requested.add(page)
        self.fetch_page(page, self.page_ids(page))
