"""Ctrl+C after the traces are stored: during the full-text indexing or the detection that
follow an import. Exit 130 and one line that says what is done, never a traceback or "batches
marked cancelled" for batches that are complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

import annotator.services.importing as importing
from annotator.cli import cli
from annotator.services.detection import suggest
from annotator.store.open import open_database


def _file(tmp_path: Path, n: int = 30) -> Path:
    path = tmp_path / "logs.jsonl"
    with path.open("wb") as out:
        for i in range(n):
            record = {
                "request": {"messages": [{"role": "user", "content": f"question {i}"}]},
                "response": {
                    "id": f"r{i}",
                    "choices": [{"message": {"role": "assistant", "content": f"answer {i}"}}],
                },
            }
            out.write(orjson.dumps(record) + b"\n")
    return path


def _invoke(tmp_path: Path, *args: str) -> Any:
    runner = CliRunner()
    return runner.invoke(cli, ["--home", str(tmp_path / "home"), *args], catch_exceptions=False)


def _batches(tmp_path: Path) -> list[tuple[str, int]]:
    db = open_database(f"sqlite:///{tmp_path / 'home' / 'annotator.sqlite3'}", backup_dir=None)
    try:
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT status, n_imported FROM import_batches").all()
    finally:
        db.dispose()
    return [(str(status), int(n)) for status, n in rows]


def _interrupted(*_args: object, **_kwargs: object) -> object:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("module", "name", "project", "said"),
    [
        pytest.param(
            importing,
            "index_pending",
            "P",
            "annotator: indexing interrupted; all 30 new traces are imported; the app indexes "
            "the rest for search when it opens (or the next import does)",
            id="while-indexing",
        ),
        pytest.param(
            suggest,
            "run_detection",
            "Feb batch",
            "annotator: detection interrupted; the import is complete "
            "(annotator detect run --project 'Feb batch' finishes it)",
            id="during-detection",
        ),
    ],
)
def test_ctrl_c_after_the_traces_are_stored_says_what_is_done(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: object,
    name: str,
    project: str,
    said: str,
) -> None:
    assert _invoke(tmp_path, "init", "--project", project).exit_code == 0
    monkeypatch.setattr(module, name, _interrupted)
    result = _invoke(tmp_path, "import", str(_file(tmp_path)), "--project", project)
    assert result.exit_code == 130
    assert result.stderr.strip() == said
    assert _batches(tmp_path) == [("done", 30)]
