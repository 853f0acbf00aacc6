"""The ELF reading the bundle trimming relies on (packaging/elfdeps.py), checked on the real
pyarrow wheel: DT_NEEDED and dynamic symbols as binutils see them, and that removing the
Substrait/Dataset/Acero entries leaves a pyarrow that loads with every symbol bound and still
reads and writes Parquet. Plus the build script's checks that use it."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pyarrow
import pytest

from tests.packaging.test_build_helpers import load_build_script

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF only")

REPO = Path(__file__).resolve().parents[2]
PYARROW = Path(pyarrow.__file__).parent
UNUSED = {"libarrow_substrait.so.2600", "libarrow_dataset.so.2600", "libarrow_acero.so.2600"}
CORE_EXTENSION = next(PYARROW.glob("lib.cpython-*.so"))


def load_elfdeps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("elfdeps", REPO / "packaging" / "elfdeps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["elfdeps"] = module  # as the build script imports it
    spec.loader.exec_module(module)
    return module


elfdeps = load_elfdeps()


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils not installed")
@pytest.mark.parametrize(
    "path", [CORE_EXTENSION, PYARROW / "libparquet.so.2600", PYARROW / "libarrow.so.2600"]
)
def test_needed_is_what_readelf_reads(path: Path) -> None:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    assert elfdeps.needed(path) == re.findall(r"\(NEEDED\).*\[(.*)\]", out)


@pytest.mark.skipif(shutil.which("nm") is None, reason="binutils not installed")
def test_dynamic_symbols_are_what_nm_reads() -> None:
    exported, imported = elfdeps.dynamic_symbols(CORE_EXTENSION)

    def nm(flag: str) -> set[str]:
        out = subprocess.run(["nm", "-D", flag, str(CORE_EXTENSION)], capture_output=True)
        rows = [line.split() for line in out.stdout.decode().splitlines()]
        # global (upper case), unique (u) and weak (v, w) symbols; name without @version
        return {r[-1].split("@")[0] for r in rows if r and (r[-2].isupper() or r[-2] in "uvw")}

    assert imported == nm("--undefined-only")
    assert exported == nm("--defined-only")
    assert "PyInit_lib" in exported and len(imported) > 100


def test_not_elf_reads_as_no_dependencies(tmp_path: Path) -> None:
    text = tmp_path / "notes.so"
    text.write_text("not a library")
    assert not elfdeps.is_elf(text) and elfdeps.needed(text) == []


def _pyarrow_copy(target: Path) -> Path:
    """pyarrow without its tests and headers; libraries copied, so edits stay in the copy."""
    dest = target / "pyarrow"
    shutil.copytree(
        PYARROW, dest, ignore=shutil.ignore_patterns("tests", "include", "src", "__pycache__")
    )
    return dest


PARQUET_ROUND_TRIP = """
import io, pyarrow as pa, pyarrow.parquet as pq
assert pa.__file__.startswith({root!r}), pa.__file__
buf = io.BytesIO()
pq.write_table(pa.table({{"a": [1, 2], "s": [{{"x": "y"}}, None]}}), buf)
buf.seek(0)
print(pq.ParquetFile(buf).read().to_pylist())
buf.seek(0)
print(pq.read_table(buf).num_rows)  # falls back to ParquetFile without pyarrow.dataset
"""


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "LD_BIND_NOW": "1"}
    return subprocess.run(
        [sys.executable, "-c", PARQUET_ROUND_TRIP.format(root=str(root))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )


def test_pyarrow_without_substrait_dataset_acero_still_does_parquet(tmp_path: Path) -> None:
    dest = _pyarrow_copy(tmp_path)
    exported: set[str] = set()
    for name in UNUSED:
        exported |= elfdeps.dynamic_symbols(dest / name)[0]
        (dest / name).unlink()
    for pattern in ("_dataset*", "_acero*", "_substrait*", "_feather*", "_json*", "*encryption*"):
        for path in dest.glob(pattern):
            path.unlink()
    patched = 0
    for path in dest.iterdir():
        if path.is_symlink() or not elfdeps.is_elf(path) or not UNUSED & set(elfdeps.needed(path)):
            continue
        assert not elfdeps.dynamic_symbols(path)[1] & exported, path  # the proof the spec makes
        assert set(elfdeps.remove_needed(path, UNUSED)) == UNUSED
        assert not UNUSED & set(elfdeps.needed(path)) and "libarrow.so.2600" in elfdeps.needed(path)
        patched += 1
    assert patched >= 5
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[{'a': 1, 's': {'x': 'y'}}, {'a': 2, 's': None}]", "2"]


def test_a_library_that_is_used_cannot_be_unlinked_unnoticed(tmp_path: Path) -> None:
    """The counter-check: _parquet needs libparquet's symbols, the proof says so, and with the
    entries removed anyway (from every file, so nothing loads it) pyarrow.parquet fails."""
    dest = _pyarrow_copy(tmp_path)
    parquet = {"libparquet.so.2600"}
    parquet_exports = elfdeps.dynamic_symbols(dest / "libparquet.so.2600")[0]
    extension = next(dest.glob("_parquet.cpython-*.so"))
    assert elfdeps.dynamic_symbols(extension)[1] & parquet_exports
    for path in dest.iterdir():
        if not path.is_symlink() and elfdeps.is_elf(path):
            elfdeps.remove_needed(path, parquet)
    assert "libparquet.so.2600" not in elfdeps.needed(extension)
    proc = _run(tmp_path)
    assert proc.returncode != 0 and "undefined symbol" in proc.stderr


def test_bundle_checks_find_forbidden_packages_and_missing_libraries(tmp_path: Path) -> None:
    # PyInstaller comes with the `packaging` extra (`make bundle` installs it and runs the same
    # checks on the real bundle); `make test` alone has only the `dev` extra.
    pytest.importorskip("PyInstaller")
    build = load_build_script()
    internal = tmp_path / "_internal"
    internal.mkdir()
    shutil.copy2(PYARROW / "libparquet.so.2600", internal / "libparquet.so.2600")
    assert build.forbidden_files(tmp_path) == []
    # libc, libm, the loader are the system's; libarrow, libstdc++, libgcc_s would be shipped.
    assert build.unresolved_libraries(tmp_path) == [
        f"_internal/libparquet.so.2600: {name}"
        for name in ("libarrow.so.2600", "libstdc++.so.6", "libgcc_s.so.1")
    ]
    for name in ("libarrow.so.2600", "libstdc++.so.6", "libgcc_s.so.1"):
        (internal / name).write_bytes(b"")
    assert build.unresolved_libraries(tmp_path) == []
    (internal / "scipy").mkdir()
    (internal / "scipy.libs").mkdir()
    (internal / "datasketch-2.0.0.dist-info").mkdir()
    assert build.forbidden_files(tmp_path) == [
        "_internal/datasketch-2.0.0.dist-info",
        "_internal/scipy",
        "_internal/scipy.libs",
    ]
