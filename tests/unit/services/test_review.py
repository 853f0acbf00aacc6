"""Roles, the review queue (labels side by side), accepting or writing the final label with
history, and who may read which comments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from annotator.domain.label import Label
from annotator.services.labeling import LabelingService
from annotator.services.projects import ProjectError, create_project
from annotator.services.review import (
    ReviewError,
    RoleError,
    accept_label,
    add_comment,
    adjudication_history,
    comments_for,
    list_members,
    review_queue,
    set_final_label,
    set_member,
)
from annotator.store.database import Database
from annotator.store.models import Adjudication
from tests.unit.agreement.lead_world import LEAD, make_project, open_db, put_label


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "review.db")
    yield database
    database.dispose()


@pytest.fixture
def ids(db: Database) -> list[int]:
    ids = make_project(db, n=6, gold=1)
    put_label(db, "P", ids[0], "ann", "legitimate", tags=["EDU_TUTORING"])
    put_label(db, "P", ids[0], "bob", "legitimate", tags=["EDU_TUTORING"])
    put_label(
        db,
        "P",
        ids[1],
        "ann",
        "suspected_distillation",
        tags=["REASONING_ELICIT"],
        spans=[(0, 12)],
        rationale="asks for the full chain of thought",
    )
    put_label(db, "P", ids[1], "bob", "legitimate", rationale="a tutoring app")
    put_label(db, "P", ids[1], "cy", "suspected_distillation", tags=["DATASET_FORMAT"])
    put_label(db, "P", ids[2], "ann", "legitimate", tags=["DEV_TOOL"])
    put_label(db, "P", ids[2], "bob", "legitimate", tags=["EDU_TUTORING"])
    put_label(db, "P", ids[3], "cy", None, status="flagged")
    put_label(db, "P", ids[4], "ann", "legitimate", status="draft")
    return ids


def test_members_and_roles(db: Database) -> None:
    create_project(db, "Q")
    with pytest.raises(RoleError, match="no lead yet"):
        set_member(db, "Q", name="ann", role="labeler", acting="ann")
    set_member(db, "Q", name="lena", role="lead", acting="whoever")  # the first lead
    with pytest.raises(RoleError, match="'ann' is not a member"):
        set_member(db, "Q", name="ann", role="lead", acting="ann")
    set_member(db, "Q", name="ann", role="labeler", acting="lena")
    set_member(db, "Q", name="bob", role="labeler", acting="lena")
    with pytest.raises(RoleError, match="'ann' is a labeler, not a lead"):
        set_member(db, "Q", name="bob", role="lead", acting="ann")
    with pytest.raises(RoleError, match="only lead"):
        set_member(db, "Q", name="lena", role="labeler", acting="lena")
    with pytest.raises(ProjectError, match="unknown role"):
        set_member(db, "Q", name="bob", role="boss", acting="lena")
    set_member(db, "Q", name="bob", role="lead", acting="lena")
    assert [(m.name, m.role) for m in list_members(db, "Q")] == [
        ("bob", "lead"),
        ("lena", "lead"),
        ("ann", "labeler"),
    ]


def test_review_queue_lists_disagreements_and_flags_with_labels_side_by_side(
    db: Database, ids: list[int]
) -> None:
    items = review_queue(db, "P", lead=LEAD)
    assert [(i.trace_id, i.reasons) for i in items] == [
        (ids[1], ("disagree",)),
        (ids[3], ("flagged",)),
    ]
    item = items[0]
    assert item.uid == "t001" and item.verdicts == {"suspected_distillation": 2, "legitimate": 1}
    assert [label.labeler for label in item.labels] == ["ann", "bob", "cy"]
    ann = item.labels[0]
    assert ann.verdict == "suspected_distillation" and ann.tags == ("REASONING_ELICIT",)
    assert ann.rationale == "asks for the full chain of thought"
    assert [(s.start, s.end) for s in ann.spans] == [(0, 12)]
    assert item.labels[1].rationale == "a tutoring app"
    assert not item.is_gold and item.gold is None and item.adjudication is None
    as_json = item.as_dict()
    assert as_json["labels"][0]["spans"][0]["end"] == 12


def test_review_queue_options(db: Database, ids: list[int]) -> None:
    with_tags = review_queue(db, "P", lead=LEAD, tag_disagreement=True)
    assert [i.trace_id for i in with_tags] == [ids[1], ids[2], ids[3]]
    only_flags = review_queue(db, "P", lead=LEAD, reasons=["flagged"])
    assert [i.trace_id for i in only_flags] == [ids[3]]
    # A picked item appears whatever its labels, with drafts shown too, and a gold answer.
    put_label(db, "P", ids[6], "ann", "other_policy_issue")
    picked = review_queue(db, "P", lead=LEAD, reasons=[], picked=["t004", "t006"])
    assert [(i.uid, i.reasons) for i in picked] == [("t004", ("picked",)), ("t006", ("picked",))]
    assert [lab.status for lab in picked[0].labels] == ["draft"]
    assert picked[1].is_gold and picked[1].gold == Label(verdict="legitimate", confidence=2)
    with pytest.raises(ReviewError, match="unknown review reason"):
        review_queue(db, "P", lead=LEAD, reasons=["bored"])
    with pytest.raises(ReviewError, match="no trace 't404'"):
        review_queue(db, "P", lead=LEAD, picked=["t404"])


def test_review_and_adjudication_are_lead_only(db: Database, ids: list[int]) -> None:
    for call in (
        lambda: review_queue(db, "P", lead="ann"),
        lambda: accept_label(db, "P", lead="ann", trace="t001", label_of_labeler="ann"),
        lambda: set_final_label(
            db, "P", lead="bob", trace="t001", label=Label(verdict="legitimate", confidence=1)
        ),
        lambda: adjudication_history(db, "P", lead="cy", trace="t001"),
    ):
        with pytest.raises(RoleError, match="not a lead"):
            call()
    with db.session() as session:
        assert session.scalar(select(func.count(Adjudication.id))) == 0


def test_accept_then_override_keeps_history(db: Database, ids: list[int]) -> None:
    first = accept_label(db, "P", lead=LEAD, trace="t001", label_of_labeler="cy", note="tags aside")
    assert first.verdict == "suspected_distillation" and first.accepted_from == "cy"
    assert first.label.tags == ("DATASET_FORMAT",) and first.lead == LEAD
    # Adjudicated items leave the default queue...
    assert [i.trace_id for i in review_queue(db, "P", lead=LEAD)] == [ids[3]]
    # ...unless asked for, with the current decision attached.
    shown = review_queue(db, "P", lead=LEAD, include_adjudicated=True)[0]
    assert shown.adjudication is not None and shown.adjudication.id == first.id

    final = Label(
        verdict="suspected_distillation",
        tags=("REASONING_ELICIT", "DATASET_FORMAT"),
        confidence=3,
        rationale="both signals",
    )
    second = set_final_label(db, "P", lead=LEAD, trace=ids[1], label=final)
    assert second.accepted_label_id is None and second.label == final
    history = adjudication_history(db, "P", lead=LEAD, trace="t001")
    assert [h.id for h in history] == [first.id, second.id]
    assert history[0].note == "tags aside" and history[-1].label == final


def test_adjudication_refusals(db: Database, ids: list[int]) -> None:
    with pytest.raises(ReviewError, match="'cy' has no submitted label"):
        accept_label(db, "P", lead=LEAD, trace="t003", label_of_labeler="cy")  # flagged only
    with pytest.raises(ReviewError, match="'zed' has no submitted label"):
        accept_label(db, "P", lead=LEAD, trace="t001", label_of_labeler="zed")
    with pytest.raises(ReviewError, match="Unknown verdict"):
        set_final_label(db, "P", lead=LEAD, trace="t001", label=Label(verdict="nah", confidence=1))
    with pytest.raises(ReviewError, match="Confidence is required"):
        set_final_label(db, "P", lead=LEAD, trace="t001", label=Label(verdict="legitimate"))
    with pytest.raises(ReviewError, match="no trace"):
        accept_label(db, "P", lead=LEAD, trace="nope", label_of_labeler="ann")


def test_comments_are_seen_by_the_lead_and_the_labeler_who_flagged(
    db: Database, ids: list[int]
) -> None:
    cy = LabelingService(db, "P", "cy")
    cy.flag(ids[5], "is a tutoring harness legitimate?", 5.0)
    add_comment(db, "P", author="ann", trace="t005", body="I wondered too")  # another labeler
    add_comment(db, "P", author=LEAD, trace="t005", body="yes if disclosed")
    add_comment(db, "P", author="bob", trace="t002", body="unsure about DEV_TOOL")

    lead_view = comments_for(db, "P", viewer=LEAD)
    assert [c.body for c in lead_view] == [
        "is a tutoring harness legitimate?",
        "I wondered too",
        "yes if disclosed",
        "unsure about DEV_TOOL",
    ]
    assert [c.body for c in comments_for(db, "P", viewer="cy")] == [
        "is a tutoring harness legitimate?",
        "yes if disclosed",
    ]
    assert [c.body for c in comments_for(db, "P", viewer="ann")] == [
        "I wondered too",
        "yes if disclosed",
    ]
    assert [c.body for c in comments_for(db, "P", viewer="bob", trace="t005")] == []
    assert [c.body for c in comments_for(db, "P", viewer="bob")] == ["unsure about DEV_TOOL"]
    assert lead_view[2].author_role == "lead" and lead_view[0].uid == "t005"
    with pytest.raises(RoleError, match="not a member"):
        comments_for(db, "P", viewer="mallory")
    with pytest.raises(RoleError, match="not a member"):
        add_comment(db, "P", author="mallory", trace="t001", body="hi")
    with pytest.raises(ReviewError, match="needs some text"):
        add_comment(db, "P", author=LEAD, trace="t001", body="   ")
