"""Group context (a trace's cluster, account and session: counts, timeline, siblings) and labels
on whole groups.

Decision on applying a group label to member traces: the application is stored in
``derived_labels`` (which group label, who applied it, when), never as a ``LabelRow`` or
``LabelEvent``. Agreement, adjudication, the labeling queue's status and export read those
tables, so a derived label can never be counted as a person's judgment of the trace; an export
that wants them reads ``derived_labels`` explicitly and can mark them as derived. Only traces
without a submitted label (status ``done``) and without an adjudication receive one."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from annotator.domain.label import Label, validate_label
from annotator.domain.schema import LabelSchema
from annotator.services.projects import ensure_annotator
from annotator.store.database import Database
from annotator.store.detection_models import DerivedLabel, GroupLabel, PromptCluster, TraceCluster
from annotator.store.models import (
    Adjudication,
    Annotator,
    LabelRow,
    Project,
    ProjectMember,
    TraceRow,
    utcnow,
)

GroupKind = Literal["cluster", "account", "session"]
KINDS: tuple[GroupKind, ...] = ("cluster", "account", "session")
MAX_TIMES = 20_000
"""Request times returned for a timeline; a bigger group is sampled evenly."""


class GroupError(ValueError):
    """An unknown group, an invalid group label, or an action the person may not take."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class Sibling:
    trace_id: int
    uid: str
    account_id: str | None
    session_id: str | None
    created_at: datetime | None
    preview: str


@dataclass(frozen=True)
class GroupInfo:
    kind: GroupKind
    key: str
    size: int
    n_accounts: int
    n_sessions: int
    first_at: datetime | None
    last_at: datetime | None
    times: tuple[datetime, ...]
    """Request times, oldest first (for the timeline)."""
    hours: tuple[int, ...]
    """Requests per hour of day (UTC), 24 counts."""
    median_gap: float | None
    """Median seconds between consecutive requests."""
    gap_cv: float | None
    """Spread of the gaps (standard deviation / mean): near 0 is machine-regular."""
    siblings: tuple[Sibling, ...]
    template: str | None = None
    slots: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["times"] = list(self.times)
        out["hours"] = list(self.hours)
        out["siblings"] = [s.__dict__ for s in self.siblings]
        out["slots"] = list(self.slots)
        return out


@dataclass(frozen=True)
class GroupContext:
    trace_id: int
    cluster: GroupInfo | None
    account: GroupInfo | None
    session: GroupInfo | None


def _condition(project_id: int, kind: GroupKind, key: str) -> ColumnElement[bool]:
    if kind == "cluster":
        try:
            cid = int(key)
        except ValueError:
            raise GroupError(f"a cluster key is a number, not {key!r}") from None
        members = select(TraceCluster.trace_id).where(TraceCluster.cluster_id == cid)
        return (TraceRow.project_id == project_id) & TraceRow.id.in_(members)
    column = TraceRow.account_id if kind == "account" else TraceRow.session_id
    if kind not in KINDS:
        raise GroupError(f"unknown group kind {kind!r}; use cluster, account or session")
    return (TraceRow.project_id == project_id) & (column == key)


def group_info(
    session: Session,
    project_id: int,
    kind: GroupKind,
    key: str,
    *,
    exclude: int | None = None,
    max_siblings: int = 50,
) -> GroupInfo | None:
    """Counts, timeline and siblings of one group (None when it has no trace)."""
    cond = _condition(project_id, kind, key)
    size, accounts, sessions, first, last = session.execute(
        select(
            func.count(),
            func.count(func.distinct(TraceRow.account_id)),
            func.count(func.distinct(TraceRow.session_id)),
            func.min(TraceRow.created_at),
            func.max(TraceRow.created_at),
        ).where(cond)
    ).one()
    if not size:
        return None
    raw = session.scalars(
        select(TraceRow.created_at)
        .where(cond, TraceRow.created_at.is_not(None))
        .order_by(TraceRow.created_at)
    ).all()
    times = [t for t in (_utc(v) for v in raw) if t is not None]
    hours = [0] * 24
    for t in times:
        hours[t.hour] += 1
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    median_gap = statistics.median(gaps) if gaps else None
    mean = statistics.fmean(gaps) if gaps else 0.0
    gap_cv = statistics.pstdev(gaps) / mean if gaps and mean > 0 else None
    if len(times) > MAX_TIMES:
        step = len(times) / MAX_TIMES
        times = [times[int(i * step)] for i in range(MAX_TIMES)]
    sib_stmt = select(
        TraceRow.id,
        TraceRow.uid,
        TraceRow.account_id,
        TraceRow.session_id,
        TraceRow.created_at,
        TraceRow.preview,
    ).where(cond)
    if exclude is not None:
        sib_stmt = sib_stmt.where(TraceRow.id != exclude)
    siblings = tuple(
        Sibling(tid, uid, acc, sess, _utc(created), preview)
        for tid, uid, acc, sess, created, preview in session.execute(
            sib_stmt.order_by(TraceRow.created_at, TraceRow.id).limit(max_siblings)
        )
    )
    template, slots = None, ()
    if kind == "cluster":
        cluster = session.get(PromptCluster, int(key))
        if cluster is not None:
            template = cluster.template
            slots = tuple(orjson.loads(cluster.slots_json))
    return GroupInfo(
        kind,
        key,
        size,
        accounts,
        sessions,
        _utc(first),
        _utc(last),
        tuple(times),
        tuple(hours),
        median_gap,
        gap_cv,
        siblings,
        template,
        slots,
    )


