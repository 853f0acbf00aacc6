"""The assign dialog and the team dialog on a real database: work handed out (Assignment rows
checked), refusals shown as the service words them with nothing changed, members added."""

from __future__ import annotations

from collections import Counter

from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from annotator.gui.background import Background
from annotator.gui.lead.assign_dialog import AssignDialog
from annotator.gui.lead.members_dialog import MembersDialog
from annotator.services.assignment import assign
from annotator.services.detection.suggest import DETECTOR
from annotator.services.review import list_members
from annotator.store.database import Database
from annotator.store.models import Annotator, Assignment, LabelRow, Suggestion, TraceRow
from tests.gui.lead_data import LABELERS, LEAD, bg_fixture, team_fixture  # noqa: F401

Team = tuple[Database, list[int]]


def _assignments(db: Database) -> Counter[str]:
    with db.session() as session:
        rows = session.execute(
            select(Annotator.name, func.count())
            .join(Assignment, Assignment.annotator_id == Annotator.id)
            .group_by(Annotator.name)
        ).all()
    return Counter({name: n for name, n in rows})


def _dialog(qtbot: QtBot, runner: Background, db: Database) -> AssignDialog:
    dialog = AssignDialog(runner, db, "P", lead=LEAD)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.people.count() == 4, timeout=15_000)
    return dialog


def test_assign_hands_out_work(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    before = _assignments(db)
    dialog = _dialog(qtbot, bg, db)
    assert dialog.chosen() == ["ann", "bob", "cy"]  # labelers ticked, the lead not
    dialog.set_chosen(["ann", "bob"])
    dialog.n_items.setValue(4)
    dialog.overlap.setValue(2)
    dialog.seed.setValue(3)
    with qtbot.waitSignal(dialog.assigned, timeout=15_000) as signal:
        dialog.assign_button.click()
    result = signal.args[0]
    assert result.n_items == 4 and result.per_labeler == {"ann": 4, "bob": 4}
    after = _assignments(db)
    assert after["ann"] - before["ann"] == 4 and after["bob"] - before["bob"] == 4
    assert after["cy"] == before["cy"]
    assert dialog.message.text() == "Assigned 4 items as 8 queue entries: ann 4, bob 4."
    assert dialog.message.objectName() != "problems"
    assert dialog.assign_button.isEnabled()


def test_gold_items_and_order_by_score(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    dialog = _dialog(qtbot, bg, db)
    dialog.set_chosen(["cy"])
    dialog.n_items.setValue(4)
    dialog.gold_rate.setValue(50.0)  # 2 of the 4 are gold
    dialog.order.setCurrentIndex(dialog.order.findData("score"))
    assert dialog.score.isEnabled()
    with qtbot.waitSignal(dialog.assigned, timeout=15_000) as signal:
        dialog.assign_button.click()
    assert signal.args[0].n_gold == 2
    assert "(2 gold)" in dialog.message.text()


def test_k_larger_than_the_team_is_refused(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    before = _assignments(db)
    dialog = _dialog(qtbot, bg, db)
    dialog.n_items.setValue(2)
    dialog.overlap.setValue(len(LABELERS) + 1)
    dialog.assign_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=15_000)
    assert dialog.message.objectName() == "problems"
    assert dialog.message.text() == "k = 4 labelers per item is more than the 3 chosen"
    assert dialog.result_value is None
    assert _assignments(db) == before  # nothing half-done
    # Too many items: the service's own words, and still nothing changed.
    dialog.overlap.setValue(1)
    dialog.n_items.setValue(10_000)
    dialog.assign_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=15_000)
    assert dialog.message.text().startswith("asked for 10000 items but only")
    assert _assignments(db) == before


def test_members_dialog_adds_and_changes_roles(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    dialog = MembersDialog(bg, db, "P", lead=LEAD)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 4, timeout=15_000)
    first = [dialog.table.item(0, col) for col in (0, 1)]
    assert [c.text() if c is not None else None for c in first] == [LEAD, "lead"]
    dialog.name_edit.setText("dee")
    dialog.role.setCurrentIndex(dialog.role.findData("labeler"))
    with qtbot.waitSignal(dialog.changed, timeout=15_000):
        dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 5, timeout=15_000)
    assert {(m.name, m.role) for m in list_members(db, "P")} >= {("dee", "labeler")}
    # Selecting a row fills the form; the only lead cannot step down.
    dialog.table.selectRow(0)
    assert dialog.name_edit.text() == LEAD
    dialog.role.setCurrentIndex(dialog.role.findData("labeler"))
    dialog.save_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=15_000)
    assert "only lead" in dialog.message.text()
    assert dialog.message.objectName() == "problems"


