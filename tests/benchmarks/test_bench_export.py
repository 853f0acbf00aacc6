"""Export throughput and memory: each format against a plain orjson/pyarrow writer over the same
rows in the same run (target: at least 0.5 of it), label rows per second (target 75k/s), full
records in MB/s (target 60 MB/s), and peak Python memory that does not grow with the project.

Sizes come from BENCH_EXPORT_TRACES (default 20,000 traces of ~4 KB with three labels each) and
BENCH_EXPORT_LABEL_ROWS (default 1,000,000 label rows, the issue's figure: traces with tiny text
carrying three labels each, so the rate is the cost of the labels, not of the text). Each timed
figure also prints the process CPU time, which tells a slow export from a busy machine.
Run with ``make bench`` or ``pytest -s -m benchmark -o addopts="" tests/benchmarks/test_bench_export.py``.
"""

from __future__ import annotations

import csv
import gc
import os
import random
import sqlite3
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotator.domain.label import EvidenceSpan, Label
from annotator.services.exporting import ExportOptions, export_dataset
from annotator.services.projects import create_project
from annotator.store.codec import turns_bytes
from annotator.store.database import Database
from annotator.store.open import open_database

pytestmark = pytest.mark.benchmark

N_TRACES = int(os.environ.get("BENCH_EXPORT_TRACES", "20000"))
N_LABEL_ROWS = int(os.environ.get("BENCH_EXPORT_LABEL_ROWS", "1000000"))
LABELERS = ("alice", "bob", "carol")
VERDICTS = ("legitimate", "suspected_distillation", "cannot_determine")
WORDS = [
    "the",
    "model",
    "first",
    "considers",
    "each",
    "constraint",
    "then",
    "derives",
    "a",
    "bound",
    "so",
    "that",
    "the",
    "final",
    "answer",
    "follows",
    "from",
    "checking",
    "every",
    "case",
    "carefully",
    "before",
    "writing",
    "code",
    "tests",
    "and",
    "a",
    "proof",
    "sketch",
]


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def _fill(path: Path, n_traces: int, labels_per_trace: int, *, big: bool) -> int:
    """Rows straight into SQLite with executemany: seconds, not minutes. Returns label rows."""
    rng = random.Random(11)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")
        pid = con.execute("SELECT id FROM projects").fetchone()[0]
        ids = []
        for name in LABELERS[:labels_per_trace] + ("extra",) * max(0, labels_per_trace - 3):
            con.execute(
                "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?, '2026-01-01')",
                (name,),
            )
        for name in LABELERS[:labels_per_trace]:
            ids.append(con.execute("SELECT id FROM annotators WHERE name=?", (name,)).fetchone()[0])

        def turns(i: int) -> bytes:
            if not big:
                return b'[{"role":"user","blocks":[{"text":"hi %d","kind":"text"}]}]' % i
            return orjson.dumps(
                [
                    {"role": "user", "blocks": [{"kind": "text", "text": _text(rng, 50)}]},
                    {
                        "role": "assistant",
                        "blocks": [
                            {"kind": "reasoning", "text": _text(rng, 500)},
                            {"kind": "text", "text": _text(rng, 120)},
                        ],
                    },
                ]
            )

        con.executemany(
            "INSERT INTO traces(id, project_id, uid, source_format, model, account_id, "
            "session_id, created_at, n_turns, reasoning_chars, truncated_count, preview, "
            "meta_extra, turns_json, original, is_gold, imported_at) VALUES (?, ?, ?, "
            "'openai_chat', 'm', ?, ?, '2026-01-01 10:00:00.000000', 2, 0, 0, '', '{}', ?, ?, 0, "
            "'2026-01-01')",
            (
                (i, pid, f"u{i:07d}", f"acct{i % 997}", f"s{i % 5003}", turns(i), None)
                for i in range(1, n_traces + 1)
            ),
        )
        span = EvidenceSpan(turn=1, block=0, start=0, end=12, text="the model fi")
        label_json = {
            v: Label(
                verdict=v, tags=("REASONING_ELICIT",), confidence=2, rationale="r", spans=(span,)
            ).model_dump_json()
            for v in VERDICTS
        }
        con.executemany(
            "INSERT INTO labels(project_id, trace_id, annotator_id, status, verdict, label_json, "
            "seconds_spent, schema_version, with_suggestions, updated_at, submitted_at) "
            "VALUES (?, ?, ?, 'done', ?, ?, 30.0, 1, 0, '2026-01-02 10:00:00.000000', "
            "'2026-01-02 10:00:00.000000')",
            (
                (pid, i, aid, v, label_json[v])
                for i in range(1, n_traces + 1)
                for k, aid in enumerate(ids)
                for v in (VERDICTS[(i + (k == 2 and i % 3 == 0)) % 3],)
            ),
        )
        con.commit()
        return n_traces * len(ids)
    finally:
        con.close()


