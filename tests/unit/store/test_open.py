"""Opening a database: create at head, copy aside then upgrade an older one (atomically, without
losing child rows to cascades), refuse a newer or foreign one, explain an unusable URL in a line."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from annotator.resources import migrations_dir
from annotator.store.codec import encode_turns
from annotator.store.database import SQLITE_BUSY_TIMEOUT_MS
from annotator.store.errors import (
    DatabaseTooNewError,
    DatabaseUnavailableError,
    MigrationError,
    NotAnnotatorDatabaseError,
    StoreError,
)
from annotator.store.models import Annotator, LabelRow, Project, TraceRow
from annotator.store.open import current_revision, head_revision, open_database


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


NEXT = "9999"
"""A revision id no real migration will use."""


def migrations_with(tmp_path: Path, body: str) -> Path:
    """A copy of the shipped migrations plus a revision NEXT on top whose upgrade() is ``body``."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / f"{NEXT}_test_change.py").write_text(
        textwrap.dedent(
            '''\
            """A later revision, for tests."""
            import sqlalchemy as sa
            from alembic import op

            revision = "{next}"
            down_revision = "{head}"
            branch_labels = None
            depends_on = None


            def upgrade() -> None:
            '''
        ).format(next=NEXT, head=head_revision())
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\n\ndef downgrade() -> None:\n    pass\n",
        encoding="utf-8",
    )
    return folder


def make_current_database(path: Path) -> int:
    """A database at today's head holding a project, a trace and a label on it; returns the trace id."""
    db = open_database(url_of(path))
    try:
        with db.session() as s:
            project = Project(name="p", schema_json="{}")
            annotator = Annotator(name="ann")
            s.add_all([project, annotator])
            s.flush()
            trace = TraceRow(
                project_id=project.id, uid="u1", source_format="test", turns_json=encode_turns(())
            )
            s.add(trace)
            s.flush()
            s.add(
                LabelRow(
                    project_id=project.id, trace_id=trace.id, annotator_id=annotator.id, status="s"
                )
            )
            return trace.id
    finally:
        db.dispose()


def test_head_revision_is_the_highest_numbered_file() -> None:
    files = sorted(p.name for p in (migrations_dir() / "versions").glob("[0-9]*.py"))
    assert head_revision() == files[-1].split("_")[0]


def test_new_database_is_created_at_head_with_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "new.sqlite3"
    backups = tmp_path / "backups"
    db = open_database(url_of(path), backup_dir=backups)
    try:
        assert path.is_file()
        assert current_revision(db) == head_revision()
        with db.engine.connect() as conn:
            assert {"traces", "labels"} <= set(inspect(conn).get_table_names())
            assert "trace_fts" in inspect(conn).get_table_names(schema="search")
            assert "trace_fts" in inspect(conn).get_table_names(schema="search1")
    finally:
        db.dispose()
    assert path.with_name("new.sqlite3-search").is_file(), "the search index sits beside it"
    assert path.with_name("new.sqlite3-search1").is_file(), "with its second shard"
    assert not backups.exists(), "nothing to back up in a new database"


def test_pragmas_are_in_effect(tmp_path: Path) -> None:
    db = open_database(url_of(tmp_path / "p.sqlite3"))
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    finally:
        db.dispose()


def test_foreign_keys_are_enforced_after_open(tmp_path: Path) -> None:
    db = open_database(url_of(tmp_path / "fk.sqlite3"))
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"), db.session() as s:
            s.add(TraceRow(project_id=999, uid="x", source_format="t", turns_json=b"[]"))
    finally:
        db.dispose()


def test_reopening_at_head_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "same.sqlite3"
    make_current_database(path)
    db = open_database(url_of(path), backup_dir=tmp_path / "backups")
    try:
        with db.session() as s:
            assert s.scalar(text("SELECT count(*) FROM traces")) == 1
    finally:
        db.dispose()
    assert not (tmp_path / "backups").exists()


