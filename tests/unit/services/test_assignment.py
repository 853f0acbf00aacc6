"""Assignment: overlap, balance, gold rate, order, fresh items first, reassign/unassign keep
labels, and every bad input refused with nothing changed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from annotator.domain.label import Label
from annotator.services.assignment import (
    AssignmentError,
    assign,
    mark_gold,
    reassign,
    unassign,
    unmark_gold,
)
from annotator.services.detection.suggest import DETECTOR, ordered_trace_ids
from annotator.services.labeling import LabelingService
from annotator.services.review import RoleError
from annotator.store.database import Database
from annotator.store.models import Annotator, Assignment, LabelRow, Suggestion, TraceRow
from tests.unit.agreement.lead_world import LABELERS, LEAD, make_project, open_db, put_label


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "assign.db")
    yield database
    database.dispose()


def queues(db: Database) -> dict[str, list[int]]:
    """Each annotator's assigned trace ids in queue order."""
    with db.session() as session:
        rows = session.execute(
            select(Annotator.name, Assignment.trace_id)
            .join(Annotator, Annotator.id == Assignment.annotator_id)
            .order_by(Annotator.name, Assignment.position)
        ).all()
    out: dict[str, list[int]] = {}
    for name, trace_id in rows:
        out.setdefault(name, []).append(trace_id)
    return out


def n_assignments(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count(Assignment.id))) or 0


def test_each_item_goes_to_k_labelers_with_balanced_load(db: Database) -> None:
    ids = make_project(db, n=40)
    result = assign(db, "P", n_items=20, labelers=LABELERS, overlap_k=2, seed=1, assigned_by=LEAD)
    assert result.n_items == 20 and result.n_gold == 0 and result.n_assignments == 40
    q = queues(db)
    per_item = Counter(t for queue in q.values() for t in queue)
    assert set(per_item.values()) == {2} and len(per_item) == 20
    loads = sorted(len(v) for v in q.values())
    assert loads[-1] - loads[0] <= 1 and sum(loads) == 40
    assert result.per_labeler == {name: len(q[name]) for name in LABELERS}
    assert set(per_item) <= set(ids)
    # Positions are 0..n-1 per labeler, and the queue follows the batch order.
    with db.session() as session:
        positions = session.execute(
            select(
                Assignment.annotator_id,
                func.min(Assignment.position),
                func.max(Assignment.position),
            ).group_by(Assignment.annotator_id)
        ).all()
    for _, low, _high in positions:
        assert low == 0
    order = {t: i for i, t in enumerate(result.trace_ids)}
    for queue in q.values():
        assert queue == sorted(queue, key=order.__getitem__)


def test_labeler_queue_is_their_assignments(db: Database) -> None:
    make_project(db, n=12)
    result = assign(
        db, "P", n_items=6, labelers=["ann", "bob"], overlap_k=1, seed=0, assigned_by=LEAD
    )
    svc = LabelingService(db, "P", "ann")
    assert svc.queue_ids() == queues(db)["ann"]
    assert len(svc.queue_ids()) == result.per_labeler["ann"] == 3


def test_orders_random_import_score(db: Database) -> None:
    ids = make_project(db, n=30)
    imported = assign(db, "P", n_items=5, labelers=["ann"], order="import", assigned_by=LEAD)
    assert list(imported.trace_ids) == ids[:5]
    by_score = assign(
        db,
        "P",
        n_items=5,
        labelers=["bob"],
        order="score",
        score_column="reasoning_chars",
        assigned_by=LEAD,
    )
    with db.session() as session:
        chars = dict(session.execute(select(TraceRow.id, TraceRow.reasoning_chars)).all())
    scores = [chars[t] for t in by_score.trace_ids]
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= max(chars[t] for t in ids if t not in by_score.trace_ids)
    one = assign(db, "P", n_items=5, labelers=["cy"], order="random", seed=42, assigned_by=LEAD)
    assert list(one.trace_ids) != sorted(one.trace_ids)


