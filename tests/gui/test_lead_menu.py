"""The main window's Lead menu: shown to a lead of the open project only, opens the lead
screens, and pyqtgraph stays out of start-up."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtGui import QKeySequence

from annotator.gui.lead.agreement_window import AgreementWindow
from annotator.gui.lead.dashboard import DashboardWindow
from annotator.gui.lead.review import ReviewWindow
from annotator.services.projects import add_member
from annotator.store.open import open_database
from tests.gui.lead_data import LEAD, build_team, open_db


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
    assert "Le&ad" in titles
    # Each menu has its own Alt key (Label already takes L).
    keys = [t[t.index("&") + 1].lower() for t in titles if "&" in t]
    assert len(keys) == len(set(keys)), titles
    dashboard = menu.open("dashboard")
    assert isinstance(dashboard, DashboardWindow)
    qtbot.waitUntil(lambda: dashboard.data is not None, timeout=15_000)  # type: ignore[attr-defined]
    assert dashboard.data is not None and dashboard.data.progress.traces == 30
    assert menu.open("dashboard") is dashboard  # raised, not opened twice
    agreement = menu.open("agreement")
    assert isinstance(agreement, AgreementWindow)
    qtbot.waitUntil(lambda: agreement.report is not None, timeout=15_000)  # type: ignore[attr-defined]
    assert agreement.report is not None and agreement.report.bootstrap == 1000
    review = menu.open("review")
    assert isinstance(review, ReviewWindow)
    qtbot.waitUntil(lambda: review.is_settled() and review.schema is not None, timeout=15_000)  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: review.status.text() == "0 items to review", timeout=15_000)  # type: ignore[attr-defined]
    qtbot.waitUntil(window.is_settled, timeout=10_000)  # type: ignore[attr-defined]


def test_a_closed_lead_screen_is_deleted_and_reopened_fresh(
    qtbot: object, project_db: str, open_window: Callable[..., object]
) -> None:
    """Closing a screen frees it (its own callbacks used to keep it, its charts and its data
    alive as long as the main window: one leak per reopen)."""
    _members(project_db, Ada="lead")
    window = open_window(project_db)
    menu = window.lead_menu  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: menu.menuAction().isVisible(), timeout=10_000)  # type: ignore[attr-defined]

    def loaded(screen: Any) -> bool:
        return bool(screen.is_settled() if isinstance(screen, ReviewWindow) else screen.data)

    for kind in ("dashboard", "review"):
        first = menu.open(kind)
        assert first is not None
        qtbot.waitUntil(lambda screen=first: loaded(screen), timeout=15_000)  # type: ignore[attr-defined]
        gone = weakref.ref(first)
        # Closed with Ctrl+W (Cmd+W), as any tool window.
        first.activateWindow()
        qtbot.waitUntil(first.isActiveWindow, timeout=5_000)  # type: ignore[attr-defined]
        qtbot.keySequence(first, QKeySequence.StandardKey.Close)  # type: ignore[attr-defined]
        del first
        qtbot.waitUntil(lambda k=kind: k not in menu.windows, timeout=5_000)  # type: ignore[attr-defined]
        gc.collect()
        assert gone() is None
        second = menu.open(kind)
        assert second is not None and shiboken6.isValid(second)
        assert menu.windows[kind] is second
        second.close()
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


def test_a_lead_s_dashboard_tables_are_warmed_up_in_the_background(
    qtbot: object,
    tmp_path: Path,
    open_window: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lead opens the project: the label table is read and its snapshot written on a thread
    of its own; the dashboard then opens without reading the label rows again."""
    from annotator.gui.lead import menu as lead_menu
    from annotator.services import label_snapshot, label_table
    from annotator.settings import Settings

    monkeypatch.setattr(lead_menu, "WARM_UP_DELAY_MS", 0)
    path = tmp_path / "lead.sqlite3"
    team = open_db(path)
    try:
        build_team(team)
    finally:
        team.dispose()
    full_reads: list[int] = []
    real_full = label_table._full

    def counted(*args: Any) -> Any:
        full_reads.append(1)
        return real_full(*args)

    monkeypatch.setattr(label_table, "_full", counted)
    label_table.clear_cache()
    cache = tmp_path / "cache"
    label_snapshot.use_snapshots(cache)
    try:
        window = open_window(
            f"sqlite:///{path}",
            settings=Settings(annotator_name=LEAD, last_project="P"),
            wait=False,  # the lead has no queue of her own
        )
        menu = window.lead_menu  # type: ignore[attr-defined]
        qtbot.waitUntil(menu.warm_up.done.is_set, timeout=15_000)  # type: ignore[attr-defined]
        assert full_reads == [1]
        assert any(cache.rglob("*")), "the snapshot file is written"
        dashboard = menu.open("dashboard")
        assert isinstance(dashboard, DashboardWindow)
        qtbot.waitUntil(lambda: dashboard.data is not None, timeout=15_000)  # type: ignore[attr-defined]
        assert dashboard.data is not None and dashboard.data.progress.traces == 30
        assert full_reads == [1], "the dashboard found the table ready"
        qtbot.waitUntil(window.is_settled, timeout=10_000)  # type: ignore[attr-defined]
    finally:
        label_snapshot.use_snapshots(None)
        label_table.clear_cache()


def test_a_labeler_gets_no_warm_up(
    qtbot: object,
    project_db: str,
    open_window: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from annotator.gui.lead import menu as lead_menu

    monkeypatch.setattr(lead_menu, "WARM_UP_DELAY_MS", 0)
    _members(project_db, Lee="lead", Ada="labeler")
    window = open_window(project_db)
    qtbot.waitUntil(window.is_settled, timeout=10_000)  # type: ignore[attr-defined]
    qtbot.wait(200)  # type: ignore[attr-defined]
    menu = window.lead_menu  # type: ignore[attr-defined]
    assert not menu.warm_up.running and not menu.warm_up.done.is_set()
