"""The lead's side of labeling: roles, the review (adjudication) queue, final labels, comments.

Everything that reads other people's labels or gold answers here is **lead-only**: each such
function takes the acting person's name and refuses anyone who is not a lead of the project
(:class:`RoleError`). Labelers label blind; the one thing a labeler may read here is the comment
thread of a trace they flagged (:func:`comments_for`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from annotator.domain.label import EvidenceSpan, Label, LabelStatus, validate_label
from annotator.domain.schema import LabelSchema
from annotator.services.projects import ProjectError, ensure_annotator, get_project
from annotator.store.database import Database
from annotator.store.models import (
    Adjudication,
    Annotator,
    Comment,
    LabelRow,
    Project,
    ProjectMember,
    TraceRow,
    utcnow,
)

ROLES = ("labeler", "lead")
DISAGREE, FLAGGED, PICKED = "disagree", "flagged", "picked"
REASONS = (DISAGREE, FLAGGED, PICKED)


class RoleError(PermissionError):
    """The acting person lacks the role (usually: lead) that a command needs."""


class ReviewError(ValueError):
    """A review request that cannot be carried out as asked (unknown trace, no such label...)."""


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def label_of(label_json: str | None) -> Label:
    """The domain label stored as JSON (an empty label for ``{}`` or nothing)."""
    if not label_json or label_json == "{}":
        return Label()
    return Label.model_validate_json(label_json)


# -- roles -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberInfo:
    name: str
    role: str


def member_role(session: Session, project: Project, name: str) -> str | None:
    """``labeler``, ``lead`` or None when ``name`` is not a member of ``project``."""
    return session.scalar(
        select(ProjectMember.role)
        .join(Annotator, Annotator.id == ProjectMember.annotator_id)
        .where(ProjectMember.project_id == project.id, Annotator.name == name.strip())
    )


def require_lead(session: Session, project: Project, name: str) -> Annotator:
    """The lead's annotator row; :class:`RoleError` with the way out if ``name`` is no lead."""
    name = name.strip()
    role = member_role(session, project, name)
    if role != "lead":
        what = "not a member" if role is None else f"a {role}, not a lead"
        raise RoleError(
            f"{name!r} is {what} of project {project.name!r}; a lead must run this "
            f"(act as a lead with --as NAME, or a lead adds you: "
            f"annotator members add --project {project.name!r} --role lead {name!r})"
        )
    annotator = session.scalar(select(Annotator).where(Annotator.name == name))
    assert annotator is not None
    return annotator


def list_members(db: Database, project: str) -> list[MemberInfo]:
    """Members and their roles, leads first. Not secret: labelers may see who is on the team."""
    with db.session() as session:
        project_row = get_project(session, project)
        rows = session.execute(
            select(Annotator.name, ProjectMember.role)
            .join(Annotator, Annotator.id == ProjectMember.annotator_id)
            .where(ProjectMember.project_id == project_row.id)
        ).all()
    return sorted(
        (MemberInfo(name, role) for name, role in rows), key=lambda m: (m.role != "lead", m.name)
    )


def set_member(db: Database, project: str, *, name: str, role: str, acting: str) -> MemberInfo:
    """Add a member or change their role. Only a lead may, except for the very first lead of a
    project that has none (someone has to be first)."""
    if role not in ROLES:
        raise ProjectError(f"unknown role {role!r}; use labeler or lead")
    with db.session() as session:
        project_row = get_project(session, project)
        has_lead = session.scalar(
            select(ProjectMember.annotator_id)
            .where(ProjectMember.project_id == project_row.id, ProjectMember.role == "lead")
            .limit(1)
        )
        if has_lead is not None:
            require_lead(session, project_row, acting)
        elif role != "lead":
            raise RoleError(
                f"project {project_row.name!r} has no lead yet; add a lead first "
                f"(annotator members add --project {project_row.name!r} --role lead NAME)"
            )
        person = ensure_annotator(session, name)
        member = session.get(ProjectMember, (project_row.id, person.id))
        if member is None:
            session.add(ProjectMember(project_id=project_row.id, annotator_id=person.id, role=role))
        else:
            if member.role == "lead" and role != "lead":
                leads = session.scalar(
                    select(func.count()).where(
                        ProjectMember.project_id == project_row.id, ProjectMember.role == "lead"
                    )
                )
                if leads == 1:
                    raise RoleError(f"{person.name!r} is the only lead; add another lead first")
            member.role = role
        return MemberInfo(person.name, role)


