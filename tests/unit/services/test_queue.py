"""The queue: which traces, in which order, with which filters; one query per page of rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from annotator.domain.label import Label
from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.services import queue as queue_module
from annotator.services.labeling import LabelingService, QueueFilter
from annotator.services.projects import create_project, get_project
from annotator.store.codec import encode_turns
from annotator.store.database import Database
from annotator.store.models import Assignment, TraceRow
from annotator.store.open import open_database
from annotator.store.search import index_pending

# (prompt, model, account, created_at)
TRACES = [
    ("Translate this poem into French", "gpt-x", "acct-b", datetime(2026, 3, 2, tzinfo=UTC)),
    ("Generate 50 diverse examples as JSONL", "claude-y", "acct-a", None),
    (
        "Show every step of your reasoning verbatim",
        "claude-y",
        None,
        datetime(2026, 1, 5, tzinfo=UTC),
    ),
    ("Fix the bug in my parser", "gemini-z", "acct-a", datetime(2026, 5, 1, tzinfo=UTC)),
    ("Rate these answers against the rubric", None, "acct-c", datetime(2026, 2, 1, tzinfo=UTC)),
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'q.db'}", backup_dir=None)
    yield database
    database.dispose()


def _add(
    db: Database, project: str, traces: list[tuple[str, str | None, str | None, datetime | None]]
) -> list[int]:
    with db.session() as session:
        pid = get_project(session, project).id
        rows = [
            TraceRow(
                project_id=pid,
                uid=f"{project}-{i}",
                source_format="sharegpt",
                model=model,
                account_id=account,
                created_at=created,
                preview=prompt,
                n_turns=1,
                turns_json=encode_turns(
                    (Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=prompt),)),)
                ),
            )
            for i, (prompt, model, account, created) in enumerate(traces)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


@pytest.fixture
def ids(db: Database) -> list[int]:
    create_project(db, "P")
    return _add(db, "P", TRACES)


def _label(verdict: str) -> Label:
    return Label(verdict=verdict, confidence=None if verdict == "cannot_determine" else 2)


def test_whole_project_in_import_order(db: Database, ids: list[int]) -> None:
    create_project(db, "Other")
    _add(db, "Other", TRACES[:2])
    svc = LabelingService(db, "P", "alice")
    assert svc.queue_ids() == ids
    assert svc.day_stats().assigned == 5


def test_assignments_give_order_and_scope(db: Database, ids: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    bob = LabelingService(db, "P", "bob")
    with db.session() as session:
        for position, tid in enumerate([ids[3], ids[0], ids[4]]):
            session.add(
                Assignment(
                    project_id=svc.project.id,
                    trace_id=tid,
                    annotator_id=svc.annotator_id,
                    position=10 - position,
                )
            )
    assert svc.queue_ids() == [ids[4], ids[0], ids[3]]
    assert svc.day_stats().assigned == 3
    # Once work is handed out, someone with no assignment sees nothing (not the whole project).
    assert bob.queue_ids() == []
    assert bob.day_stats().assigned == 0
    assert svc.queue_ids(QueueFilter(sort="oldest")) == [ids[4], ids[0], ids[3]]
    assert svc.queue_ids(QueueFilter(sort="model")) == [ids[3], ids[0], ids[4]]
    svc.submit(ids[0], _label("legitimate"), 1.0)
    assert svc.queue_ids(QueueFilter(statuses=frozenset({"todo"}))) == [ids[4], ids[3]]
    assert svc.queue_ids(QueueFilter(search="rubric")) == []  # not indexed yet
    index_pending(db)
    assert svc.queue_ids(QueueFilter(search="rubric OR poem")) == []  # every word must match
    assert svc.queue_ids(QueueFilter(search="rubric")) == [ids[4]]
    assert svc.queue_ids(QueueFilter(search="reasoning")) == []  # not assigned to alice


def test_status_and_verdict_filters(db: Database, ids: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    bob = LabelingService(db, "P", "bob")
    svc.submit(ids[0], _label("legitimate"), 1.0)
    svc.submit(ids[1], _label("suspected_distillation"), 1.0)
    svc.save_draft(ids[2], Label(verdict="cannot_determine"), 1.0)
    svc.skip(ids[3], 1.0)
    bob.submit(ids[4], _label("legitimate"), 1.0)  # bob's labels never show in alice's queue

    def q(**kw: frozenset[str]) -> list[int]:
        return svc.queue_ids(QueueFilter(**kw))  # type: ignore[arg-type]

    assert q(statuses=frozenset({"todo"})) == [ids[4]]
    assert q(statuses=frozenset({"done"})) == ids[:2]
    assert q(statuses=frozenset({"todo", "draft"})) == [ids[2], ids[4]]
    assert q(statuses=frozenset({"todo", "draft", "done", "skipped", "flagged"})) == ids
    assert q(statuses=frozenset()) == []
    assert q(verdicts=frozenset({"legitimate"})) == [ids[0]]
    assert q(verdicts=frozenset({"legitimate", "cannot_determine"})) == [ids[0], ids[2]]
    assert q(statuses=frozenset({"done"}), verdicts=frozenset({"cannot_determine"})) == []
    with pytest.raises(ValueError, match="unknown status"):
        q(statuses=frozenset({"finished"}))
    with pytest.raises(ValueError, match="unknown sort"):
        svc.queue_ids(QueueFilter(sort="random"))


def test_sorts(db: Database, ids: list[int]) -> None:
    svc = LabelingService(db, "P", "alice")
    assert svc.queue_ids(QueueFilter(sort="queue")) == ids
    assert svc.queue_ids(QueueFilter(sort="newest")) == [ids[3], ids[0], ids[4], ids[2], ids[1]]
    assert svc.queue_ids(QueueFilter(sort="oldest")) == [ids[2], ids[4], ids[0], ids[3], ids[1]]
    assert svc.queue_ids(QueueFilter(sort="model")) == [ids[1], ids[2], ids[3], ids[0], ids[4]]
    assert svc.queue_ids(QueueFilter(sort="account")) == [ids[1], ids[3], ids[0], ids[4], ids[2]]


def test_search(db: Database, ids: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    index_pending(db)
    svc = LabelingService(db, "P", "alice")
    assert svc.queue_ids(QueueFilter(search="every step")) == [ids[2]]
    assert svc.queue_ids(QueueFilter(search='"step of"')) == [ids[2]]
    assert svc.queue_ids(QueueFilter(search="the")) == [ids[3], ids[4]]
    assert svc.queue_ids(QueueFilter(search="nothing-like-this")) == []
    assert svc.queue_ids(QueueFilter(search="   ")) == ids
    svc.submit(ids[3], _label("legitimate"), 1.0)
    assert svc.queue_ids(QueueFilter(search="the", statuses=frozenset({"todo"}))) == [ids[4]]
    # many hits: paged from the index and intersected in Python, sort preserved
    monkeypatch.setattr(queue_module, "SEARCH_IN_LIMIT", 1)
    monkeypatch.setattr(queue_module, "SEARCH_PAGE", 1)
    assert svc.queue_ids(QueueFilter(search="the", sort="newest")) == [ids[3], ids[4]]


def test_rows_for_a_page(db: Database, ids: list[int]) -> None:
    create_project(db, "Other")
    foreign = _add(db, "Other", TRACES[:1])[0]
    svc = LabelingService(db, "P", "alice")
    svc.submit(ids[1], _label("suspected_distillation"), 1.0)
    rows = svc.rows([*ids, foreign, 99999])
    assert sorted(rows) == ids
    row = rows[ids[1]]
    assert (row.status, row.verdict, row.model, row.account_id, row.source_format) == (
        "done",
        "suspected_distillation",
        "claude-y",
        "acct-a",
        "sharegpt",
    )
    assert row.preview == "Generate 50 diverse examples as JSONL"
    assert rows[ids[0]].created_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert (rows[ids[0]].status, rows[ids[0]].verdict) == ("todo", None)
    assert svc.rows([]) == {}
