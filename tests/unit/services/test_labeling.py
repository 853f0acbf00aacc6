"""The labeling service against real SQLite files: durability across restarts, drafts, undo,
schema rules, time accounting, blindness."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.domain.label import EvidenceSpan, Label
from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.services.labeling import (
    LabelingService,
    LabelInvalid,
    QueueFilter,
    TraceNotFound,
)
from annotator.services.projects import create_project, get_project
from annotator.store.codec import encode_turns
from annotator.store.database import Database
from annotator.store.models import Comment, LabelEvent, LabelRow, TraceRow
from annotator.store.open import open_database


def _open(path: Path) -> Database:
    return open_database(f"sqlite:///{path}", backup_dir=None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "labels.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = _open(db_path)
    yield database
    database.dispose()


def add_traces(db: Database, project: str, n: int, *, gold: bool = False) -> list[int]:
    """Insert ``n`` small traces (one user prompt, reasoning, answer) and return their ids."""
    with db.session() as session:
        pid = get_project(session, project).id
        rows = []
        for i in range(n):
            turns = (
                Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=f"prompt {i}"),)),
                Turn(
                    role=Role.ASSISTANT,
                    blocks=(
                        Block(kind=BlockKind.REASONING, text=f"thinking about {i}"),
                        Block(kind=BlockKind.TEXT, text=f"answer {i}"),
                    ),
                ),
            )
            rows.append(
                TraceRow(
                    project_id=pid,
                    uid=f"t{i}",
                    source_format="openai_chat",
                    model="m",
                    account_id=f"acct{i % 3}",
                    preview=f"prompt {i}",
                    n_turns=2,
                    turns_json=encode_turns(turns),
                    is_gold=gold,
                    gold_json='{"verdict": "legitimate"}' if gold else None,
                )
            )
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def good(i: int = 0, verdict: str = "suspected_distillation") -> Label:
    return Label(
        verdict=verdict,
        tags=("REASONING_ELICIT",),
        counter_tags=(),
        confidence=2,
        rationale=f"reason {i}",
        spans=(EvidenceSpan(turn=1, block=0, start=0, end=8, text="thinking"),),
    )


@pytest.fixture
def project(db: Database) -> list[int]:
    create_project(db, "P")
    return add_traces(db, "P", 12)


def test_ten_labels_survive_a_restart(db_path: Path, db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    for i, tid in enumerate(project[:10]):
        svc.save_draft(tid, Label(verdict="legitimate"), 2.0)
        svc.submit(tid, good(i), 3.5)
    db.dispose()  # as after a kill: nothing kept in memory

    again = _open(db_path)
    try:
        fresh = LabelingService(again, "P", "alice")
        for i, tid in enumerate(project[:10]):
            view = fresh.open(tid)
            assert view.status == "done"
            assert view.label == good(i)
            assert view.label.spans[0].text == "thinking"
            assert view.seconds_spent == pytest.approx(5.5)
            assert view.submitted_at is not None and view.submitted_at.tzinfo is not None
            [event] = fresh.history(tid)
            assert (event.action, event.seconds_spent) == ("submit", pytest.approx(5.5))
        assert fresh.open(project[10]).status == "todo"
        stats = fresh.day_stats()
        assert (stats.done_today, stats.done_total, stats.assigned) == (10, 10, 12)
    finally:
        again.dispose()


def test_draft_recovered_after_restart(db_path: Path, db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    assert svc.last_open_trace() is None
    svc.save_draft(project[3], Label(verdict="legitimate", rationale="half"), 1.0)
    svc.save_draft(project[3], Label(verdict="legitimate", rationale="half done"), 1.0)
    db.dispose()

    again = _open(db_path)
    try:
        fresh = LabelingService(again, "P", "alice")
        assert fresh.last_open_trace() == project[3]
        view = fresh.open(project[3])
        assert view.status == "draft"
        assert view.label.rationale == "half done"
        assert view.seconds_spent == pytest.approx(2.0)
        assert fresh.history(project[3]) == []  # drafts are not history
        fresh.mark_current(project[5])  # shown later than the draft was saved
        assert LabelingService(again, "P", "alice").last_open_trace() == project[5]
        assert LabelingService(again, "P", "bob").last_open_trace() is None
    finally:
        again.dispose()


def test_empty_draft_keeps_todo_and_counts_time(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    svc.save_draft(project[0], Label(), 4.0)
    view = svc.open(project[0])
    assert (view.status, view.seconds_spent) == ("todo", 4.0)
    assert svc.last_open_trace() is None


def test_editing_a_done_item_makes_it_a_draft(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    svc.submit(project[0], good(), 1.0)
    svc.save_draft(project[0], good(), 1.0)  # the panel re-saving what is stored
    assert svc.open(project[0]).status == "done"
    svc.save_draft(project[0], good(9), 1.0)
    view = svc.open(project[0])
    assert (view.status, view.label.rationale, view.seconds_spent) == ("draft", "reason 9", 3.0)
    svc.submit(project[0], good(9), 0.5)
    assert [e.seconds_spent for e in svc.history(project[0])] == [1.0, 2.5]


def test_undo_twice_walks_back(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    a, b, c = project[:3]
    svc.submit(a, good(1), 1.0)
    svc.submit(b, good(2), 1.0)
    svc.skip(c, 1.0)
    assert svc.day_stats().done_today == 2

    assert svc.undo_last_submit() == b
    view = svc.open(b)
    assert (view.status, view.label, view.submitted_at) == ("draft", good(2), None)
    assert svc.undo_last_submit() == a
    assert svc.open(a).status == "draft"
    assert svc.undo_last_submit() is None
    assert svc.open(c).status == "skipped"  # undo only concerns submits
    assert [e.action for e in svc.history(b)] == ["submit", "undo"]
    assert svc.day_stats().done_today == 0
    assert svc.queue_ids(QueueFilter(statuses=frozenset({"draft"}))) == [a, b]

    svc.submit(b, good(3), 1.0)  # re-submitted after the fix: undoable again
    assert svc.day_stats().done_today == 1
    assert svc.undo_last_submit() == b
    assert svc.undo_last_submit() is None


def test_undo_restores_an_earlier_submit(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    a = project[0]
    svc.submit(a, good(1), 1.0)
    first = svc.open(a).submitted_at
    svc.submit(a, good(2, verdict="legitimate"), 1.0)
    assert svc.undo_last_submit() == a
    view = svc.open(a)
    assert (view.status, view.label, view.submitted_at) == ("done", good(1), first)
    assert svc.queue_ids(QueueFilter(verdicts=frozenset({"suspected_distillation"}))) == [a]
    assert svc.undo_last_submit() == a
    assert svc.open(a).status == "draft"
    assert svc.undo_last_submit() is None


def test_undo_keeps_a_later_flag(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    a = project[0]
    svc.submit(a, good(1), 1.0)
    svc.flag(a, "is this a harness?", 1.0)
    assert svc.undo_last_submit() == a
    view = svc.open(a)
    assert (view.status, view.comment) == ("flagged", "is this a harness?")


def test_schema_rules_are_enforced(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    with pytest.raises(LabelInvalid) as info:
        svc.submit(project[0], Label(verdict="legitimate"), 1.0)
    assert info.value.problems == ["Confidence is required for “Legitimate”."]
    with pytest.raises(LabelInvalid) as info:
        svc.submit(project[0], Label(verdict="legitimate", confidence=1, tags=("NOPE",)), 1.0)
    assert info.value.problems == ["Unknown evidence tags: NOPE."]
    with pytest.raises(LabelInvalid) as info:
        svc.submit(project[0], Label(), 1.0)
    assert info.value.problems == ["Choose a verdict."]
    assert svc.open(project[0]).status == "todo"  # nothing written
    assert svc.history(project[0]) == []
    svc.submit(project[0], Label(verdict="cannot_determine"), 1.0)  # confidence optional here
    assert svc.open(project[0]).status == "done"


def test_skip_and_flag(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    svc.save_draft(project[0], Label(verdict="legitimate"), 1.0)
    svc.skip(project[0], 2.0)
    view = svc.open(project[0])
    assert (view.status, view.label.verdict) == ("skipped", "legitimate")
    with pytest.raises(ValueError, match="comment"):
        svc.flag(project[1], "   ", 1.0)
    svc.flag(project[1], "unreadable encoding", 1.0, label=Label(verdict="cannot_determine"))
    view = svc.open(project[1])
    assert (view.status, view.comment, view.label.verdict) == (
        "flagged",
        "unreadable encoding",
        "cannot_determine",
    )
    with db.session() as session:
        comments = session.scalars(select(Comment.body)).all()
        actions = session.scalars(select(LabelEvent.action).order_by(LabelEvent.id)).all()
    assert comments == ["unreadable encoding"]
    assert actions == ["skip", "flag"]
    assert [e.seconds_spent for e in svc.history(project[0])] == [3.0]


def test_labels_are_blind(db: Database, project: list[int]) -> None:
    create_project(db, "Other")
    gold = add_traces(db, "Other", 1, gold=True)[0]
    bob = LabelingService(db, "P", "bob")
    bob.submit(project[0], good(), 1.0)
    bob.flag(project[1], "look", 1.0)
    alice = LabelingService(db, "P", "alice")
    assert alice.rows([project[0], project[1]])[project[0]].status == "todo"
    assert alice.rows([project[0]])[project[0]].verdict is None
    view = alice.open(project[0])
    assert (view.status, view.label, view.seconds_spent) == ("todo", Label(), 0.0)
    assert alice.history(project[0]) == []
    assert alice.queue_ids(QueueFilter(statuses=frozenset({"done", "flagged"}))) == []
    assert alice.undo_last_submit() is None
    assert alice.day_stats().done_total == 0
    # a trace of another project is out of reach, gold or not
    with pytest.raises(TraceNotFound):
        alice.open(gold)
    with pytest.raises(TraceNotFound):
        alice.submit(gold, good(), 1.0)
    assert alice.rows([gold]) == {}
    assert not hasattr(view, "gold") and not hasattr(view.trace, "is_gold")


def test_day_stats(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    stats = svc.day_stats()
    assert (stats.done_today, stats.assigned, stats.pace_per_hour, stats.seconds_today) == (
        0,
        12,
        None,
        0.0,
    )
    svc.submit(project[0], good(), 30.0)
    assert svc.day_stats().pace_per_hour is None  # under a minute: no figure
    svc.submit(project[1], good(), 60.0)
    svc.skip(project[2], 90.0)
    stats = svc.day_stats()
    assert stats.seconds_today == pytest.approx(180.0)
    assert stats.pace_per_hour == pytest.approx(2 / (180 / 3600))
    # yesterday's submits do not count today
    with db.session() as session:
        for event in session.scalars(select(LabelEvent)).all():
            event.created_at = datetime.now(UTC) - timedelta(days=1)
    stats = svc.day_stats()
    assert (stats.done_today, stats.done_total, stats.seconds_today) == (0, 2, 0.0)
    tomorrow = svc.day_stats(now=datetime.now(UTC) + timedelta(days=1))
    assert tomorrow.done_today == 0


def test_new_annotator_row_and_missing_project(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "  carol ")
    assert svc.project.name == "P" and svc.project.schema.name
    assert LabelingService(db, "P", "carol").annotator_id == svc.annotator_id
    with pytest.raises(ValueError, match="no project"):
        LabelingService(db, "Nope", "carol")
    with db.session() as session:
        assert session.scalar(select(LabelRow.id)) is None


def test_undo_after_reopening_keeps_the_newer_draft(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    a = project[0]
    svc.submit(a, good(1), 1.0)
    svc.save_draft(a, good(7), 1.0)  # reopened and edited: a draft again
    assert svc.undo_last_submit() == a
    view = svc.open(a)
    assert (view.status, view.label) == ("draft", good(7))
    assert view.seconds_spent == 2.0  # undo never takes time back


def test_history_records_each_action(db: Database, project: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    a = project[0]
    svc.flag(a, "which verdict for a relay?", 4.0)
    svc.submit(a, good(), 6.0, with_suggestions=True)
    svc.undo_last_submit()
    events = svc.history(a)
    assert [(e.action, e.status, e.seconds_spent) for e in events] == [
        ("flag", "flagged", 4.0),
        ("submit", "done", 6.0),
        ("undo", "flagged", 0.0),
    ]
    assert events[0].comment == "which verdict for a relay?"
    assert events[1].with_suggestions and events[1].label == good()
    assert events[0].created_at <= events[1].created_at <= events[2].created_at
    assert events[2].created_at.tzinfo is not None
    assert svc.open(a).comment == "which verdict for a relay?"
