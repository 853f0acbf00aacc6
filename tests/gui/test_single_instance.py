"""One instance per SQLite file: a second start, in another process, is refused with a clear
message and the running one is asked to come to the front."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from annotator.gui.single_instance import (
    SingleInstance,
    bring_to_front,
    server_name,
    tell_already_running,
)

SECOND = """
import os, sys
from PySide6.QtCore import QCoreApplication
from annotator.gui.single_instance import SingleInstance
app = QCoreApplication([])
inst = SingleInstance.for_url(sys.argv[1])
ok = inst.acquire()
print(f"acquired={ok} notified={inst.notified} owner={inst.owner}", flush=True)
if sys.argv[2] == "die-holding":
    os._exit(0)  # a crash: the lock file and the socket stay behind
inst.release()
"""


def start_second(url: str, mode: str = "release") -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [sys.executable, "-c", SECOND, url, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def instances(qtbot: Any) -> Iterator[list[SingleInstance]]:
    made: list[SingleInstance] = []
    yield made
    for inst in made:
        inst.release()


def test_second_process_is_refused_and_first_is_activated(
    qtbot: Any, tmp_path: Path, instances: list[SingleInstance]
) -> None:
    url = f"sqlite:///{tmp_path / 'work.sqlite3'}"
    first = SingleInstance.for_url(url)
    instances.append(first)
    assert first.acquire()
    assert first.lock_path is not None and first.lock_path.exists()
    with qtbot.waitSignal(first.activated, timeout=10_000):
        second = start_second(url)
        out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert f"acquired=False notified=True owner=process {os.getpid()} on" in out

    # Once the first lets go, a new start gets the database.
    first.release()
    third = start_second(url)
    out, err = third.communicate(timeout=60)
    assert "acquired=True" in out, err


def test_lock_left_by_a_crashed_process_is_taken_over(
    qtbot: Any, tmp_path: Path, instances: list[SingleInstance]
) -> None:
    url = f"sqlite:///{tmp_path / 'work.sqlite3'}"
    crashed = start_second(url, "die-holding")
    out, err = crashed.communicate(timeout=60)
    assert "acquired=True" in out, err
    again = SingleInstance.for_url(url)
    instances.append(again)
    assert again.lock_path is not None and again.lock_path.exists()  # left behind
    assert again.acquire()
    # ... and it listens again for later starts.
    with qtbot.waitSignal(again.activated, timeout=10_000):
        later = start_second(url)
        out, _ = later.communicate(timeout=60)
    assert "acquired=False notified=True" in out


def test_other_files_and_server_databases_are_independent(
    tmp_path: Path, instances: list[SingleInstance]
) -> None:
    a = SingleInstance.for_url(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    b = SingleInstance.for_url(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    instances += [a, b]
    assert a.acquire() and b.acquire()
    assert a.name != b.name
    assert server_name(tmp_path / "a.sqlite3") == a.name  # stable for a path
    for url in ("postgresql://u:secret@db.example/labels", "sqlite://", "sqlite:///:memory:"):
        shared = SingleInstance.for_url(url)
        instances.append(shared)
        assert shared.lock_path is None and shared.acquire()


def test_same_process_second_claim_and_message(
    qtbot: Any, tmp_path: Path, instances: list[SingleInstance]
) -> None:
    db_file = tmp_path / "same.sqlite3"
    first = SingleInstance(db_file)
    instances.append(first)
    assert first.acquire()
    second = SingleInstance(db_file)
    instances.append(second)
    with qtbot.waitSignal(first.activated, timeout=5000):
        assert not second.acquire()
    assert second.notified
    text = second.message()
    assert "already open on this database" in text and str(db_file) in text
    assert "brought to the front" in text

    def close_box() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        assert "already open" in box.text()
        box.accept()

    QTimer.singleShot(0, close_box)
    tell_already_running(second)


def test_bring_to_front_restores_a_minimised_window(qtbot: Any) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.showMinimized()
    bring_to_front(window)
    assert window.isVisible() and not window.isMinimized()