def test_order_by_uncertainty_and_by_suggestion_score(
    qtbot: QtBot, team: Team, bg: Background
) -> None:
    db, ids = team
    free = ids[21:-2]  # not gold, not yet assigned (the fixture hands out ids[3:21])
    scores = dict(zip(free, (0.95, 0.1, 0.62, 0.5, 0.3, 0.75), strict=False))
    with db.session() as session:
        pid = session.scalar(select(TraceRow.project_id).where(TraceRow.id == ids[0]))
        assert pid is not None
        for trace_id, score in scores.items():
            session.add(
                Suggestion(project_id=pid, trace_id=trace_id, detector=DETECTOR, score=score)
            )
    dialog = _dialog(qtbot, bg, db)
    dialog.set_chosen(["ann"])
    dialog.n_items.setValue(4)
    dialog.order.setCurrentIndex(dialog.order.findData("uncertainty"))
    assert dialog.order.currentText() == "Least certain suggestion first"
    assert not dialog.score.isEnabled()  # the uncertainty order needs no score column
    with qtbot.waitSignal(dialog.assigned, timeout=15_000) as signal:
        dialog.assign_button.click()
    nearest = sorted(scores, key=lambda t: (abs(scores[t] - 0.6), t))
    first = list(signal.args[0].trace_ids)
    assert first == nearest[:4]
    # The detector's score is one of the score columns: highest first, items nobody has yet
    # (ann's four are taken now) before the others, items without a suggestion last.
    dialog.set_chosen(["bob"])
    dialog.order.setCurrentIndex(dialog.order.findData("score"))
    dialog.score.setCurrentIndex(dialog.score.findData(f"suggestion:{DETECTOR}"))
    with qtbot.waitSignal(dialog.assigned, timeout=15_000) as signal:
        dialog.assign_button.click()
    highest = [*sorted(scores, key=lambda t: (-scores[t], t)), free[-1]]
    fresh = [t for t in highest if t not in first]
    assert list(signal.args[0].trace_ids) == [*fresh, *(t for t in highest if t in first)][:4]
    assert fresh[-1] == free[-1]  # the one without a suggestion ends the fresh items


def _queue(db: Database, who: str) -> list[int]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Assignment.trace_id)
                .join(Annotator, Annotator.id == Assignment.annotator_id)
                .where(Annotator.name == who)
                .order_by(Assignment.trace_id)
            )
        )


def _labels(db: Database) -> list[tuple[str, int, str, str | None]]:
    with db.session() as session:
        rows = session.execute(
            select(Annotator.name, LabelRow.trace_id, LabelRow.status, LabelRow.verdict).join(
                Annotator, Annotator.id == LabelRow.annotator_id
            )
        ).all()
    return sorted((r[0], r[1], r[2], r[3]) for r in rows)


def test_members_dialog_moves_and_takes_back_open_work(
    qtbot: QtBot, team: Team, bg: Background
) -> None:
    db, _ids = team
    before = _queue(db, "ann")
    assign(db, "P", n_items=4, labelers=["ann"], overlap_k=1, order="import", assigned_by=LEAD)
    fresh = sorted(set(_queue(db, "ann")) - set(before))
    assert len(fresh) == 4
    labels = _labels(db)
    started = {(who, t) for who, t, status, _v in labels if status in ("done", "flagged")}
    ann = _queue(db, "ann")
    kept = [t for t in ann if ("ann", t) in started]
    cy_before = _queue(db, "cy")
    duplicate = [t for t in ann if ("ann", t) not in started and t in cy_before]
    moving = [t for t in ann if ("ann", t) not in started and t not in cy_before]
    assert kept and duplicate and moving == fresh  # the fixture has all three kinds

    dialog = MembersDialog(bg, db, "P", lead=LEAD)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 4, timeout=15_000)
    assert not dialog.move_button.isEnabled() and not dialog.take_back_button.isEnabled()
    names = [m.name for m in dialog.members]
    dialog.table.selectRow(names.index("ann"))
    receivers = [dialog.move_to.itemData(i) for i in range(dialog.move_to.count())]
    assert receivers == ["bob", "cy", LEAD]  # labelers first
    dialog.move_to.setCurrentIndex(dialog.move_to.findData("cy"))
    with qtbot.waitSignal(dialog.queues_changed, timeout=15_000) as moved:
        dialog.move_button.click()
    result = moved.args[0]
    assert (result.moved, result.kept_labeled, result.skipped_duplicate) == (
        len(moving),
        len(kept),
        len(duplicate),
    )
    assert _queue(db, "ann") == sorted(kept + duplicate)
    assert _queue(db, "cy") == sorted(cy_before + moving)
    assert dialog.message.text() == (
        f"Moved {len(moving)} open items from ann to cy; {len(kept)} already labeled stay "
        f"with ann; {len(duplicate)} cy already had."
    )
    dialog.table.selectRow(names.index("cy"))
    cy = _queue(db, "cy")
    cy_kept = [t for t in cy if ("cy", t) in started]
    with qtbot.waitSignal(dialog.queues_changed, timeout=15_000):
        dialog.take_back_button.click()
    assert _queue(db, "cy") == cy_kept  # the labeled (and the flagged) entries stay
    assert dialog.message.text() == (
        f"Took {len(cy) - len(cy_kept)} open items out of cy's queue; "
        f"{len(cy_kept)} already labeled stay."
    )
    assert _labels(db) == labels  # no label touched


def test_members_dialog_shows_a_refused_move(qtbot: QtBot, team: Team, bg: Background) -> None:
    db, _ids = team
    dialog = MembersDialog(bg, db, "P", lead="ann")  # not a lead
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 4, timeout=15_000)
    dialog.table.selectRow(1)
    dialog.take_back_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=15_000)
    assert "not a lead" in dialog.message.text() and dialog.message.objectName() == "problems"