def _open(path: Path) -> Database:
    db = open_database(f"sqlite:///{path}", backup_dir=None)
    create_project(db, "bench")
    return db


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Path]]:
    path = tmp_path_factory.mktemp("bench") / "big.db"
    db = _open(path)
    _fill(path, N_TRACES, 3, big=True)
    yield db, path
    db.dispose()


# --- the plain writers the export is measured against -------------------------------------------


def _plain_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The same traces and labels, read in uid order a chunk at a time with sqlite3."""
    con = sqlite3.connect(path)
    try:
        names = dict(con.execute("SELECT id, name FROM annotators"))
        last = ""
        while True:
            rows = con.execute(
                "SELECT id, uid, account_id, created_at, turns_json FROM traces "
                "WHERE uid > ? ORDER BY uid LIMIT 400",
                (last,),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][1]
            ids = [r[0] for r in rows]
            labels: dict[int, list[dict[str, Any]]] = defaultdict(list)
            marks = ",".join("?" * len(ids))
            for tid, aid, status, verdict, lj, sub in con.execute(
                "SELECT trace_id, annotator_id, status, verdict, label_json, submitted_at "
                f"FROM labels WHERE trace_id IN ({marks})",
                ids,
            ):
                labels[tid].append(
                    {
                        "annotator": names[aid],
                        "status": status,
                        "verdict": verdict,
                        "label": orjson.loads(lj),
                        "submitted_at": sub,
                    }
                )
            for tid, uid, account, created, tj in rows:
                yield {
                    "uid": uid,
                    "account_id": account,
                    "created_at": created,
                    "turns": orjson.loads(turns_bytes(tj)),
                    "labels": labels[tid],
                }
    finally:
        con.close()


def plain_jsonl(path: Path, out: Path) -> None:
    with open(out, "wb") as f:
        for row in _plain_rows(path):
            f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def plain_csv(path: Path, out: Path) -> None:
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        for row in _plain_rows(path):
            w.writerow(
                [
                    row["uid"],
                    row["account_id"],
                    row["created_at"],
                    orjson.dumps(row["turns"]).decode(),
                    orjson.dumps(row["labels"]).decode(),
                ]
            )


def plain_parquet(path: Path, out: Path) -> None:
    writer: pq.ParquetWriter | None = None
    batch: list[dict[str, Any]] = []
    try:
        for row in _plain_rows(path):
            batch.append(row)
            if len(batch) == 2000:
                table = pa.Table.from_pylist(batch)
                writer = writer or pq.ParquetWriter(str(out), table.schema, compression="zstd")
                writer.write_table(table)
                batch = []
        if batch:
            table = pa.Table.from_pylist(batch)
            writer = writer or pq.ParquetWriter(str(out), table.schema, compression="zstd")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


PLAIN = {"jsonl": plain_jsonl, "csv": plain_csv, "parquet": plain_parquet, "hf": plain_parquet}
SUFFIX = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "hf": "parquet"}


def _timed(fn: Any, *args: Any) -> float:
    return _timed_cpu(fn, *args)[0]


def _timed_cpu(fn: Any, *args: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - start, time.process_time() - cpu


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "hf"])
def test_each_format_against_a_plain_writer(
    big: tuple[Database, Path], tmp_path: Path, fmt: str
) -> None:
    """The same rows, one file, no split on either side; the split export (a first pass to
    resolve, filter and place groups, then the write) is timed and printed beside it."""
    db, path = big
    plain_out = tmp_path / f"plain.{SUFFIX[fmt]}"
    plain = min(_timed(PLAIN[fmt], path, plain_out) for _ in range(2))
    ours = min(
        _timed(export_dataset, db, "bench", tmp_path / f"ours{k}", ExportOptions(format=fmt))
        for k in range(2)
    )
    split = _timed(
        export_dataset,
        db,
        "bench",
        tmp_path / "split",
        ExportOptions(format=fmt, split=(0.8, 0.1, 0.1)),
    )
    ratio = plain / ours
    mb = _size(tmp_path / "ours0") / 1e6
    print(
        f"\nexport {fmt:8s} full view, {N_TRACES:,} traces x 3 labels: {ours:6.2f} s "
        f"({N_TRACES / ours:,.0f} traces/s, {mb / ours:5.1f} MB/s, {mb:.0f} MB) | plain "
        f"{plain:6.2f} s ({plain_out.stat().st_size / 1e6 / plain:5.1f} MB/s) | ratio {ratio:.2f}"
        f" | with a 3-way split {split:6.2f} s (ratio {plain / split:.2f})"
    )
    assert ratio >= 0.5


def test_full_records_mb_per_second(big: tuple[Database, Path], tmp_path: Path) -> None:
    db, _path = big
    out = tmp_path / "o"
    seconds, cpu = _timed_cpu(export_dataset, db, "bench", out, ExportOptions(format="jsonl"))
    mb = (out / "data.jsonl").stat().st_size / 1e6
    print(
        f"\nfull JSONL records: {mb:.0f} MB in {seconds:.2f} s = {mb / seconds:.1f} MB/s "
        f"(CPU {cpu:.2f} s = {mb / cpu:.1f} MB/s)"
    )
    assert mb / seconds >= 60


def test_label_rows_per_second(tmp_path: Path) -> None:
    path = tmp_path / "labels.db"
    db = _open(path)
    try:
        n_traces = N_LABEL_ROWS // 3
        n_labels = _fill(path, n_traces, 3, big=False)
        rates = {}
        for view in ("full", "classifier"):
            out = tmp_path / view
            seconds, cpu = _timed_cpu(
                export_dataset, db, "bench", out, ExportOptions(format="jsonl", view=view)
            )
            with open(out / "data.jsonl", "rb") as f:
                assert sum(1 for _ in f) == n_traces  # every trace, with its labels, went out
            rates[view] = n_labels / seconds
            print(
                f"\nlabel rows, {view} view: {n_labels:,} label rows ({n_traces:,} traces) in "
                f"{seconds:.2f} s = {rates[view]:,.0f} label rows/s "
                f"(CPU {cpu:.2f} s = {n_labels / cpu:,.0f}/s)"
            )
        assert min(rates.values()) >= 75_000
    finally:
        db.dispose()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_memory_stays_flat(tmp_path: Path, fmt: str) -> None:
    """Peak Python allocations while exporting N and 3N big traces: bounded by the chunk and the
    Parquet row group, not by the project. N is above one row group so both runs fill one."""
    peaks = {}
    n = max(N_TRACES // 4, 2500)
    for size in (n, 3 * n):
        path = tmp_path / f"m{size}.db"
        db = _open(path)
        try:
            _fill(path, size, 3, big=True)
            gc.collect()
            tracemalloc.start()
            export_dataset(db, "bench", tmp_path / f"o{size}", ExportOptions(format=fmt))
            peaks[size] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        finally:
            db.dispose()
        print(f"\nmemory, {fmt}: {size:,} traces -> peak {peaks[size] / 1e6:.1f} MB")
    extra_text = 2 * n * 4_000  # what holding the extra traces' text would cost
    assert peaks[3 * n] - peaks[n] < extra_text / 10
