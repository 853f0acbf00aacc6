"""The pieces of the bundle build that can be checked without running PyInstaller: the smoke
probe hook, size accounting, .toc parsing and the Python-free smoke environment."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "packaging" / "pyi_rth_smoke.py"

WINDOW_APP = f"""
exec(compile(open({str(HOOK)!r}).read(), "hook", "exec"))
import sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow()
window.setWindowTitle("Probe window")
window.show()
print("exit", app.exec())
"""


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_bundle", REPO / "packaging" / "build_bundle.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_bundle"] = module
    spec.loader.exec_module(module)
    return module


def run_app(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ANNOTATOR_SMOKE_QUIT_AFTER"}
    env.update(QT_QPA_PLATFORM="offscreen", **env_extra)
    return subprocess.run(
        [sys.executable, "-c", WINDOW_APP], env=env, capture_output=True, text=True, timeout=60
    )


def test_probe_reports_the_first_paint_and_closes_the_app() -> None:
    proc = run_app({"ANNOTATOR_SMOKE_QUIT_AFTER": "0.1"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("smoke: first-window ") and lines[0].endswith(" Probe window")
    epoch, cpu = map(float, lines[0].split()[2:4])
    assert epoch > 1e9 and 0 < cpu < 60
    assert "exit 0" in lines


def test_probe_is_inert_without_the_variable() -> None:
    code = f"exec(compile(open({str(HOOK)!r}).read(), 'hook', 'exec'))\nimport sys\nprint('PySide6' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "ANNOTATOR_SMOKE_QUIT_AFTER"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.strip() == "False"  # nothing imported, nothing patched


def test_size_counts_links_once(tmp_path: Path) -> None:
    build = load_build_script()
    bundle = tmp_path / "bundle"
    (bundle / "_internal" / "lib").mkdir(parents=True)
    (bundle / "_internal" / "lib" / "big.so").write_bytes(b"x" * 1_000_000)
    (bundle / "_internal" / "big.so").symlink_to("lib/big.so")
    (bundle / "annotator").write_bytes(b"y" * 500_000)
    size, files, biggest = build.bundle_size(bundle)
    assert files == 3
    assert 1.5 < size < 1.501
    assert biggest[0] == (1.0, "_internal/lib")


def test_toc_rows_are_found_in_both_layouts(tmp_path: Path) -> None:
    build = load_build_script()
    pyz = tmp_path / "PYZ-00.toc"
    pyz.write_text(repr(("/w/PYZ-00.pyz", [("json", "/py/json/__init__.py", "PYMODULE")])))
    collect = tmp_path / "COLLECT-00.toc"
    collect.write_text(repr(([("LICENSE", "/repo/LICENSE", "DATA")],)))
    assert build._toc_entries(pyz) == [("json", "/py/json/__init__.py", "PYMODULE")]
    assert build._toc_entries(collect) == [("LICENSE", "/repo/LICENSE", "DATA")]


def test_smoke_environment_has_no_python(tmp_path: Path) -> None:
    build = load_build_script()
    runner = build.Runner(tmp_path / "annotator", tmp_path)
    assert set(runner.base_env) <= {"PATH", "HOME", "LANG", "QT_QPA_PLATFORM", "SYSTEMROOT"}
    assert os.listdir(runner.base_env["PATH"]) == []
    command = runner.command(["--version"], runner.base_env)
    assert command[:2] == [shutil.which("env"), "-i"]  # the child inherits nothing else
    assert f"PATH={runner.empty_bin}" in command and command[-2:] == [str(runner.exe), "--version"]
    (runner.empty_bin / "python3").write_text("#!/bin/sh\n")
    (runner.empty_bin / "python3").chmod(0o755)
    with pytest.raises(build.SmokeFailure, match="python3 found"):
        build.Runner(tmp_path / "annotator", tmp_path)
