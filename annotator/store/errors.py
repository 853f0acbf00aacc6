"""What the store raises when a database cannot be used. Every message is one line a user can act
on; the CLI prints it as is and the GUI shows it in a dialog."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: the database cannot be opened, upgraded, backed up or searched."""


class DatabaseUnavailableError(StoreError):
    """The URL is invalid, its driver is missing, or the server or file cannot be reached."""


class DatabaseTooNewError(StoreError):
    """The database was migrated by a newer version of the app; opening it could corrupt it."""


class NotAnnotatorDatabaseError(StoreError):
    """The database holds tables but no Alembic revision: some other application's data."""


class MigrationError(StoreError):
    """An upgrade failed; the database was left at its previous revision (and a copy was made)."""


class BackupError(StoreError):
    """A copy of the database could not be written."""


class SearchTooBroadError(StoreError):
    """A search ran out of its time budget (typically a short prefix such as ``a*``)."""
