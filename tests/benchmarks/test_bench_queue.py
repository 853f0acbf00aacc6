"""Queue and labeling costs at 100k and 1M traces: ``queue_ids`` (background thread, target
< 1 s), ``rows`` for a page of 100 (target < 5 ms), and open()+submit() of a ~10 KB trace.

Run with ``make bench`` (or ``pytest -s -m benchmark tests/benchmarks/test_bench_queue.py``)."""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from annotator.domain.label import EvidenceSpan, Label
from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.services.labeling import LabelingService, QueueFilter
from annotator.services.projects import create_project
from annotator.store.codec import encode_turns
from annotator.store.database import Database
from annotator.store.open import open_database

pytestmark = pytest.mark.benchmark

LABELED_SHARE = 0.3
"""Part of the traces the benchmark annotator has already labeled (done, some drafts/skips)."""
BIG_TRACES = 300
"""~10 KB traces appended for open()+submit() timing."""


def _fill(path: Path, n: int) -> None:
    """Tiny trace rows and this annotator's labels with raw executemany: seconds, not minutes."""
    rng = random.Random(7)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")
        pid = con.execute("SELECT id FROM projects").fetchone()[0]
        con.execute("INSERT INTO annotators(name, created_at) VALUES ('bench', '2026-01-01')")
        aid = con.execute("SELECT id FROM annotators WHERE name='bench'").fetchone()[0]
        models = ["gpt-x", "claude-y", "gemini-z", None]
        tiny = b'[{"role":"user","blocks":[{"kind":"text","text":"hi"}]}]'
        con.executemany(
            "INSERT INTO traces(id, project_id, uid, source_format, model, account_id, "
            "created_at, n_turns, reasoning_chars, truncated_count, preview, meta_extra, "
            "turns_json, is_gold, imported_at) "
            "VALUES (?, ?, ?, 'sharegpt', ?, ?, ?, 1, 0, 0, ?, '{}', ?, 0, '2026-01-01')",
            (
                (
                    i,
                    pid,
                    f"u{i}",
                    models[i % 4],
                    f"acct{rng.randrange(5000)}",
                    f"2026-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00.000000",
                    f"prompt number {i}",
                    tiny,
                )
                for i in range(1, n + 1)
            ),
        )
        statuses = ["done"] * 8 + ["draft", "skipped"]
        verdicts = ["legitimate", "suspected_distillation", "cannot_determine"]
        labeled = rng.sample(range(1, n + 1), int(n * LABELED_SHARE))
        con.executemany(
            "INSERT INTO labels(project_id, trace_id, annotator_id, status, verdict, label_json, "
            "seconds_spent, schema_version, with_suggestions, updated_at) "
            "VALUES (?, ?, ?, ?, ?, '{}', 10.0, 1, 0, '2026-01-01')",
            (
                (pid, t, aid, statuses[t % 10], verdicts[t % 3] if t % 10 < 9 else None)
                for t in labeled
            ),
        )
        con.commit()
    finally:
        con.close()


def _add_big(db: Database, project_id: int, n: int) -> list[int]:
    paragraph = "The model considers the request step by step and weighs each option. " * 40
    turns = (
        Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text="Explain " * 50),)),
        Turn(
            role=Role.ASSISTANT,
            blocks=(
                Block(kind=BlockKind.REASONING, text=paragraph * 2),
                Block(kind=BlockKind.TEXT, text=paragraph),
            ),
        ),
    )
    data = encode_turns(turns)
    with db.engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        start = raw.execute("SELECT max(id) FROM traces").fetchone()[0] + 1
        raw.executemany(
            "INSERT INTO traces(id, project_id, uid, source_format, n_turns, reasoning_chars, "
            "truncated_count, preview, meta_extra, turns_json, is_gold, imported_at) "
            "VALUES (?, ?, ?, 'sharegpt', 2, 0, 0, 'Explain', '{}', ?, 0, '2026-01-01')",
            [(start + i, project_id, f"big{i}", data) for i in range(n)],
        )
    return list(range(start, start + n))


