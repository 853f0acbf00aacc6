"""The workstation's parts on their own: queue model, background runner, activity clock, keymap."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QThread

from annotator.gui.activity import ActivityClock
from annotator.gui.background import Background
from annotator.gui.keymap import GLOBAL_ACTIONS, KeyConflict, Keymap, schema_actions
from annotator.gui.queue_model import LOADING, PAGE, QueueModel
from annotator.resources import default_schema
from annotator.services.labeling import QueueRow


def row(i: int) -> QueueRow:
    return QueueRow(
        i, "todo", None, f"preview {i}", "m", "acct", datetime(2026, 1, 1, tzinfo=UTC), "x"
    )


def test_queue_model_passes_modeltester(qtmodeltester: Any) -> None:
    model = QueueModel()
    model.set_ids(range(1, 1001))
    model.fetch_page = lambda page, ids: model.page_loaded(
        model.generation, page, {i: row(i) for i in ids}
    )
    qtmodeltester.check(model)
    empty = QueueModel()
    qtmodeltester.check(empty)


def test_queue_model_pages_lazily(qtbot: Any) -> None:
    model = QueueModel()
    asked: list[tuple[int, list[int]]] = []
    model.fetch_page = lambda page, ids: asked.append((page, ids))
    model.set_ids(range(1_000_000))
    assert model.rowCount() == 1_000_000
    assert model.data(model.index(PAGE * 3 + 5, 2)) == LOADING
    assert model.data(model.index(PAGE * 3 + 6, 2)) == LOADING
    assert [p for p, _ in asked] == [3]  # one request per page, not per cell
    page, ids = asked[0]
    generation = model.generation
    with qtbot.waitSignal(model.dataChanged):
        model.page_loaded(generation, page, {i: row(i) for i in ids})
    assert model.data(model.index(PAGE * 3 + 5, 2)) == f"preview {PAGE * 3 + 5}"
    model.set_ids([1, 2])
    model.page_loaded(generation, page, {1: row(99)})  # stale page for the old list: dropped
    assert model.cached(1) is None


def test_background_delivers_results_and_errors_on_the_gui_thread(qtbot: Any) -> None:
    bg = Background()
    gui = QThread.currentThread()
    seen: list[tuple[str, object, bool]] = []
    worker_threads: list[int] = []

    def work() -> int:
        worker_threads.append(threading.get_ident())
        return 42

    def boom() -> None:
        raise ValueError("no")

    bg.run(work, lambda r: seen.append(("ok", r, QThread.currentThread() is gui)))
    bg.serial(boom, None, lambda e: seen.append(("err", str(e), QThread.currentThread() is gui)))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert sorted(seen) == [("err", "no", True), ("ok", 42, True)]
    assert worker_threads and worker_threads[0] != threading.get_ident()
    defaults: list[BaseException] = []
    bg.default_failure = defaults.append
    bg.run(boom)
    qtbot.waitUntil(lambda: len(defaults) == 1, timeout=5000)
    assert bg.shutdown(5000)
    assert bg.is_idle()


def test_serial_jobs_keep_their_order(qtbot: Any) -> None:
    bg = Background()
    order: list[int] = []
    for i in range(20):
        bg.serial(lambda i=i: order.append(i))
    qtbot.waitUntil(lambda: bg.pending == 0, timeout=5000)
    assert order == list(range(20))
    assert bg.shutdown(5000)


def test_activity_clock_pauses_when_idle_or_inactive(qtbot: Any) -> None:
    now = [0.0]
    active = [True]
    clock = ActivityClock(idle_seconds=120, clock=lambda: now[0], is_active=lambda: active[0])
    clock.update()
    now[0] = 30
    assert clock.take() == pytest.approx(30)
    now[0] = 400  # no input since t=0: only the first 120 s after the last input count
    clock.update()
    assert clock.take() == pytest.approx(90)
    assert not clock.counting
    clock.touch()
    now[0] = 410
    active[0] = False
    clock.update()
    now[0] = 900
    active[0] = True
    clock.touch()
    now[0] = 905
    assert clock.take() == pytest.approx(15)
    clock.start_item()
    assert clock.item_seconds == 0


def test_keymap_conflicts_and_schema_keys() -> None:
    schema = default_schema()
    keymap = Keymap((*GLOBAL_ACTIONS, *schema_actions(schema)))
    singles = {k for spec in GLOBAL_ACTIONS for k in spec.defaults}
    tag_keys = [keymap.keys(f"tag:{t.name}") for t in (*schema.evidence_tags, *schema.counter_tags)]
    assert all(keys and keys[0] not in singles for keys in tag_keys)
    assert keymap.keys("verdict:legitimate") == ("1",)
    with pytest.raises(KeyConflict, match="already used"):
        keymap.assign("skip", ["J"])
    keymap.assign("skip", ["Ctrl+K"])
    restored = Keymap(keymap.specs.values(), keymap.overrides())
    assert restored.keys("skip") == ("Ctrl+K",)
    assert restored.owner("S") is None


def test_queue_row_cache_is_bounded() -> None:
    from annotator.gui.queue_model import MAX_PAGES

    model = QueueModel()
    model.fetch_page = lambda page, ids: model.page_loaded(
        model.generation, page, {i: row(i) for i in ids}
    )
    model.set_ids(range(1_000_000))
    for page in range(MAX_PAGES + 40):
        model.data(model.index(page * PAGE, 0))
    assert len(model._rows) == MAX_PAGES * PAGE
    assert model.cached(0) is None  # the oldest page was evicted ...
    assert model.data(model.index(0, 2)) == LOADING  # ... and is fetched again on demand
    assert model.data(model.index(0, 2)) == "preview 0"


def test_callbacks_of_a_deleted_context_are_dropped(qtbot: Any) -> None:
    from PySide6.QtWidgets import QLabel

    bg = Background()
    label = QLabel()
    release = threading.Event()
    called: list[object] = []
    bg.run(release.wait, lambda _r: called.append(label.text()), context=label)
    label.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(label), timeout=5000)
    release.set()
    qtbot.waitUntil(lambda: bg.pending == 0, timeout=5000)
    assert called == []
    assert bg.shutdown(5000)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_both_themes_are_readable(qapp: Any, theme: str) -> None:
    from PySide6.QtGui import QColor, QPalette

    from annotator.gui.theme import apply_theme

    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    def contrast(a: QColor, b: QColor) -> float:
        hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    previous = qapp.palette()
    try:
        dark = apply_theme(qapp, theme)
        assert dark == (theme == "dark")
        p = qapp.palette()
        role = QPalette.ColorRole
        assert contrast(p.color(role.Text), p.color(role.Base)) >= 7  # WCAG AAA body text
        assert contrast(p.color(role.WindowText), p.color(role.Window)) >= 7
        assert contrast(p.color(role.HighlightedText), p.color(role.Highlight)) >= 4.5
        assert contrast(p.color(role.ButtonText), p.color(role.Button)) >= 7
    finally:
        qapp.setPalette(previous)
        qapp.setStyleSheet("")