def test_older_database_is_copied_aside_then_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    trace_id = make_current_database(path)
    migrations = migrations_with(
        tmp_path,
        """\
        with op.batch_alter_table("traces") as batch:
            batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="3"))
        """,
    )
    backups = tmp_path / "backups"
    db = open_database(url_of(path), backup_dir=backups, migrations=migrations)
    try:
        assert current_revision(db) == NEXT
        assert head_revision(migrations) == NEXT
        with db.session() as s:
            assert s.execute(text("SELECT id, priority FROM traces")).all() == [(trace_id, 3)]
    finally:
        db.dispose()

    copies = list(backups.iterdir())
    assert len(copies) == 1
    assert copies[0].name.startswith(f"old-before-{NEXT}-")
    assert copies[0].suffix == ".sqlite3"
    with sqlite3.connect(copies[0]) as old:
        assert old.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
        assert old.execute("SELECT id, uid FROM traces").fetchall() == [(trace_id, "u1")]
        columns = [row[1] for row in old.execute("PRAGMA table_info(traces)")]
        assert "priority" not in columns
    old.close()


def test_table_rebuild_keeps_child_rows(tmp_path: Path) -> None:
    """Batch mode rebuilds a table by copy + drop; with foreign keys on, dropping ``traces`` would
    cascade into ``labels``. The upgrade runs with them off and checks them before committing."""
    path = tmp_path / "rebuild.sqlite3"
    make_current_database(path)
    migrations = migrations_with(
        tmp_path,
        """\
        with op.batch_alter_table("traces", recreate="always") as batch:
            batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        """,
    )
    db = open_database(url_of(path), backup_dir=tmp_path / "b", migrations=migrations)
    try:
        with db.session() as s:
            assert s.scalar(text("SELECT count(*) FROM labels")) == 1
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()


def test_failed_upgrade_leaves_the_database_untouched(tmp_path: Path) -> None:
    path = tmp_path / "fail.sqlite3"
    make_current_database(path)
    migrations = migrations_with(
        tmp_path,
        """\
        op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
        op.execute("UPDATE no_such_table SET x = 1")
        """,
    )
    with pytest.raises(MigrationError, match="no such table"):
        open_database(url_of(path), backup_dir=tmp_path / "b", migrations=migrations)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "half_done" not in names, "the upgrade is one transaction, DDL included"
    assert len(list((tmp_path / "b").iterdir())) == 1, "the copy was made before trying"


def test_upgrade_breaking_foreign_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fkbreak.sqlite3"
    make_current_database(path)
    migrations = migrations_with(tmp_path, 'op.execute("DELETE FROM traces")\n')
    with pytest.raises(MigrationError, match="foreign key"):
        open_database(url_of(path), backup_dir=tmp_path / "b", migrations=migrations)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM traces").fetchone() == (1,)
    conn.close()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    make_current_database(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.close()
    with pytest.raises(DatabaseTooNewError) as info:
        open_database(url_of(path), backup_dir=tmp_path / "b")
    message = str(info.value)
    assert "newer Trace Annotator (revision 0099)" in message
    assert "upgrade the app" in message
    assert not (tmp_path / "b").exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0099",)
    conn.close()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(NotAnnotatorDatabaseError, match="not a Trace Annotator database"):
        open_database(url_of(path))


def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(DatabaseUnavailableError, match="file is not a database"):
        open_database(url_of(path))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a database URL"),
        ("nosuchdialect://x/y", "unsupported database URL"),
        ("postgresql+psycopg://user:s3cret@127.0.0.1:1/db", "cannot open"),
    ],
)
def test_unusable_urls_explain_themselves_in_one_line(url: str, expected: str) -> None:
    with pytest.raises(StoreError) as info:
        open_database(url)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert "s3cret" not in message, "passwords never reach messages"


def test_in_memory_database(tmp_path: Path) -> None:
    db = open_database("sqlite://")
    try:
        assert current_revision(db) == head_revision()
        with db.session() as s:
            s.add(Project(name="p", schema_json="{}"))
        with db.session() as s:
            assert s.scalar(text("SELECT count(*) FROM projects")) == 1
    finally:
        db.dispose()