def test_uncertainty_order_puts_least_certain_suggestions_first(db: Database) -> None:
    ids = make_project(db, n=12)
    # Scores around the suspect line (0.6); a second detector's rows must not count; the
    # last four traces have no heuristic suggestion at all.
    scores = [0.95, 0.61, 0.1, 0.55, 0.3, 0.0, 0.7, 0.6]
    with db.session() as session:
        pid = session.scalar(select(TraceRow.project_id).where(TraceRow.id == ids[0]))
        assert pid is not None
        for trace_id, score in zip(ids, scores, strict=False):
            session.add(
                Suggestion(project_id=pid, trace_id=trace_id, detector=DETECTOR, score=score)
            )
        session.add(Suggestion(project_id=pid, trace_id=ids[10], detector="other", score=0.6))
    result = assign(db, "P", n_items=12, labelers=["ann"], order="uncertainty", assigned_by=LEAD)
    expected = [ids[7], ids[1], ids[3], ids[6], ids[4], ids[0], ids[2], ids[5], *ids[8:]]
    assert list(result.trace_ids) == expected
    assert queues(db)["ann"] == expected
    # The same order as the detection service gives for the whole project.
    assert list(result.trace_ids) == ordered_trace_ids(db, pid, by="uncertainty")
    # With every item taken by ann, a second labeler gets them in the same order.
    more = assign(db, "P", n_items=3, labelers=["bob"], order="uncertainty", assigned_by=LEAD)
    assert list(more.trace_ids) == expected[:3]
    with pytest.raises(AssignmentError, match="only 12 of the project's 12 items"):
        assign(db, "P", n_items=13, labelers=["cy"], order="uncertainty", assigned_by=LEAD)
    assert len(queues(db)) == 2 and "cy" not in queues(db)


def test_random_order_is_reproducible_with_the_seed(tmp_path: Path) -> None:
    picks = []
    for run in range(3):
        database = open_db(tmp_path / f"seed{run}.db")
        try:
            make_project(database, n=50)
            seed = 7 if run < 2 else 8
            result = assign(
                database,
                "P",
                n_items=10,
                labelers=LABELERS,
                overlap_k=2,
                seed=seed,
                assigned_by=LEAD,
            )
            picks.append((result.trace_ids, queues(database)))
        finally:
            database.dispose()
    assert picks[0] == picks[1]
    assert picks[0][0] != picks[2][0]


def test_unassigned_and_unlabeled_items_come_first(db: Database) -> None:
    ids = make_project(db, n=10)
    put_label(db, "P", ids[0], "cy", "legitimate")  # labeled by someone outside the batch
    first = assign(db, "P", n_items=4, labelers=["ann"], order="import", assigned_by=LEAD)
    assert list(first.trace_ids) == ids[1:5]
    second = assign(db, "P", n_items=5, labelers=["bob"], order="import", assigned_by=LEAD)
    assert list(second.trace_ids) == ids[5:10]
    # Only touched items are left: they come now, and never twice to the same person.
    third = assign(db, "P", n_items=3, labelers=["ann"], order="import", assigned_by=LEAD)
    assert list(third.trace_ids) == [ids[0], ids[5], ids[6]]
    assert len(queues(db)["ann"]) == len(set(queues(db)["ann"])) == 7


def test_gold_items_are_mixed_in_at_the_rate(db: Database) -> None:
    ids = make_project(db, n=40, gold=10)
    gold_ids = set(ids[40:])
    result = assign(
        db,
        "P",
        n_items=20,
        labelers=LABELERS,
        overlap_k=3,
        gold_rate=0.25,
        seed=3,
        assigned_by=LEAD,
    )
    assert result.n_gold == 5
    assert len(gold_ids & set(result.trace_ids)) == 5
    for queue in queues(db).values():
        assert len(gold_ids & set(queue)) == 5 and len(queue) == 20
    # Mixed in, not all at the end.
    positions = [i for i, t in enumerate(result.trace_ids) if t in gold_ids]
    assert positions != list(range(15, 20))


def test_bad_input_changes_nothing(db: Database) -> None:
    make_project(db, n=10, gold=2, gold_answers=False)
    assign(db, "P", n_items=2, labelers=["ann"], assigned_by=LEAD)
    before = queues(db)

    cases: list[tuple[dict[str, object], str]] = [
        ({"n_items": 11, "labelers": ["bob"]}, "only 10 of the project's 10 items"),
        ({"n_items": 2, "labelers": ["ann", "bob"], "overlap_k": 3}, "more than the 2 chosen"),
        ({"n_items": 4, "labelers": ["bob"], "gold_rate": 0.5}, "has no answer"),
        ({"n_items": 2, "labelers": ["bob", "zed"]}, "'zed' is not a member"),
        ({"n_items": 0, "labelers": ["bob"]}, "at least one item"),
        ({"n_items": 2, "labelers": []}, "at least one labeler"),
        ({"n_items": 2, "labelers": ["bob"], "gold_rate": 1.5}, "between 0 and 1"),
        ({"n_items": 2, "labelers": ["bob"], "order": "alphabetical"}, "unknown order"),
        (
            {"n_items": 2, "labelers": ["bob"], "order": "score", "score_column": "colour"},
            "unknown score column",
        ),
        ({"n_items": 2, "labelers": ["bob", "bob"]}, "listed twice"),
    ]
    for kwargs, message in cases:
        with pytest.raises(AssignmentError, match=message):
            assign(db, "P", assigned_by=LEAD, **kwargs)  # type: ignore[arg-type]
        assert queues(db) == before
    # A failure after some rows were built (the gold check comes after picking items) leaves
    # no half-done batch either.
    assert n_assignments(db) == 2


