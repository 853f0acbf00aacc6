"""`annotator detect run`, `annotator clusters`, `annotator detector report` as a user runs them:
the console script in a subprocess, an isolated ANNOTATOR_HOME, the shipped demo files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from annotator.services.demo import demo_files

REPO = Path(__file__).resolve().parents[2]
ANNOTATOR = REPO / ".venv" / "bin" / "annotator"


@pytest.fixture
def run(home: Path) -> Any:
    exe = [str(ANNOTATOR)] if ANNOTATOR.exists() else [sys.executable, "-m", "annotator"]
    env = {**os.environ, "ANNOTATOR_HOME": str(home), "COLUMNS": "200"}
    env.pop("ANNOTATOR_DB", None)

    def call(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*exe, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    return call


def test_detect_clusters_and_report_on_the_demo(run: Any) -> None:
    run("init", "--project", "demo")
    run("import", "--project", "demo", "--no-detect", *map(str, demo_files()))

    summary = json.loads(run("detect", "run", "--project", "demo", "--json").stdout)
    assert summary["clusters"]["new_traces"] == 60
    assert summary["suggestions"] == 60 and not summary["cancelled"]
    human = run("detect", "run", "--project", "demo")
    assert "Clustered 0 new traces" in human.stdout and "60 suggestions stored" in human.stdout

    clusters = json.loads(run("clusters", "--project", "demo", "--json", "--limit", "3").stdout)
    assert len(clusters) == 3
    top = clusters[0]
    assert (top["size"], top["n_accounts"]) == (12, 8)
    assert top["template"].startswith("solve the following competition problem")
    assert top["slots"][0]["kind"] == "text" and len(top["slots"][0]["values"]) == 5
    table = run("clusters", "--project", "demo", "--limit", "1").stdout
    assert "solve the following" in table and "12" in table

    report = json.loads(run("detector", "report", "--project", "demo", "--json").stdout)
    assert report["items"] == 0 and report["detector"] == "heuristic-v1"
    assert report["overall"]["precision"] is None
    assert "Nothing to measure yet" in run("detector", "report", "--project", "demo").stdout


def test_unknown_project_is_a_one_line_error(run: Any) -> None:
    run("init", "--project", "demo")
    for args in (("detect", "run"), ("clusters",), ("detector", "report")):
        done = run(*args, "--project", "nope", expect=2)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "no project named 'nope'" in lines[0], done.stderr
