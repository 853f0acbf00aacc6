"""The labeling workstation's use cases: the queue, opening a trace, drafts, submit, skip, flag,
undo, and the day's figures. No Qt: the GUI calls these from worker threads.

Decisions (the GUI relies on them):

- **Time.** Every ``seconds_spent`` argument is the active time measured *since the previous
  call for that trace* (save_draft, submit, skip or flag): the GUI's item timer is read and
  reset at each call. It accumulates on the label row (``TraceView.seconds_spent`` is the total
  so far). An event records the time of the work it concludes: everything accumulated since the
  previous event on that trace, drafts included. Undo never takes time back.
- **Drafts** are not history: ``save_draft`` only updates the current label row. Editing a done
  (or skipped, flagged) item makes it a draft until it is submitted again; a draft identical to
  the stored label changes nothing but the time. An empty label on an untouched trace keeps it
  ``todo``.
- **Undo** cancels this annotator's most recent submit that is not yet undone (undo events pair
  with submits like a stack, so repeated undo walks back further). The trace's state becomes
  that of its latest remaining event (an earlier submit, skip or flag); with none left it is a
  draft holding the label (so the labeler can fix and re-submit).
- **Blind.** Nothing here reads other annotators' labels or gold flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotator.domain.label import Label, LabelStatus, validate_label
from annotator.domain.trace import Trace
from annotator.services.projects import ProjectInfo, ensure_annotator, get_project, project_info
from annotator.services.queue import (
    QueueFilter,
    QueueRow,
    aware,
    queue_ids,
    queue_rows,
    queue_size,
)
from annotator.store.database import Database
from annotator.store.models import AppState, Comment, LabelEvent, LabelRow, TraceRow, utcnow
from annotator.store.traces import TraceNotFound, trace_of

__all__ = [
    "DayStats",
    "LabelEventView",
    "LabelInvalid",
    "LabelingService",
    "QueueFilter",
    "QueueRow",
    "TraceNotFound",
    "TraceView",
]

SUBMIT, SKIP, FLAG, UNDO, IMPORT = "submit", "skip", "flag", "undo", "import"
STATE_ACTIONS = frozenset({SUBMIT, SKIP, FLAG, IMPORT})
"""Events that set a trace's state (undo only removes a submit)."""
MIN_PACE_SECONDS = 60.0
"""Below a minute of active time a pace figure is noise, so none is given."""


class LabelInvalid(ValueError):
    """A label that breaks the project's schema; ``problems`` are sentences for the labeler."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class TraceView:
    """A trace as the labeler opens it, with their own current label (or an empty one)."""

    trace_id: int
    trace: Trace
    status: str
    label: Label
    seconds_spent: float
    comment: str | None
    submitted_at: datetime | None


@dataclass(frozen=True)
class DayStats:
    done_today: int
    """Distinct traces submitted today (UTC) and not undone."""
    assigned: int
    """Size of the queue."""
    done_total: int
    pace_per_hour: float | None
    """Submits per active hour today; None before a minute of active time."""
    seconds_today: float


@dataclass(frozen=True)
class LabelEventView:
    """One entry of a trace's history for this annotator."""

    event_id: int
    action: str
    status: str
    verdict: str | None
    label: Label
    seconds_spent: float
    comment: str | None
    with_suggestions: bool
    created_at: datetime


def _label_of(label_json: str | None) -> Label:
    if not label_json or label_json == "{}":
        return Label()
    return Label.model_validate_json(label_json)


def _start_of_utc_day(now: datetime) -> datetime:
    day = now.astimezone(UTC)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