def _trace_groups(session: Session, trace_id: int) -> tuple[int, dict[GroupKind, str]]:
    row = session.execute(
        select(TraceRow.project_id, TraceRow.account_id, TraceRow.session_id).where(
            TraceRow.id == trace_id
        )
    ).one_or_none()
    if row is None:
        raise GroupError(f"no trace with id {trace_id}")
    project_id, account, sess = row
    keys: dict[GroupKind, str] = {}
    cid = session.scalar(select(TraceCluster.cluster_id).where(TraceCluster.trace_id == trace_id))
    if cid is not None:
        keys["cluster"] = str(cid)
    if account:
        keys["account"] = account
    if sess:
        keys["session"] = sess
    return project_id, keys


def group_context(db: Database, trace_id: int, *, max_siblings: int = 50) -> GroupContext:
    """The trace's cluster, account and session, each with counts, timeline and siblings."""
    with db.session() as session:
        project_id, keys = _trace_groups(session, trace_id)
        infos = {
            kind: group_info(
                session, project_id, kind, key, exclude=trace_id, max_siblings=max_siblings
            )
            for kind, key in keys.items()
        }
    return GroupContext(trace_id, infos.get("cluster"), infos.get("account"), infos.get("session"))


# -- group labels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupLabelView:
    id: int
    project_id: int
    kind: str
    key: str
    annotator: str
    label: Label
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "annotator": self.annotator,
            "label": self.label.model_dump(),
            "created_at": self.created_at,
        }


def _view(row: GroupLabel, annotator: str) -> GroupLabelView:
    label = Label(
        verdict=row.verdict,
        tags=tuple(orjson.loads(row.tags_json)),
        counter_tags=tuple(orjson.loads(row.counter_tags_json)),
        confidence=row.confidence,
        rationale=row.rationale,
    )
    created = _utc(row.created_at) or row.created_at
    return GroupLabelView(
        row.id, row.project_id, row.kind, row.group_key, annotator, label, created
    )


