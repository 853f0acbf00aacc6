"""The shared phase bars: one bar per phase, totals never zero, usable when stderr is a pipe."""

from __future__ import annotations

from types import SimpleNamespace

from annotator.cli._support import PhaseBars
from annotator.cli.detect_cmds import DetectionBar
from annotator.cli.export_cmd import _Bar


def test_one_bar_per_phase() -> None:
    with PhaseBars(enabled=True) as bars:
        bars.update("Reading", 1, 10)
        bars.update("Reading", 5, 10)
        bars.update("Writing", 0, 0)
        tasks = {t.description: (t.completed, t.total) for t in bars.progress.tasks}
    assert tasks == {"Reading": (5, 10), "Writing": (0, 1)}


def test_detection_and_export_bars_name_their_phases() -> None:
    with DetectionBar(enabled=False) as bar:
        bar.cluster(SimpleNamespace(phase="cluster", done=2, total=4))
        bar.cluster(SimpleNamespace(phase="describe", done=1, total=1))
        bar.suggest(SimpleNamespace(done=3, total=3))
        assert list(bar.tasks) == ["Clustering prompts", "Describing clusters", "Suggesting"]
    with _Bar(enabled=False) as export_bar:
        export_bar(SimpleNamespace(phase="scan", done=1, total=2))
        export_bar(SimpleNamespace(phase="write", done=1, total=2))
        assert list(export_bar.tasks) == ["Selecting traces", "Writing"]


def test_opening_the_gui_does_not_load_the_commands_or_sqlalchemy() -> None:
    """`annotator` with no subcommand opens the window; SQLAlchemy (0.7 s) and the command
    modules must wait until a subcommand or --help needs them."""
    import subprocess
    import sys

    code = (
        "import sys, annotator.cli as c\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy'\n"
        "assert 'annotator.cli.commands' not in sys.modules, 'commands'\n"
        "assert 'import' in c.cli.list_commands(None)\n"
        "assert 'annotator.cli.commands' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
