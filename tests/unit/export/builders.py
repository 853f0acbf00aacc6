"""A small labeled project built directly with the ORM, shared by the export tests.

Sixty traces with every resolution case: unanimous, majority, tie, adjudicated disagreement,
unlabeled, one done label plus a draft. Accounts cycle over twelve values so group-aware splits
have something to respect; one prompt starts with ``=`` for the CSV formula test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from annotator.domain.label import EvidenceSpan, Label
from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.services.projects import create_project, ensure_annotator, get_project
from annotator.store.codec import encode_turns
from annotator.store.database import Database
from annotator.store.models import (
    Adjudication,
    ImportBatch,
    LabelEvent,
    LabelRow,
    TraceRow,
)
from annotator.store.open import open_database

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
VERDICTS = ("legitimate", "suspected_distillation")
FORMULA_PROMPT = '=HYPERLINK("http://evil","click")'


def open_db(path: Path) -> Database:
    return open_database(f"sqlite:///{path}", backup_dir=None)


def turns_for(i: int) -> tuple[Turn, ...]:
    prompt = FORMULA_PROMPT if i == 7 else f"Prompt number {i}: explain step {i % 5}."
    assistant: list[Block] = [
        Block(kind=BlockKind.REASONING, text=f"Let me think about {i}. First, step one."),
        Block(kind=BlockKind.TEXT, text=f"The answer to {i} is {i * 2}."),
    ]
    turns = [
        Turn(role=Role.SYSTEM, blocks=(Block(kind=BlockKind.TEXT, text="You are helpful."),)),
        Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=prompt),)),
        Turn(role=Role.ASSISTANT, blocks=tuple(assistant)),
    ]
    if i % 4 == 0:
        turns.append(
            Turn(
                role=Role.ASSISTANT,
                blocks=(
                    Block(
                        kind=BlockKind.TOOL_CALL,
                        text='{"q": "x"}',
                        tool_name="search",
                        tool_call_id=f"c{i}",
                    ),
                ),
            )
        )
        turns.append(
            Turn(
                role=Role.TOOL,
                blocks=(Block(kind=BlockKind.TOOL_RESULT, text="result", tool_call_id=f"c{i}"),),
            )
        )
    return tuple(turns)


def label(verdict: str, i: int, *, tags: tuple[str, ...] = (), span: bool = True) -> Label:
    spans = (EvidenceSpan(turn=2, block=0, start=0, end=9, text="Let me th"),) if span else ()
    return Label(
        verdict=verdict,
        tags=tags,
        confidence=1 + i % 3,
        rationale=f"because {i}",
        spans=spans,
    )


@dataclass
class Built:
    path: Path
    project: str
    n: int


def add_label(
    db: Database,
    project: str,
    uid: str,
    annotator: str,
    lab: Label,
    *,
    status: str = "done",
    when: datetime,
) -> None:
    """A current label row plus its event, as the labeling service writes them."""
    with db.session() as s:
        pid = get_project(s, project).id
        person = ensure_annotator(s, annotator)
        trace = s.query(TraceRow).filter_by(project_id=pid, uid=uid).one()
        row = s.query(LabelRow).filter_by(trace_id=trace.id, annotator_id=person.id).first()
        values = {
            "status": status,
            "verdict": lab.verdict,
            "label_json": lab.model_dump_json(),
            "seconds_spent": 12.5,
            "updated_at": when,
            "submitted_at": when if status == "done" else None,
        }
        if row is None:
            s.add(LabelRow(project_id=pid, trace_id=trace.id, annotator_id=person.id, **values))
        else:
            for k, v in values.items():
                setattr(row, k, v)
        s.add(
            LabelEvent(
                project_id=pid,
                trace_id=trace.id,
                annotator_id=person.id,
                action="submit",
                status=status,
                verdict=lab.verdict,
                label_json=lab.model_dump_json(),
                created_at=when,
            )
        )


def adjudicate(db: Database, project: str, uid: str, lead: str, lab: Label, when: datetime) -> None:
    with db.session() as s:
        pid = get_project(s, project).id
        person = ensure_annotator(s, lead)
        trace = s.query(TraceRow).filter_by(project_id=pid, uid=uid).one()
        s.add(
            Adjudication(
                project_id=pid,
                trace_id=trace.id,
                lead_id=person.id,
                verdict=lab.verdict or "",
                label_json=lab.model_dump_json(),
                note="settled",
                created_at=when,
            )
        )


def build(db: Database, project: str = "p", n: int = 60, *, gold: bool = True) -> Built:
    """The labeled project described in the module docstring."""
    create_project(db, project)
    with db.session() as s:
        pid = get_project(s, project).id
        batches = [
            ImportBatch(project_id=pid, file_path=f"b{k}.jsonl", file_sha256="0" * 64)
            for k in range(2)
        ]
        s.add_all(batches)
        s.flush()
        for i in range(n):
            turns = turns_for(i)
            s.add(
                TraceRow(
                    project_id=pid,
                    uid=f"t{i:03d}",
                    batch_id=batches[0 if i < n // 2 else 1].id,
                    source_format="openai_chat",
                    model="m-1",
                    account_id=f"acct{i % 12}",
                    session_id=f"sess{i % 20}",
                    created_at=T0 + timedelta(minutes=i),
                    input_tokens=10 + i,
                    n_turns=len(turns),
                    preview=f"p{i}",
                    meta_extra=f'{{"k": {i}}}',
                    turns_json=encode_turns(turns),
                    original=f'{{"id": "t{i:03d}", "messages": []}}'.encode(),
                    is_gold=gold and i == 5,
                )
            )
    for i in range(n):
        uid = f"t{i:03d}"
        v = VERDICTS[(i // 6) % 2]
        other = VERDICTS[1 - (i // 6) % 2]
        when = T0 + timedelta(days=1, minutes=i)
        case = i % 6
        if case == 0:
            for who in ("alice", "bob", "carol"):
                add_label(db, project, uid, who, label(v, i, tags=("REASONING_ELICIT",)), when=when)
        elif case == 1:
            add_label(db, project, uid, "alice", label(v, i, tags=("DATASET_FORMAT",)), when=when)
            add_label(db, project, uid, "bob", label(v, i), when=when)
            add_label(db, project, uid, "carol", label(other, i, span=False), when=when)
        elif case == 2:
            add_label(db, project, uid, "alice", label(v, i), when=when)
            add_label(db, project, uid, "bob", label(other, i), when=when)
        elif case == 3:
            add_label(db, project, uid, "alice", label(v, i), when=when)
            add_label(db, project, uid, "bob", label(other, i), when=when)
            adjudicate(db, project, uid, "lead", label(other, i, tags=("GRADER_ROLE",)), when)
        elif case == 5:
            add_label(db, project, uid, "alice", label(v, i), when=when)
            add_label(db, project, uid, "bob", label(other, i), status="draft", when=when)
    return Built(path=Path(db.url.removeprefix("sqlite:///")), project=project, n=n)
