"""The wheel alone runs the app: installed with ``pip install --no-deps --target`` and started
with that folder first on PYTHONPATH, `annotator` answers --version, creates and checks a fresh
database from the migrations inside the wheel, and finds its resources there too."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SHOW_LOCATIONS = """
import annotator, annotator.resources as r
print(annotator.__file__)
print(r.migrations_dir())
print(r.default_schema_path())
print(r.demo_dir())
print(r.resources_dir() / "icons" / "hicolor" / "256x256" / "apps" / "trace-annotator.png")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from the checkout and install it, without dependencies, into a folder."""
    wheels = tmp_path_factory.mktemp("wheels")
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            *isolation,
            "-w",
            str(wheels),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("trace_annotator-*.whl")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return target


def run(target: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ANNOTATOR_DB", "PYTHONPATH")}
    env.update(PYTHONPATH=str(target), ANNOTATOR_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    # cwd outside the checkout: `-m` puts the working directory first on sys.path.
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=home, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_runs_from_the_wheel_copy(installed: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shown = run(installed, home, "-c", SHOW_LOCATIONS)
    assert shown.returncode == 0, shown.stderr
    package, migrations, schema, demo, icon = map(Path, shown.stdout.split("\n")[:5])
    assert package == installed / "annotator" / "__init__.py"
    assert migrations == installed / "annotator" / "_migrations"
    assert (migrations / "env.py").is_file() and list((migrations / "versions").glob("0001_*.py"))
    assert schema == installed / "annotator" / "_resources" / "schemas" / "default.toml"
    assert schema.is_file() and demo.is_dir() and list(demo.glob("*.jsonl"))
    assert icon.is_file() and icon.is_relative_to(installed)

    from annotator import __version__

    version = run(installed, home, "-m", "annotator", "--version")
    assert version.returncode == 0, version.stderr
    assert __version__ in version.stdout

    check = run(installed, home, "-m", "annotator", "db", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert (home / "annotator.sqlite3").is_file()  # created at head from the wheel's migrations

    init = run(installed, home, "-m", "annotator", "init", "--project", "Wheel")
    assert init.returncode == 0, init.stderr
    projects = run(installed, home, "-m", "annotator", "projects")
    assert "Wheel" in projects.stdout
