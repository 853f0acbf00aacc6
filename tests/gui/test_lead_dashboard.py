"""The lead's dashboard on a real database with three labelers: it refreshes off the GUI
thread, every chart gets data, charts export as PNG, the detector section shows the service's
report once detection has run, and errors show in the window."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from annotator.domain.label import Label
from annotator.gui.background import Background
from annotator.gui.lead import dashboard
from annotator.gui.lead.dashboard import CHARTS, DETECTOR_CHART, DashboardWindow
from annotator.gui.lead.parts import cells
from annotator.services.detection.report import detector_report
from annotator.services.detection.suggest import run_detection
from annotator.services.projects import add_member, create_project, project_info
from annotator.services.review import set_final_label
from annotator.store.database import Database
from tests.gui.lead_data import LABELERS, LEAD, bg_fixture, open_db, team_fixture  # noqa: F401

Team = tuple[Database, list[int]]


def _open(qtbot: QtBot, runner: Background, db: Database, who: str = LEAD) -> DashboardWindow:
    window = DashboardWindow(runner, db, "P", lead=who)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.refreshing, timeout=15_000)
    return window


def test_refresh_fills_every_chart(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    run_detection(db, project_info(db, "P").id)
    window = _open(qtbot, bg, db)
    assert window.data is not None
    assert {*(key for key, _ in CHARTS), DETECTOR_CHART[0]} == set(window.charts)
    for key, chart in window.charts.items():
        assert chart.points > 0, f"chart {key} has no data ({chart.note.text()})"
        assert chart.note.text() in ("", "under a minute of work: no rate"), key
    report = window.data.progress
    assert window.charts["throughput"].points == len(LABELERS)
    assert window.charts["time"].points == len(report.time_per_item.counts)
    assert window.charts["verdicts"].points == len(report.verdicts)
    # Verdicts are named as the labeling panel names them (the schema's titles).
    titles = window.data.verdict_titles
    assert titles["cannot_determine"] == "Cannot determine"
    levels = window.charts["verdicts"].plot.getAxis("left")._tickLevels
    assert {text for _pos, text in levels[0]} == {titles[v] for v in report.verdicts}
    assert window.charts["tags"].points == len(report.tags) + len(report.counter_tags)
    assert window.charts["gold"].points == len(LABELERS)  # everyone labeled the 3 gold items
    assert window.data.detector is not None and window.data.detector.items > 0
    assert window.table.rowCount() == len(LABELERS) + 1  # and the lead
    cells = [window.table.item(r, 0) for r in range(window.table.rowCount())]
    names = {cell.text() for cell in cells if cell is not None}
    assert names == {*LABELERS, LEAD}
    assert "5 gold" in window.summary.text()
    assert window.status.text().startswith("updated")
    # The verdict sections only: tag and span agreement are the Agreement window's.
    assert window.data.agreement.tags == () and window.data.agreement.spans is None


def test_progress_over_time_counts_from_zero_and_one_day_spans_days(
    qtbot: QtBot, team: Team, bg: Background
) -> None:
    """Cumulative counts are drawn from 0; with labels on a single day the date axis spans
    the day before and after (not fractions of a second around one instant), and every
    labeler's line is marked (a single point draws no line)."""
    db, _ids = team
    window = _open(qtbot, bg, db)
    assert window.data is not None
    report = window.data.progress
    single = replace(report, over_time=report.over_time[-1:])
    window.draw(replace(window.data, progress=single))
    view = window.charts["progress"].plot.getViewBox()
    (x0, x1), (y0, y1) = view.viewRange()
    assert y0 == 0 and y1 >= single.over_time[0].cumulative
    assert x1 - x0 == 2 * 86400
    items = window.charts["progress"].plot.listDataItems()
    assert len(items) == len({n for p in single.over_time for n in p.done}) + 1
    assert all(item.opts["symbol"] == "o" for item in items)


