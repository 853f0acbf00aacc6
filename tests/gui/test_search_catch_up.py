"""The window indexes, in the background, traces that search does not cover yet (an import
interrupted while indexing), and a search typed meanwhile is run again once they are in."""

from __future__ import annotations

from typing import Any

from annotator.store.open import open_database
from annotator.store.search import reset_index, unindexed_count


def _unindexed(url: str) -> int:
    db = open_database(url)
    try:
        with db.session() as s:
            return unindexed_count(s)
    finally:
        db.dispose()


def test_search_catches_up_when_the_window_opens(
    qtbot: Any, project_db: str, open_window: Any
) -> None:
    db = open_database(project_db)
    with db.session() as s:
        reset_index(s)
    db.dispose()
    assert _unindexed(project_db) == 30
    window = open_window(project_db, wait=False)
    window.search.setText("marker3")  # typed before the index has it
    qtbot.waitUntil(
        lambda: "Search now covers 30 more traces" in window.statusBar().currentMessage(),
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5000)  # i % 7 == 3 in 0..29
    assert _unindexed(project_db) == 0


def test_closing_the_window_stops_the_catch_up(
    qtbot: Any, project_db: str, open_window: Any
) -> None:
    """Nothing to wait for but the batch in progress; the leak guard checks the thread ended."""
    db = open_database(project_db)
    with db.session() as s:
        reset_index(s)
    db.dispose()
    window = open_window(project_db, wait=False)
    window.close()
    assert not window.search_catch_up._thread or not window.search_catch_up._thread.is_alive()
