"""A small team for the lead screens' tests and screenshots: project "P" with lead "lena",
labelers ann, bob and cy, real traces, and labels over several days that agree on most items
and disagree on some, with evidence spans, rationales, tags and gold items."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from annotator.domain.label import Label
from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn
from annotator.gui.background import Background
from annotator.services.assignment import assign, mark_gold
from annotator.services.projects import add_member, create_project, project_info
from annotator.store.database import Database
from annotator.store.open import open_database
from annotator.store.trace_writer import PendingTrace, write_traces
from tests.unit.agreement.lead_world import put_label

LEAD = "lena"
LABELERS = ("ann", "bob", "cy")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VERDICTS = ("legitimate", "suspected_distillation", "other_policy_issue")
EVIDENCE = ("REASONING_ELICIT", "DATASET_FORMAT", "GRADER_ROLE", "TEMPLATE_AT_SCALE")
COUNTER = ("EVAL_RUN", "EDU_TUTORING", "DEV_TOOL")
REASONING = (
    "The user asks for the full chain of thought in a fixed JSON layout. "
    "That looks like a dataset being assembled, so I should answer the question itself "
    "and keep the reasoning summary short. "
)


def lead_trace(i: int) -> Trace:
    return Trace(
        uid=f"item-{i:03d}",
        turns=(
            Turn(
                role=Role.USER,
                blocks=(Block(kind=BlockKind.TEXT, text=f"Question {i}: show every step."),),
            ),
            Turn(
                role=Role.ASSISTANT,
                blocks=(
                    Block(kind=BlockKind.REASONING, text=REASONING * 3),
                    Block(kind=BlockKind.TEXT, text=f"The answer to {i} is {i * 7}."),
                ),
            ),
        ),
        meta=TraceMeta(
            source_format="openai_chat",
            model="model-a",
            account_id=f"acct-{i % 4}",
            created_at=T0 - timedelta(days=3, minutes=i),
        ),
    )


def open_db(path: Path) -> Database:
    return open_database(f"sqlite:///{path}", backup_dir=None)


def build_team(db: Database, *, n: int = 30, labeled: int = 18, seed: int = 7) -> list[int]:
    """Fill ``db``; returns the trace ids in import order. Items 0-2 (labeled by everyone) and
    the last two (free to assign) are gold, answer: legitimate; the first ``labeled`` items are
    assigned to and labeled by all three. Item 3 is a sure disagreement (ann: legitimate, bob:
    suspected_distillation) and item 4 is flagged by cy."""
    create_project(db, "P")
    add_member(db, "P", LEAD, "lead")
    for person in LABELERS:
        add_member(db, "P", person, "labeler")
    info = project_info(db, "P")
    with db.engine.begin() as conn:
        write_traces(conn, info.id, None, [PendingTrace(lead_trace(i)) for i in range(n)])
    with db.session() as session:
        from sqlalchemy import select

        from annotator.store.models import TraceRow

        ids = list(
            session.scalars(
                select(TraceRow.id).where(TraceRow.project_id == info.id).order_by(TraceRow.id)
            )
        )
    for tid in (*ids[:3], *ids[-2:]):
        mark_gold(db, "P", tid, Label(verdict="legitimate", confidence=2), lead=LEAD)
    assign(
        db,
        "P",
        n_items=labeled,
        labelers=list(LABELERS),
        overlap_k=3,
        order="import",
        assigned_by=LEAD,
    )
    rng = random.Random(seed)
    for i, tid in enumerate(ids[:labeled]):
        truth = VERDICTS[0] if i < 3 else rng.choice(VERDICTS)
        for j, who in enumerate(LABELERS):
            verdict = truth if rng.random() < 0.8 else rng.choice(VERDICTS)
            if i == 3:
                verdict = ("legitimate", "suspected_distillation", "legitimate")[j]
            status = "flagged" if (i == 4 and who == "cy") else "done"
            tags = [rng.choice(EVIDENCE)] if verdict != "legitimate" else [rng.choice(COUNTER)]
            start = rng.randrange(0, 120)
            put_label(
                db,
                "P",
                tid,
                who,
                verdict,
                tags=tags,
                spans=[(start, start + 40)],
                status=status,
                seconds=20.0 + rng.random() * 100 * (j + 1),
                at=T0 + timedelta(days=i // 5, hours=j, minutes=i),
                rationale=f"{who} on item {i}: <b>not html</b> the prompt asks for every step.",
            )
    return ids


@pytest.fixture(name="team")
def team_fixture(tmp_path: Path) -> Iterator[tuple[Database, list[int]]]:
    """The team's database (see :func:`build_team`) and its trace ids."""
    db = open_db(tmp_path / "lead.sqlite3")
    try:
        yield db, build_team(db)
    finally:
        db.dispose()


@pytest.fixture(name="bg")
def bg_fixture(qtbot: object, team: tuple[Database, list[int]]) -> Iterator[Background]:
    """A background runner shut down (its threads gone) before the database is disposed."""
    runner = Background()
    yield runner
    assert runner.shutdown(10_000), "a background job did not finish"
    runner.deleteLater()