@pytest.fixture(scope="module", params=[100_000, 1_000_000], ids=["100k", "1M"])
def bench_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Database, list[int]]]:
    n: int = request.param
    path = tmp_path_factory.mktemp(f"bench{n}") / "bench.db"
    db = open_database(f"sqlite:///{path}", backup_dir=None)
    info = create_project(db, "Bench")
    t0 = time.perf_counter()
    _fill(path, n)
    big = _add_big(db, info.id, BIG_TRACES)
    print(f"\n[{n:,} traces] database filled in {time.perf_counter() - t0:.1f} s")
    yield n, db, big
    db.dispose()


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def test_queue_ids_and_rows(bench_db: tuple[int, Database, list[int]]) -> None:
    n, db, _ = bench_db
    svc = LabelingService(db, "Bench", "bench")
    filters = {
        "all (queue order)": QueueFilter(),
        "status todo": QueueFilter(statuses=frozenset({"todo"})),
        "status done": QueueFilter(statuses=frozenset({"done"})),
        "verdict legitimate": QueueFilter(verdicts=frozenset({"legitimate"})),
        "sort newest": QueueFilter(sort="newest"),
        "sort account": QueueFilter(sort="account"),
        "todo + sort model": QueueFilter(statuses=frozenset({"todo"}), sort="model"),
    }
    worst_plain = 0.0
    for name, flt in filters.items():
        times = _time(lambda flt=flt: svc.queue_ids(flt), 3)
        count = len(svc.queue_ids(flt))
        print(f"[{n:,}] queue_ids {name:<20} {min(times) * 1000:8.1f} ms  ({count:,} ids)")
        if name in ("all (queue order)", "status todo", "status done"):
            worst_plain = max(worst_plain, min(times))
    ids = svc.queue_ids()
    rng = random.Random(1)
    pages = [ids[s : s + 100] for s in (rng.randrange(len(ids) - 100) for _ in range(200))]
    times = []
    for page in pages:
        t0 = time.perf_counter()
        rows = svc.rows(page)
        times.append(time.perf_counter() - t0)
        assert len(rows) == 100
    median = statistics.median(times)
    print(f"[{n:,}] rows(100 ids) median {median * 1000:.2f} ms  p95 {_p95(times) * 1000:.2f} ms")
    assert worst_plain < 1.0
    assert median < 0.005


def test_open_and_submit(bench_db: tuple[int, Database, list[int]]) -> None:
    n, db, big = bench_db
    svc = LabelingService(db, "Bench", "bench")
    label = Label(
        verdict="suspected_distillation",
        tags=("REASONING_ELICIT",),
        confidence=2,
        rationale="asks for every step",
        spans=(EvidenceSpan(turn=0, block=0, start=0, end=7, text="Explain"),),
    )
    opens, submits = [], []
    for tid in big[:200]:
        t0 = time.perf_counter()
        view = svc.open(tid)
        t1 = time.perf_counter()
        svc.submit(tid, label, 5.0)
        t2 = time.perf_counter()
        opens.append(t1 - t0)
        submits.append(t2 - t1)
        assert view.status == "todo"
    both = [a + b for a, b in zip(opens, submits, strict=True)]
    print(
        f"[{n:,}] open ~10KB median {statistics.median(opens) * 1000:.2f} ms "
        f"p95 {_p95(opens) * 1000:.2f} ms; submit median {statistics.median(submits) * 1000:.2f} "
        f"ms p95 {_p95(submits) * 1000:.2f} ms; open+submit median "
        f"{statistics.median(both) * 1000:.2f} ms p95 {_p95(both) * 1000:.2f} ms"
    )
    undo = _time(svc.undo_last_submit, 20)
    stats = _time(svc.day_stats, 5)
    print(
        f"[{n:,}] undo_last_submit median {statistics.median(undo) * 1000:.2f} ms; "
        f"day_stats median {statistics.median(stats) * 1000:.2f} ms"
    )
    assert statistics.median(both) < 0.05
