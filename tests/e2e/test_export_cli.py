"""`annotator export` as a user runs it: the console script in a subprocess against a labeled
SQLite file, then `annotator import` of the export into a fresh database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.export.builders import build, open_db

REPO = Path(__file__).resolve().parents[2]
ANNOTATOR = REPO / ".venv" / "bin" / "annotator"


@pytest.fixture
def run(home: Path) -> Any:
    exe = [str(ANNOTATOR)] if ANNOTATOR.exists() else [sys.executable, "-m", "annotator"]
    env = {**os.environ, "ANNOTATOR_HOME": str(home), "COLUMNS": "200"}
    env.pop("ANNOTATOR_DB", None)

    def call(*args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*exe, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        if expect is not None:
            assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    return call


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    db = open_db(tmp_path / "lead.db")
    try:
        build(db, gold=False)
    finally:
        db.dispose()
    return f"sqlite:///{tmp_path / 'lead.db'}"


def one_line_error(done: subprocess.CompletedProcess[str], needle: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annotator: error: "), done.stderr
    assert needle in lines[0]


def test_export_with_splits_prints_per_split_counts(run: Any, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run(
        "--db", db_url, "export", "--project", "p", "--format", "jsonl", "--out", str(out),
        "--split", "0.6,0.2,0.2", "--seed", "4",
    )  # fmt: skip
    assert "train" in done.stdout and "validation" in done.stdout and "test" in done.stdout
    assert "left out: tie 10, unresolved 10" in done.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]["splits"]
    assert sum(counts.values()) == 40
    for split, n in counts.items():
        assert f"│ {split}" in done.stdout
        assert (out / f"{split}.jsonl").read_bytes().count(b"\n") == n


def test_json_summary_and_formats(run: Any, db_url: str, tmp_path: Path) -> None:
    for fmt, view, name in (
        ("csv", "classifier", "data.csv"),
        ("parquet", "chat", "data.parquet"),
        ("jsonl", "spans", "data.jsonl"),
    ):
        out = tmp_path / f"{fmt}-{view}"
        summary = json.loads(
            run(
                "--db", db_url, "export", "--project", "p", "--format", fmt, "--view", view,
                "--out", str(out), "--verdict", "legitimate", "--min-labelers", "2", "--json",
            ).stdout
        )  # fmt: skip
        assert summary["options"]["verdicts"] == ["legitimate"]
        assert [f["path"] for f in summary["files"]] == [name]
        # unanimous and majority on 5 legitimate blocks of six, plus 5 adjudicated legitimate
        assert summary["counts"]["rows"] == summary["files"][0]["rows"] == 15


def test_refuses_a_non_empty_folder_and_bad_options(run: Any, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    done = run("--db", db_url, "export", "--project", "p", "--out", str(out), expect=2)
    one_line_error(done, "is not empty")
    run("--db", db_url, "export", "--project", "p", "--out", str(out), "--overwrite")
    assert (out / "data.jsonl").is_file() and (out / "keep.txt").is_file()
    bad = run(
        "--db", db_url, "export", "--project", "p", "--out", str(tmp_path / "b"),
        "--split", "0.5,0.6", expect=2,
    )  # fmt: skip
    one_line_error(bad, "sum to 1")
    missing = run(
        "--db", db_url, "export", "--project", "zz", "--out", str(tmp_path / "c"), expect=2
    )
    one_line_error(missing, "no project named 'zz'")
    assert not (tmp_path / "c").exists()


def test_export_import_export_round_trip(run: Any, db_url: str, tmp_path: Path) -> None:
    """A workstation's export merged into another database gives the same export back."""
    first = tmp_path / "first"
    run(
        "--db", db_url, "export", "--project", "p", "--out", str(first),
        "--include-original", "--unlabeled",
    )  # fmt: skip
    other = f"sqlite:///{tmp_path / 'other.db'}"
    run("--db", other, "init", "--project", "p")
    imported = json.loads(
        run("--db", other, "import", str(first / "data.jsonl"), "--project", "p", "--json").stdout
    )
    assert imported["totals"]["imported"] == 60 and imported["totals"]["labels"] == 120
    second = tmp_path / "second"
    run(
        "--db", other, "export", "--project", "p", "--out", str(second),
        "--include-original", "--unlabeled",
    )  # fmt: skip
    assert (first / "data.jsonl").read_bytes() == (second / "data.jsonl").read_bytes()
    # nothing changed since the first export's manifest
    since = run(
        "--db", db_url, "export", "--project", "p", "--out", str(tmp_path / "delta"),
        "--since", str(first / "manifest.json"), "--json",
    )  # fmt: skip
    assert json.loads(since.stdout)["counts"]["rows"] == 0