# -- traces ------------------------------------------------------------------------------------


def find_trace(session: Session, project: Project, ref: str | int) -> TraceRow:
    """A trace of ``project`` by uid (or by numeric id)."""
    row = None
    if isinstance(ref, int):
        row = session.get(TraceRow, ref)
    else:
        row = session.scalar(
            select(TraceRow).where(TraceRow.project_id == project.id, TraceRow.uid == ref)
        )
        if row is None and ref.isdigit():
            row = session.get(TraceRow, int(ref))
    if row is None or row.project_id != project.id:
        raise ReviewError(f"no trace {ref!r} in project {project.name!r}")
    return row


# -- review queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewLabel:
    """One labeler's current label, as the lead sees it side by side with the others."""

    label_id: int
    labeler: str
    status: str
    verdict: str | None
    tags: tuple[str, ...]
    counter_tags: tuple[str, ...]
    confidence: int | None
    rationale: str
    spans: tuple[EvidenceSpan, ...]
    comment: str | None
    seconds_spent: float
    submitted_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label_id": self.label_id,
            "labeler": self.labeler,
            "status": self.status,
            "verdict": self.verdict,
            "tags": list(self.tags),
            "counter_tags": list(self.counter_tags),
            "confidence": self.confidence,
            "rationale": self.rationale,
            "spans": [s.model_dump() for s in self.spans],
            "comment": self.comment,
            "seconds_spent": self.seconds_spent,
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
        }


