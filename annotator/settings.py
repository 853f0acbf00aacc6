"""User settings: a versioned pydantic model persisted as JSON in the config directory.

Unknown or broken files never stop the app: they are set aside and defaults are used."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

SETTINGS_VERSION = 1


class Settings(BaseModel):
    version: int = SETTINGS_VERSION
    annotator_name: str | None = None
    last_project: str | None = None
    last_trace_id: int | None = None
    theme: str = "system"
    """``system``, ``light`` or ``dark``."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Action name -> key sequence, overriding the defaults."""
    window_geometry: str | None = None
    window_state: str | None = None
    splitter_sizes: list[int] = Field(default_factory=list)
    show_suggestions: bool = True
    # Added after version 1 shipped; every new field has a default so older files still load.
    collapse_reasoning: bool = False
    queue_sort: str = "queue"
    queue_statuses: list[str] = Field(default_factory=list)
    """Status filter of the queue; empty means every status."""
    idle_pause_seconds: int = Field(default=120, ge=10)
    """Time on item stops counting after this long without input."""
    hidden_suggestions: list[str] = Field(default_factory=list)
    """Projects where the labeler hides the heuristic suggestions (to avoid anchoring)."""


def load_settings(path: Path) -> Settings:
    try:
        return Settings.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return Settings()
    except (OSError, ValidationError, ValueError):
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(".broken.json"))
        return Settings()


def save_settings(settings: Settings, path: Path) -> None:
    """Write to a temporary file and rename, so a crash never leaves half a settings file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(settings.model_dump_json(indent=2).encode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
