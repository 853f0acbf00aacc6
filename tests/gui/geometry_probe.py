"""Opens the main window on a screen of a given size and prints its geometry as JSON.

Run in a subprocess by ``test_main_window_geometry.py``: the offscreen platform takes its screen
size from a config file only when the QApplication is created, and the test session's
application already exists. Usage: ``python -m tests.gui.geometry_probe DB_URL first|restore``.
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication

from annotator.gui.main_window import MainWindow
from annotator.settings import Settings
from annotator.store.open import open_database


def _rect(r: QRect) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def _wait(app: QApplication, done: Any, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the window did not settle")
        app.processEvents()
        time.sleep(0.01)


def _open(app: QApplication, url: str, settings: Settings, home: Path) -> MainWindow:
    window = MainWindow(settings, home / "settings.json", lambda: open_database(url), ask=False)
    window.show()
    window.start()
    _wait(app, lambda: window.current is not None and window.is_settled())
    return window


def _report(window: MainWindow) -> dict[str, Any]:
    screen = window.screen()
    panel = window.panel
    assert panel is not None
    top_left = panel.mapTo(window, QPoint(0, 0))
    return {
        "available": _rect(screen.availableGeometry()),
        "frame": _rect(window.frameGeometry()),
        "inner": [0, 0, window.width(), window.height()],
        "min_hint": window.minimumSizeHint().width(),
        "hint": window.sizeHint().width(),
        "panel": [top_left.x(), top_left.y(), panel.width(), panel.height()],
        "panel_visible": panel.isVisible(),
        "choices_width": panel.choices.viewport().width(),
        "choices_needed": panel.choices.widget().minimumSizeHint().width(),
        "splitter": window.splitter.sizes(),
        "pane_min": [
            window.splitter.widget(i).minimumSizeHint().width()
            for i in range(window.splitter.count())
        ],
    }


def main(url: str, scenario: str) -> dict[str, Any]:
    app = QApplication(sys.argv[:1])
    home = Path(tempfile.mkdtemp())
    settings = Settings(annotator_name="Ada", last_project="P", idle_pause_seconds=120)
    if scenario == "restore":  # saved on a 1900x1050 monitor, reopened on this smaller one
        big = _open(app, url, settings.model_copy(), home)
        big.setGeometry(300, 200, 1900, 1050)
        _wait(app, lambda: big.width() == 1900)
        big.splitter.setSizes([700, 800, 400])
        settings.window_geometry = base64.b64encode(bytes(big.saveGeometry().data())).decode()
        settings.splitter_sizes = big.splitter.sizes()
        big.shutdown()
        _wait(app, lambda: big.bg.wait_workers(100))
    window = _open(app, url, settings, home)
    report = _report(window)
    window.shutdown()
    _wait(app, lambda: window.bg.wait_workers(100))
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
