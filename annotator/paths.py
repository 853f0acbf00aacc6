"""Every directory the app uses. ANNOTATOR_HOME or --home replaces the appdirs locations."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import appdirs

APP_NAME = "trace-annotator"


@dataclass(frozen=True)
class Paths:
    data: Path
    config: Path
    logs: Path
    backups: Path
    cache: Path
    """Files the app can rebuild from the database (label table snapshots): safe to delete."""

    @property
    def default_db(self) -> Path:
        return self.data / "annotator.sqlite3"

    @property
    def default_db_url(self) -> str:
        return f"sqlite:///{self.default_db}"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    def ensure(self) -> Paths:
        for d in (self.data, self.config, self.logs, self.backups, self.cache):
            d.mkdir(parents=True, exist_ok=True)
        return self


def resolve_paths(home: str | os.PathLike[str] | None = None) -> Paths:
    """--home wins, then ANNOTATOR_HOME, then the platform's user directories."""
    chosen = home or os.environ.get("ANNOTATOR_HOME")
    if chosen:
        root = Path(chosen).expanduser().resolve()
        return Paths(
            data=root,
            config=root,
            logs=root / "logs",
            backups=root / "backups",
            cache=root / "cache",
        )
    data = Path(appdirs.user_data_dir(APP_NAME, appauthor=False))
    return Paths(
        data=data,
        config=Path(appdirs.user_config_dir(APP_NAME, appauthor=False)),
        logs=Path(appdirs.user_log_dir(APP_NAME, appauthor=False)),
        backups=data / "backups",
        cache=Path(appdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )
