"""The base of the lead's top-level screens (dashboard, agreement, review): a window of its
own over one project, acting as one lead, closed by Ctrl+W (Cmd+W) as any tool window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from annotator.gui.background import Background
from annotator.store.database import Database


class LeadWindow(QWidget):
    """Holds what every lead screen works with: the background runner, the database, the
    project and the lead whose role the services check."""

    def __init__(
        self,
        bg: Background,
        db: Database,
        project: str,
        *,
        lead: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self, self.close)
        self.bg = bg
        self.db = db
        self.project = project
        self.lead = lead
