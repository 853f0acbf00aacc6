"""Group context, group labels, and a lead applying a group label to unlabeled members (stored as
derived, never as a person's label)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from annotator.domain.label import EvidenceSpan, Label
from annotator.services.detection.groups import (
    GroupError,
    add_group_label,
    apply_group_label,
    derived_labels_for_trace,
    group_context,
    group_labels,
    group_labels_for_trace,
)
from annotator.services.labeling import LabelingService
from annotator.services.projects import add_member
from annotator.store.detection_models import DerivedLabel, TraceCluster
from annotator.store.models import Adjudication, LabelEvent, LabelRow
from tests.unit.detection.conftest import Demo

SUSPECT = Label(
    verdict="suspected_distillation",
    tags=("TEMPLATE_AT_SCALE", "ACCOUNT_COORDINATION"),
    confidence=3,
    rationale="one template, eight accounts, 90 s apart",
)


def _cluster_key(demo: Demo, trace_id: int) -> str:
    with demo.db.session() as session:
        cid = session.scalar(
            select(TraceCluster.cluster_id).where(TraceCluster.trace_id == trace_id)
        )
    return str(cid)


def test_context_of_a_campaign_trace(demo: Demo) -> None:
    first = demo.group("A")[0]
    ctx = group_context(demo.db, first)
    assert ctx.cluster is not None and ctx.account is not None and ctx.session is not None
    assert (ctx.cluster.size, ctx.cluster.n_accounts) == (12, 8)
    assert ctx.cluster.median_gap == 90 and ctx.cluster.gap_cv == 0
    assert len(ctx.cluster.times) == 12 and sum(ctx.cluster.hours) == 12
    assert ctx.cluster.hours[3] == 12
    assert len(ctx.cluster.siblings) == 11 and first not in {
        s.trace_id for s in ctx.cluster.siblings
    }
    assert ctx.cluster.template and ctx.cluster.slots
    assert ctx.account.key.startswith("acct-7f3a0") and ctx.account.n_accounts == 1
    assert ctx.session.size == ctx.account.size == 2


def test_context_of_an_everyday_trace(demo: Demo) -> None:
    ctx = group_context(demo.db, demo.ids["sg-lease-clause-77c4"])
    assert ctx.cluster is not None and ctx.cluster.size == 1 and ctx.cluster.siblings == ()
    assert ctx.cluster.median_gap is None and ctx.cluster.gap_cv is None
    with pytest.raises(GroupError):
        group_context(demo.db, 999_999)


def test_group_labels_are_validated_appended_and_shown_on_members(demo: Demo) -> None:
    a = demo.group("A")
    key = _cluster_key(demo, a[0])
    with pytest.raises(GroupError, match="Confidence"):
        add_group_label(
            demo.db, demo.project_id, "cluster", key, "lena", Label(verdict="legitimate")
        )
    with pytest.raises(GroupError, match="no traces"):
        add_group_label(demo.db, demo.project_id, "account", "nobody", "lena", SUSPECT)
    with pytest.raises(GroupError, match="spans"):
        spanned = SUSPECT.model_copy(
            update={"spans": (EvidenceSpan(turn=0, block=0, start=0, end=1),)}
        )
        add_group_label(demo.db, demo.project_id, "cluster", key, "lena", spanned)
    first = add_group_label(demo.db, demo.project_id, "cluster", key, "lena", SUSPECT)
    changed = SUSPECT.model_copy(update={"confidence": 2})
    second = add_group_label(demo.db, demo.project_id, "cluster", key, "lena", changed)
    other = add_group_label(demo.db, demo.project_id, "account", "acct-7f3a01", "omar", SUSPECT)
    assert second.id > first.id
    current = group_labels(demo.db, demo.project_id, "cluster", key)
    assert [(g.annotator, g.label.confidence) for g in current] == [("lena", 2)]
    on_trace = group_labels_for_trace(demo.db, demo.ids["chatcmpl-1db2b2394e5e99bafd8977a386ee9"])
    assert {(g.kind, g.annotator) for g in on_trace} == {("cluster", "lena"), ("account", "omar")}
    assert other.label == SUSPECT
    assert group_labels_for_trace(demo.db, demo.ids["sg-lease-clause-77c4"]) == []


def test_a_lead_applies_a_group_label_to_unlabeled_members_only(demo: Demo) -> None:
    a = demo.group("A")
    key = _cluster_key(demo, a[0])
    add_member(demo.db, "demo", "lead-ana", "lead")
    add_member(demo.db, "demo", "lab-bo", "labeler")
    gl = add_group_label(demo.db, demo.project_id, "cluster", key, "lab-bo", SUSPECT)
    # One member labeled by a person, one adjudicated, one with only a draft.
    service = LabelingService(demo.db, "demo", "lab-bo")
    service.submit(a[0], Label(verdict="cannot_determine"), 5.0)
    service.save_draft(a[1], Label(verdict="legitimate", confidence=1), 1.0)
    with demo.db.session() as session:
        lead_id = session.scalar(select(LabelRow.annotator_id).limit(1))
        session.add(Adjudication(project_id=demo.project_id, trace_id=a[2], lead_id=lead_id,
                                 verdict="legitimate", label_json="{}"))  # fmt: skip
        events_before = session.scalar(select(func.count()).select_from(LabelEvent))
        labels_before = session.scalar(select(func.count()).select_from(LabelRow))
    with pytest.raises(GroupError, match="not a lead"):
        apply_group_label(demo.db, gl.id, "lab-bo")
    result = apply_group_label(demo.db, gl.id, "lead-ana")
    assert (result.applied, result.already_labeled, result.already_applied) == (10, 2, 0)
    again = apply_group_label(demo.db, gl.id, "lead-ana")
    assert (again.applied, again.already_labeled, again.already_applied) == (0, 2, 10)
    with demo.db.session() as session:
        derived = set(session.scalars(select(DerivedLabel.trace_id)))
        assert derived == set(a) - {a[0], a[2]}
        # Nothing that agreement or export reads was written.
        assert session.scalar(select(func.count()).select_from(LabelEvent)) == events_before
        assert session.scalar(select(func.count()).select_from(LabelRow)) == labels_before
    views = derived_labels_for_trace(demo.db, a[1])
    assert len(views) == 1
    assert (views[0].kind, views[0].applied_by, views[0].label) == ("cluster", "lead-ana", SUSPECT)
    assert derived_labels_for_trace(demo.db, a[0]) == []
