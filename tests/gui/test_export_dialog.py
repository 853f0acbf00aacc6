"""The export dialog alone (pytest-qt, offscreen): background preview of counts that follows
the options, an export with progress and a summary, cancel, and refusals shown as text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from annotator.gui.background import Background
from annotator.store.database import Database
from tests.unit.export.builders import build, open_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "lead.db")
    build(database)
    yield database
    database.dispose()


@pytest.fixture
def dialog(qtbot: Any, db: Database, tmp_path: Path) -> Iterator[Any]:
    from annotator.gui.export_dialog import ExportDialog

    bg = Background()
    dlg = ExportDialog(bg, db, "p", projects=["p"], out_dir=tmp_path / "out")
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    dlg._cancel.set()
    assert bg.shutdown(30_000)
    qtbot.waitUntil(lambda: bg.pending == 0, timeout=10_000)


def wait_preview(qtbot: Any, dlg: Any, needle: str) -> None:
    qtbot.waitUntil(lambda: needle in dlg.preview_text, timeout=15_000)


def test_preview_counts_follow_the_options(qtbot: Any, dialog: Any) -> None:
    wait_preview(qtbot, dialog, "40 of 60 traces would be exported")
    assert "Left out: tie 10, unresolved 10." in dialog.preview_text
    dialog.unlabeled.setChecked(True)
    wait_preview(qtbot, dialog, "60 of 60 traces")
    dialog.split.setText("0.5,0.5")
    wait_preview(qtbot, dialog, "  test: ")
    assert dialog.group_by.isEnabled() and dialog.seed.isEnabled()
    plan = dialog.plan
    assert plan is not None and sum(plan.split_counts.values()) == 60
    dialog.split.setText("0.5,0.9")
    wait_preview(qtbot, dialog, "Cannot export with these options")
    dialog.view.setCurrentIndex(dialog.view.findData("chat"))
    assert not dialog.include_original.isEnabled()


def test_export_runs_in_background_and_shows_the_summary(
    qtbot: Any, dialog: Any, tmp_path: Path
) -> None:
    wait_preview(qtbot, dialog, "would be exported")
    dialog.format.setCurrentIndex(dialog.format.findData("csv"))
    dialog.view.setCurrentIndex(dialog.view.findData("classifier"))
    dialog.split.setText("0.8,0.1,0.1")
    with qtbot.waitSignal(dialog.finishedExport, timeout=30_000) as got:
        dialog.export_button.click()
        assert dialog.running and not dialog.close_button.isEnabled()
    summary = got.args[0]
    assert summary.rows == 40
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json",
        "test.csv",
        "train.csv",
        "validation.csv",
    ]
    assert dialog.status.text().startswith("Done: 40 traces")
    assert "train.csv: " in dialog.preview.toPlainText()
    assert dialog.bar.value() == 1000 and not dialog.running
    # a second export into the same, now non-empty, folder is refused and says why
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.running, timeout=15_000)
    assert "is not empty" in dialog.status.text()


def test_cancel_leaves_nothing(
    qtbot: Any, dialog: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from annotator.formats.writers.jsonl import JsonlWriter
    from annotator.services.exporting import runner

    monkeypatch.setattr(runner, "WRITE_CHUNK", 2)
    real = JsonlWriter.write

    def slow(self: JsonlWriter, record: dict[str, Any]) -> None:
        time.sleep(0.02)
        real(self, record)

    monkeypatch.setattr(JsonlWriter, "write", slow)
    wait_preview(qtbot, dialog, "would be exported")
    dialog.start()
    qtbot.waitUntil(lambda: dialog.bar.value() > 0, timeout=15_000)
    dialog.reject()  # Esc while running cancels instead of closing
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.running, timeout=15_000)
    assert dialog.status.text() == "Cancelled: nothing was written."
    assert dialog.summary is None
    assert not (tmp_path / "out").exists()


def test_no_folder_no_export(qtbot: Any, dialog: Any) -> None:
    dialog.out_dir.setText("")
    dialog.start()
    assert not dialog.running
    assert dialog.status.text() == "Choose a folder to export to."
