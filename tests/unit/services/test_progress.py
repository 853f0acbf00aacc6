"""Progress for the lead: per labeler done/assigned, throughput, time per item, over time,
verdict and tag distribution."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from annotator.services.assignment import assign
from annotator.services.progress import progress
from annotator.services.review import RoleError, accept_label
from annotator.store.database import Database
from tests.unit.agreement.lead_world import LEAD, T0, make_project, open_db, put_label


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "progress.db")
    yield database
    database.dispose()


def test_progress_per_labeler_and_over_time(db: Database) -> None:
    ids = make_project(db, n=10, gold=2)
    assign(
        db, "P", n_items=6, labelers=["ann", "bob"], overlap_k=2, order="import", assigned_by=LEAD
    )
    # ann: 4 done over two days (60, 90, 120, 150 s); bob: 1 done, 1 skipped, 1 draft.
    for i, seconds in enumerate((60.0, 90.0, 120.0, 150.0)):
        put_label(
            db,
            "P",
            ids[i],
            "ann",
            "suspected_distillation" if i % 2 else "legitimate",
            tags=["REASONING_ELICIT"] if i % 2 else ["EDU_TUTORING"],
            seconds=seconds,
            at=T0 + timedelta(days=i // 2, hours=i),
        )
    put_label(db, "P", ids[0], "bob", "legitimate", seconds=30.0, at=T0 + timedelta(days=2))
    put_label(db, "P", ids[1], "bob", None, status="skipped")
    put_label(db, "P", ids[2], "bob", "legitimate", status="draft")
    put_label(db, "P", ids[8], "cy", "cannot_determine", seconds=10.0, at=T0)  # unassigned work
    accept_label(db, "P", lead=LEAD, trace=ids[0], label_of_labeler="ann")

    report = progress(db, "P", lead=LEAD)
    assert (report.traces, report.gold_items, report.assigned_items) == (12, 2, 6)
    assert report.labeled_items == 5 and report.complete_items == 1  # only t000 has both
    assert report.adjudicated_items == 1
    by = {p.name: p for p in report.labelers}
    assert set(by) == {"ann", "bob", "cy", LEAD}
    ann = by["ann"]
    assert (ann.assigned, ann.done, ann.done_assigned, ann.remaining) == (6, 4, 4, 2)
    assert ann.seconds == 420.0
    assert ann.items_per_hour == pytest.approx(4 / (420 / 3600))
    assert ann.median_seconds == pytest.approx(105.0)
    assert ann.share_done == pytest.approx(4 / 6)
    bob = by["bob"]
    assert (bob.done, bob.skipped, bob.drafts, bob.flagged) == (1, 1, 1, 0)
    assert bob.items_per_hour is None  # 30 s of work is too little for a rate
    cy = by["cy"]
    assert (cy.assigned, cy.done, cy.done_assigned) == (0, 1, 0)
    assert by[LEAD].role == "lead" and by[LEAD].done == 0

    days = [(p.start.date().isoformat(), p.total, p.cumulative) for p in report.over_time]
    assert days == [("2026-03-02", 3, 3), ("2026-03-03", 2, 5), ("2026-03-04", 1, 6)]
    assert report.over_time[0].done == {"ann": 2, "cy": 1}
    assert report.verdicts == {
        "legitimate": 3,
        "suspected_distillation": 2,
        "cannot_determine": 1,
    }
    assert report.tags == {"REASONING_ELICIT": 2}
    assert report.counter_tags == {"EDU_TUTORING": 2}
    hist = report.time_per_item
    assert sum(hist.counts) == 6 and len(hist.edges) == len(hist.counts) + 1
    as_json = report.as_dict()
    assert as_json["labelers"][0]["name"] == "ann" and as_json["over_time"][0]["total"] == 3


def test_hourly_buckets_fill_gaps(db: Database) -> None:
    ids = make_project(db, n=3)
    put_label(db, "P", ids[0], "ann", "legitimate", at=T0)
    put_label(db, "P", ids[1], "ann", "legitimate", at=T0 + timedelta(hours=3, minutes=20))
    report = progress(db, "P", lead=LEAD, bucket="hour")
    assert [p.total for p in report.over_time] == [1, 0, 0, 1]
    assert report.over_time[-1].start == T0 + timedelta(hours=3)
    sparse = progress(db, "P", lead=LEAD, bucket="hour", fill_gaps=False)
    assert [p.total for p in sparse.over_time] == [1, 1]
    with pytest.raises(ValueError, match="unknown bucket"):
        progress(db, "P", lead=LEAD, bucket="week")


def test_progress_is_lead_only_and_empty_projects_work(db: Database) -> None:
    make_project(db, n=0)
    with pytest.raises(RoleError):
        progress(db, "P", lead="ann")
    report = progress(db, "P", lead=LEAD)
    assert report.traces == 0 and report.over_time == () and report.time_per_item.counts == ()
