"""A small project world for the lead workflow tests: a real SQLite file, traces and labels
inserted directly (the labeling service is someone else's and is tested on its own)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from annotator.domain.label import EvidenceSpan, Label
from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.resources import default_schema
from annotator.services.projects import add_member, create_project, ensure_annotator, get_project
from annotator.store.codec import encode_turns
from annotator.store.database import Database
from annotator.store.models import LabelRow, TraceRow
from annotator.store.open import open_database

LEAD = "lena"
LABELERS = ("ann", "bob", "cy")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def open_db(path: Path) -> Database:
    return open_database(f"sqlite:///{path}", backup_dir=None)


def make_project(
    db: Database,
    name: str = "P",
    *,
    n: int = 10,
    gold: int = 0,
    gold_answers: bool = True,
    labelers: Sequence[str] = LABELERS,
) -> list[int]:
    """A project with a lead, ``labelers``, ``n`` ordinary traces then ``gold`` gold traces
    (uids t000...); returns the trace ids in import order."""
    create_project(db, name)
    add_member(db, name, LEAD, "lead")
    for person in labelers:
        add_member(db, name, person, "labeler")
    turns = (
        Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text="prompt"),)),
        Turn(role=Role.ASSISTANT, blocks=(Block(kind=BlockKind.REASONING, text="x" * 200),)),
    )
    with db.session() as session:
        pid = get_project(session, name).id
        rows = []
        for i in range(n + gold):
            is_gold = i >= n
            rows.append(
                TraceRow(
                    project_id=pid,
                    uid=f"t{i:03d}",
                    source_format="openai_chat",
                    model="m",
                    preview=f"prompt {i}",
                    n_turns=2,
                    reasoning_chars=(i * 37) % 101,
                    turns_json=encode_turns(turns),
                    is_gold=is_gold,
                    gold_json=Label(verdict="legitimate", confidence=2).model_dump_json()
                    if is_gold and gold_answers
                    else None,
                )
            )
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def put_label(
    db: Database,
    project: str,
    trace_id: int,
    who: str,
    verdict: str | None,
    *,
    tags: Sequence[str] = (),
    spans: Sequence[tuple[int, int]] = (),
    status: str = "done",
    seconds: float = 30.0,
    at: datetime = T0,
    rationale: str = "",
) -> int:
    """Insert (or replace) ``who``'s current label on a trace; spans on turn 1, block 0. Tags
    of the default schema's counter-evidence list go to ``counter_tags``."""
    counter = default_schema().counter_tag_names
    label = Label(
        verdict=verdict,
        tags=tuple(t for t in tags if t not in counter),
        counter_tags=tuple(t for t in tags if t in counter),
        confidence=2 if verdict and verdict != "cannot_determine" else None,
        rationale=rationale,
        spans=tuple(EvidenceSpan(turn=1, block=0, start=s, end=e) for s, e in spans),
    )
    with db.session() as session:
        pid = get_project(session, project).id
        aid = ensure_annotator(session, who).id
        row = session.query(LabelRow).filter_by(trace_id=trace_id, annotator_id=aid).one_or_none()
        if row is None:
            row = LabelRow(project_id=pid, trace_id=trace_id, annotator_id=aid)
            session.add(row)
        row.status = status
        row.verdict = verdict
        row.label_json = label.model_dump_json()
        row.seconds_spent = seconds
        row.updated_at = at
        row.submitted_at = at if status == "done" else None
        session.flush()
        return row.id
