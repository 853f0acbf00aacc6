"""The wheel carries what the app needs at run time: migrations and the default schema."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_migrations_and_resources(tmp_path: Path) -> None:
    # Offline when the build backend is installed; otherwise pip fetches it into an isolated env.
    isolation: list[str] = []
    if importlib.util.find_spec("hatchling"):
        isolation = ["--no-build-isolation"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            *isolation,
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("trace_annotator-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "annotator/_migrations/env.py" in names
    assert any(
        n.startswith("annotator/_migrations/versions/0001") and n.endswith(".py") for n in names
    )
    assert "annotator/_resources/schemas/default.toml" in names
    assert "annotator/cli/__init__.py" in names and "annotator/store/trace_writer.py" in names
    assert not any(n.startswith("tests/") for n in names)
