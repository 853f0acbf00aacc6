"""The main window fits a 1280x800 screen: first start is sized to the screen (never larger), a
geometry saved on a bigger monitor is clamped, and the label panel stays whole however the
splitter is dragged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect

ROOT = Path(__file__).resolve().parents[2]


def inside(outer: list[int], inner: list[int]) -> bool:
    return QRect(*outer).contains(QRect(*inner))


def panel_rect(window: Any) -> list[int]:
    panel = window.panel
    top_left = panel.mapTo(window, QPoint(0, 0))
    return [top_left.x(), top_left.y(), panel.width(), panel.height()]


def test_fits_1280_and_the_label_panel_is_whole(
    qtbot: Any, project_db: str, open_window: Any
) -> None:
    window = open_window(project_db)
    assert window.minimumSizeHint().width() <= 1000
    assert window.sizeHint().width() <= 1280
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280)
    assert window.panel.isVisible()
    assert inside([0, 0, window.width(), window.height()], panel_rect(window))
    choices = window.panel.choices
    assert choices.viewport().width() >= choices.widget().minimumSizeHint().width()


@pytest.mark.parametrize("squeezed", [0, 1, 2])
def test_splitter_stops_at_usable_minimums(
    qtbot: Any, project_db: str, open_window: Any, squeezed: int
) -> None:
    """Dragging a pane to nothing leaves it at a usable width: the label panel is never cut."""
    window = open_window(project_db)
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280)
    sizes = [1000, 1000, 1000]
    sizes[squeezed] = 0
    window.splitter.setSizes(sizes)
    qtbot.wait(10)
    got = window.splitter.sizes()
    for i, width in enumerate(got):
        assert width >= window.splitter.widget(i).minimumSizeHint().width()
    assert got[1] >= 180  # the trace stays readable
    assert inside([0, 0, window.width(), window.height()], panel_rect(window))
    choices = window.panel.choices
    assert choices.viewport().width() >= choices.widget().minimumSizeHint().width()


def probe(tmp_path: Path, url: str, width: int, height: int, scenario: str) -> dict[str, Any]:
    """The window on an offscreen screen of ``width`` x ``height`` (see geometry_probe.py)."""
    config = tmp_path / f"screen-{width}x{height}.json"
    screen = {"name": "s", "x": 0, "y": 0, "width": width, "height": height}
    config.write_text(json.dumps({"screens": [{**screen, "logicalDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    out = subprocess.run(
        [sys.executable, "-m", "tests.gui.geometry_probe", url, scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["available"] == [0, 0, width, height]
    return report


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1920, 1080)])
@pytest.mark.parametrize("scenario", ["first", "restore"])
def test_window_fits_the_screen(
    tmp_path: Path, project_db: str, width: int, height: int, scenario: str
) -> None:
    report = probe(tmp_path, project_db, width, height, scenario)
    assert inside(report["available"], report["frame"])
    assert report["min_hint"] <= width and report["hint"] <= width
    assert report["panel_visible"]
    assert inside(report["inner"], report["panel"])
    assert report["choices_width"] >= report["choices_needed"]
    assert all(s >= m for s, m in zip(report["splitter"], report["pane_min"], strict=True))
    if scenario == "first" and width >= 1600:
        assert report["inner"][2:] == [1600, 960]  # the default where there is room
