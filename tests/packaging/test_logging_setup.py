"""The log file: in the log directory of the chosen home, version and platform first, rotated,
one handler however often it is set up, closed on shutdown."""

from __future__ import annotations

import logging
import logging.handlers
import platform
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotator import __version__
from annotator.logging_setup import (
    BACKUP_COUNT,
    installed_log_file,
    log_file,
    setup_logging,
    shutdown_logging,
)
from annotator.paths import resolve_paths


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    shutdown_logging()
    logging.getLogger().setLevel(level)


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if type(h).__name__ == "_AnnotatorFileHandler"]


def test_first_lines_say_version_and_platform(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home")
    target = setup_logging(paths)
    assert target == tmp_path / "home" / "logs" / "annotator.log" == log_file(paths)
    assert installed_log_file() == target
    logging.getLogger("annotator.test").warning("something to keep")
    for handler in ours():
        handler.flush()
    text = target.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert f"Trace Annotator {__version__} starting" in first
    assert platform.system() in first and f"Python {platform.python_version()}" in first
    assert "something to keep" in text


def test_set_up_twice_keeps_one_handler_and_shutdown_closes_it(tmp_path: Path) -> None:
    setup_logging(resolve_paths(tmp_path / "a"))
    second = setup_logging(resolve_paths(tmp_path / "b"))
    handlers = ours()
    assert len(handlers) == 1 and installed_log_file() == second
    shutdown_logging()
    assert ours() == [] and installed_log_file() is None
    stream = getattr(handlers[0], "stream", None)
    assert stream is None or stream.closed


def test_the_file_rotates_and_keeps_a_bounded_number(tmp_path: Path) -> None:
    target = setup_logging(resolve_paths(tmp_path / "home"))
    (handler,) = ours()
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    handler.maxBytes = 2000  # the real limit is megabytes; the mechanism is the same
    noisy = logging.getLogger("annotator.noisy")
    for i in range(400):
        noisy.info("line %d %s", i, "x" * 80)
    files = sorted(p.name for p in target.parent.iterdir())
    assert "annotator.log" in files and "annotator.log.1" in files
    assert len(files) == BACKUP_COUNT + 1
    assert all(p.stat().st_size <= 2200 for p in target.parent.iterdir())


def test_default_location_is_the_user_log_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    import appdirs

    monkeypatch.delenv("ANNOTATOR_HOME", raising=False)
    expected = Path(appdirs.user_log_dir("trace-annotator", appauthor=False)) / "annotator.log"
    assert log_file(resolve_paths()) == expected
