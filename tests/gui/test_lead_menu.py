"""The main window's Lead menu: shown to a lead of the open project only, opens the lead
screens, and pyqtgraph stays out of start-up."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from annotator.gui.lead.dashboard import DashboardWindow
from annotator.gui.lead.review import ReviewWindow
from annotator.services.projects import add_member
from annotator.store.open import open_database


def _members(url: str, **roles: str) -> None:
    db = open_database(url)
    try:
        for name, role in roles.items():
            add_member(db, "P", name, role)
    finally:
        db.dispose()


def test_menu_hidden_for_a_labeler(
    qtbot: object, project_db: str, open_window: Callable[..., object]
) -> None:
    _members(project_db, Lee="lead", Ada="labeler")
    window = open_window(project_db)
    qtbot.waitUntil(window.is_settled, timeout=10_000)  # type: ignore[attr-defined]
    menu = window.lead_menu  # type: ignore[attr-defined]
    assert not menu.is_lead and not menu.menuAction().isVisible()
    assert menu.open("dashboard") is None


def test_lead_opens_dashboard_and_review(
    qtbot: object, project_db: str, open_window: Callable[..., object]
) -> None:
    _members(project_db, Ada="lead")
    window = open_window(project_db)
    menu = window.lead_menu  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: menu.menuAction().isVisible(), timeout=10_000)  # type: ignore[attr-defined]
    titles = [a.text() for a in window.menuBar().actions()]  # type: ignore[attr-defined]
    assert "&Lead" in titles
    dashboard = menu.open("dashboard")
    assert isinstance(dashboard, DashboardWindow)
    qtbot.waitUntil(lambda: dashboard.data is not None, timeout=15_000)  # type: ignore[attr-defined]
    assert dashboard.data is not None and dashboard.data.progress.traces == 30
    assert menu.open("dashboard") is dashboard  # raised, not opened twice
    review = menu.open("review")
    assert isinstance(review, ReviewWindow)
    qtbot.waitUntil(lambda: review.is_settled() and review.schema is not None, timeout=15_000)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: review.status.text() == "0 items to review", timeout=15_000)  # type: ignore[attr-defined]
    qtbot.waitUntil(window.is_settled, timeout=10_000)  # type: ignore[attr-defined]


def test_pyqtgraph_is_not_imported_at_start_up() -> None:
    code = (
        "import sys; import annotator.gui.main_window, annotator.gui.lead.menu; "
        "print('pyqtgraph' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
