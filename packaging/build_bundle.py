"""Build the one-folder frozen app, check it is complete, smoke-test it, measure it, archive it.

    .venv/bin/python packaging/build_bundle.py            # build + check + smoke + archive
    .venv/bin/python packaging/build_bundle.py --no-build # re-test an existing dist/ bundle

Every smoke step runs the built executable with an empty environment (``env -i``) and a PATH that
holds no Python, so nothing outside the bundle can be used: ``--version``; ``init`` and ``import``
of a small file into a fresh ``--home``; ``db check``; ``export`` (JSONL, CSV, Parquet, HF); an
``import`` of a Parquet file into another fresh home; and the GUI opened offscreen on the demo
project and closed again (and on X11 too when Xvfb is installed). The import/export steps run with
``LD_BIND_NOW=1``, so a shared-library symbol the trimmed bundle lacks fails there, not later.
Prints the bundle size, the build time and the start time to the first painted window (cold:
the bundle's files evicted from the page cache first; warm: median of three), against the targets
of issue 7 (under 250 MB unpacked, under 2 s to the first window). Exit status 1 if a check fails
(and, with ``--enforce-targets``, if a target is missed)."""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
if str(PACKAGING) not in sys.path:
    sys.path.insert(0, str(PACKAGING))  # elfdeps.py, shared with the spec
SPEC = PACKAGING / "trace-annotator.spec"
NAME = "trace-annotator"
SIZE_TARGET_MB = 250.0
START_TARGET_S = 2.0
SMOKE_IMPORT_FILE = REPO / "resources" / "demo" / "openai_chat.jsonl"
EXE_NAME = "annotator.exe" if sys.platform == "win32" else "annotator"


class SmokeFailure(RuntimeError):
    pass


@dataclass
class Report:
    build_s: float | None = None
    size_mb: float = 0.0
    files: int = 0
    biggest: list[tuple[float, str]] = field(default_factory=list)
    cold_start_s: float | None = None
    cold_cpu_s: float | None = None
    warm_start_s: list[float] = field(default_factory=list)
    warm_cpu_s: list[float] = field(default_factory=list)
    load: str = ""
    xcb_start_s: float | None = None
    archive: Path | None = None
    archive_mb: float = 0.0
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[bundle] {message}", flush=True)


# -- build ----------------------------------------------------------------------------------------


def build(dist: Path, work: Path) -> float:
    """Run PyInstaller on the spec; returns the wall time in seconds."""
    subprocess.run(
        [sys.executable, str(PACKAGING / "render_icons.py")], check=True, stdout=subprocess.DEVNULL
    )
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(dist),
            "--workpath",
            str(work),
            str(SPEC),
        ],
        check=True,
        cwd=REPO,
    )
    return time.perf_counter() - started


def strip_binaries(bundle: Path) -> int:
    """Strip debug symbols from the bundle's shared libraries, except the auditwheel-vendored ones
    (``*.libs/`` folders: stripping NumPy's patched OpenBLAS made it unloadable, "ELF load command
    address/offset not page-aligned"), which their wheels ship stripped anyway. Returns bytes saved."""
    strip = shutil.which("strip")
    if strip is None or sys.platform != "linux":
        return 0
    saved = 0
    for path in sorted(bundle.rglob("*")):
        if not path.is_file() or path.is_symlink() or any(p.endswith(".libs") for p in path.parts):
            continue
        if not (path.suffix == ".so" or ".so." in path.name):
            continue
        with path.open("rb") as fh:
            if fh.read(4) != b"\x7fELF":
                continue
        before = path.stat().st_size
        subprocess.run([strip, "--strip-unneeded", str(path)], check=True)
        saved += before - path.stat().st_size
    return saved


def add_desktop_files(bundle: Path) -> None:
    """The Linux menu entry, AppStream metadata, installer and INSTALL note, at the bundle top."""
    share = bundle / "share"
    share.mkdir(exist_ok=True)
    for source in (PACKAGING / "linux").iterdir():
        if source.suffix in (".desktop", ".xml"):
            shutil.copy2(source, share / source.name)
    shutil.copy2(PACKAGING / "linux" / "install.sh", bundle / "install.sh")
    shutil.copy2(PACKAGING / "INSTALL.txt", bundle / "INSTALL.txt")
    shutil.copy2(REPO / "LICENSE", bundle / "LICENSE")


# -- measurements ---------------------------------------------------------------------------------