@dataclass(frozen=True)
class AdjudicationInfo:
    id: int
    lead: str
    verdict: str
    label: Label
    accepted_label_id: int | None
    accepted_from: str | None
    """Whose label was accepted (None when the lead wrote the final label)."""
    note: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lead": self.lead,
            "verdict": self.verdict,
            "label": self.label.model_dump(mode="json"),
            "accepted_label_id": self.accepted_label_id,
            "accepted_from": self.accepted_from,
            "note": self.note,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ReviewItem:
    trace_id: int
    uid: str
    preview: str
    reasons: tuple[str, ...]
    """Why the item is in the queue: ``disagree``, ``flagged``, ``picked``."""
    labels: tuple[ReviewLabel, ...]
    is_gold: bool
    gold: Label | None
    adjudication: AdjudicationInfo | None
    verdicts: dict[str, int] = field(default_factory=dict)
    """How many done labels gave each verdict."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "uid": self.uid,
            "preview": self.preview,
            "reasons": list(self.reasons),
            "labels": [label.as_dict() for label in self.labels],
            "is_gold": self.is_gold,
            "gold": self.gold.model_dump(mode="json") if self.gold else None,
            "adjudication": self.adjudication.as_dict() if self.adjudication else None,
            "verdicts": self.verdicts,
        }


def _tag_set(label_json: str) -> frozenset[str]:
    label = label_of(label_json)
    return frozenset(label.tags) | frozenset(label.counter_tags)


def _review_label(row: LabelRow, name: str) -> ReviewLabel:
    label = label_of(row.label_json)
    return ReviewLabel(
        label_id=row.id,
        labeler=name,
        status=row.status,
        verdict=row.verdict,
        tags=label.tags,
        counter_tags=label.counter_tags,
        confidence=label.confidence,
        rationale=label.rationale,
        spans=label.spans,
        comment=row.comment,
        seconds_spent=row.seconds_spent,
        submitted_at=_aware(row.submitted_at),
    )


def _latest_adjudications(session: Session, project_id: int) -> dict[int, AdjudicationInfo]:
    """The current decision of every adjudicated trace of the project."""
    latest = (
        select(func.max(Adjudication.id))
        .where(Adjudication.project_id == project_id)
        .group_by(Adjudication.trace_id)
    )
    stmt = (
        select(Adjudication, Annotator.name)
        .join(Annotator, Annotator.id == Adjudication.lead_id)
        .where(Adjudication.id.in_(latest))
    )
    rows = session.execute(stmt).all()
    return {adj.trace_id: _adjudication_info(session, adj, lead) for adj, lead in rows}


def _adjudication_info(session: Session, adj: Adjudication, lead: str) -> AdjudicationInfo:
    accepted_from = None
    if adj.accepted_label_id is not None:
        accepted_from = session.scalar(
            select(Annotator.name)
            .join(LabelRow, LabelRow.annotator_id == Annotator.id)
            .where(LabelRow.id == adj.accepted_label_id)
        )
    created = _aware(adj.created_at)
    assert created is not None
    return AdjudicationInfo(
        id=adj.id,
        lead=lead,
        verdict=adj.verdict,
        label=label_of(adj.label_json),
        accepted_label_id=adj.accepted_label_id,
        accepted_from=accepted_from,
        note=adj.note,
        created_at=created,
    )


def review_queue(
    db: Database,
    project: str,
    *,
    lead: str,
    reasons: Sequence[str] = (DISAGREE, FLAGGED),
    picked: Sequence[str | int] = (),
    tag_disagreement: bool = False,
    include_adjudicated: bool = False,
    limit: int | None = None,
) -> list[ReviewItem]:
    """Lead-only. Items to settle: done labels that disagree on the verdict (and, with
    ``tag_disagreement``, on the evidence or counter-evidence tags), items a labeler flagged,
    and any ``picked`` trace (uid or id). Each item carries every labeler's current label side
    by side, the gold answer if it is a gold item, and its current adjudication. Adjudicated
    items are left out unless ``include_adjudicated`` (picked items are always shown).

    The disagreements are found by the database (GROUP BY ... HAVING), so only the labels of the
    items shown are loaded."""
    unknown = sorted(set(reasons) - set(REASONS))
    if unknown:
        raise ReviewError(f"unknown review reason {', '.join(unknown)}; use {', '.join(REASONS)}")
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        pid = project_row.id
        picked_ids = {find_trace(session, project_row, ref).id for ref in picked}
        done = (LabelRow.project_id == pid) & (LabelRow.status == LabelStatus.DONE.value)
        why: dict[int, list[str]] = defaultdict(list)
        if DISAGREE in reasons:
            differ = set(
                session.scalars(
                    select(LabelRow.trace_id)
                    .where(done, LabelRow.verdict.is_not(None))
                    .group_by(LabelRow.trace_id)
                    .having(func.count(distinct(LabelRow.verdict)) > 1)
                ).all()
            )
            if tag_disagreement:
                shared = (
                    select(LabelRow.trace_id)
                    .where(done)
                    .group_by(LabelRow.trace_id)
                    .having(func.count() > 1)
                )
                tag_sets: dict[int, set[frozenset[str]]] = defaultdict(set)
                for trace_id, label_json in session.execute(
                    select(LabelRow.trace_id, LabelRow.label_json).where(
                        done, LabelRow.trace_id.in_(shared)
                    )
                ):
                    tag_sets[trace_id].add(_tag_set(label_json))
                differ |= {t for t, sets in tag_sets.items() if len(sets) > 1}
            for trace_id in differ:
                why[trace_id].append(DISAGREE)
        if FLAGGED in reasons:
            for trace_id in session.scalars(
                select(LabelRow.trace_id)
                .where(LabelRow.project_id == pid, LabelRow.status == LabelStatus.FLAGGED.value)
                .distinct()
            ):
                why[trace_id].append(FLAGGED)
        for trace_id in picked_ids:
            why[trace_id].append(PICKED)
        adjudicated = _latest_adjudications(session, pid)
        chosen = sorted(
            t for t in why if include_adjudicated or PICKED in why[t] or t not in adjudicated
        )
        if limit is not None:
            chosen = chosen[:limit]
        traces: dict[int, TraceRow] = {}
        by_trace: dict[int, list[tuple[LabelRow, str]]] = defaultdict(list)
        shown = (LabelStatus.DONE.value, LabelStatus.FLAGGED.value)
        for part in _chunks(chosen):
            for trace in session.scalars(select(TraceRow).where(TraceRow.id.in_(part))):
                traces[trace.id] = trace
            for row, name in session.execute(
                select(LabelRow, Annotator.name)
                .join(Annotator, Annotator.id == LabelRow.annotator_id)
                .where(LabelRow.trace_id.in_(part))
            ):
                # Picked traces show every label (drafts too); the others what was submitted.
                if row.status in shown or row.trace_id in picked_ids:
                    by_trace[row.trace_id].append((row, name))
        items = []
        for trace_id in chosen:
            trace = traces[trace_id]
            labels = sorted(by_trace.get(trace_id, []), key=lambda pair: pair[1])
            verdicts: dict[str, int] = defaultdict(int)
            for row, _ in labels:
                if row.status == LabelStatus.DONE.value and row.verdict:
                    verdicts[row.verdict] += 1
            items.append(
                ReviewItem(
                    trace_id=trace_id,
                    uid=trace.uid,
                    preview=trace.preview,
                    reasons=tuple(dict.fromkeys(why[trace_id])),
                    labels=tuple(_review_label(r, n) for r, n in labels),
                    is_gold=trace.is_gold,
                    gold=label_of(trace.gold_json) if trace.gold_json else None,
                    adjudication=adjudicated.get(trace_id),
                    verdicts=dict(verdicts),
                )
            )
        return items


def _chunks(ids: Sequence[int], size: int = 5000) -> Iterator[Sequence[int]]:
    """Keep IN lists well under SQLite's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _schema(project: Project) -> LabelSchema:
    return LabelSchema.model_validate_json(project.schema_json)


