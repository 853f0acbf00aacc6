"""Alembic plumbing shared by open, maintenance and tests: where the revisions are, which one is
the newest, which one a database is at. No alembic.ini is involved at runtime."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from annotator.resources import migrations_dir
from annotator.store.database import Database


def orm_metadata() -> MetaData:
    """Every table the ORM declares. Tables live in the store's ``*models`` modules (models.py,
    detection_models.py, ...); importing them all registers them on the one ``Base``."""
    import annotator.store as store
    from annotator.store.models import Base

    for module in pkgutil.iter_modules(store.__path__):
        if module.name.endswith("models"):
            importlib.import_module(f"annotator.store.{module.name}")
    return Base.metadata


SEARCH_TABLE_PREFIXES = ("trace_fts", "trace_search")
"""Full-text tables are created by hand in the migrations (FTS5 on SQLite, tsvector on PostgreSQL)
and have no ORM model: autogenerate and schema comparison must leave them be."""


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic ``include_object`` hook: everything except the full-text search tables."""
    if type_ == "table":
        return not (name or "").startswith(SEARCH_TABLE_PREFIXES)
    table_name = getattr(getattr(obj, "table", None), "name", None)
    return not (isinstance(table_name, str) and table_name.startswith(SEARCH_TABLE_PREFIXES))


def alembic_config(migrations: Path | None = None, connection: Connection | None = None) -> Config:
    """A Config pointing at the migrations folder; ``connection`` is what env.py migrates."""
    folder = Path(migrations) if migrations is not None else migrations_dir()
    config = Config()
    # configparser interpolation: a literal % in the path must be doubled.
    config.set_main_option("script_location", str(folder).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory(migrations: Path | None = None) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(migrations))


def head_revision(migrations: Path | None = None) -> str:
    """The newest revision this code knows (there is exactly one head)."""
    head = script_directory(migrations).get_current_head()
    if head is None:
        raise RuntimeError("the migrations folder holds no revision")
    return head


def known_revisions(migrations: Path | None = None) -> set[str]:
    return {script.revision for script in script_directory(migrations).walk_revisions()}


def revision_of(connection: Connection) -> str | None:
    """The revision recorded in ``alembic_version``; None for a database never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return revision_of(connection)