class LabelingService:
    """One annotator labeling one project. Cheap to create; safe to recreate after a crash,
    since every state lives in the database. Each call is its own short transaction."""

    def __init__(self, db: Database, project: str, annotator: str) -> None:
        self.db = db
        with db.session() as session:
            project_row = get_project(session, project)
            self.annotator_id: int = ensure_annotator(session, annotator).id
            self.annotator_name = annotator.strip()
            project_name = project_row.name
        self.project: ProjectInfo = project_info(db, project_name)
        self._state_key = f"labeling.current.{self.project.id}.{self.annotator_id}"

    # -- queue ---------------------------------------------------------------------------

    def queue_ids(self, flt: QueueFilter = QueueFilter()) -> list[int]:  # noqa: B008 (frozen)
        """The trace ids to do, filtered and sorted (ids only: fine for 1M traces)."""
        with self.db.session() as session:
            return queue_ids(session, self.project.id, self.annotator_id, flt)

    def rows(self, ids: Sequence[int]) -> dict[int, QueueRow]:
        """Queue table rows for a page of ids, in one query."""
        with self.db.session() as session:
            return queue_rows(session, self.project.id, self.annotator_id, ids)

    # -- one trace -----------------------------------------------------------------------

    def open(self, trace_id: int) -> TraceView:
        """Load a trace and this annotator's current label. Read only (safe for prefetch);
        call :meth:`mark_current` when the trace is actually shown."""
        with self.db.session() as session:
            row = self._trace_row(session, trace_id)
            label = self._label_row(session, trace_id)
            trace = trace_of(row)
            if label is None:
                return TraceView(trace_id, trace, LabelStatus.TODO.value, Label(), 0.0, None, None)
            return TraceView(
                trace_id=trace_id,
                trace=trace,
                status=label.status,
                label=_label_of(label.label_json),
                seconds_spent=label.seconds_spent,
                comment=label.comment,
                submitted_at=aware(label.submitted_at),
            )

    def mark_current(self, trace_id: int) -> None:
        """Remember the trace on screen, so that :meth:`last_open_trace` can reopen it."""
        value = orjson.dumps({"trace_id": trace_id, "at": utcnow().isoformat()}).decode()
        with self.db.session() as session:
            self._check_trace(session, trace_id)
            state = session.get(AppState, self._state_key)
            if state is None:
                session.add(AppState(key=self._state_key, value=value))
            else:
                state.value = value

    def save_draft(self, trace_id: int, label: Label, seconds_spent: float) -> None:
        """Keep work in progress (call on a ~1 s debounce): no event, no validation."""
        now = utcnow()
        label_json = label.model_dump_json()
        with self.db.session() as session:
            self._check_trace(session, trace_id)
            row = self._label_row(session, trace_id)
            if row is None:
                row = self._new_label_row(trace_id)
                session.add(row)
                unchanged = label == Label()
            else:
                unchanged = _label_of(row.label_json) == label
            row.seconds_spent = (row.seconds_spent or 0.0) + max(seconds_spent, 0.0)
            row.updated_at = now
            if not unchanged:
                row.status = LabelStatus.DRAFT.value
                row.verdict = label.verdict
                row.label_json = label_json

    def submit(
        self,
        trace_id: int,
        label: Label,
        seconds_spent: float,
        *,
        with_suggestions: bool = False,
    ) -> None:
        """Validate and record a label: current row and history event in one transaction,
        committed before returning."""
        problems = validate_label(label, self.project.schema)
        if problems:
            raise LabelInvalid(problems)
        self._record(
            trace_id,
            SUBMIT,
            LabelStatus.DONE,
            label,
            seconds_spent,
            comment=None,
            with_suggestions=with_suggestions,
        )

    def skip(self, trace_id: int, seconds_spent: float) -> None:
        """Set the trace aside; whatever label was drafted is kept."""
        self._record(trace_id, SKIP, LabelStatus.SKIPPED, None, seconds_spent, comment=None)

    def flag(
        self, trace_id: int, comment: str, seconds_spent: float, label: Label | None = None
    ) -> None:
        """Ask the lead: the trace becomes flagged and the comment goes to the lead's list."""
        comment = comment.strip()
        if not comment:
            raise ValueError("a flag needs a comment for the lead")
        self._record(trace_id, FLAG, LabelStatus.FLAGGED, label, seconds_spent, comment=comment)

    def _record(
        self,
        trace_id: int,
        action: str,
        status: LabelStatus,
        label: Label | None,
        seconds_spent: float,
        *,
        comment: str | None,
        with_suggestions: bool = False,
    ) -> None:
        now = utcnow()
        with self.db.session() as session:
            self._check_trace(session, trace_id)
            row = self._label_row(session, trace_id)
            if row is None:
                row = self._new_label_row(trace_id)
                session.add(row)
            if label is not None:
                row.label_json = label.model_dump_json()
                row.verdict = label.verdict
            row.seconds_spent = (row.seconds_spent or 0.0) + max(seconds_spent, 0.0)
            logged = session.scalar(
                select(func.coalesce(func.sum(LabelEvent.seconds_spent), 0.0)).where(
                    LabelEvent.trace_id == trace_id,
                    LabelEvent.annotator_id == self.annotator_id,
                )
            )
            row.status = status.value
            row.comment = comment
            row.updated_at = now
            row.schema_version = self.project.schema.version
            row.with_suggestions = with_suggestions
            if action == SUBMIT:
                row.submitted_at = now
            session.add(
                LabelEvent(
                    project_id=self.project.id,
                    trace_id=trace_id,
                    annotator_id=self.annotator_id,
                    action=action,
                    status=row.status,
                    verdict=row.verdict,
                    label_json=row.label_json,
                    seconds_spent=max(row.seconds_spent - float(logged or 0.0), 0.0),
                    comment=comment,
                    schema_version=row.schema_version,
                    with_suggestions=with_suggestions,
                    created_at=now,
                )
            )
            if comment is not None:
                session.add(
                    Comment(
                        project_id=self.project.id,
                        trace_id=trace_id,
                        author_id=self.annotator_id,
                        body=comment,
                        created_at=now,
                    )
                )

    # -- undo ------------------------------------------------------------------------------

    def undo_last_submit(self) -> int | None:
        """Cancel the most recent submit not yet undone; returns its trace id (None if none)."""
        now = utcnow()
        with self.db.session() as session:
            target = self._latest_live_submit(session)
            if target is None:
                return None
            events = session.scalars(
                select(LabelEvent)
                .where(
                    LabelEvent.trace_id == target.trace_id,
                    LabelEvent.annotator_id == self.annotator_id,
                )
                .order_by(LabelEvent.id)
            ).all()
            remaining = _live_state_events(events)
            # The undo about to be appended removes the latest live submit of this trace.
            for i in range(len(remaining) - 1, -1, -1):
                if remaining[i].action == SUBMIT:
                    del remaining[i]
                    break
            row = self._label_row(session, target.trace_id)
            if row is None:  # a submit always leaves a row; rebuild it from the event if not
                row = self._new_label_row(target.trace_id)
                row.label_json = target.label_json
                session.add(row)
            if remaining:
                last = remaining[-1]
                row.status = last.status
                row.verdict = last.verdict
                row.label_json = last.label_json
                row.comment = last.comment
                row.schema_version = last.schema_version
                row.with_suggestions = last.with_suggestions
            else:
                row.status = LabelStatus.DRAFT.value
                row.verdict = _label_of(row.label_json).verdict
                row.comment = None
                row.with_suggestions = False
            submits = [e.created_at for e in remaining if e.action == SUBMIT]
            row.submitted_at = submits[-1] if submits else None
            row.updated_at = now
            session.add(
                LabelEvent(
                    project_id=self.project.id,
                    trace_id=target.trace_id,
                    annotator_id=self.annotator_id,
                    action=UNDO,
                    status=row.status,
                    verdict=row.verdict,
                    label_json=row.label_json,
                    seconds_spent=0.0,
                    comment=None,
                    schema_version=row.schema_version,
                    with_suggestions=row.with_suggestions,
                    created_at=now,
                )
            )
            return target.trace_id

    def _latest_live_submit(self, session: Session) -> LabelEvent | None:
        """Walk this annotator's submit/undo events backwards; each undo cancels one submit."""
        pending = 0
        before: int | None = None
        while True:
            stmt = (
                select(LabelEvent)
                .where(
                    LabelEvent.annotator_id == self.annotator_id,
                    LabelEvent.project_id == self.project.id,
                    LabelEvent.action.in_((SUBMIT, UNDO)),
                )
                .order_by(LabelEvent.id.desc())
                .limit(256)
            )
            if before is not None:
                stmt = stmt.where(LabelEvent.id < before)
            chunk = session.scalars(stmt).all()
            if not chunk:
                return None
            for event in chunk:
                if event.action == UNDO:
                    pending += 1
                elif pending:
                    pending -= 1
                else:
                    return event
            before = chunk[-1].id

    # -- recovery, figures, history ----------------------------------------------------------

    def last_open_trace(self) -> int | None:
        """The trace to reopen after a restart: the later of the last one marked current and
        the last one drafted (if it is still in the project)."""
        with self.db.session() as session:
            candidates: list[tuple[datetime, int]] = []
            state = session.get(AppState, self._state_key)
            if state is not None:
                data = orjson.loads(state.value)
                at = aware(datetime.fromisoformat(data["at"]))
                assert at is not None
                candidates.append((at, int(data["trace_id"])))
            draft = session.execute(
                select(LabelRow.updated_at, LabelRow.trace_id)
                .where(
                    LabelRow.annotator_id == self.annotator_id,
                    LabelRow.project_id == self.project.id,
                    LabelRow.status == LabelStatus.DRAFT.value,
                )
                .order_by(LabelRow.updated_at.desc(), LabelRow.id.desc())
                .limit(1)
            ).first()
            if draft is not None:
                at = aware(draft[0])
                assert at is not None
                candidates.append((at, draft[1]))
            for _, trace_id in sorted(candidates, reverse=True):
                if session.scalar(
                    select(TraceRow.id).where(
                        TraceRow.id == trace_id, TraceRow.project_id == self.project.id
                    )
                ):
                    return trace_id
            return None

    def day_stats(self, now: datetime | None = None) -> DayStats:
        """Today's figures for the status bar (UTC day)."""
        start = _start_of_utc_day(now or utcnow())
        with self.db.session() as session:
            assigned = queue_size(session, self.project.id, self.annotator_id)
            done_total = (
                session.scalar(
                    select(func.count(LabelRow.id)).where(
                        LabelRow.annotator_id == self.annotator_id,
                        LabelRow.project_id == self.project.id,
                        LabelRow.status == LabelStatus.DONE.value,
                    )
                )
                or 0
            )
            today = session.execute(
                select(LabelEvent.action, LabelEvent.trace_id, LabelEvent.seconds_spent)
                .where(
                    LabelEvent.annotator_id == self.annotator_id,
                    LabelEvent.project_id == self.project.id,
                    LabelEvent.created_at >= start,
                    LabelEvent.created_at < start + timedelta(days=1),
                )
                .order_by(LabelEvent.id)
            ).all()
        # Today's events are a suffix of the history, so replaying the undo stack over them
        # alone finds exactly which of today's submits were undone.
        live: list[int] = []
        seconds = 0.0
        for action, trace_id, spent in today:
            seconds += spent or 0.0
            if action == SUBMIT:
                live.append(trace_id)
            elif action == UNDO and live:
                live.pop()
        pace = len(live) / (seconds / 3600.0) if seconds >= MIN_PACE_SECONDS else None
        return DayStats(
            done_today=len(set(live)),
            assigned=assigned,
            done_total=done_total,
            pace_per_hour=pace,
            seconds_today=seconds,
        )

    def history(self, trace_id: int) -> list[LabelEventView]:
        """This annotator's events on one trace, oldest first."""
        with self.db.session() as session:
            events = session.scalars(
                select(LabelEvent)
                .where(
                    LabelEvent.trace_id == trace_id,
                    LabelEvent.annotator_id == self.annotator_id,
                )
                .order_by(LabelEvent.id)
            ).all()
            out: list[LabelEventView] = []
            for e in events:
                created = aware(e.created_at)
                assert created is not None
                out.append(
                    LabelEventView(
                        event_id=e.id,
                        action=e.action,
                        status=e.status,
                        verdict=e.verdict,
                        label=_label_of(e.label_json),
                        seconds_spent=e.seconds_spent,
                        comment=e.comment,
                        with_suggestions=e.with_suggestions,
                        created_at=created,
                    )
                )
            return out

    # -- helpers -------------------------------------------------------------------------------

    def _trace_row(self, session: Session, trace_id: int) -> TraceRow:
        row = session.get(TraceRow, trace_id)
        if row is None or row.project_id != self.project.id:
            raise TraceNotFound(f"no trace with id {trace_id} in project {self.project.name!r}")
        return row

    def _check_trace(self, session: Session, trace_id: int) -> None:
        """Refuse ids of other projects without loading the (possibly large) trace."""
        project_id = session.scalar(select(TraceRow.project_id).where(TraceRow.id == trace_id))
        if project_id != self.project.id:
            raise TraceNotFound(f"no trace with id {trace_id} in project {self.project.name!r}")

    def _label_row(self, session: Session, trace_id: int) -> LabelRow | None:
        return session.scalar(
            select(LabelRow).where(
                LabelRow.trace_id == trace_id, LabelRow.annotator_id == self.annotator_id
            )
        )

    def _new_label_row(self, trace_id: int) -> LabelRow:
        return LabelRow(
            project_id=self.project.id,
            trace_id=trace_id,
            annotator_id=self.annotator_id,
            status=LabelStatus.TODO.value,
            verdict=None,
            label_json=Label().model_dump_json(),
            seconds_spent=0.0,
            schema_version=self.project.schema.version,
            with_suggestions=False,
        )


def _live_state_events(events: Sequence[LabelEvent]) -> list[LabelEvent]:
    """The state-setting events of one trace that still count: each undo removes the latest
    remaining submit (per trace this matches the annotator-wide undo stack)."""
    live: list[LabelEvent] = []
    for event in events:
        if event.action in STATE_ACTIONS:
            live.append(event)
        elif event.action == UNDO:
            for i in range(len(live) - 1, -1, -1):
                if live[i].action == SUBMIT:
                    del live[i]
                    break
    return live