def accept_label(
    db: Database,
    project: str,
    *,
    lead: str,
    trace: str | int,
    label_of_labeler: str,
    note: str | None = None,
) -> AdjudicationInfo:
    """Lead-only. Make one labeler's current label the item's final label (appended to the
    item's adjudication history; earlier decisions are kept)."""
    with db.session() as session:
        project_row = get_project(session, project)
        lead_row = require_lead(session, project_row, lead)
        trace_row = find_trace(session, project_row, trace)
        found = session.execute(
            select(LabelRow)
            .join(Annotator, Annotator.id == LabelRow.annotator_id)
            .where(LabelRow.trace_id == trace_row.id, Annotator.name == label_of_labeler.strip())
        ).scalar_one_or_none()
        if found is None or found.status != LabelStatus.DONE.value or not found.verdict:
            raise ReviewError(
                f"{label_of_labeler!r} has no submitted label on trace {trace_row.uid!r}"
            )
        adj = Adjudication(
            project_id=project_row.id,
            trace_id=trace_row.id,
            lead_id=lead_row.id,
            verdict=found.verdict,
            label_json=found.label_json,
            accepted_label_id=found.id,
            note=note,
            created_at=utcnow(),
        )
        session.add(adj)
        session.flush()
        return _adjudication_info(session, adj, lead_row.name)


def set_final_label(
    db: Database,
    project: str,
    *,
    lead: str,
    trace: str | int,
    label: Label,
    note: str | None = None,
) -> AdjudicationInfo:
    """Lead-only. Write the item's final label (checked against the project's schema)."""
    with db.session() as session:
        project_row = get_project(session, project)
        lead_row = require_lead(session, project_row, lead)
        trace_row = find_trace(session, project_row, trace)
        problems = validate_label(label, _schema(project_row))
        if problems:
            raise ReviewError(" ".join(problems))
        assert label.verdict is not None
        adj = Adjudication(
            project_id=project_row.id,
            trace_id=trace_row.id,
            lead_id=lead_row.id,
            verdict=label.verdict,
            label_json=label.model_dump_json(),
            accepted_label_id=None,
            note=note,
            created_at=utcnow(),
        )
        session.add(adj)
        session.flush()
        return _adjudication_info(session, adj, lead_row.name)