def bundle_size(bundle: Path) -> tuple[float, int, list[tuple[float, str]]]:
    """Unpacked size in MB (10^6 bytes; symlinks count as links), file count, biggest top dirs."""
    total = 0
    files = 0
    per_top: dict[str, int] = {}
    for path in bundle.rglob("*"):
        st = path.lstat()
        if path.is_dir() and not path.is_symlink():
            continue
        files += 1
        total += st.st_size
        rel = path.relative_to(bundle).parts
        top = "/".join(rel[:2]) if rel[0] == "_internal" and len(rel) > 1 else rel[0]
        per_top[top] = per_top.get(top, 0) + st.st_size
    biggest = sorted(((size / 1e6, name) for name, size in per_top.items()), reverse=True)[:8]
    return total / 1e6, files, biggest


def evict_from_page_cache(folder: Path) -> bool:
    """Drop the bundle's own files from the page cache (no root needed: clean pages of files we
    can open). System libraries stay cached, as they are on any running desktop."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return True


# -- completeness ---------------------------------------------------------------------------------

_PROBE = """
import importlib, json, pkgutil, sys
# Left out of the bundle on purpose (see the spec); libraries that try them must cope without.
class LeftOut:
    BLOCKED = {"pandas", "datasets", "huggingface_hub", "matplotlib", "IPython", "pygments"}
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, LeftOut())
import annotator
for info in pkgutil.walk_packages(annotator.__path__, "annotator."):
    if info.name.endswith("__main__") or ".tests" in info.name:
        continue
    importlib.import_module(info.name)
import annotator.gui.app, annotator.gui.main_window
# Paths that import lazily: Alembic loading the migration scripts, a Parquet write, LSH set-up.
import io, os, tempfile
from annotator.store.open import open_database
with tempfile.TemporaryDirectory() as folder:
    open_database("sqlite:///" + os.path.join(folder, "probe.sqlite3")).dispose()
import pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({"a": [1, 2]}), io.BytesIO())
from annotator.services.detection.clustering import cluster_prompts
cluster_prompts(["a b c d", "a b c e"])
print(json.dumps({
    n: getattr(m, "__file__", None) if getattr(m, "__name__", n) == n else None  # None: an alias
    for n, m in list(sys.modules.items())
}))
"""

# Imported by their libraries inside try/except ImportError and left out on purpose (see the
# spec): pyarrow's cloud file systems; the Qt modules pyqtgraph tries for OpenGL widgets and for
# its own tests (placeholders are used when they are missing).
OPTIONAL_MODULES = frozenset(
    {
        "pyarrow._s3fs",
        "pyarrow._gcsfs",
        "pyarrow._azurefs",
        "pyarrow._hdfs",
        "PySide6.QtOpenGL",
        "PySide6.QtOpenGLWidgets",
        "PySide6.QtTest",
    }
)
# Loaded by the venv's interpreter start-up (site) or embedded in shiboken's binary, not files the
# frozen app imports.
NOT_APP_MODULES = ("site", "_sitebuiltins", "_distutils_hack", "sitecustomize", "usercustomize")
# Never in the bundle: SciPy alone was ~60 MB, and came only through datasketch, which the app no
# longer imports (annotator/services/detection/minhash.py). A module that starts importing either
# fails the build here rather than growing the bundle silently.
FORBIDDEN = ("scipy", "datasketch")
EMBEDDED_PREFIXES = ("shibokensupport", "PySide6.support", "__feature__", "signature_bootstrap")


def missing_modules(work: Path) -> list[str]:
    """Modules that importing every annotator module loads in the venv but that the bundle lacks
    (an exclude too many would only show as an ImportError on a labeler's machine). Compared by
    source file, so extension modules count whatever PyInstaller classified them as."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    ).stdout
    loaded: dict[str, str | None] = json.loads(out.strip().splitlines()[-1])
    forbidden = sorted(n for n in loaded if n.partition(".")[0] in FORBIDDEN)
    if forbidden:
        raise SmokeFailure(f"the app imports modules kept out of the bundle: {forbidden[:10]}")
    sources: set[str] = set()
    names: set[str] = set()
    for toc_file in [*work.glob("PYZ-*.toc"), *work.glob("PKG-*.toc"), *work.glob("COLLECT-*.toc")]:
        for name, source, _kind in _toc_entries(toc_file):
            names.add(name)
            if source:
                sources.add(os.path.realpath(source))
    base = work / "base_library.zip"
    if base.exists():
        with zipfile.ZipFile(base) as archive:
            for entry in archive.namelist():
                if entry.endswith(".pyc"):
                    names.add(entry[:-4].replace("/", ".").removesuffix(".__init__"))
    missing = []
    for name, file in sorted(loaded.items()):
        if file is None or name in names or name in OPTIONAL_MODULES or name in NOT_APP_MODULES:
            continue
        if name.startswith(EMBEDDED_PREFIXES):
            continue  # built in, frozen, or made at run time by its parent (no file of its own)
        if os.path.realpath(file) in sources:
            continue
        missing.append(name)
    return missing


def _toc_entries(toc_file: Path) -> list[tuple[str, str, str]]:
    """The (name, source, kind) rows of a PyInstaller .toc file, wherever they sit in it."""
    data = ast.literal_eval(toc_file.read_text(encoding="utf-8"))
    for part in data if isinstance(data, tuple) else (data,):
        if isinstance(part, list) and part and isinstance(part[0], tuple) and len(part[0]) == 3:
            return part
    return []


def forbidden_files(bundle: Path) -> list[str]:
    """Files of :data:`FORBIDDEN` packages (and their vendored ``.libs``) inside the bundle."""
    internal = bundle / "_internal"
    root = internal if internal.is_dir() else bundle
    return sorted(
        str(p.relative_to(bundle))
        for p in root.iterdir()
        if p.name.partition(".")[0].partition("-")[0] in FORBIDDEN
    )


def unresolved_libraries(bundle: Path) -> list[str]:
    """``file: library`` for every DT_NEEDED entry of a bundled ELF file that is not in the bundle
    although PyInstaller ships such a library (it leaves glibc, libGL/EGL, libxcb, libwayland and
    the like to the system on purpose): the trimming in the spec went one too far. Whether the
    build machine has the library does not count; the labeler's machine may not."""
    if not sys.platform.startswith("linux"):
        return []
    import elfdeps
    from PyInstaller.depend.dylib import include_library

    present = {p.name for p in bundle.rglob("*")}

    def system_side(name: str) -> bool:
        return name.startswith("ld-linux") or not include_library(name)

    missing = []
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or not elfdeps.is_elf(path):
            continue
        for name in elfdeps.needed(path):
            if name not in present and not system_side(name):
                missing.append(f"{path.relative_to(bundle)}: {name}")
    return missing


# -- smoke tests ----------------------------------------------------------------------------------


class Runner:
    """Runs the bundled executable with nothing from the outside: ``env -i`` semantics (only the
    variables given here) and a PATH of an empty folder, so there is no Python to fall back on."""

    def __init__(self, exe: Path, scratch: Path) -> None:
        self.exe = exe
        self.empty_bin = scratch / "empty-bin"
        self.empty_bin.mkdir(exist_ok=True)
        for python in ("python", "python3"):
            if shutil.which(python, path=str(self.empty_bin)):
                raise SmokeFailure(f"{python} found on the smoke PATH")
        self.base_env = {
            "PATH": str(self.empty_bin),
            "HOME": str(scratch / "user-home"),
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
        }
        if sys.platform == "win32":  # Windows cannot start a process with no SystemRoot
            self.base_env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", r"C:\Windows")
        self.env_tool = shutil.which("env") if os.name == "posix" else None

    def command(self, args: Sequence[str], env: dict[str, str]) -> list[str]:
        """``env -i VAR=... annotator ARGS``: the child sees only these variables."""
        if self.env_tool is None:
            return [str(self.exe), *args]
        return [self.env_tool, "-i", *(f"{k}={v}" for k, v in env.items()), str(self.exe), *args]

    def run(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        ok: Sequence[int] = (0,),
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**self.base_env, **(env or {})}
        started = time.perf_counter()
        proc = subprocess.run(
            self.command(args, full_env),
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        took = time.perf_counter() - started
        shown = " ".join(args)
        if proc.returncode not in ok:
            raise SmokeFailure(
                f"`annotator {shown}` exited {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}"
                f"\n--- stderr\n{proc.stderr[-3000:]}"
            )
        log(f"ok  annotator {shown}  ({took:.2f} s)")
        return proc

    def gui(
        self, home: Path, *, linger: float, env: dict[str, str] | None = None
    ) -> tuple[float, float]:
        """Start the GUI on the demo project, wait for its first painted window, let it work for
        ``linger`` seconds, close it. Returns (wall seconds from exec to the first painted window,
        CPU seconds the process used until then; the latter hardly depends on machine load)."""
        full_env = {**self.base_env, "ANNOTATOR_SMOKE_QUIT_AFTER": str(linger), **(env or {})}
        started = time.time()
        proc = subprocess.Popen(
            self.command(["--home", str(home), "--demo"], full_env),
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=linger + 60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise SmokeFailure(f"the GUI did not close\n{out[-2000:]}\n{err[-2000:]}") from None
        painted = [line for line in out.splitlines() if line.startswith("smoke: first-window ")]
        if proc.returncode != 0 or not painted:
            raise SmokeFailure(
                f"GUI run failed (exit {proc.returncode}, first window seen: {bool(painted)})"
                f"\n--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}"
            )
        fields = painted[0].split()
        first, cpu = float(fields[2]) - started, float(fields[3])
        if "Traceback" in err:
            raise SmokeFailure(f"the GUI printed a traceback\n{err[-3000:]}")
        return first, cpu


def write_demo_parquet(target: Path) -> None:
    """The smoke import file's records as one Parquet row each (nested columns as structs)."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = SMOKE_IMPORT_FILE.read_bytes().splitlines()
    rows = [orjson.loads(line) for line in lines if line.strip()]
    pq.write_table(pa.Table.from_pylist(rows), target)


def seed_settings(home: Path) -> None:
    """A labeler name, so the first-run name prompt does not wait for a person."""
    from annotator.paths import resolve_paths
    from annotator.settings import Settings, save_settings

    paths = resolve_paths(home).ensure()
    save_settings(Settings(annotator_name="Bundle Smoke"), paths.settings_file)


def smoke(bundle: Path, report: Report, *, linger: float) -> None:
    exe = bundle / EXE_NAME
    if not exe.exists():
        raise SmokeFailure(f"no executable at {exe}")
    from annotator import __version__

    with tempfile.TemporaryDirectory(prefix="annotator-smoke-") as scratch_name:
        scratch = Path(scratch_name)
        runner = Runner(exe, scratch)
        home = scratch / "home"

        out = runner.run(["--version"]).stdout
        if __version__ not in out:
            raise SmokeFailure(f"--version printed {out!r}, expected {__version__}")
        report.steps.append(f"--version: {out.strip()}")

        runner.run(["--home", str(home), "init", "--project", "Smoke"])
        out = runner.run(
            ["--home", str(home), "import", str(SMOKE_IMPORT_FILE), "--project", "Smoke", "--json"]
        ).stdout
        summary = json.loads(out)
        imported = summary.get("totals", summary).get("imported", 0)
        if not imported:
            raise SmokeFailure(f"import stored nothing: {out}")
        report.steps.append(f"import {SMOKE_IMPORT_FILE.name} into a fresh home: {imported} traces")
        runner.run(["--home", str(home), "db", "check"])
        report.steps.append("db check: ok")

        bind_now = {"LD_BIND_NOW": "1"}
        if "export" in runner.run(["--help"]).stdout:
            for fmt in ("jsonl", "csv", "parquet", "hf"):
                out_dir = scratch / f"export-{fmt}"
                runner.run(
                    [
                        "--home",
                        str(home),
                        "export",
                        "--project",
                        "Smoke",
                        "--unlabeled",
                        "--format",
                        fmt,
                        "--out",
                        str(out_dir),
                    ],
                    env=bind_now,
                )
                written = [p for p in out_dir.rglob("*") if p.is_file() and p.stat().st_size > 0]
                if not any(p.suffix in (".jsonl", ".csv", ".parquet") for p in written):
                    raise SmokeFailure(f"export --format {fmt} wrote no data file: {written}")
            report.steps.append("export: jsonl, csv, parquet and hf data files written")
        else:
            note = "export: the `export` command does not exist in this build; skipped"
            log(note)
            report.notes.append(note)

        # Parquet read: the demo records as a Parquet file (written here, by the build's pyarrow)
        # imported by the bundle into another fresh home.
        parquet_file = scratch / "demo.parquet"
        write_demo_parquet(parquet_file)
        parquet_home = scratch / "parquet-home"
        runner.run(["--home", str(parquet_home), "init", "--project", "Parquet"])
        parquet_import = ["import", str(parquet_file), "--project", "Parquet", "--json"]
        out = runner.run(["--home", str(parquet_home), *parquet_import], env=bind_now).stdout
        totals = json.loads(out).get("totals", {})
        if not totals.get("imported") or totals.get("rejected"):
            raise SmokeFailure(f"the Parquet import did not store every record: {totals}")
        report.steps.append(
            f"import of a Parquet file into a fresh home: {totals['imported']} traces"
        )

        seed_settings(home)
        first, _cpu = runner.gui(home, linger=linger)
        projects = runner.run(["--home", str(home), "projects", "--json"]).stdout
        if "Demo" not in projects:
            raise SmokeFailure(f"the GUI did not create the demo project: {projects}")
        report.steps.append(
            f"GUI offscreen on the demo project, closed again ({first:.2f} s to first window)"
        )

        # Start-up time: cold (bundle files evicted from the page cache), then warm runs.
        gui_home = scratch / "gui-home"
        seed_settings(gui_home)
        runner.gui(gui_home, linger=0.2)  # creates the database and the demo project once
        if hasattr(os, "getloadavg"):
            report.load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        if evict_from_page_cache(bundle):
            report.cold_start_s, report.cold_cpu_s = runner.gui(gui_home, linger=0.2)
        else:
            report.notes.append("cold start not measured (no posix_fadvise on this platform)")
        for _ in range(3):
            wall, cpu = runner.gui(gui_home, linger=0.2)
            report.warm_start_s.append(wall)
            report.warm_cpu_s.append(cpu)

        if sys.platform.startswith("linux"):
            report.steps.append(install_run(bundle, scratch))

        xvfb = shutil.which("Xvfb")
        if sys.platform.startswith("linux") and xvfb:
            report.xcb_start_s = xcb_run(runner, gui_home, xvfb)
            report.steps.append(
                f"GUI on X11 (xcb under Xvfb): {report.xcb_start_s:.2f} s to first window"
            )
        elif sys.platform.startswith("linux"):
            report.notes.append("Xvfb not installed: the xcb platform plugin was not started")


def install_run(bundle: Path, scratch: Path) -> str:
    """install.sh into a throw-away HOME: the menu entry points at the installed executable,
    which runs; --uninstall removes it again."""
    user = scratch / "install-home"
    env = {"HOME": str(user), "PATH": "/usr/bin:/bin", "XDG_DATA_HOME": str(user / "share")}
    subprocess.run(["sh", str(bundle / "install.sh")], env=env, check=True, capture_output=True)
    prefix = user / ".local" / "opt" / NAME
    entry = (user / "share" / "applications" / f"{NAME}.desktop").read_text(encoding="utf-8")
    if f'Exec="{prefix}/annotator"' not in entry:
        raise SmokeFailure(f"installed menu entry does not start the bundle:\n{entry}")
    for size in (16, 48, 256, 512):
        icon = user / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{NAME}.png"
        if not icon.is_file():
            raise SmokeFailure(f"install.sh did not install {icon}")
    link = user / ".local" / "bin" / "annotator"
    out = subprocess.run(
        [str(link), "--version"],
        env={"PATH": str(scratch / "empty-bin")},
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SmokeFailure(f"the installed annotator failed: {out.stderr}")
    subprocess.run(
        ["sh", str(prefix / "install.sh"), "--uninstall"], env=env, check=True, capture_output=True
    )
    if prefix.exists() or link.exists() or link.is_symlink():
        raise SmokeFailure("install.sh --uninstall left files behind")
    return "install.sh for a user (menu entry, icons, ~/.local/bin), started, uninstalled"


def xcb_run(runner: Runner, home: Path, xvfb: str) -> float:
    """The same GUI run on the X11 platform plugin, against a private Xvfb display."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            display = pipe.readline().strip()
        if not display:
            raise SmokeFailure("Xvfb did not start")
        xcb_env = {"QT_QPA_PLATFORM": "xcb", "DISPLAY": f":{display}"}
        wall, _cpu = runner.gui(home, linger=0.5, env=xcb_env)
        return wall
    finally:
        server.terminate()
        server.wait(timeout=10)


# -- archive --------------------------------------------------------------------------------------


def make_archive(bundle: Path, dist: Path) -> Path:
    from annotator import __version__

    machine = os.uname().machine if hasattr(os, "uname") else "x86_64"
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    target = dist / f"{NAME}-{__version__}-{system}-{machine}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=f"{NAME}-{__version__}")
    return target


# -- main -----------------------------------------------------------------------------------------


def print_report(report: Report) -> bool:
    """Print the figures; True when both targets are met."""
    print()
    print("=" * 72)
    print("Trace Annotator bundle")
    if report.build_s is not None:
        print(f"  build time (PyInstaller):    {report.build_s:7.1f} s")
    size_ok = report.size_mb < SIZE_TARGET_MB
    print(
        f"  unpacked size:               {report.size_mb:7.1f} MB in {report.files} files"
        f"   target < {SIZE_TARGET_MB:.0f} MB: {'met' if size_ok else 'MISSED'}"
    )
    for size, name in report.biggest:
        print(f"      {size:7.1f} MB  {name}")
    if report.archive is not None:
        print(f"  archive:                     {report.archive_mb:7.1f} MB  {report.archive.name}")
    start_ok = True
    if report.cold_start_s is not None:
        start_ok = report.cold_start_s < START_TARGET_S
        print(
            f"  cold start to first window:  {report.cold_start_s:7.2f} s"
            f"   target < {START_TARGET_S:.0f} s: {'met' if start_ok else 'MISSED'}"
            f"   (CPU {report.cold_cpu_s:.2f} s)"
        )
    if report.warm_start_s:
        median = statistics.median(report.warm_start_s)
        runs = ", ".join(f"{s:.2f}" for s in report.warm_start_s)
        cpu = statistics.median(report.warm_cpu_s)
        print(f"  warm start to first window:  {median:7.2f} s (median of {runs}; CPU {cpu:.2f} s)")
    if report.load:
        print(f"  machine load average while measuring: {report.load} ({os.cpu_count()} CPUs)")
        start_ok = start_ok and median < START_TARGET_S
    if report.xcb_start_s is not None:
        print(f"  X11 (Xvfb) first window:     {report.xcb_start_s:7.2f} s")
    for step in report.steps:
        print(f"  smoke ok: {step}")
    for note in report.notes:
        print(f"  note: {note}")
    print("=" * 72)
    return size_ok and start_ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="output folder (dist/)")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "pyinstaller")
    parser.add_argument("--no-build", action="store_true", help="test the bundle already in --dist")
    parser.add_argument("--no-smoke", action="store_true")
    parser.add_argument("--no-archive", action="store_true")
    parser.add_argument(
        "--linger", type=float, default=4.0, help="seconds the smoke GUI stays open"
    )
    parser.add_argument(
        "--enforce-targets", action="store_true", help="exit 1 if a target is missed"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    dist, work = args.dist.resolve(), args.work.resolve()
    bundle = dist / NAME
    report = Report()
    try:
        if not args.no_build:
            log(f"building with PyInstaller into {bundle}")
            report.build_s = build(dist, work)
            saved = strip_binaries(bundle)
            log(f"stripped shared libraries: {saved / 1e6:.1f} MB saved")
            add_desktop_files(bundle)
        if not bundle.is_dir():
            raise SmokeFailure(f"no bundle at {bundle}")
        report.size_mb, report.files, report.biggest = bundle_size(bundle)
        for icu in sorted(bundle.rglob("libicudata.so.*")):
            if not icu.is_symlink() and icu.stat().st_size > 20e6:
                report.notes.append(
                    f"{icu.name} has the full ICU data ({icu.stat().st_size / 1e6:.0f} MB): "
                    "install icu-devtools and a C compiler to thin it (see icudata.py)"
                )
        if work.is_dir():
            work_dir = work / "trace-annotator"
            missing = missing_modules(work_dir if work_dir.is_dir() else work)
            if missing:
                raise SmokeFailure(
                    f"modules the app imports are missing from the bundle: {missing}"
                )
            log("every module the app imports is in the bundle")
        leaked = forbidden_files(bundle)
        if leaked:
            raise SmokeFailure(f"packages kept out of the bundle are in it: {leaked}")
        unresolved = unresolved_libraries(bundle)
        if unresolved:
            raise SmokeFailure(f"shared libraries the bundle needs but lacks: {unresolved[:10]}")
        log("no SciPy or datasketch; every shared library a bundled file needs is found")
        if not args.no_smoke:
            smoke(bundle, report, linger=args.linger)
        if not args.no_archive:
            report.archive = make_archive(bundle, dist)
            report.archive_mb = report.archive.stat().st_size / 1e6
    except (SmokeFailure, subprocess.CalledProcessError) as exc:
        print_report(report)
        print(f"[bundle] FAILED: {exc}", file=sys.stderr)
        return 1
    targets_met = print_report(report)
    return 1 if args.enforce_targets and not targets_met else 0


if __name__ == "__main__":
    sys.exit(main())