def add_group_label(
    db: Database, project_id: int, kind: GroupKind, key: str, annotator: str, label: Label
) -> GroupLabelView:
    """Label a whole cluster, account or session (appended; the latest per person counts)."""
    if label.spans:
        raise GroupError("a group label has no evidence spans (they belong to one trace)")
    with db.session() as session:
        project = session.get(Project, project_id)
        if project is None:
            raise GroupError(f"no project with id {project_id}")
        problems = validate_label(label, LabelSchema.model_validate_json(project.schema_json))
        if problems:
            raise GroupError(" ".join(problems), problems)
        if group_info(session, project_id, kind, key, max_siblings=0) is None:
            raise GroupError(f"no traces in {kind} {key!r}")
        person = ensure_annotator(session, annotator)
        row = GroupLabel(
            project_id=project_id,
            kind=kind,
            group_key=key,
            annotator_id=person.id,
            verdict=label.verdict or "",
            tags_json=orjson.dumps(list(label.tags)).decode(),
            counter_tags_json=orjson.dumps(list(label.counter_tags)).decode(),
            confidence=label.confidence,
            rationale=label.rationale,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return _view(row, person.name)


def _current(
    session: Session, project_id: int, groups: dict[GroupKind, str]
) -> list[GroupLabelView]:
    out: list[GroupLabelView] = []
    for kind, key in groups.items():
        rows = session.execute(
            select(GroupLabel, Annotator.name)
            .join(Annotator, Annotator.id == GroupLabel.annotator_id)
            .where(
                GroupLabel.project_id == project_id,
                GroupLabel.kind == kind,
                GroupLabel.group_key == key,
            )
            .order_by(GroupLabel.id)
        ).all()
        latest: dict[int, tuple[GroupLabel, str]] = {}
        for row, name in rows:
            latest[row.annotator_id] = (row, name)
        out.extend(_view(row, name) for row, name in latest.values())
    return out


def group_labels(db: Database, project_id: int, kind: GroupKind, key: str) -> list[GroupLabelView]:
    """Each person's current label on one group."""
    with db.session() as session:
        return _current(session, project_id, {kind: key})


def group_labels_for_trace(db: Database, trace_id: int) -> list[GroupLabelView]:
    """The current group labels of the trace's cluster, account and session (context for the
    labeler; not the trace's own label)."""
    with db.session() as session:
        project_id, keys = _trace_groups(session, trace_id)
        return _current(session, project_id, keys)


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    already_labeled: int
    """Members with a submitted label or an adjudication: left alone."""
    already_applied: int


def apply_group_label(db: Database, group_label_id: int, lead: str) -> ApplyResult:
    """A lead applies a group label to the group's members that have no label yet, recorded as
    derived from the group (see the module docstring)."""
    with db.session() as session:
        row = session.get(GroupLabel, group_label_id)
        if row is None:
            raise GroupError(f"no group label with id {group_label_id}")
        person = session.scalar(select(Annotator).where(Annotator.name == lead.strip()))
        role = (
            session.scalar(
                select(ProjectMember.role).where(
                    ProjectMember.project_id == row.project_id,
                    ProjectMember.annotator_id == person.id,
                )
            )
            if person is not None
            else None
        )
        if person is None or role != "lead":
            raise GroupError(f"{lead!r} is not a lead of this project")
        kind: GroupKind = row.kind  # type: ignore[assignment]
        cond = _condition(row.project_id, kind, row.group_key)
        labeled = exists().where(LabelRow.trace_id == TraceRow.id, LabelRow.status == "done")
        adjudicated = exists().where(Adjudication.trace_id == TraceRow.id)
        applied_before = exists().where(
            DerivedLabel.trace_id == TraceRow.id, DerivedLabel.group_label_id == row.id
        )
        members = session.execute(
            select(TraceRow.id, labeled | adjudicated, applied_before).where(cond)
        ).all()
        label = _view(row, lead).label.model_dump_json()
        now = utcnow()
        applied = skipped = before = 0
        for tid, has_label, done_before in members:
            if has_label:
                skipped += 1
            elif done_before:
                before += 1
            else:
                session.add(
                    DerivedLabel(
                        project_id=row.project_id,
                        trace_id=tid,
                        group_label_id=row.id,
                        applied_by=person.id,
                        verdict=row.verdict,
                        label_json=label,
                        created_at=now,
                    )
                )
                applied += 1
        return ApplyResult(applied, skipped, before)


@dataclass(frozen=True)
class DerivedLabelView:
    trace_id: int
    group_label_id: int
    kind: str
    key: str
    applied_by: str
    label: Label
    created_at: datetime


def derived_labels_for_trace(db: Database, trace_id: int) -> list[DerivedLabelView]:
    """Group labels a lead applied to this trace (marked derived, never a person's label)."""
    with db.session() as session:
        rows = session.execute(
            select(DerivedLabel, GroupLabel.kind, GroupLabel.group_key, Annotator.name)
            .join(GroupLabel, GroupLabel.id == DerivedLabel.group_label_id)
            .join(Annotator, Annotator.id == DerivedLabel.applied_by)
            .where(DerivedLabel.trace_id == trace_id)
            .order_by(DerivedLabel.id)
        ).all()
        return [
            DerivedLabelView(
                d.trace_id,
                d.group_label_id,
                kind,
                key,
                name,
                Label.model_validate_json(d.label_json),
                _utc(d.created_at) or d.created_at,
            )
            for d, kind, key, name in rows
        ]


def project_id_of(db: Database, name: str) -> int:
    """The id of a project by name (the CLI and GUI speak names)."""
    from annotator.services.projects import get_project

    with db.session() as session:
        return get_project(session, name).id