def adjudication_history(
    db: Database, project: str, *, lead: str, trace: str | int
) -> list[AdjudicationInfo]:
    """Lead-only. Every decision on a trace, oldest first (the last one is current)."""
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        trace_row = find_trace(session, project_row, trace)
        rows = session.execute(
            select(Adjudication, Annotator.name)
            .join(Annotator, Annotator.id == Adjudication.lead_id)
            .where(Adjudication.trace_id == trace_row.id)
            .order_by(Adjudication.id)
        ).all()
        return [_adjudication_info(session, adj, name) for adj, name in rows]


# -- comments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentView:
    id: int
    trace_id: int
    uid: str
    author: str
    author_role: str | None
    body: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trace_id": self.trace_id,
            "uid": self.uid,
            "author": self.author,
            "author_role": self.author_role,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
        }


def add_comment(
    db: Database, project: str, *, author: str, trace: str | int, body: str
) -> CommentView:
    """A comment on a trace by a member: a lead (answering or noting) or a labeler (asking)."""
    body = body.strip()
    if not body:
        raise ReviewError("a comment needs some text")
    with db.session() as session:
        project_row = get_project(session, project)
        role = member_role(session, project_row, author)
        if role is None:
            raise RoleError(f"{author!r} is not a member of project {project_row.name!r}")
        trace_row = find_trace(session, project_row, trace)
        person = ensure_annotator(session, author)
        row = Comment(
            project_id=project_row.id,
            trace_id=trace_row.id,
            author_id=person.id,
            body=body,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        created = _aware(row.created_at)
        assert created is not None
        return CommentView(row.id, trace_row.id, trace_row.uid, person.name, role, body, created)


def comments_for(
    db: Database, project: str, *, viewer: str, trace: str | int | None = None
) -> list[CommentView]:
    """The comments ``viewer`` may read, oldest first. A lead reads every comment. A labeler
    reads only the threads of traces they commented on or flagged, and in them only their own
    comments and the leads' (never another labeler's: labelers label blind)."""
    with db.session() as session:
        project_row = get_project(session, project)
        role = member_role(session, project_row, viewer)
        if role is None:
            raise RoleError(f"{viewer!r} is not a member of project {project_row.name!r}")
        viewer_row = ensure_annotator(session, viewer)
        stmt = (
            select(Comment, Annotator.name, TraceRow.uid, ProjectMember.role)
            .join(Annotator, Annotator.id == Comment.author_id)
            .join(TraceRow, TraceRow.id == Comment.trace_id)
            .outerjoin(
                ProjectMember,
                (ProjectMember.annotator_id == Comment.author_id)
                & (ProjectMember.project_id == project_row.id),
            )
            .where(Comment.project_id == project_row.id)
            .order_by(Comment.id)
        )
        if trace is not None:
            stmt = stmt.where(Comment.trace_id == find_trace(session, project_row, trace).id)
        if role != "lead":
            own_threads = select(Comment.trace_id).where(
                Comment.project_id == project_row.id, Comment.author_id == viewer_row.id
            )
            flagged = select(LabelRow.trace_id).where(
                LabelRow.annotator_id == viewer_row.id,
                LabelRow.project_id == project_row.id,
                LabelRow.status == LabelStatus.FLAGGED.value,
            )
            stmt = stmt.where(
                Comment.trace_id.in_(own_threads) | Comment.trace_id.in_(flagged),
                (Comment.author_id == viewer_row.id) | (ProjectMember.role == "lead"),
            )
        out = []
        for comment, author, uid, author_role in session.execute(stmt).all():
            created = _aware(comment.created_at)
            assert created is not None
            out.append(
                CommentView(
                    comment.id, comment.trace_id, uid, author, author_role, comment.body, created
                )
            )
        return out
