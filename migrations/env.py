"""Alembic environment.

The app runs migrations programmatically (``annotator.store.open``) and hands its own connection
over in ``config.attributes["connection"]``, so no alembic.ini is needed at runtime. The alembic.ini
at the repository top is for developers (``alembic revision --autogenerate``); there the URL comes
from ``-x url=...``, ``ANNOTATOR_DB``, or the default database of ``ANNOTATOR_HOME``.

SQLite cannot ALTER most things, so migrations run in batch mode there (as mealie does)."""

from __future__ import annotations

import logging
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection, make_url

from annotator.store.open import migration_engine
from annotator.store.revisions import include_object, orm_metadata

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    # The alembic command line (a developer): show "Running upgrade ..." lines. The app and the
    # tests configure logging themselves.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = orm_metadata()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.get_main_option("sqlalchemy.url") or os.environ.get("ANNOTATOR_DB")
    if url:
        return url
    from annotator.paths import resolve_paths

    return resolve_paths().ensure().default_db_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: print the DDL instead of running it."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=include_object,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    # The app's migration engine: one BEGIN IMMEDIATE transaction, foreign keys off on SQLite.
    engine = migration_engine(make_url(_url()))
    try:
        with engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
