"""Detection assist in the workstation, on the demo project with detection run: the Context tab
(cluster, session, account, timeline, siblings, group labels), the suggestion box (accept key,
passages, hide per project) and Tools > Run detection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget
from sqlalchemy import select

from annotator.resources import demo_dir
from annotator.settings import Settings

DEMO = "Demo"


def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    target = QApplication.focusWidget()
    assert target is not None
    QTest.keyClick(target, key, modifier)


def _open_db(url: str) -> Any:
    from annotator.store.open import open_database

    return open_database(url, backup_dir=None)


def _demo_db(url: str, *, lead: str | None = None) -> None:
    from annotator.services.demo import ensure_demo_project
    from annotator.services.detection.suggest import run_detection
    from annotator.services.projects import add_member

    db = _open_db(url)
    try:
        info = ensure_demo_project(db)
        run_detection(db, info.id)  # again: idempotent, and the demo may stop running it
        if lead:
            add_member(db, DEMO, lead, role="lead")
    finally:
        db.dispose()


@pytest.fixture
def demo_url(db_url: str) -> Iterator[str]:
    """The demo project imported, clustered and with suggestions."""
    _demo_db(db_url)
    yield db_url


def group_ids(url: str, group: str) -> list[int]:
    """Trace ids of one group of the demo's answer key (group A: one template, 8 accounts)."""
    from annotator.store.models import TraceRow

    key = json.loads((demo_dir() / "answer_key.json").read_text(encoding="utf-8"))
    uids = [uid for uid, v in key.items() if v["group"] == group]
    db = _open_db(url)
    try:
        with db.session() as session:
            return sorted(session.scalars(select(TraceRow.id).where(TraceRow.uid.in_(uids))))
    finally:
        db.dispose()


def label_row(url: str, trace_id: int) -> Any:
    from annotator.store.models import LabelRow

    db = _open_db(url)
    try:
        with db.session() as session:
            row = session.scalar(select(LabelRow).where(LabelRow.trace_id == trace_id))
            if row is None:
                return None
            return (row.status, row.verdict, json.loads(row.label_json), row.with_suggestions)
    finally:
        db.dispose()


def open_demo(open_window: Any, url: str, tmp_path: Path) -> Any:
    return open_window(
        url, project=DEMO, settings=Settings(annotator_name="Ada", last_project=DEMO)
    )


def show(qtbot: Any, window: Any, trace_id: int) -> None:
    window.go_to(trace_id)
    qtbot.waitUntil(
        lambda: window.current is not None and window.current.trace_id == trace_id, timeout=5000
    )


def wait_suggestion(qtbot: Any, window: Any, trace_id: int) -> Any:
    box = window.detection.box
    qtbot.waitUntil(
        lambda: box.suggestion is not None and box.suggestion.trace_id == trace_id, timeout=5000
    )
    return box.suggestion


def wait_context(qtbot: Any, window: Any, trace_id: int) -> Any:
    panel = window.detection.panel
    qtbot.waitUntil(
        lambda: panel.data is not None and panel.data.context.trace_id == trace_id, timeout=5000
    )
    return panel


def double_click(widget: QWidget, pos: QPoint) -> None:
    """What a real double-click delivers: press, release, press, double-click, release (QTest's
    mouseDClick skips the releases, and an item view then ignores the double-click)."""
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)
    QTest.qWait(50)
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, pos=pos)
    event = QMouseEvent(
        QEvent.Type.MouseButtonDblClick,
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        Qt.MouseButton.LeftButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=pos)


def test_context_tab_shows_the_campaign_and_opens_a_sibling(
    qtbot: Any, demo_url: str, open_window: Any, tmp_path: Path
) -> None:
    window = open_demo(open_window, demo_url, tmp_path)
    first, *others = group_ids(demo_url, "A")
    show(qtbot, window, first)
    wait_suggestion(qtbot, window, first)
    qtbot.waitUntil(window.is_settled, timeout=5000)
    # Nothing is loaded or drawn for a tab nobody looks at (pyqtgraph waits too).
    assert window.detection.panel.data is None
    assert window.detection.panel.sections["cluster"].timeline.graphics is None
    window.tabs.setCurrentWidget(window.detection.panel)
    panel = wait_context(qtbot, window, first)
    cluster = panel.sections["cluster"]
    assert cluster.isVisible()
    assert cluster.info.size == 12 and cluster.info.n_accounts == 8
    assert "8 accounts" in cluster.stats.text() and "machine-regular" in cluster.stats.text()
    assert cluster.template.isVisible() and cluster.template.text().startswith("Template: ")
    assert cluster.siblings.topLevelItemCount() == 11
    sibling_ids = {
        cluster.siblings.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole + 1) for i in range(11)
    }
    assert sibling_ids == set(others)
    assert cluster.timeline.points == 12  # one point per request of the cluster
    assert cluster.timeline.gap_bars == 1  # every gap is 90 s: one bar
    assert len(cluster.timeline.scatter.data) == 12
    assert panel.sections["account"].info.n_accounts == 1
    assert panel.sections["session"].isVisible()

    item = cluster.siblings.topLevelItem(2)
    target = item.data(0, Qt.ItemDataRole.UserRole + 1)
    rect = cluster.siblings.visualItemRect(item)
    viewport = cluster.siblings.viewport()
    opened: list[int] = []
    panel.openTrace.connect(opened.append)
    double_click(viewport, rect.center())
    qtbot.waitUntil(
        lambda: window.current is not None and window.current.trace_id == target, timeout=5000
    )
    assert opened == [target]  # once per double-click
    wait_context(qtbot, window, target)  # the tab follows the trace now shown
    assert first in {
        cluster.siblings.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole + 1)
        for i in range(cluster.siblings.topLevelItemCount())
    }
    qtbot.waitUntil(window.is_settled, timeout=5000)


def test_suggestion_passages_accept_key_and_submit_with_suggestions(
    qtbot: Any, demo_url: str, open_window: Any, tmp_path: Path
) -> None:
    window = open_demo(open_window, demo_url, tmp_path)
    trace_id = group_ids(demo_url, "A")[0]
    show(qtbot, window, trace_id)
    box = window.detection.box
    suggestion = wait_suggestion(qtbot, window, trace_id)
    assert box.isVisible() and box.accept_button.text() == "Accept (Y)"
    assert suggestion.verdict == "suspected_distillation"
    assert "TEMPLATE_AT_SCALE" in suggestion.tags and "REASONING_ELICIT" in suggestion.tags
    shown_tags = [box.hits.topLevelItem(i).text(0) for i in range(box.hits.topLevelItemCount())]
    assert shown_tags == list(suggestion.tags)
    passages = box.passage_items()
    assert passages, "trace signals carry their matched passage"
    # Nothing was pre-filled: the panel is still empty.
    assert window.panel.label().verdict is None and window.panel.label().tags == ()

    # Clicking a passage selects it in the trace.
    item = passages[0]
    span = item.data(0, Qt.ItemDataRole.UserRole + 1)
    assert span.text and span.text[:20] in item.text(0)
    rect = box.hits.visualItemRect(item)
    QTest.mouseClick(box.hits.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    selected = window.trace_view.selected_span()
    assert selected is not None
    assert (selected.turn, selected.block, selected.start, selected.end) == (
        span.turn,
        span.block,
        span.start,
        span.end,
    )

    window.trace_view.setFocus()
    press(Qt.Key.Key_Y)  # accept: verdict and tags copied, nothing submitted
    label = window.panel.label()
    assert label.verdict == "suspected_distillation"
    assert set(suggestion.tags) <= set(label.tags) | set(label.counter_tags)
    qtbot.waitUntil(lambda: not window._dirty and window.is_settled(), timeout=5000)
    row = label_row(demo_url, trace_id)
    assert row is None or row[0] == "draft"
    assert window.current.trace_id == trace_id

    window.trace_view.setFocus()
    press(Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)  # confidence 3
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current is not None and window.current.trace_id != trace_id)
    qtbot.waitUntil(window.is_settled, timeout=5000)
    status, verdict, stored, with_suggestions = label_row(demo_url, trace_id)
    assert (status, verdict, with_suggestions) == ("done", "suspected_distillation", True)
    assert set(suggestion.tags) <= set(stored["tags"]) | set(stored["counter_tags"])


def test_hide_suggestions_per_project(
    qtbot: Any, demo_url: str, open_window: Any, tmp_path: Path
) -> None:
    window = open_demo(open_window, demo_url, tmp_path)
    a, b = group_ids(demo_url, "A")[:2]
    show(qtbot, window, a)
    wait_suggestion(qtbot, window, a)
    window.detection.hide_action.trigger()
    box = window.detection.box
    assert not box.isVisible()
    assert window.settings.hidden_suggestions == [DEMO]
    stored = Settings.model_validate_json((tmp_path / "settings.json").read_bytes())
    assert stored.hidden_suggestions == [DEMO]

    show(qtbot, window, b)
    qtbot.waitUntil(window.is_settled, timeout=5000)
    QTest.qWait(200)  # past the load delay: a hidden box queries nothing
    assert not box.isVisible() and box.suggestion is None
    window.trace_view.setFocus()
    press(Qt.Key.Key_Y)  # nothing on screen to accept
    assert window.panel.label().verdict is None
    press(Qt.Key.Key_1)  # legitimate
    press(Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current is not None and window.current.trace_id != b)
    qtbot.waitUntil(window.is_settled, timeout=5000)
    assert label_row(demo_url, b)[3] is False  # labeled without suggestions

    window.detection.hide_action.trigger()  # back on
    assert box.isVisible() and window.settings.hidden_suggestions == []
    current = window.current.trace_id
    wait_suggestion(qtbot, window, current)


