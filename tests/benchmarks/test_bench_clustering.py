"""Near-duplicate clustering at scale: 100k prompts (a generated templated + free-form mix with
the template of each known) clustered from the database in under 60 s, then 10k more added
incrementally in under 10 s; quality as precision/recall of same-template pairs (target >= 0.95);
and the time to compute every trace's heuristic suggestion (reported, no target).

Run with ``make bench`` (or ``pytest -s -m benchmark tests/benchmarks/test_bench_clustering.py``).
``ANNOTATOR_BENCH_CLUSTER_N`` changes the size (the incremental batch is a tenth of it)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from annotator.services.detection.clustering import cluster_prompts, update_clusters
from annotator.services.detection.suggest import compute_suggestions
from annotator.services.projects import create_project
from annotator.store.database import Database
from annotator.store.open import open_database
from tests.unit.detection.synth import pair_quality, prompt_mix

pytestmark = pytest.mark.benchmark

N = int(os.environ.get("ANNOTATOR_BENCH_CLUSTER_N", "100000"))
ADD = N // 10


def _insert(path: Path, project_id: int, prompts: list[str], first_id: int) -> None:
    """Trace rows holding just the prompt, with raw executemany: seconds, not minutes."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.executemany(
            "INSERT INTO traces(id, project_id, uid, source_format, account_id, created_at, "
            "n_turns, reasoning_chars, truncated_count, preview, meta_extra, turns_json, "
            "is_gold, imported_at) VALUES (?, ?, ?, 'bench', ?, ?, 1, 0, 0, '', '{}', ?, 0, "
            "'2026-01-01')",
            (
                (
                    first_id + i,
                    project_id,
                    f"u{first_id + i}",
                    f"acct{(first_id + i) % 997}",
                    f"2026-02-{1 + (first_id + i) % 28:02d} {(first_id + i) % 24:02d}:00:00",
                    orjson.dumps([{"role": "user", "blocks": [{"kind": "text", "text": prompt}]}]),
                )
                for i, prompt in enumerate(prompts)
            ),
        )
        con.commit()
    finally:
        con.close()


@pytest.fixture
def bench_db(tmp_path: Path) -> Iterator[tuple[Database, Path]]:
    path = tmp_path / "clusters.sqlite3"
    db = open_database(f"sqlite:///{path}", backup_dir=None)
    yield db, path
    db.dispose()


def test_cluster_100k_then_add_10k(bench_db: tuple[Database, Path]) -> None:
    db, path = bench_db
    mix = prompt_mix(N + ADD)
    project_id = create_project(db, "bench").id
    _insert(path, project_id, mix.prompts[:N], 1)

    start = time.perf_counter()
    first = update_clusters(db, project_id)
    full_s = time.perf_counter() - start
    assert first.new_traces == N

    _insert(path, project_id, mix.prompts[N:], N + 1)
    start = time.perf_counter()
    second = update_clusters(db, project_id)
    add_s = time.perf_counter() - start
    assert second.new_traces == ADD

    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT trace_id, cluster_id FROM trace_clusters").fetchall()
    cluster_of = dict(rows)
    labels = [cluster_of[i + 1] for i in range(N + ADD)]
    precision, recall = pair_quality(labels, mix.truth)

    start = time.perf_counter()
    suggested = compute_suggestions(db, project_id)
    suggest_s = time.perf_counter() - start
    assert suggested == N + ADD

    start = time.perf_counter()
    memory_labels = cluster_prompts(mix.prompts[:N])
    memory_s = time.perf_counter() - start
    mem_precision, mem_recall = pair_quality(memory_labels, mix.truth[:N])

    templates = len({t for t in mix.truth if t >= 0})
    print(
        f"\nclustering {N:,} prompts from the database: {full_s:.1f} s "
        f"({first.new_clusters:,} clusters; {templates} templates + free-form)"
        f"\nincremental add of {ADD:,}: {add_s:.1f} s ({second.new_clusters:,} new clusters, "
        f"{len(second.touched_clusters):,} touched, {second.merged_clusters} merged)"
        f"\nsame-template pairs over all {N + ADD:,}: precision {precision:.4f}, "
        f"recall {recall:.4f}"
        f"\nin memory (no database), {N:,} prompts: {memory_s:.1f} s, precision "
        f"{mem_precision:.4f}, recall {mem_recall:.4f}"
        f"\nheuristic suggestions for all {N + ADD:,} traces: {suggest_s:.1f} s"
    )
    assert precision >= 0.95 and recall >= 0.95
    if N >= 100_000:
        assert full_s < 60, full_s
        assert add_s < 10, add_s
