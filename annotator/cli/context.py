"""What every command shares: where the data lives, the open database, one-line errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from annotator.paths import Paths, resolve_paths

if TYPE_CHECKING:  # SQLAlchemy loads only when a command opens the database
    from annotator.store.database import Database


class CliError(click.ClickException):
    """A user mistake or an expected failure: one line on stderr, exit code 2, no traceback."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message

    def show(self, file: object = None) -> None:
        click.echo(f"annotator: error: {self.format_message()}", err=True)


@dataclass
class AppContext:
    db_url: str | None = None
    home: str | None = None
    _db: Database | None = field(default=None, repr=False)

    @property
    def paths(self) -> Paths:
        return resolve_paths(self.home)

    @property
    def url(self) -> str:
        return self.db_url or self.paths.ensure().default_db_url

    def database(self) -> Database:
        """Open (and upgrade if needed) the database once per command."""
        if self._db is None:
            from annotator.services.label_snapshot import use_snapshots
            from annotator.store.open import open_database

            paths = self.paths.ensure()
            self._db = open_database(self.url, backup_dir=paths.backups)
            use_snapshots(paths.cache)  # progress/agreement start from the GUI's snapshot
        return self._db