def test_run_detection_from_the_menu(
    qtbot: Any, db_url: str, open_window: Any, tmp_path: Path
) -> None:
    from annotator.services.demo import demo_files
    from annotator.services.importing import import_files
    from annotator.services.projects import create_project

    db = _open_db(db_url)
    try:  # the demo's traces, imported without detection (the demo project comes with it)
        create_project(db, "Plain")
        import_files(db, "Plain", demo_files(), reject_dir=tmp_path / "rejects")
    finally:
        db.dispose()
    window = open_window(
        db_url, project="Plain", settings=Settings(annotator_name="Ada", last_project="Plain")
    )
    trace_id = group_ids(db_url, "A")[0]
    show(qtbot, window, trace_id)
    box = window.detection.box
    qtbot.waitUntil(lambda: "Run detection" in box.summary.text(), timeout=5000)
    assert box.suggestion is None and not box.accept_button.isEnabled()
    window.detection.run_action.trigger()
    assert window.detection.running and not window.detection.run_action.isEnabled()
    dialog = window.findChild(QProgressDialog, "detectionProgress")
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: not window.detection.running, timeout=20_000)
    assert "Detection done: 60 trace(s) clustered" in window.statusBar().currentMessage()
    assert "60 suggestion(s)" in window.statusBar().currentMessage()
    assert wait_suggestion(qtbot, window, trace_id).verdict == "suspected_distillation"
    qtbot.waitUntil(window.is_settled, timeout=5000)

    # After an import only what is new is clustered, quietly (status bar, no dialog).
    window.detection.after_import()
    assert window.detection.running
    assert all(not d.isVisible() for d in window.findChildren(QProgressDialog))
    qtbot.waitUntil(lambda: not window.detection.running, timeout=20_000)
    assert "Detection done: 0 trace(s) clustered" in window.statusBar().currentMessage()
    qtbot.waitUntil(window.is_settled, timeout=5000)


def test_label_a_group_and_apply_it_as_lead(
    qtbot: Any, db_url: str, open_window: Any, tmp_path: Path
) -> None:
    from annotator.gui.group_panel import GroupLabelDialog

    _demo_db(db_url, lead="Ada")
    window = open_demo(open_window, db_url, tmp_path)
    qtbot.waitUntil(lambda: window.lead_menu.is_lead, timeout=5000)
    first, second, *_ = group_ids(db_url, "A")
    show(qtbot, window, first)
    window.tabs.setCurrentWidget(window.detection.panel)
    panel = wait_context(qtbot, window, first)
    assert not panel.labels_box.isVisible()

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, GroupLabelDialog)
        dialog.accept()  # empty: refused, the problems are shown
        assert dialog.isVisible() and dialog.problems.isVisible()
        dialog._verdict_buttons["suspected_distillation"].setChecked(True)
        dialog.confidence.button(3).setChecked(True)
        dialog.tag_boxes["TEMPLATE_AT_SCALE"].setChecked(True)
        dialog.tag_boxes["ACCOUNT_COORDINATION"].setChecked(True)
        dialog.rationale.setPlainText("one template, eight accounts, 90 s apart")
        dialog.accept()

    QTimer.singleShot(0, fill)
    panel.sections["cluster"].label_button.click()
    qtbot.waitUntil(lambda: panel.labels_box.isVisible(), timeout=5000)
    assert panel.label_list.count() == 1
    assert "TEMPLATE_AT_SCALE" in panel.label_list.item(0).text()
    assert panel.apply_button.isVisible() and panel.apply_button.isEnabled()
    panel.apply_button.click()
    qtbot.waitUntil(lambda: "applied to 12" in window.statusBar().currentMessage(), timeout=5000)
    qtbot.waitUntil(lambda: panel.label_list.count() == 2, timeout=5000)
    assert panel.label_list.item(1).text().startswith("Applied to this trace by Ada")
    # The members show the group label as context; no person's label was written.
    show(qtbot, window, second)
    wait_context(qtbot, window, second)
    assert panel.label_list.count() == 2
    assert label_row(db_url, second) is None
    qtbot.waitUntil(window.is_settled, timeout=5000)


def test_accept_key_is_remappable_and_conflict_checked(
    qtbot: Any, demo_url: str, open_window: Any, tmp_path: Path
) -> None:
    from annotator.gui.keymap import KeyConflict

    window = open_demo(open_window, demo_url, tmp_path)
    trace_id = group_ids(demo_url, "A")[0]
    show(qtbot, window, trace_id)
    wait_suggestion(qtbot, window, trace_id)
    keymap = window.keymap
    with pytest.raises(KeyConflict):
        keymap.assign("accept_suggestion", ["T"])  # TEMPLATE_AT_SCALE's key
    keymap.assign("accept_suggestion", ["W"])
    window.apply_keymap(keymap)
    assert window.detection.box.accept_button.text() == "Accept (W)"
    assert window.settings.keymap["accept_suggestion"] == "W"
    window.trace_view.setFocus()
    press(Qt.Key.Key_Y)  # no longer bound
    assert window.panel.label().verdict is None
    press(Qt.Key.Key_W)
    assert window.panel.label().verdict == "suspected_distillation"
    qtbot.waitUntil(lambda: not window._dirty and window.is_settled(), timeout=5000)
