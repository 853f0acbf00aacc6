"""The window indexes, in the background, traces that search does not cover yet (an import
interrupted while indexing), and a search typed meanwhile is run again once they are in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from annotator.gui.search_catch_up import SearchCatchUp
from annotator.store.database import Database
from annotator.store.open import open_database
from annotator.store.search import reset_index, unindexed_count
from tests.gui.conftest import add_traces


def _unindexed(url: str) -> int:
    db = open_database(url)
    try:
        with db.session() as s:
            return unindexed_count(s)
    finally:
        db.dispose()


@pytest.fixture
def unindexed_db(project_db: str) -> str:
    """The 30-trace project with its search index emptied, as an interrupted import leaves it."""
    db = open_database(project_db)
    try:
        with db.session() as s:
            reset_index(s)
    finally:
        db.dispose()
    assert _unindexed(project_db) == 30
    return project_db


def test_search_catches_up_when_the_window_opens(
    qtbot: Any, unindexed_db: str, open_window: Any
) -> None:
    window = open_window(unindexed_db, wait=False)
    window.search.setText("marker3")  # typed before the index has it
    qtbot.waitUntil(
        lambda: "Search now covers 30 more traces" in window.statusBar().currentMessage(),
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5000)  # i % 7 == 3 in 0..29
    assert _unindexed(unindexed_db) == 0


@pytest.fixture
def big_backlog(unindexed_db: str) -> Iterator[Database]:
    db = open_database(unindexed_db)
    add_traces(db, "P", 3000, start=30)
    with db.session() as s:
        reset_index(s)
    yield db
    db.dispose()


def test_stopping_leaves_the_rest_for_later(qtbot: Any, big_backlog: Database) -> None:
    """Closing the window waits for the batch in progress only, and says nothing."""
    catch_up = SearchCatchUp()
    said: list[int] = []
    catch_up.finished.connect(said.append)
    catch_up.start(big_backlog)
    catch_up.stop()
    with big_backlog.session() as s:
        left = unindexed_count(s)
    assert left >= 3030 - 2 * 200, "it stopped after at most the batch in progress"
    qtbot.wait(50)
    assert said == []
    # The next start finishes the job and reports it.
    again = SearchCatchUp()
    with qtbot.waitSignal(again.finished, timeout=20_000) as signal:
        again.start(big_backlog)
    assert signal.args == [left]
    again.stop()
    with big_backlog.session() as s:
        assert unindexed_count(s) == 0
