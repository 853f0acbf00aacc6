"""Revision 0002 builds exactly the detection ORM, and downgrades to 0001 cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import annotator.store.detection_models as detection_models
from annotator.store.database import make_engine
from annotator.store.models import Base
from annotator.store.open import open_database
from annotator.store.revisions import alembic_config, include_object

TABLES = {"prompt_clusters", "trace_clusters", "group_labels", "derived_labels"}


def test_detection_tables_are_in_the_orm_metadata() -> None:
    assert detection_models.PromptCluster.__table__.metadata is Base.metadata
    assert set(Base.metadata.tables) >= TABLES


def test_upgraded_database_matches_the_orm_including_detection(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", backup_dir=None)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_object": include_object, "compare_type": True}
            )
            assert compare_metadata(context, Base.metadata) == []
            assert set(inspect(conn).get_table_names()) >= TABLES
    finally:
        db.dispose()


@pytest.mark.parametrize("target", ["0001"])
def test_downgrade_removes_only_the_detection_tables(tmp_path: Path, target: str) -> None:
    url = f"sqlite:///{tmp_path / 'down.sqlite3'}"
    open_database(url, backup_dir=None).dispose()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            before = set(inspect(conn).get_table_names())
        with engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), target)
        with engine.connect() as conn:
            assert before - set(inspect(conn).get_table_names()) == TABLES
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == before
    finally:
        engine.dispose()
