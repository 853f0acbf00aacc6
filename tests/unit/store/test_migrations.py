"""The revision chain is one straight line, and the database it builds is exactly the ORM's."""

from __future__ import annotations

import re
import sqlite3
from argparse import Namespace
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from annotator.resources import migrations_dir
from annotator.store.database import make_engine
from annotator.store.open import head_revision, open_database
from annotator.store.revisions import (
    alembic_config,
    include_object,
    orm_metadata,
    script_directory,
)


def test_revision_chain_is_linear_from_one_base_to_one_head() -> None:
    script = script_directory()
    revisions = list(script.walk_revisions())
    by_id = {r.revision: r for r in revisions}
    assert len(by_id) == len(revisions), "duplicate revision ids"
    bases = [r for r in revisions if r.down_revision is None]
    assert len(bases) == 1, f"expected one base, got {[r.revision for r in bases]}"
    assert len(script.get_heads()) == 1, f"expected one head, got {script.get_heads()}"
    children: dict[str, list[str]] = {}
    for r in revisions:
        if r.down_revision is not None:
            assert isinstance(r.down_revision, str), f"{r.revision} is a merge: keep it linear"
            assert r.down_revision in by_id, f"{r.revision} revises unknown {r.down_revision}"
            children.setdefault(r.down_revision, []).append(r.revision)
    assert all(len(c) == 1 for c in children.values()), f"branches: {children}"
    # Walking down from the head reaches every revision.
    seen, current = [], script.get_current_head()
    while current is not None:
        seen.append(current)
        down = by_id[current].down_revision
        current = down if isinstance(down, str) else None
    assert sorted(seen) == sorted(by_id)


def test_revision_files_are_named_after_their_ids() -> None:
    for path in sorted((migrations_dir() / "versions").glob("*.py")):
        match = re.match(r"(\d{4})_\w+\.py$", path.name)
        assert match, f"{path.name}: name revisions NNNN_slug.py"
        assert f'revision: str = "{match.group(1)}"' in path.read_text(encoding="utf-8")


def test_upgraded_empty_database_matches_the_orm(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_object": include_object, "compare_type": True}
            )
            assert compare_metadata(context, orm_metadata()) == []
            tables = set(inspect(conn).get_table_names())
            search_tables = set(inspect(conn).get_table_names(schema="search"))
    finally:
        db.dispose()
    assert set(orm_metadata().tables) <= tables
    assert "trace_fts" not in tables  # the index has a file of its own (revision 0004)
    assert {"trace_fts", "search_state"} <= search_tables


def test_schema_comparison_would_notice_a_drift(tmp_path: Path) -> None:
    """The comparison above can fail: a column the ORM lacks shows up as a difference."""
    db = open_database(f"sqlite:///{tmp_path / 'drift.sqlite3'}")
    try:
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE traces ADD COLUMN stray TEXT"))
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            diffs = compare_metadata(context, orm_metadata())
    finally:
        db.dispose()
    assert [d[0] for d in diffs] == ["remove_column"]


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    open_database(url).dispose()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(connection=conn), "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
        with engine.begin() as conn:
            command.upgrade(alembic_config(connection=conn), "head")
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
            assert "trace_fts" in inspect(conn).get_table_names(schema="search")
    finally:
        engine.dispose()


def test_offline_sql_renders_for_both_dialects(capsys: pytest.CaptureFixture[str]) -> None:
    """``alembic upgrade --sql`` (what a DBA reviews before a PostgreSQL upgrade) works."""
    for url, marker in (
        ("sqlite://", "CREATE VIRTUAL TABLE trace_fts"),
        ("postgresql://", "USING gin (to_tsvector('simple', text))"),
    ):
        config = alembic_config()
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head", sql=True)
        out = capsys.readouterr().out
        assert "CREATE TABLE traces" in out
        assert marker in out


def test_developer_alembic_ini_points_at_the_same_migrations(tmp_path: Path) -> None:
    """``alembic -x url=... upgrade head`` from the repository top works like the app."""
    ini = Path(__file__).resolve().parents[3] / "alembic.ini"
    config = Config(ini)
    assert Path(config.get_main_option("script_location") or "") == migrations_dir()
    config.cmd_opts = Namespace(x=[f"url=sqlite:///{tmp_path / 'dev.sqlite3'}"])
    command.upgrade(config, "head")
    with sqlite3.connect(tmp_path / "dev.sqlite3") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            head_revision(),
        )
    conn.close()
