"""GUI test fixtures: a real SQLite database with synthetic traces, windows that are torn down
without leaking threads, and Qt warnings turned into failures."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn

GUI_DIR = Path(__file__).resolve().parent

# Harmless notices of the offscreen platform plugin, not of our code.
IGNORED_QT_MESSAGES = (
    r"This plugin does not support propagateSizeHints\(\)",
    r"This plugin does not support raise\(\)",
    r"This plugin does not support grabbing the keyboard",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/gui fails on a Qt warning (qt_log_level_fail = WARNING)."""
    for item in items:
        if GUI_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*IGNORED_QT_MESSAGES))


def make_trace(i: int, *, size: int = 600, account: str | None = None) -> Trace:
    """A synthetic trace of about ``size`` characters with a recognisable word per trace."""
    filler = f"Step {i}: check the figures against the ledger and explain the difference. "
    reasoning = (filler * (size // len(filler) + 1))[:size]
    created = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=i)
    return Trace(
        uid=f"synthetic-{i:07d}",
        turns=(
            Turn(role=Role.SYSTEM, blocks=(Block(kind=BlockKind.TEXT, text="You are helpful."),)),
            Turn(
                role=Role.USER,
                blocks=(Block(kind=BlockKind.TEXT, text=f"Question {i} about marker{i % 7}?"),),
            ),
            Turn(
                role=Role.ASSISTANT,
                blocks=(
                    Block(kind=BlockKind.REASONING, text=reasoning),
                    Block(kind=BlockKind.TEXT, text=f"The answer to question {i} is {i * 3}."),
                ),
            ),
        ),
        meta=TraceMeta(
            source_format="openai_chat",
            model="model-a" if i % 2 else "model-b",
            account_id=account or f"acct-{i % 5}",
            created_at=created,
        ),
    )


def add_traces(db: object, project: str, count: int, *, size: int = 600, start: int = 0) -> None:
    """Insert synthetic traces directly (fast) and index them for search."""
    from annotator.services.projects import project_info
    from annotator.store.search import index_pending
    from annotator.store.trace_writer import PendingTrace, write_traces

    info = project_info(db, project)  # type: ignore[arg-type]
    batch = 5000
    for lo in range(start, start + count, batch):
        items = [
            PendingTrace(make_trace(i, size=size))
            for i in range(lo, min(lo + batch, start + count))
        ]
        with db.engine.begin() as conn:  # type: ignore[attr-defined]
            write_traces(conn, info.id, None, items)
    index_pending(db)  # type: ignore[arg-type]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gui.sqlite3'}"


@pytest.fixture
def project_db(db_url: str) -> Iterator[str]:
    """A database with project "P" holding 30 synthetic traces; yields its URL."""
    from annotator.services.projects import create_project
    from annotator.store.open import open_database

    db = open_database(db_url)
    try:
        create_project(db, "P")
        add_traces(db, "P", 30)
    finally:
        db.dispose()
    yield db_url


@pytest.fixture
def open_window(qtbot: object, tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Open a MainWindow on a database URL with a labeler and project already chosen.

    Teardown closes every window (finishing its queued writes) and fails if a worker thread or
    a Python thread outlives it."""
    from annotator.gui.main_window import MainWindow
    from annotator.settings import Settings
    from annotator.store.open import open_database

    windows: list[MainWindow] = []
    threads_before = {t.ident for t in threading.enumerate()}

    def opener(
        url: str, *, project: str = "P", settings: Settings | None = None, wait: bool = True
    ) -> MainWindow:
        s = settings or Settings(annotator_name="Ada", last_project=project)
        s.idle_pause_seconds = 120
        window = MainWindow(s, tmp_path / "settings.json", lambda: open_database(url), ask=False)
        window.clock._is_active = lambda: True  # offscreen windows are never "active"
        qtbot.addWidget(window)  # type: ignore[attr-defined]
        window.show()
        window.start()
        windows.append(window)
        if wait:
            qtbot.waitUntil(lambda: window.current is not None, timeout=10_000)  # type: ignore[attr-defined]
            qtbot.waitUntil(window.is_settled, timeout=10_000)  # type: ignore[attr-defined]
        return window

    yield opener
    for window in windows:
        if window.db is not None or not window.is_settled():
            window.shutdown()
        assert window.bg.wait_workers(10_000)
        assert window.bg.pending == 0 or window._closing, "a background job never reported back"
    leaked = [
        t
        for t in threading.enumerate()
        if t.ident not in threads_before and not isinstance(t, threading._DummyThread)
    ]
    assert not leaked, f"threads left running: {leaked}"
