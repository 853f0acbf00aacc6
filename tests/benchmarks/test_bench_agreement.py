"""Agreement at 100k items x 3 labelers: every metric (percent, Fleiss, Krippendorff's alpha,
Cohen per pair, alpha per tag, span overlap per pair and pooled, per day) with 1000 bootstrap
resamples; target under 2 s. Also the cost of turning 300k label rows into matrices, and the
whole report from a SQLite file.

Run with ``make bench`` (or ``pytest -s -m benchmark tests/benchmarks/test_bench_agreement.py``)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from annotator.resources import default_schema
from annotator.services.agreement import agreement_report, build_agreement_data, compute_agreement
from annotator.services.projects import add_member, create_project
from annotator.store.open import open_database

pytestmark = pytest.mark.benchmark

N_ITEMS = 100_000
LABELERS = ("ann", "bob", "cy")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _rows(n: int, seed: int = 1) -> list[tuple[int, str, str, str, datetime]]:
    """Realistic labels: a true verdict per item that each labeler gives 80% of the time, one
    or two true tags picked up with some noise, evidence spans on a third of the labels."""
    rng = np.random.default_rng(seed)
    schema = default_schema()
    verdicts = list(schema.verdict_values)
    tags = [t.name for t in schema.evidence_tags]
    counter = [t.name for t in schema.counter_tags]
    truth = rng.integers(0, len(verdicts), n)
    true_tag = rng.integers(0, len(tags), n)
    true_counter = rng.integers(0, len(counter), n)
    span_start = rng.integers(0, 2000, n)
    out = []
    for j, who in enumerate(LABELERS):
        agree = rng.random(n) < 0.8
        other = rng.integers(0, len(verdicts), n)
        pick_tag = rng.random(n) < 0.7
        pick_counter = rng.random(n) < 0.3
        has_span = rng.random(n) < 0.33
        jitter = rng.integers(-20, 20, n)
        length = rng.integers(20, 200, n)
        days = rng.integers(0, 30, n)
        for i in range(n):
            verdict = verdicts[truth[i] if agree[i] else other[i]]
            label = {
                "verdict": verdict,
                "tags": [tags[true_tag[i]]] if pick_tag[i] else [],
                "counter_tags": [counter[true_counter[i]]] if pick_counter[i] else [],
                "confidence": 2,
                "rationale": "",
                "spans": [
                    {
                        "turn": 1,
                        "block": 0,
                        "start": int(max(0, span_start[i] + jitter[i])),
                        "end": int(max(0, span_start[i] + jitter[i]) + length[i]),
                        "text": "",
                    }
                ]
                if has_span[i]
                else [],
            }
            at = T0 + timedelta(days=int(days[i]), seconds=j)
            out.append((i + 1, who, verdict, orjson.dumps(label).decode(), at))
    return out


def test_all_metrics_with_bootstrap_under_two_seconds() -> None:
    rows = _rows(N_ITEMS)
    t0 = time.perf_counter()
    data = build_agreement_data(rows, default_schema())
    built = time.perf_counter() - t0
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = compute_agreement(data, bootstrap=1000, seed=0)
        timings.append(time.perf_counter() - t0)
    best = min(timings)
    print(
        f"\n[{N_ITEMS:,} items x {len(LABELERS)} labelers] all metrics + 1000 bootstrap: "
        f"best {best:.2f} s, runs {', '.join(f'{t:.2f}' for t in timings)} s; "
        f"{len(rows):,} label rows -> matrices {built:.2f} s"
    )
    v = report.verdict
    print(
        f"  alpha {v.alpha.value:.4f} [{v.alpha.low:.4f}, {v.alpha.high:.4f}]  "
        f"fleiss {v.fleiss.value:.4f}  percent {v.percent.value:.4f}  "
        f"span F1 {report.spans.f1.value:.4f} [{report.spans.f1.low:.4f}, {report.spans.f1.high:.4f}]"
    )
    assert v.alpha.n == N_ITEMS and len(report.pairs) == 3
    assert v.alpha.low is not None and v.alpha.low < v.alpha.value < v.alpha.high  # type: ignore[operator]
    assert report.spans.f1.low is not None and len(report.tags) == 17
    assert len(report.over_time) == 30
    assert best < 2.0


def test_whole_report_from_sqlite(tmp_path: Path) -> None:
    """Query, JSON parsing and metrics together, as ``annotator agreement`` runs them."""
    path = tmp_path / "bench.sqlite3"
    db = open_database(f"sqlite:///{path}", backup_dir=None)
    try:
        create_project(db, "B")
        for who in ("lena", *LABELERS):
            add_member(db, "B", who, "lead" if who == "lena" else "labeler")
    finally:
        db.dispose()
    rows = _rows(N_ITEMS, seed=2)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")
        ids = dict(con.execute("SELECT name, id FROM annotators").fetchall())
        con.executemany(
            "INSERT INTO traces(id, project_id, uid, source_format, n_turns, reasoning_chars, "
            "truncated_count, preview, meta_extra, turns_json, is_gold, imported_at) "
            "VALUES (?, 1, ?, 'sharegpt', 1, 0, 0, '', '{}', x'5b5d', 0, '2026-01-01')",
            ((i, f"t{i}") for i in range(1, N_ITEMS + 1)),
        )
        con.executemany(
            "INSERT INTO labels(project_id, trace_id, annotator_id, status, verdict, label_json, "
            "seconds_spent, schema_version, with_suggestions, updated_at, submitted_at) "
            "VALUES (1, ?, ?, 'done', ?, ?, 30.0, 1, 0, ?, ?)",
            ((t, ids[w], v, j, a.isoformat(), a.isoformat()) for t, w, v, j, a in rows),
        )
        con.commit()
    finally:
        con.close()
    db = open_database(f"sqlite:///{path}", backup_dir=None)
    try:
        t0 = time.perf_counter()
        report = agreement_report(db, "B", lead="lena", bootstrap=1000)
        elapsed = time.perf_counter() - t0
    finally:
        db.dispose()
    print(f"\n[{N_ITEMS:,} x {len(LABELERS)} in SQLite] agreement_report {elapsed:.2f} s")
    assert report.verdict.alpha.n == N_ITEMS
    assert elapsed < 15.0