def test_a_slow_refresh_says_why(
    qtbot: QtBot, team: Team, bg: Background, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SLOW_REFRESH_MS the status explains the wait (a first refresh reads every label);
    a quick refresh never shows it, and the note goes once the numbers are in."""
    db, _ids = team
    window = _open(qtbot, bg, db)
    assert window.status.text().startswith("updated")
    monkeypatch.setattr(dashboard, "SLOW_REFRESH_MS", 50)
    window._slow_note.setInterval(dashboard.SLOW_REFRESH_MS)
    real = dashboard.load_progress
    release = threading.Event()

    def slow_progress(*args: object) -> object:
        release.wait(10)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(dashboard, "load_progress", slow_progress)
    window.refresh()
    qtbot.waitUntil(lambda: window.status.text() == dashboard.SLOW_REFRESH_NOTE, timeout=5_000)
    release.set()
    qtbot.waitUntil(lambda: not window.refreshing, timeout=15_000)
    assert window.status.text().startswith("updated")


def test_detector_section_shows_the_service_report(
    qtbot: QtBot, team: Team, bg: Background
) -> None:
    db, ids = team
    window = _open(qtbot, bg, db)
    section = window.detector
    # No suggestions yet: a note, empty tables, an empty chart.
    assert window.data is not None and window.data.detector is None
    assert section.summary.text().startswith("No heuristic suggestions yet")
    assert section.tags.rowCount() == section.confusion.rowCount() == 0
    assert window.charts["detector"].points == 0
    assert window.charts["detector"].note.text() == "no suggestions yet"

    pid = project_info(db, "P").id
    run_detection(db, pid)
    # Two settled items whose final labels carry tags the detector suggests (ids[5]
    # overrides the labelers' agreement; ids[20] was never labeled).
    for tid, verdict in ((ids[5], "suspected_distillation"), (ids[20], "legitimate")):
        label = Label(verdict=verdict, confidence=3, tags=["REASONING_ELICIT"])
        set_final_label(db, "P", lead=LEAD, trace=tid, label=label)
    with qtbot.waitSignal(window.refreshed, timeout=15_000):
        window.refresh_button.click()
    report = detector_report(db, pid)
    assert window.data.detector is not None
    assert window.data.detector.as_dict() == report.as_dict()
    assert report.items > 0 and report.adjudicated == 2

    measured = {t: c for t, c in report.tags.items() if c.tp + c.fp + c.fn}
    assert "REASONING_ELICIT" in measured and measured["REASONING_ELICIT"].tp >= 1
    rows = cells(section.tags)
    assert [r[0] for r in rows] == ["verdict: suspected_distillation", *measured]
    o = report.overall
    assert rows[0][3:] == [str(o.tp + o.fn), str(o.tp), str(o.fp), str(o.fn), str(o.tn)]
    for row in rows[1:]:
        c = measured[row[0]]
        pct = [("–" if v is None else f"{v:.0%}") for v in (c.precision, c.recall)]
        assert row[1:] == [*pct, str(c.tp + c.fn), str(c.tp), str(c.fp), str(c.fn), str(c.tn)]

    resolved = sorted({v for row in report.confusion.values() for v in row})
    header = [
        section.confusion.horizontalHeaderItem(c).text()
        for c in range(section.confusion.columnCount())
    ]
    assert header == ["Suggested", *resolved]
    expected = [[s, *(str(row.get(v, 0)) for v in resolved)] for s, row in report.confusion.items()]
    assert cells(section.confusion) == expected
    counted = sum(int(n) for row in cells(section.confusion) for n in row[1:])
    assert counted == report.items

    anchoring = cells(section.anchoring)
    assert [r[:2] for r in anchoring] == [
        ["with suggestions shown", str(report.anchoring["with"]["labels"])],
        ["without suggestions", str(report.anchoring["without"]["labels"])],
    ]
    # A precision and a recall bar per measured tag where defined.
    chart = window.charts["detector"]
    defined = sum((c.precision is not None) + (c.recall is not None) for c in measured.values())
    assert chart.points == defined > 0 and chart.note.text() == ""
    assert "precision" in section.summary.text()


def test_refresh_runs_off_the_gui_thread(
    qtbot: QtBot,
    team: Team,
    bg: Background,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, _ids = team
    window = _open(qtbot, bg, db)
    gate = threading.Event()
    threads: list[threading.Thread] = []
    real_progress, real_agreement = dashboard.load_progress, dashboard.load_agreement

    def slow_progress(*args: object) -> object:
        threads.append(threading.current_thread())
        assert gate.wait(10)
        return real_progress(*args)  # type: ignore[arg-type]

    def agreement(*args: object) -> object:
        threads.append(threading.current_thread())
        return real_agreement(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(dashboard, "load_progress", slow_progress)
    monkeypatch.setattr(dashboard, "load_agreement", agreement)
    window.refresh_button.click()
    assert window.refreshing and window.status.text() == "refreshing…"
    assert not window.refresh_button.isEnabled()
    qtbot.wait(150)  # the event loop keeps running meanwhile
    assert window.refreshing  # agreement is in, progress is held at the gate
    assert len(threads) == 2 and threads[0] is not threads[1]  # the two ran side by side
    window.bucket.setCurrentIndex(1)  # a refresh asked for meanwhile waits its turn
    gate.set()
    qtbot.waitUntil(lambda: not window.refreshing and len(threads) == 4, timeout=15_000)
    qtbot.waitUntil(lambda: not window.refreshing, timeout=15_000)
    assert all(t is not threading.main_thread() for t in threads)
    assert window.data is not None and window.data.progress.bucket == "hour"
    assert window.refresh_button.isEnabled()


def test_each_chart_exports_a_png(qtbot: QtBot, team: Team, bg: Background, tmp_path: Path) -> None:
    db, _ids = team
    window = _open(qtbot, bg, db)
    for key in window.charts:
        path = window.export_chart(key, tmp_path / f"{key}.png")
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
        image = QImage(str(path))
        assert image.width() > 100 and image.height() > 100


def test_not_a_lead_sees_the_reason(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    window = _open(qtbot, bg, db, who="ann")
    assert window.data is None
    assert window.status.text() == "refresh failed"
    assert "not a lead" in window.summary.text()


def test_empty_project_draws_notes(qtbot: QtBot, tmp_path: Path) -> None:
    db = open_db(tmp_path / "empty.sqlite3")
    runner = Background()
    try:
        create_project(db, "P")
        add_member(db, "P", LEAD, "lead")
        window = _open(qtbot, runner, db)
        assert window.data is not None
        assert all(chart.points == 0 for chart in window.charts.values())
        assert window.charts["progress"].note.text() == "no submitted labels yet"
        assert "needs items" in window.charts["agreement"].note.text()
        window.close()
    finally:
        assert runner.shutdown(10_000)
        runner.deleteLater()
        db.dispose()


def test_the_next_open_starts_from_the_snapshot_the_window_wrote(
    qtbot: QtBot, team: Team, bg: Background, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a refresh the window writes the label and assignment snapshots off the GUI
    thread, and on close the latest table; a new process (a new Database) then shows the same
    numbers without reading every label."""
    from annotator.services import label_snapshot
    from annotator.services import label_table as lt
    from annotator.services.labeling import LabelingService

    db, ids = team
    cache = tmp_path / "cache"
    label_snapshot.use_snapshots(cache)
    lt.clear_cache()
    try:
        window = _open(qtbot, bg, db)
        qtbot.waitUntil(lambda: not window.saving, timeout=15_000)
        assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["assignments", "labels"]
        LabelingService(db, "P", "ann").submit(
            ids[20], Label(verdict="legitimate", confidence=2), 12.0
        )
        window.refresh()
        qtbot.waitUntil(lambda: not window.refreshing and not window.saving, timeout=15_000)
        expected = window.data
        window.close()
        qtbot.waitUntil(lambda: bg.pending == 0, timeout=15_000)
        # One submit is too few to rewrite the file after a refresh; closing writes it.
        (labels,) = cache.glob("labels-*")
        found = label_snapshot.read_arrays(labels)
        assert found is not None
        with db.engine.connect() as connection:
            assert list(lt.fingerprint(connection, 0)) == found[1]["fingerprint"]

        other = open_db(tmp_path / "lead.sqlite3")
        try:

            def no_full_read(*_args: object) -> object:
                raise AssertionError("read every label instead of the snapshot")

            monkeypatch.setattr(lt, "_full", no_full_read)
            again = _open(qtbot, bg, other)
            assert again.data is not None and expected is not None
            assert again.data.progress == expected.progress
            assert again.data.agreement.as_dict() == expected.agreement.as_dict()
            again.close()
            qtbot.waitUntil(lambda: bg.pending == 0, timeout=15_000)
        finally:
            other.dispose()
    finally:
        label_snapshot.use_snapshots(None)
        lt.clear_cache()


def test_counts_are_written_with_thousands_separators(qtbot: QtBot) -> None:
    """Axis ticks of counts read "1,000,000", not "1e+06"; fractions keep pyqtgraph's form."""
    axis = dashboard.CountAxis("left")
    assert axis.tickStrings([0.0, 500_000.0, 1_000_000.0], 1.0, 500_000.0) == [
        "0",
        "500,000",
        "1,000,000",
    ]
    plain = pg.AxisItem("left")
    assert axis.tickStrings([0.25, 0.5], 1.0, 0.25) == plain.tickStrings([0.25, 0.5], 1.0, 0.25)


def test_count_axes_tick_whole_numbers(qtbot: QtBot) -> None:
    """A chart of a few labels ticks 0, 1, 2, 3, not 0.5 steps; other axes keep fractions."""
    whole = dashboard.CountAxis("bottom", whole=True)
    assert all(step >= 1 for step, _ in whole.tickSpacing(0.0, 3.0, 400.0))
    plain = dashboard.CountAxis("bottom")
    assert any(step < 1 for step, _ in plain.tickSpacing(0.0, 3.0, 400.0))
    assert whole.tickSpacing(0.0, 0.2, 400.0) == [(1.0, 0.0)]
