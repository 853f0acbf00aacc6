"""One log file per user, rotated, in the user log directory (or ``<home>/logs``).

Labelers run the app on machines nobody on the team can look at; when something goes wrong the
log file is what they send. So the first lines of every run say which version on which platform,
and the file never grows without bound."""

from __future__ import annotations

import logging
import logging.handlers
import platform
import sys
from pathlib import Path

from annotator import __version__
from annotator.paths import Paths

LOG_FILE_NAME = "annotator.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUP_COUNT = 5
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(process)d %(threadName)s %(name)s: %(message)s"

log = logging.getLogger("annotator")


class _AnnotatorFileHandler(logging.handlers.RotatingFileHandler):
    """Marks the handler this module installed, so a second call replaces it instead of
    doubling every line."""


def log_file(paths: Paths) -> Path:
    """Where the current log file is (or will be) for these directories."""
    return paths.logs / LOG_FILE_NAME


def installed_log_file() -> Path | None:
    """The file the running process logs to, if ``setup_logging`` was called."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _AnnotatorFileHandler):
            return Path(handler.baseFilename)
    return None


def platform_summary() -> str:
    """A one-line description of where we run, for the log and for crash reports."""
    frozen = " (frozen bundle)" if getattr(sys, "frozen", False) else ""
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}; "
        f"Python {platform.python_version()} {platform.python_implementation()}{frozen}"
    )


def setup_logging(paths: Paths, *, level: int = logging.INFO) -> Path:
    """Log to a rotating file under ``paths.logs`` and record the version and platform.

    Safe to call more than once: the previous handler of this module is closed and replaced
    (tests, or the GUI started from the CLI). Returns the log file path."""
    target = log_file(paths)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutdown_logging()
    handler = _AnnotatorFileHandler(
        target, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    log.info("Trace Annotator %s starting: %s", __version__, platform_summary())
    log.info("log file: %s", target)
    return target


def shutdown_logging() -> None:
    """Close and remove the handler ``setup_logging`` installed (no open file is left behind)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _AnnotatorFileHandler):
            root.removeHandler(handler)
            handler.close()
