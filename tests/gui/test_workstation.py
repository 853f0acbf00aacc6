"""The labeling workstation driven by keys, as a labeler uses it, against a real SQLite file."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication

from annotator.domain.label import Label


def press(
    window: Any, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    from PySide6.QtTest import QTest

    target = QApplication.focusWidget() or window
    QTest.keyClick(target, key, modifier)


def select_in_trace(window: Any, needle: str) -> None:
    """Select the first occurrence of ``needle`` in the trace view, as a mouse drag would."""
    browser = window.trace_view.browser
    doc = browser.document()
    found = doc.find(needle)
    assert not found.isNull(), needle
    cursor = QTextCursor(doc)
    cursor.setPosition(found.selectionStart())
    cursor.setPosition(found.selectionEnd(), QTextCursor.MoveMode.KeepAnchor)
    browser.setTextCursor(cursor)


def wait_next(qtbot: Any, window: Any, previous: int) -> None:
    qtbot.waitUntil(
        lambda: window.current is not None and window.current.trace_id != previous, timeout=5000
    )


def labels_in(url: str) -> dict[int, Any]:
    from annotator.services.labeling import LabelingService
    from annotator.store.open import open_database

    db = open_database(url)
    try:
        service = LabelingService(db, "P", "Ada")
        ids = service.queue_ids()
        return {i: service.open(i) for i in ids}
    finally:
        db.dispose()


def test_label_ten_by_keys_kill_and_reopen(qtbot: Any, project_db: str, open_window: Any) -> None:
    window = open_window(project_db)
    window.trace_view.setFocus()
    first_ids = window.model.ids()[:10]
    assert window.current.trace_id == first_ids[0]
    for n, trace_id in enumerate(first_ids):
        assert window.current.trace_id == trace_id
        window.clock._pending += 2.0  # two seconds of work on each item
        window.clock._item += 2.0
        press(window, Qt.Key.Key_2)  # suspected distillation
        press(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # confidence 2
        press(window, Qt.Key.Key_R)  # REASONING_ELICIT
        select_in_trace(window, f"Question {n}")
        press(window, Qt.Key.Key_E)  # evidence span
        assert len(window.panel.spans()) == 1
        press(window, Qt.Key.Key_Return)
        wait_next(qtbot, window, trace_id)
    qtbot.waitUntil(window.is_settled, timeout=5000)
    # Kill: no close event, no draft save, no settings: only what was committed survives.
    window.bg.wait_workers()
    window.db.dispose()
    window.db = None
    window.hide()

    stored = labels_in(project_db)
    for n, trace_id in enumerate(first_ids):
        view = stored[trace_id]
        assert view.status == "done"
        assert view.label.verdict == "suspected_distillation"
        assert view.label.confidence == 2
        assert view.label.tags == ("REASONING_ELICIT",)
        assert [s.text for s in view.label.spans] == [f"Question {n}"]
        assert view.seconds_spent >= 2.0
    assert stored[window.model.ids()[10]].status == "todo"

    again = open_window(project_db)
    assert again.current.trace_id == window.model.ids()[10]  # where the labeler was
    qtbot.waitUntil(lambda: "Done today 10" in again.done_label.text(), timeout=5000)


def test_draft_survives_a_kill(qtbot: Any, project_db: str, open_window: Any) -> None:
    window = open_window(project_db)
    press(window, Qt.Key.Key_J)
    wait_next(qtbot, window, window.model.ids()[0])
    target = window.current.trace_id
    press(window, Qt.Key.Key_4)  # cannot determine
    window.panel.rationale.setFocus()
    qtbot.keyClicks(window.panel.rationale, "not sure yet, S and J typed here")
    assert window.current.trace_id == target  # typed letters did not skip or move
    qtbot.keyClicks(window.panel.rationale, "!")
    press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undoes typing only
    assert not window.panel.rationale.toPlainText().endswith("!")
    assert window.current.trace_id == target
    window.panel.rationale.setPlainText("not sure yet, S and J typed here")
    assert window.panel.label().verdict == "cannot_determine"
    qtbot.waitUntil(lambda: not window._dirty and window.is_settled(), timeout=5000)
    window.bg.wait_workers()
    window.db.dispose()
    window.db = None
    window.hide()

    again = open_window(project_db)
    assert again.current.trace_id == target
    label = again.panel.label()
    assert label.verdict == "cannot_determine"
    assert label.rationale == "not sure yet, S and J typed here"
    assert again.current.status == "draft"


def test_undo_last_submit(qtbot: Any, project_db: str, open_window: Any) -> None:
    window = open_window(project_db)
    first = window.current.trace_id
    press(window, Qt.Key.Key_1)
    press(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    press(window, Qt.Key.Key_Return)
    wait_next(qtbot, window, first)
    qtbot.waitUntil(window.is_settled, timeout=5000)
    window.trace_view.setFocus()
    press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: window.current is not None and window.current.trace_id == first, timeout=5000
    )
    assert window.current.status != "done"
    assert window.panel.label().verdict == "legitimate"  # kept so it can be fixed
    qtbot.waitUntil(window.is_settled, timeout=5000)
    assert labels_in(project_db)[first].status != "done"


def test_schema_violation_is_shown_and_nothing_is_submitted(
    qtbot: Any, project_db: str, open_window: Any
) -> None:
    window = open_window(project_db)
    first = window.current.trace_id
    press(window, Qt.Key.Key_2)  # a verdict that needs a confidence
    press(window, Qt.Key.Key_Return)
    assert window.current.trace_id == first
    assert window.panel.problems.isVisible()
    assert "Confidence is required" in window.panel.problems.text()
    press(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert not window.panel.problems.isVisible()
    press(window, Qt.Key.Key_Return)
    wait_next(qtbot, window, first)
    qtbot.waitUntil(window.is_settled, timeout=5000)
    assert labels_in(project_db)[first].status == "done"


def test_skip_flag_and_navigation_keys(
    qtbot: Any, project_db: str, open_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from annotator.gui import dialogs

    window = open_window(project_db)
    ids = window.model.ids()
    press(window, Qt.Key.Key_S)
    wait_next(qtbot, window, ids[0])
    assert window.current.trace_id == ids[1]
    monkeypatch.setattr(dialogs.FlagDialog, "exec", lambda self: True)
    monkeypatch.setattr(dialogs.FlagDialog, "text", lambda self: "looks like a template")
    press(window, Qt.Key.Key_F)
    wait_next(qtbot, window, ids[1])
    press(window, Qt.Key.Key_K)
    wait_next(qtbot, window, ids[2])
    assert window.current.trace_id == ids[1]
    press(window, Qt.Key.Key_Down)
    wait_next(qtbot, window, ids[1])
    assert window.current.trace_id == ids[2]
    qtbot.waitUntil(window.is_settled, timeout=5000)
    stored = labels_in(project_db)
    assert stored[ids[0]].status == "skipped"
    assert stored[ids[1]].status == "flagged"
    assert stored[ids[1]].comment == "looks like a template"


def test_key_remap_refuses_a_conflict(qtbot: Any, project_db: str, open_window: Any) -> None:
    from PySide6.QtGui import QKeySequence

    from annotator.gui.dialogs import KeymapDialog

    window = open_window(project_db)
    dialog = KeymapDialog(window.keymap, window)
    qtbot.addWidget(dialog)
    dialog.select_action("skip")
    dialog.editor.setKeySequence(QKeySequence("J"))
    assert not dialog.assign_current()
    assert "already used by" in dialog.message.text()
    assert dialog.keymap.keys("skip") == ("S",)
    dialog.editor.setKeySequence(QKeySequence("Ctrl+K"))
    assert dialog.assign_current()
    window.apply_keymap(dialog.keymap)
    assert window.settings.keymap == {"skip": "Ctrl+K"}
    first = window.current.trace_id
    press(window, Qt.Key.Key_S)  # no longer bound: nothing happens
    assert window.current.trace_id == first
    press(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    wait_next(qtbot, window, first)
    assert window.panel.set_keymap is not None
    assert window.panel._badges["verdict:legitimate"].text() == "1"


def test_queue_search_and_status_filter(qtbot: Any, project_db: str, open_window: Any) -> None:
    window = open_window(project_db)
    assert window.model.rowCount() == 30
    first = window.current.trace_id
    press(window, Qt.Key.Key_4)
    press(window, Qt.Key.Key_Return)
    wait_next(qtbot, window, first)
    press(
        window,
        Qt.Key.Key_F,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert QApplication.focusWidget() is window.search
    qtbot.keyClicks(window.search, "marker3")
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=5000)  # i % 7 == 3 in 0..29
    assert window.current is not None  # searching never dropped the open trace
    window.search.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == 30, timeout=5000)
    window.status_filter.setCurrentIndex(4)  # Done
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    assert window.model.ids() == [first]
    qtbot.waitUntil(window.is_settled, timeout=5000)


def test_status_bar_and_guidelines(qtbot: Any, project_db: str, open_window: Any) -> None:
    window = open_window(project_db)
    qtbot.waitUntil(lambda: "/ 30 assigned" in window.done_label.text(), timeout=5000)
    assert window.timer_label.text().startswith("On this item")
    text = window.guidelines.text()
    assert "REASONING_ELICIT" in text and "Legitimate" in text
    assert window.guidelines.resource_requests == []


def test_settings_restore_layout_and_theme(
    qtbot: Any, project_db: str, open_window: Any, tmp_path: Any
) -> None:
    from annotator.settings import load_settings

    window = open_window(project_db)
    window.resize(780, 700)  # fits the offscreen screen, so restoring it is not clamped
    qtbot.waitUntil(lambda: window.width() == 780)
    window.splitter.setSizes([250, 200, 330])
    window.set_theme("dark")
    window.close()
    saved = load_settings(tmp_path / "settings.json")
    assert saved.theme == "dark"
    assert saved.last_project == "P"
    assert saved.window_geometry
    again = open_window(project_db, settings=saved)
    assert again.size() == window.size()
    assert again.splitter.sizes() == saved.splitter_sizes
    again.set_theme("light")


def test_label_panel_roundtrip(qtbot: Any) -> None:
    from annotator.domain.label import EvidenceSpan
    from annotator.gui.keymap import GLOBAL_ACTIONS, Keymap, schema_actions
    from annotator.gui.label_panel import LabelPanel
    from annotator.resources import default_schema

    schema = default_schema()
    keymap = Keymap((*GLOBAL_ACTIONS, *schema_actions(schema)))
    panel = LabelPanel(schema, keymap)
    qtbot.addWidget(panel)
    span = EvidenceSpan(turn=1, block=0, start=0, end=4, text="abcd")
    label = Label(
        verdict="legitimate",
        tags=("DATASET_FORMAT",),
        counter_tags=("EVAL_RUN",),
        confidence=3,
        rationale="why",
        spans=(span,),
    )
    with qtbot.assertNotEmitted(panel.changed):
        panel.set_label(label)
    assert panel.label() == label
    with qtbot.waitSignal(panel.changed):
        panel.span_list.setCurrentRow(0)
        panel.remove_selected_span()
    assert panel.label().spans == ()
    # every key is distinct and none is a global single-letter key
    keys = [k for _spec, ks in keymap.rows() for k in ks]
    assert len(keys) == len(set(keys))


def test_import_dialog_runs_in_background_and_lists_rejects(
    qtbot: Any, project_db: str, open_window: Any, tmp_path: Any
) -> None:
    from annotator.gui.import_dialog import ImportDialog

    good = tmp_path / "more.jsonl"
    good.write_text(
        '{"messages": [{"role": "user", "content": "hello there"},'
        ' {"role": "assistant", "content": "hi"}]}\n'
        "{not json\n"
    )
    window = open_window(project_db)
    dialog = ImportDialog(window.bg, window.db, "P", imported_by="Ada", parent=window)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.finishedImport, timeout=20_000):
        dialog.start([good])
    assert dialog.summary is not None
    assert dialog.summary.imported == 1
    assert dialog.summary.rejected == 1
    assert "more.jsonl:2" in dialog.errors.toPlainText()
    dialog.close()
    window.reload_queue()
    qtbot.waitUntil(lambda: window.model.rowCount() == 31, timeout=5000)


def test_span_click_scrolls_and_help_keys(
    qtbot: Any, project_db: str, open_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window(project_db)
    window.trace_view.setFocus()
    select_in_trace(window, "The answer to question 0")
    press(window, Qt.Key.Key_E)
    span = window.panel.spans()[0]
    assert span.text == "The answer to question 0"
    assert window.trace_view.spans() == [span]  # highlighted in the trace
    scrolled: list[Any] = []
    monkeypatch.setattr(window.trace_view, "scroll_to_span", scrolled.append)
    item = window.panel.span_list.item(0)
    window.panel.span_list.itemClicked.emit(item)
    assert scrolled == [span]
    window.trace_view.setFocus()
    press(window, Qt.Key.Key_Question)
    assert window._cheatsheet.isVisible()
    keys = {
        window._cheatsheet.table.item(r, 1).text(): window._cheatsheet.table.item(r, 0).text()
        for r in range(window._cheatsheet.table.rowCount())
    }
    assert keys["Labeling: Skip"] == "S"
    window._cheatsheet.close()
    window.activateWindow()
    window.trace_view.setFocus()
    press(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # one action, no ambiguity
    assert window.trace_view.find_bar.isVisible()
    qtbot.keyClicks(window.trace_view.find_bar.edit, "sjk")  # letters go to the find box
    assert window.trace_view.find_bar.edit.text() == "sjk"
    first = window.current.trace_id
    window.search.setFocus()
    press(window, Qt.Key.Key_Return)  # Enter in the search box searches, never submits
    assert window.current.trace_id == first
    qtbot.waitUntil(window.is_settled, timeout=5000)


def test_first_run_asks_the_name_then_opens_the_demo(
    qtbot: Any, db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from annotator.gui import dialogs
    from annotator.gui.main_window import MainWindow
    from annotator.settings import Settings, load_settings
    from annotator.store.open import open_database

    monkeypatch.setattr(dialogs.NameDialog, "exec", lambda self: True)
    monkeypatch.setattr(dialogs.NameDialog, "name", lambda self: "Bo")
    settings_path = tmp_path / "settings.json"
    window = MainWindow(Settings(), settings_path, lambda: open_database(db_url), demo=True)
    window.clock._is_active = lambda: True
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.current is not None, timeout=20_000)
    assert window.service.project.name == "Demo"
    assert window.service.annotator_name == "Bo"
    assert window.model.rowCount() >= 40
    qtbot.waitUntil(window.is_settled, timeout=10_000)
    window.close()
    saved = load_settings(settings_path)
    assert saved.annotator_name == "Bo" and saved.last_project == "Demo"


def test_a_slow_search_never_freezes_the_window(
    qtbot: Any, project_db: str, open_window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itertools
    import time

    from PySide6.QtCore import QTimer

    window = open_window(project_db)
    service = window.service
    real = service.queue_ids

    def slow(flt: Any) -> list[int]:
        time.sleep(1.0)
        return real(flt)

    monkeypatch.setattr(service, "queue_ids", slow)
    ticks: list[float] = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    window.search.setText("marker3")
    window.reload_queue()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=10_000)
    timer.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 20 and max(gaps) < 0.3, max(gaps)  # the event loop kept running
    qtbot.waitUntil(window.is_settled, timeout=5000)


def test_import_can_be_cancelled(
    qtbot: Any, project_db: str, open_window: Any, tmp_path: Any
) -> None:
    from annotator.gui.import_dialog import ImportDialog

    source = tmp_path / "more.jsonl"
    source.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
    )
    window = open_window(project_db)
    dialog = ImportDialog(window.bg, window.db, "P", parent=window)
    qtbot.addWidget(dialog)
    dialog.cancel()  # pressed before the worker reads the first record
    with qtbot.waitSignal(dialog.finishedImport, timeout=20_000):
        dialog.start([source])
    assert dialog.summary is not None and dialog.summary.cancelled
    assert dialog.title.text().startswith("Cancelled")
    dialog.close()


def test_help_menu_opens_about_with_the_database_revision(
    qtbot: Any, project_db: str, open_window: Any
) -> None:
    from annotator.gui.about import AboutDialog
    from annotator.store.open import head_revision

    window = open_window(project_db)
    qtbot.waitUntil(lambda: window.db is not None, timeout=5000)
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    about = next(a for a in help_menu.actions() if "About" in a.text())
    about.trigger()
    dialog = window.findChild(AboutDialog)
    assert dialog is not None and dialog.isVisible()
    assert head_revision() in dialog.info.schema_revision
    dialog.close()


def test_file_menu_opens_the_export_dialog(qtbot: Any, project_db: str, open_window: Any) -> None:
    from annotator.gui.export_dialog import ExportDialog

    window = open_window(project_db)
    qtbot.waitUntil(lambda: window.service is not None, timeout=5000)
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    export = next(a for a in file_menu.actions() if a.text().startswith("Export"))
    export.trigger()
    dialog = window.findChild(ExportDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.close()
