"""The lead's Agreement window on a real database with three labelers: the whole report with
bootstrap intervals computed off the GUI thread, the same numbers as the service (and the
CLI), the interval choice, the JSON export, and errors shown in the window."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest
from pytestqt.qtbot import QtBot

from annotator.domain.agreement import Estimate
from annotator.gui.background import Background
from annotator.gui.lead import agreement_window
from annotator.gui.lead.agreement_window import AgreementWindow
from annotator.gui.lead.parts import cells
from annotator.resources import default_schema
from annotator.services.agreement import AgreementReport, GoldAccuracy, agreement_report
from annotator.services.projects import add_member, create_project
from annotator.store.database import Database
from tests.gui.lead_data import LABELERS, LEAD, bg_fixture, open_db, team_fixture  # noqa: F401
from tests.unit.agreement.lead_world import put_label

Team = tuple[Database, list[int]]


def _open(qtbot: QtBot, runner: Background, db: Database, who: str = LEAD) -> AgreementWindow:
    window = AgreementWindow(runner, db, "P", lead=who)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.computing, timeout=20_000)
    return window


def test_shows_the_whole_report_with_intervals(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, ids = team
    put_label(db, "P", ids[1], "bob", "other_policy_issue")  # a gold item missed
    window = _open(qtbot, bg, db)
    expected = agreement_report(db, "P", lead=LEAD, bootstrap=1000, seed=0, confidence=0.95)
    assert window.report == expected  # the service's report, 1,000 resamples by default
    v = expected.verdict
    assert v.alpha.value is not None and v.alpha.low is not None and v.alpha.high is not None
    verdict = cells(window.verdict)
    assert [row[0] for row in verdict] == [
        "Percent agreement",
        "Fleiss' κ (items with 3 labels)",
        "Krippendorff's α",
        "Evidence spans: F1",
        "Evidence spans: Jaccard",
    ]
    assert verdict[2][1:] == [
        f"{v.alpha.value:.3f}",
        f"{v.alpha.low:.3f} – {v.alpha.high:.3f}",
        f"{v.alpha.n:,}",
    ]
    pairs = cells(window.pairs)
    assert [(row[0], row[1]) for row in pairs] == [("ann", "bob"), ("ann", "cy"), ("bob", "cy")]
    first = expected.pairs[0]
    assert first.cohen.value is not None and first.cohen.low is not None
    assert pairs[0][2] == f"{first.n_items:,}"
    assert pairs[0][4].startswith(f"{first.cohen.value:.3f} [{first.cohen.low:.3f}, ")
    assert first.spans is not None and first.spans.f1.value is not None
    assert pairs[0][5].startswith(f"{first.spans.f1.value:.3f} [")
    tags = cells(window.tags)
    schema = default_schema()
    assert len(tags) == len(schema.evidence_tags) + len(schema.counter_tags)
    chosen = [int(row[2].replace(",", "")) for row in tags]
    assert chosen == sorted(chosen, reverse=True) and chosen[0] > 0  # most chosen first
    kinds = {row[0]: row[1] for row in tags}
    assert kinds["REASONING_ELICIT"] == "evidence" and kinds["EVAL_RUN"] == "counter-evidence"
    never = [row for row in tags if row[2] == "0"]
    assert never and all(row[4] == "–" for row in never)  # a tag nobody chose has no α
    assert f"{v.n_pairable:,} labeled by two or more" in window.summary.text()
    assert window.status.text().startswith("updated") and window.export_button.isEnabled()
    assert "1,000 bootstrap resamples" in window.note.text()
    # Gold: every labeler labeled the three gold items (answer: legitimate).
    gold = cells(window.gold)
    assert [row[:2] for row in gold] == [[name, "3"] for name in LABELERS]
    missed = [
        (g.name, m.uid, m.expected, m.given or "(none)") for g in v_gold(expected) for m in g.missed
    ]
    assert [tuple(row) for row in cells(window.missed)] == missed
    assert missed == [("bob", "item-001", "legitimate", "other_policy_issue")]
    assert sum(int(row[2]) for row in gold) == 3 * len(LABELERS) - len(missed)


def v_gold(report: AgreementReport) -> list[GoldAccuracy]:
    return [g for g in report.gold if g.n_gold]


def test_missed_gold_items_are_listed_up_to_a_limit(team: Team) -> None:
    db, ids = team
    for who in LABELERS:  # everyone misses every gold item they labeled
        for trace_id in ids[:3]:
            put_label(db, "P", trace_id, who, "suspected_distillation")
    report = agreement_report(db, "P", lead=LEAD, bootstrap=0)
    rows, left_out = agreement_window.missed_rows(report, limit=4)
    assert len(rows) == 4 and left_out == 3 * len(LABELERS) - 4
    assert rows[0] == ["ann", "item-000", "legitimate", "suspected_distillation"]
    assert agreement_window.missed_rows(report)[1] == 0


def test_fewer_or_no_resamples(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    window = _open(qtbot, bg, db)
    window.resamples.setCurrentIndex(window.resamples.findData(0))
    qtbot.waitUntil(
        lambda: window.report is not None and window.report.bootstrap == 0, timeout=20_000
    )
    qtbot.waitUntil(lambda: not window.computing, timeout=20_000)
    assert all(row[2] == "–" for row in cells(window.verdict))  # no interval column
    assert "[" not in "".join(cells(window.pairs)[0])
    assert "No intervals" in window.note.text()
    window.resamples.setCurrentIndex(window.resamples.findData(200))
    qtbot.waitUntil(
        lambda: window.report is not None and window.report.bootstrap == 200, timeout=20_000
    )
    assert " – " in cells(window.verdict)[0][2]


def test_computed_off_the_gui_thread(
    qtbot: QtBot, team: Team, bg: Background, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ids = team
    gate = threading.Event()
    threads: list[threading.Thread] = []
    real = agreement_window.agreement_report

    def held(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread())
        assert gate.wait(10)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(agreement_window, "agreement_report", held)
    window = AgreementWindow(bg, db, "P", lead=LEAD)
    qtbot.addWidget(window)
    window.show()
    assert window.computing and window.status.text() == "computing 1,000 resamples…"
    assert not window.refresh_button.isEnabled() and not window.export_button.isEnabled()
    qtbot.wait(100)  # the event loop runs meanwhile
    window.refresh()  # asked for meanwhile: runs after the first
    gate.set()
    qtbot.waitUntil(lambda: not window.computing and len(threads) == 2, timeout=20_000)
    assert all(t is not threading.main_thread() for t in threads)
    assert window.report is not None and window.refresh_button.isEnabled()


def test_exports_the_json_of_the_cli(
    qtbot: QtBot, team: Team, bg: Background, tmp_path: Path
) -> None:
    db, _ids = team
    window = _open(qtbot, bg, db)
    path = window.export_json(tmp_path / "agreement.json")
    assert window.report is not None
    written = orjson.loads(path.read_bytes())
    assert written == orjson.loads(orjson.dumps(window.report.as_dict()))
    assert written["bootstrap"] == 1000 and len(written["pairs"]) == len(LABELERS)
    assert written["spans"]["f1"]["low"] is not None


def test_not_a_lead_sees_the_reason(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    window = _open(qtbot, bg, db, who="ann")
    assert window.report is None and window.status.text() == "failed"
    assert "not a lead" in window.summary.text()
    assert not window.export_button.isEnabled() and window.refresh_button.isEnabled()


def test_empty_project_shows_dashes(qtbot: QtBot, tmp_path: Path) -> None:
    db = open_db(tmp_path / "empty.sqlite3")
    runner = Background()
    try:
        create_project(db, "P")
        add_member(db, "P", LEAD, "lead")
        window = _open(qtbot, runner, db)
        assert window.report is not None and window.report.pairs == ()
        assert all(row[1] == "–" for row in cells(window.verdict))
        assert window.pairs.rowCount() == 0
        window.close()
    finally:
        assert runner.shutdown(10_000)
        runner.deleteLater()
        db.dispose()


def test_numbers_that_round_to_zero_have_no_sign() -> None:
    assert agreement_window.number(-0.0004) == "0.000"
    assert agreement_window.number(-0.0006) == "-0.001"
    assert agreement_window.number(0.61449) == "0.614"
    est = Estimate(-0.0002, -0.0021, 0.0004, n=10)
    assert agreement_window.with_interval(est) == "0.000 [-0.002, 0.000]"
    assert agreement_window.interval_text(Estimate(0.5)) == "–"
    assert agreement_window.value_text(Estimate(None)) == "–"
