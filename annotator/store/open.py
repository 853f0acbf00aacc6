"""Open a database by URL and bring its schema to the revision this code was written for.

An empty database is created at head. An older one is first copied aside (SQLite, with the online
backup API, so a crash mid-upgrade never costs data) and then upgraded in one transaction. A newer
one is refused: this code cannot know what a later schema means."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, event, inspect, pool
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from annotator.store.database import Database, make_engine
from annotator.store.errors import (
    BackupError,
    DatabaseTooNewError,
    DatabaseUnavailableError,
    MigrationError,
    NotAnnotatorDatabaseError,
    StoreError,
)
from annotator.store.revisions import (
    alembic_config,
    current_revision,
    head_revision,
    known_revisions,
    revision_of,
)

__all__ = ["current_revision", "head_revision", "open_database", "sqlite_path"]

log = logging.getLogger(__name__)

PG_CONNECT_TIMEOUT_S = 10
_PG_DRIVER_HINT = "install the PostgreSQL driver: pip install 'trace-annotator[postgres]'"


def open_database(
    url: str, *, backup_dir: Path | None = None, migrations: Path | None = None
) -> Database:
    """Open ``url`` (any SQLAlchemy URL) at the head revision, upgrading it if it is older.

    ``backup_dir`` receives the copy made before an upgrade (default: beside the database file);
    ``migrations`` replaces the shipped migrations folder (tests use it)."""
    sa_url = _parse(url)
    path = sqlite_path(sa_url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(f"cannot create {path.parent}: {exc.strerror}") from exc
    engine = _engine(sa_url)
    try:
        _bring_to_head(engine, sa_url, backup_dir, migrations)
    except BaseException:
        engine.dispose()
        raise
    return Database(url=url, engine=engine)


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL; None for other dialects and in-memory databases."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def describe(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def one_line(exc: BaseException) -> str:
    """The driver's reason without SQLAlchemy's multi-line decoration."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(inner).splitlines() if line.strip()]
    return lines[0] if lines else type(inner).__name__


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseUnavailableError(f"not a database URL: {url!r}") from exc


def _engine(url: URL, **kwargs: Any) -> Engine:
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        kwargs.setdefault("connect_args", {"connect_timeout": PG_CONNECT_TIMEOUT_S})
    try:
        return make_engine(url.render_as_string(hide_password=False), **kwargs)
    except NoSuchModuleError as exc:
        raise DatabaseUnavailableError(f"unsupported database URL {describe(url)}") from exc
    except ModuleNotFoundError as exc:
        hint = _PG_DRIVER_HINT if url.get_backend_name() == "postgresql" else "install it"
        raise DatabaseUnavailableError(
            f"the driver for {describe(url)} is missing ({exc.name}); {hint}"
        ) from exc
    except (ArgumentError, ValueError, TypeError) as exc:
        raise DatabaseUnavailableError(f"invalid database URL {describe(url)}: {exc}") from exc


def _bring_to_head(
    engine: Engine, url: URL, backup_dir: Path | None, migrations: Path | None
) -> None:
    head = head_revision(migrations)
    try:
        with engine.connect() as conn:
            current = revision_of(conn)
            tables = set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        raise DatabaseUnavailableError(f"cannot open {describe(url)}: {one_line(exc)}") from exc
    if current == head:
        return
    if current is None:
        if tables - {"alembic_version"}:
            raise NotAnnotatorDatabaseError(
                f"{describe(url)} holds tables but is not a Trace Annotator database"
            )
        log.info("creating the schema in %s (revision %s)", describe(url), head)
    else:
        if current not in known_revisions(migrations):
            raise DatabaseTooNewError(
                f"this database was written by a newer Trace Annotator (revision {current}); "
                "upgrade the app"
            )
        _copy_aside(engine, url, backup_dir, head)
        log.info("upgrading %s from revision %s to %s", describe(url), current, head)
    _upgrade(engine, url, migrations)


def _copy_aside(engine: Engine, url: URL, backup_dir: Path | None, new_revision: str) -> None:
    path = sqlite_path(url)
    if path is None:
        if url.get_backend_name() != "sqlite":
            log.warning(
                "upgrading %s without a copy: back it up with pg_dump first if it matters",
                describe(url),
            )
        return
    folder = backup_dir if backup_dir is not None else path.parent
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = _free_name(folder / f"{path.stem}-before-{new_revision}-{stamp}.sqlite3")
    online_backup(engine, dest)
    log.info("copied %s to %s before upgrading", path, dest)


def _free_name(dest: Path) -> Path:
    candidate, n = dest, 1
    while candidate.exists():
        candidate = dest.with_name(f"{dest.stem}-{n}{dest.suffix}")
        n += 1
    return candidate


def online_backup(engine: Engine, dest: Path, schema: str = "main") -> Path:
    """Copy a SQLite database (or its attached ``schema``) with the online backup API:
    consistent even while others write, and it includes whatever still sits in the WAL file."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {dest.parent}: {exc.strerror}") from exc
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        if not isinstance(source, sqlite3.Connection):
            raise BackupError(f"online backup needs the sqlite3 driver, not {type(source)}")
        target = sqlite3.connect(dest)
        try:
            source.backup(target, name=schema)
        except sqlite3.Error as exc:
            target.close()
            dest.unlink(missing_ok=True)
            raise BackupError(f"cannot copy the database to {dest}: {exc}") from exc
        target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot write {dest}: {exc}") from exc
    finally:
        raw.close()
    return dest


def _upgrade(engine: Engine, url: URL, migrations: Path | None) -> None:
    """Run every pending revision in ONE transaction: all of them or none."""
    if sqlite_path(url) is None and url.get_backend_name() == "sqlite":
        # In-memory: the schema must be built on the engine's own (only) connection.
        with engine.begin() as conn:
            command.upgrade(alembic_config(migrations, conn), "head")
        return
    migrator = migration_engine(url)
    try:
        with migrator.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two apps opening the same old database: the second waits, then finds it at head.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7366311)")
            command.upgrade(alembic_config(migrations, conn), "head")
            if conn.dialect.name == "sqlite":
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise MigrationError(
                        f"the upgrade would break {len(broken)} foreign keys "
                        f"(first in table {broken[0][0]}); nothing was changed"
                    )
    except StoreError:
        raise
    except SQLAlchemyError as exc:
        raise MigrationError(f"upgrading {describe(url)} failed: {one_line(exc)}") from exc
    finally:
        migrator.dispose()


def migration_engine(url: URL) -> Engine:
    """A private engine for the upgrade. On SQLite, the stdlib driver would commit before every DDL
    statement and batch migrations recreate tables, so: our own BEGIN IMMEDIATE (one atomic upgrade;
    concurrent openers wait) and foreign keys off while tables are rebuilt (checked before commit)."""
    engine = _engine(url, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _manual_transactions(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA foreign_keys=OFF")

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