def test_only_a_lead_assigns(db: Database) -> None:
    make_project(db, n=5)
    with pytest.raises(RoleError, match="'ann' is a labeler, not a lead"):
        assign(db, "P", n_items=1, labelers=["bob"], assigned_by="ann")
    with pytest.raises(RoleError, match="not a member"):
        assign(db, "P", n_items=1, labelers=["bob"], assigned_by="mallory")
    assert n_assignments(db) == 0


def test_reassign_moves_only_unlabeled_items_and_keeps_labels(db: Database) -> None:
    make_project(db, n=10)
    assign(db, "P", n_items=6, labelers=["ann"], order="import", assigned_by=LEAD)
    ann = queues(db)["ann"]
    put_label(db, "P", ann[0], "ann", "legitimate")
    put_label(db, "P", ann[1], "ann", "legitimate", status="draft")
    assign(db, "P", n_items=1, labelers=["bob"], order="import", assigned_by=LEAD)
    bob_before = queues(db)["bob"]
    moved = reassign(db, "P", from_labeler="ann", to_labeler="bob", assigned_by=LEAD)
    assert (moved.moved, moved.kept_labeled) == (5, 1)
    q = queues(db)
    assert q["ann"] == [ann[0]]
    assert q["bob"] == bob_before + ann[1:]
    with db.session() as session:
        assert session.scalar(select(func.count(LabelRow.id))) == 2  # both labels kept


def test_reassign_skips_items_the_receiver_has(db: Database) -> None:
    make_project(db, n=4)
    assign(
        db, "P", n_items=4, labelers=["ann", "bob"], overlap_k=2, order="import", assigned_by=LEAD
    )
    moved = reassign(db, "P", from_labeler="ann", to_labeler="bob", assigned_by=LEAD)
    assert (moved.moved, moved.skipped_duplicate) == (0, 4)
    assert len(queues(db)["ann"]) == 4


def test_unassign_keeps_labels_and_labeled_entries(db: Database) -> None:
    ids = make_project(db, n=6)
    assign(db, "P", n_items=6, labelers=["ann"], order="import", assigned_by=LEAD)
    put_label(db, "P", ids[2], "ann", "suspected_distillation")
    result = unassign(db, "P", labeler="ann", assigned_by=LEAD, traces=["t000", "t002"])
    assert (result.moved, result.kept_labeled) == (1, 1)
    assert queues(db)["ann"] == [ids[1], ids[2], ids[3], ids[4], ids[5]]
    everything = unassign(db, "P", labeler="ann", assigned_by=LEAD, include_labeled=True)
    assert everything.moved == 5 and "ann" not in queues(db)
    with db.session() as session:
        assert session.scalar(select(func.count(LabelRow.id))) == 1
    with pytest.raises(RoleError):
        unassign(db, "P", labeler="ann", assigned_by="bob")


def test_mark_gold_sets_a_valid_answer(db: Database) -> None:
    ids = make_project(db, n=3)
    answer = Label(verdict="suspected_distillation", tags=("DATASET_FORMAT",), confidence=3)
    assert mark_gold(db, "P", "t001", answer, lead=LEAD) == ids[1]
    with db.session() as session:
        row = session.get(TraceRow, ids[1])
        assert row is not None and row.is_gold and row.gold_json is not None
        assert Label.model_validate_json(row.gold_json) == answer
    with pytest.raises(AssignmentError, match="not a valid label"):
        mark_gold(db, "P", "t002", Label(verdict="maybe"), lead=LEAD)
    with pytest.raises(AssignmentError, match="no trace 't999'"):
        mark_gold(db, "P", "t999", answer, lead=LEAD)
    with pytest.raises(RoleError):
        mark_gold(db, "P", "t002", answer, lead="ann")
    unmark_gold(db, "P", ids[1], lead=LEAD)
    with db.session() as session:
        row = session.get(TraceRow, ids[1])
        assert row is not None and not row.is_gold and row.gold_json is None
