"""The main window's Lead menu: Dashboard, Agreement, Review, Assign work, Team. Shown only
while the current annotator is a lead of the open project (checked off the GUI thread each time
a project opens). The screens are imported when first used, never at start-up (pyqtgraph is
slow to import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

from annotator.gui.lead.warm_up import DashboardWarmUp
from annotator.services.review import MemberInfo, list_members

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow


WARM_UP_DELAY_MS = 1000
"""The dashboard warm-up starts this long after a lead's project opened (its first trace and
queue load first)."""
WARM_UP_WAIT_S = 5.0
"""Closing the window waits this long at most for a warm-up in progress."""


class LeadMenu(QMenu):
    def __init__(self, window: MainWindow) -> None:
        super().__init__("Le&ad", window)
        self.window_ = window
        self.windows: dict[str, QWidget] = {}
        """Open lead windows of the current project, by kind (one of each, raised on reuse)."""
        self.is_lead = False
        self.warm_up = DashboardWarmUp()
        for kind, title in (
            ("dashboard", "&Dashboard"),
            ("agreement", "A&greement…"),
            ("review", "&Review and adjudicate…"),
            ("assign", "&Assign work…"),
            ("members", "&Team…"),
        ):
            action = QAction(title, self)
            action.triggered.connect(lambda _c=False, k=kind: self.open(k))
            self.addAction(action)
        self.menuAction().setVisible(False)
        window.projectOpened.connect(self.check)

    def _who(self) -> tuple[str, str] | None:
        service = self.window_.service
        if service is None or self.window_.db is None:
            return None
        return service.project.name, service.annotator_name

    def check(self, *_: object) -> None:
        """Show the menu if the annotator leads the project just opened."""
        self.menuAction().setVisible(False)
        self.is_lead = False
        for widget in list(self.windows.values()):
            if shiboken6.isValid(widget):
                widget.close()
        self.windows.clear()
        who = self._who()
        db = self.window_.db
        if who is None or db is None:
            return
        project, name = who

        def seen(members: list[MemberInfo]) -> None:
            if self._who() != who:
                return  # another project or person meanwhile
            self.is_lead = any(m.name == name and m.role == "lead" for m in members)
            self.menuAction().setVisible(self.is_lead)
            if self.is_lead:
                QTimer.singleShot(WARM_UP_DELAY_MS, self, lambda: self._warm(who))

        self.window_.bg.run(lambda: list_members(db, project), seen, lambda _e: None, context=self)

    def stop(self) -> None:
        """The window is closing: no new warm-up, and wait a little for one in progress."""
        self.is_lead = False
        self.warm_up.stop(WARM_UP_WAIT_S)

    def _warm(self, who: tuple[str, str]) -> None:
        """Warm the dashboard's tables up for the lead, unless the window moved on."""
        db = self.window_.db
        if db is None or self._who() != who or not self.is_lead:
            return
        project, name = who
        self.warm_up.start(db, project, name)

    def open(self, kind: str) -> QWidget | None:
        """Open (or raise) one lead screen for the current project."""
        who = self._who()
        db = self.window_.db
        if who is None or db is None or not self.is_lead:
            return None
        project, name = who
        existing = self.windows.get(kind)
        if existing is not None and shiboken6.isValid(existing) and existing.isVisible():
            existing.raise_()
            existing.activateWindow()
            return existing
        bg, parent = self.window_.bg, self.window_
        widget: QWidget
        if kind == "dashboard":
            from annotator.gui.lead.dashboard import DashboardWindow

            widget = DashboardWindow(bg, db, project, lead=name, parent=parent)
        elif kind == "agreement":
            from annotator.gui.lead.agreement_window import AgreementWindow

            widget = AgreementWindow(bg, db, project, lead=name, parent=parent)
        elif kind == "review":
            from annotator.gui.lead.review import ReviewWindow

            widget = ReviewWindow(bg, db, project, lead=name, parent=parent)
        elif kind == "assign":
            from annotator.gui.lead.assign_dialog import AssignDialog

            widget = AssignDialog(bg, db, project, lead=name, parent=parent)
            widget.assigned.connect(lambda _r: self.window_.reload_queue())
        else:
            from annotator.gui.lead.members_dialog import MembersDialog

            widget = MembersDialog(bg, db, project, lead=name, parent=parent)
            widget.changed.connect(lambda _m: self.check())
            widget.queues_changed.connect(lambda _r: self.window_.reload_queue())
        # Deleted when closed: a closed screen is never shown again (the menu opens a new
        # one), and its callbacks connected to its own widgets would otherwise keep it, its
        # charts and its data alive for as long as the main window (one leak per reopen).
        widget.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        widget_id = id(widget)
        widget.destroyed.connect(lambda _o=None: self._forget(kind, widget_id))
        self.windows[kind] = widget
        widget.show()
        return widget

    def _forget(self, kind: str, widget_id: int) -> None:
        """A screen was deleted: drop it unless another one of its kind replaced it."""
        if id(self.windows.get(kind)) == widget_id:
            del self.windows[kind]


def install_lead_menu(window: MainWindow) -> LeadMenu:
    """Add the Lead menu to ``window``'s menu bar, before Help when there is one."""
    menu = LeadMenu(window)
    bar: QMenuBar = window.menuBar()
    help_action = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    if help_action is not None:
        bar.insertMenu(help_action, menu)
    else:
        bar.addMenu(menu)
    return menu
