"""Project stats: exact numbers on traces built in the test, and the corpus cross-checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn
from annotator.services.importing import import_files
from annotator.services.projects import ProjectError, create_project, ensure_annotator
from annotator.services.stats import project_stats, projects_overview
from annotator.store.codec import decode_turns
from annotator.store.database import Database
from annotator.store.models import Adjudication, ImportBatch, LabelRow, TraceRow
from annotator.store.open import open_database
from annotator.store.trace_writer import PendingTrace, write_traces


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    create_project(database, "p")
    create_project(database, "other")
    yield database
    database.dispose()


def trace(
    uid: str,
    *,
    fmt: str = "openai_chat",
    model: str | None = "m1",
    account: str | None = None,
    session: str | None = None,
    reasoning: str = "",
    truncated: bool = False,
) -> Trace:
    blocks = [Block(kind=BlockKind.TEXT, text="answer")]
    if reasoning:
        blocks.insert(0, Block(kind=BlockKind.REASONING, text=reasoning, truncated=truncated))
    return Trace(
        uid=uid,
        turns=(
            Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=f"q {uid}"),)),
            Turn(role=Role.ASSISTANT, blocks=tuple(blocks)),
        ),
        meta=TraceMeta(source_format=fmt, model=model, account_id=account, session_id=session),
    )


def put(db: Database, project_id: int, traces: list[Trace]) -> None:
    with db.engine.begin() as conn:
        write_traces(conn, project_id, None, [PendingTrace(t) for t in traces])


def test_exact_counts(db: Database) -> None:
    put(
        db,
        1,
        [
            trace("a", account="acc1", session="s1", reasoning="abcd"),
            trace("b", account="acc1", session="s2", reasoning="xy", truncated=True),
            trace("c", account="acc2", model=None),
            trace("d", fmt="anthropic", model="claude", reasoning="r"),
        ],
    )
    put(db, 2, [trace("zz", fmt="sharegpt", account="elsewhere", reasoning="q")])
    with db.session() as session:
        ids = dict(session.execute(select(TraceRow.uid, TraceRow.id)).all())
        ann = ensure_annotator(session, "ann")
        bob = ensure_annotator(session, "bob")
        for trace_id, who, status, verdict in (
            (ids["a"], ann, "done", "legitimate"),
            (ids["a"], bob, "done", "suspected_distillation"),
            (ids["b"], ann, "done", "legitimate"),
            (ids["c"], ann, "skipped", None),
            (ids["zz"], ann, "done", "legitimate"),
        ):
            session.add(
                LabelRow(
                    project_id=1 if trace_id != ids["zz"] else 2,
                    trace_id=trace_id,
                    annotator_id=who.id,
                    status=status,
                    verdict=verdict,
                )
            )
        session.add(
            Adjudication(project_id=1, trace_id=ids["a"], lead_id=bob.id, verdict="legitimate")
        )
        session.add(ImportBatch(project_id=1, file_path="f", file_sha256="0" * 64, status="done"))
    stats = project_stats(db, "p")
    assert stats.traces == 4
    assert stats.by_format == {"openai_chat": 3, "anthropic": 1}
    assert stats.by_model == {"m1": 2, "(unknown)": 1, "claude": 1}
    assert (stats.accounts, stats.sessions) == (2, 2)
    assert (stats.with_reasoning, stats.reasoning_chars, stats.truncated) == (3, 7, 1)
    assert stats.reasoning_share == pytest.approx(0.75)
    assert stats.labels_by_status == {"done": 3, "skipped": 1}
    assert stats.labels_by_verdict == {"legitimate": 2, "suspected_distillation": 1}
    assert stats.labeled_traces == 2
    assert stats.adjudicated_traces == 1
    assert (stats.imports, stats.imports_by_status) == (1, {"done": 1})
    assert stats.as_dict()["reasoning_share"] == 0.75

    overview = {p.name: p for p in projects_overview(db)}
    assert (overview["p"].traces, overview["p"].labeled_traces, overview["p"].imports) == (4, 2, 1)
    assert (overview["other"].traces, overview["other"].labeled_traces) == (1, 1)
    assert overview["p"].schema_name == "distillation-v1"


def test_empty_and_unknown_project(db: Database) -> None:
    stats = project_stats(db, "other")
    assert stats.traces == 0 and stats.reasoning_share == 0.0 and stats.by_format == {}
    assert stats.last_import is None and stats.unindexed == 0
    with pytest.raises(ProjectError):
        project_stats(db, "nope")


def test_corpus_stats_agree_with_the_rows(db: Database, corpus_dir: Path, tmp_path: Path) -> None:
    summary = import_files(db, "p", [corpus_dir], reject_dir=tmp_path)
    stats = project_stats(db, "p")
    assert stats.traces == summary.imported
    assert stats.unindexed == 0
    with db.session() as session:
        rows = session.execute(
            select(TraceRow.source_format, TraceRow.turns_json).where(TraceRow.project_id == 1)
        ).all()
    with_reasoning = truncated = 0
    formats: dict[str, int] = {}
    for fmt, turns_json in rows:
        blocks = [b for t in decode_turns(turns_json) for b in t.blocks]
        with_reasoning += any(b.kind is BlockKind.REASONING and b.text for b in blocks)
        truncated += any(b.truncated for b in blocks)
        formats[fmt] = formats.get(fmt, 0) + 1
    assert stats.by_format == dict(sorted(formats.items(), key=lambda kv: (-kv[1], kv[0])))
    assert stats.with_reasoning == with_reasoning > 0
    assert stats.truncated == truncated
    assert stats.imports == len(summary.files)


def test_stats_query_is_answered_from_the_covering_index(db: Database) -> None:
    """At 1M traces the grouped counts must come from ix_traces_project_stats, not the rows."""
    put(db, 1, [trace(f"t{i}", model=f"m{i % 3}", reasoning="r" * i) for i in range(30)])
    with db.engine.connect() as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT source_format, model, count(*), sum(reasoning_chars), "
                "sum(truncated_count) FROM traces WHERE project_id = 1 "
                "GROUP BY project_id, source_format, model"
            )
        )
    assert "COVERING INDEX ix_traces_project_stats" in plan
    stats = project_stats(db, "p")
    assert stats.traces == 30
