"""The `annotator` command as a user runs it: the installed console script in a subprocess, an
isolated ANNOTATOR_HOME, the real corpus files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import pytest

from annotator.services.importing import expand_paths

REPO = Path(__file__).resolve().parents[2]
ANNOTATOR = REPO / ".venv" / "bin" / "annotator"
PROJECT = "Feb batch"


@pytest.fixture
def run(home: Path) -> Any:
    """Run the console script (or ``python -m annotator``) with the isolated home."""
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


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annotator: error: "), done.stderr
    for needle in needles:
        assert needle in lines[0]


def test_full_workflow_on_the_corpus(run: Any, home: Path, corpus_dir: Path) -> None:
    run("init", "--project", PROJECT)
    assert (home / "annotator.sqlite3").is_file()

    first = as_json(run("import", str(corpus_dir), "--project", PROJECT, "--json"))
    totals = first["totals"]
    assert totals["files"] == len(expand_paths([corpus_dir])) >= 8
    assert totals["rejected"] == 0 and totals["imported"] >= totals["files"]
    assert first["ok"] and first["indexed"] == totals["imported"]
    assert all(f["status"] == "done" and len(f["sha256"]) == 64 for f in first["files"])
    # The new prompts were clustered and given suggestions right after the import.
    assert first["detection"]["clusters"]["new_traces"] == totals["imported"]
    assert first["detection"]["suggestions"] == totals["imported"]

    # Re-import: nothing new, and it says so.
    again = run("import", str(corpus_dir), "--project", PROJECT)
    assert "Nothing new" in again.stdout and "already in" in again.stdout
    again_json = as_json(run("import", str(corpus_dir), "--project", PROJECT, "--json"))
    assert again_json["totals"]["imported"] == 0
    assert again_json["detection"] is None  # nothing new, nothing to detect
    assert again_json["totals"]["duplicates"] == totals["imported"]

    stats = as_json(run("stats", "--project", PROJECT, "--json"))
    assert stats["traces"] == totals["imported"]
    assert sum(stats["by_format"].values()) == stats["traces"]
    assert sum(stats["by_model"].values()) == stats["traces"]
    assert 0 < stats["with_reasoning"] <= stats["traces"]
    assert stats["imports"] == 3 * totals["files"]
    assert stats["unindexed"] == 0
    human = run("stats", "--project", PROJECT).stdout
    assert "Traces" in human and str(stats["traces"]) in human

    projects = as_json(run("projects", "--json"))
    assert [(p["name"], p["traces"]) for p in projects] == [(PROJECT, stats["traces"])]
    assert PROJECT in run("projects").stdout

    info = as_json(run("db", "info", "--json"))
    assert info["revision"] == info["head"] and info["traces"] == stats["traces"]
    assert info["url"].startswith("sqlite:///") and info["file"].endswith("annotator.sqlite3")
    assert "already at the newest revision" in run("db", "upgrade").stdout
    check = as_json(run("db", "check", "--json"))
    assert check["ok"] and check["problems"] == []
    backup = home / "copy.sqlite3"
    assert str(backup) in run("db", "backup", str(backup)).stdout
    copied = as_json(run("--db", f"sqlite:///{backup}", "stats", "--project", PROJECT, "--json"))
    assert copied["traces"] == stats["traces"]


def test_bad_input_rejects_and_strict(run: Any, home: Path, tmp_path: Path) -> None:
    run("init", "--project", PROJECT)
    good = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "yo", "reasoning_content": "hmm"},
            ]
        }
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(f'{good}\n{{"broken": \n[1]\n{{"foo": 1}}\n'.encode())

    strict = run("import", str(bad), "--project", PROJECT, "--strict", "--json", expect=1)
    result = as_json(strict)
    assert result["stopped"] and f"{bad}:2" in result["stopped"]
    assert result["totals"]["imported"] == 0
    assert as_json(run("stats", "--project", PROJECT, "--json"))["traces"] == 0

    rejects = tmp_path / "rejects"
    done = run("import", str(bad), "--project", PROJECT, "--rejects", str(rejects), expect=1)
    assert f"{bad}:2: invalid JSON" in done.stdout
    (reject_file,) = rejects.glob("*.rejects.jsonl")
    assert str(reject_file) in done.stdout.replace("\n", "")
    entries = [orjson.loads(line) for line in reject_file.read_bytes().splitlines()]
    assert [(e["file"], e["line"]) for e in entries] == [
        (str(bad), 2),
        (str(bad), 3),
        (str(bad), 4),
    ]
    assert all(e["reason"] for e in entries)
    assert entries[1]["record"] == "[1]"
    assert as_json(run("stats", "--project", PROJECT, "--json"))["traces"] == 1

    # The default reject folder is in the data directory.
    run("import", str(bad), "--project", PROJECT, expect=1)
    assert list((home / "rejects").glob("*.rejects.jsonl"))


def test_init_with_own_schema_and_guidelines(run: Any, tmp_path: Path) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text((REPO / "resources" / "schemas" / "default.toml").read_text())
    guidelines = tmp_path / "guide.md"
    guidelines.write_text("# Our rules\n")
    done = run(
        "init", "--project", "Mine", "--schema", str(schema), "--guidelines", str(guidelines)
    )
    assert "Created project 'Mine'" in done.stdout and "legitimate" in done.stdout
    assert [p["name"] for p in as_json(run("projects", "--json"))] == ["Mine"]


def test_user_mistakes_are_one_line_errors(run: Any, tmp_path: Path) -> None:
    one_line_error(run("stats", "--project", "nope", expect=2), "no project named 'nope'")
    run("init", "--project", PROJECT)
    one_line_error(run("init", "--project", PROJECT, expect=2), "already exists")
    one_line_error(
        run("import", str(tmp_path / "missing.jsonl"), "--project", PROJECT, expect=2),
        "no such file",
    )
    one_line_error(
        run("import", str(tmp_path / "*.nothing"), "--project", PROJECT, expect=2), "no file"
    )
    data = tmp_path / "a.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "x"}]}\n')
    one_line_error(
        run("import", str(data), "--project", "nope", expect=2), "no project named 'nope'"
    )
    one_line_error(
        run("import", str(data), "--project", PROJECT, "--format", "bogus", expect=2),
        "unknown format 'bogus'",
    )
    one_line_error(run("--db", "nosuchdialect://x", "projects", expect=2))
    broken = tmp_path / "not-a-db.sqlite3"
    broken.write_bytes(b"this is not a database" * 100)
    one_line_error(run("--db", f"sqlite:///{broken}", "projects", expect=2))
    bad_schema = tmp_path / "schema.toml"
    bad_schema.write_text("name = 3\n")
    one_line_error(
        run("init", "--project", "other", "--schema", str(bad_schema), expect=2), "schema"
    )


def test_help_everywhere_and_version(run: Any) -> None:
    for args in (
        (),
        ("init",),
        ("projects",),
        ("stats",),
        ("import",),
        ("db",),
        ("db", "upgrade"),
        ("db", "backup"),
        ("db", "check"),
        ("db", "info"),
    ):
        done = run(*args, "--help")
        assert "Usage:" in done.stdout
    assert "Exit status" in run("import", "--help").stdout
    version = subprocess.run(
        [sys.executable, "-m", "annotator", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert version.stdout.startswith("annotator, version ")


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _import_then_ctrl_c(home: Path, big: Path) -> tuple[int, str]:
    """``annotator import big`` in ``home``, sent SIGINT once its batch has committed rows;
    returns the exit code and stderr."""
    env = {**os.environ, "ANNOTATOR_HOME": str(home)}
    env.pop("ANNOTATOR_DB", None)
    exe = [str(ANNOTATOR)] if ANNOTATOR.exists() else [sys.executable, "-m", "annotator"]
    subprocess.run([*exe, "init", "--project", PROJECT], env=env, check=True, timeout=120)
    proc = subprocess.Popen(
        [*exe, "import", str(big), "--project", PROJECT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As in a terminal: a test run started in the background by a non-interactive shell
        # ignores SIGINT, and a child would inherit that and never see the Ctrl+C.
        preexec_fn=_sigint_as_in_a_terminal,
    )
    db_file = home / "annotator.sqlite3"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with closing(sqlite3.connect(db_file, timeout=10)) as conn:
                row = conn.execute(
                    "SELECT n_imported FROM import_batches WHERE status = 'running'"
                ).fetchone()
            if row is not None and row[0] > 0:
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.05)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stderr


def test_ctrl_c_keeps_committed_batches(tmp_path: Path) -> None:
    """SIGINT in the middle of a file: exit 130, one line, the batch row says cancelled and
    matches the traces that were committed. A run that finished before the signal arrived
    (exit 0, nothing said: the poll saw the batch late on a loaded machine) is tried again in
    a fresh home; a run that got the signal must say so."""
    big = tmp_path / "big.jsonl"
    text = "word " * 4000
    with big.open("wb") as out:
        for i in range(6000):
            record = {
                "request": {"messages": [{"role": "user", "content": f"q{i} {text}"}]},
                "response": {
                    "id": f"r{i}",
                    "choices": [{"message": {"role": "assistant", "content": "a"}}],
                },
            }
            out.write(orjson.dumps(record) + b"\n")
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        returncode, stderr = _import_then_ctrl_c(home, big)
        if returncode != 0 or stderr:
            break
    db_file = home / "annotator.sqlite3"
    assert returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    with closing(sqlite3.connect(db_file)) as conn:
        status, n_imported = conn.execute(
            "SELECT status, n_imported FROM import_batches"
        ).fetchone()
        (stored,) = conn.execute("SELECT count(*) FROM traces").fetchone()
    assert status == "cancelled"
    assert 0 < n_imported == stored < 6000
    env = {**os.environ, "ANNOTATOR_HOME": str(home)}
    env.pop("ANNOTATOR_DB", None)
    exe = [str(ANNOTATOR)] if ANNOTATOR.exists() else [sys.executable, "-m", "annotator"]
    checked = subprocess.run(
        [*exe, "db", "check", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"], checked.stderr
