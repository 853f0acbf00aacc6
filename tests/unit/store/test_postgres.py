"""The same store code on a real PostgreSQL: migrations, search, check, refusals.

Needs ANNOTATOR_TEST_PG_URL (``eval "$(.ci/postgres.sh)"`` starts a throwaway server and sets it).
Every test works in a fresh schema that is dropped afterwards."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.resources import migrations_dir
from annotator.store.codec import encode_turns
from annotator.store.database import Database
from annotator.store.errors import BackupError, DatabaseTooNewError, SearchTooBroadError
from annotator.store.maintenance import backup_database, check_database
from annotator.store.models import Project, TraceRow
from annotator.store.open import current_revision, head_revision, open_database
from annotator.store.revisions import include_object, orm_metadata
from annotator.store.search import (
    index_pending,
    remove_from_index,
    search_trace_ids,
    stale_index_entries,
    unindexed_count,
)

PG_URL = os.environ.get("ANNOTATOR_TEST_PG_URL")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL,
        reason='no PostgreSQL: set ANNOTATOR_TEST_PG_URL (eval "$(.ci/postgres.sh)")',
    ),
]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a brand-new schema; the schema is dropped afterwards."""
    assert PG_URL is not None
    schema = f"annotator_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = open_database(pg_url)
    yield database
    database.dispose()


def add_trace(session: Session, project_id: int, uid: str, body: str, **kw: int) -> int:
    turns = (Turn(role=Role.ASSISTANT, blocks=(Block(kind=BlockKind.TEXT, text=body),)),)
    row = TraceRow(
        project_id=project_id, uid=uid, source_format="test", turns_json=encode_turns(turns), **kw
    )
    session.add(row)
    session.flush()
    return row.id


def add_project(session: Session, name: str) -> int:
    project = Project(name=name, schema_json="{}")
    session.add(project)
    session.flush()
    return project.id


def search(db: Database, project_id: int, query: str, **kw: int) -> list[int]:
    with db.session() as s:
        return search_trace_ids(s, project_id, query, **kw)


def test_migrations_build_the_orm_schema(db: Database, pg_url: str) -> None:
    assert current_revision(db) == head_revision()
    with db.engine.connect() as conn:
        assert (
            conn.scalar(text("SHOW search_path"))
            == make_url(pg_url).query["options"].partition("=")[2]
        )
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(context, orm_metadata()) == []
        assert "trace_search" in inspect(conn).get_table_names()
    # Opening again is a no-op.
    open_database(pg_url).dispose()


def test_search_on_postgres(db: Database) -> None:
    with db.session() as s:
        p1, p2 = add_project(s, "one"), add_project(s, "two")
        a = add_trace(s, p1, "a", "please show your chain of thought step by step")
        b = add_trace(s, p1, "b", "distillation of the chain\x00with a NUL inside")
        c = add_trace(s, p2, "c", "chain of thought in another project")
        assert unindexed_count(s) == 3
    assert search(db, p1, "chain") == []
    seen: list[tuple[int, int]] = []
    assert index_pending(db, batch_size=2, progress=lambda d, t: seen.append((d, t))) == 3
    assert seen == [(0, 3), (2, 3), (3, 3)]
    assert search(db, p1, "chain") == [a, b]
    assert search(db, p2, "chain") == [c]
    assert search(db, p1, '"chain of thought"') == [a]
    assert search(db, p1, "distil*") == [b]
    assert search(db, p1, "NUL") == [b]
    assert search(db, p1, "chain", limit=1, after_id=a) == [b]
    for hostile in ['"', "a & b | !c", "':*", "(", "<->", "\\", "'; DROP TABLE traces; --"]:
        assert isinstance(search(db, p1, hostile), list)
    with db.session() as s:
        assert unindexed_count(s) == 0
        assert remove_from_index(s, [b]) == 1
    assert search(db, p1, "chain") == [a]


def test_one_transaction_takes_several_batches_on_postgres(db: Database) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        ids = [add_trace(s, pid, f"t{i}", f"grouped item{i}") for i in range(7)]
    seen: list[tuple[int, int]] = []
    progress = lambda d, t: seen.append((d, t))  # noqa: E731
    assert index_pending(db, batch_size=2, commit_chars=10**9, progress=progress) == 7
    assert seen == [(0, 7), (7, 7)]
    assert search(db, pid, "grouped", limit=100) == ids
    with db.session() as s:
        assert unindexed_count(s) == 0


def test_late_commit_with_a_lower_id_is_still_indexed(db: Database) -> None:
    """Concurrent imports can commit a lower id after a higher one was indexed."""
    with db.session() as s:
        pid = add_project(s, "p")
        high = add_trace(s, pid, "high", "needle", id=1000)
    index_pending(db)
    with db.session() as s:
        low = add_trace(s, pid, "low", "needle", id=10)
        assert unindexed_count(s) == 1
    assert index_pending(db) == 1
    assert search(db, pid, "needle") == [low, high]


def test_check_and_backup_on_postgres(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        pid = add_project(s, "p")
        add_trace(s, pid, "a", "text")
    notes: list[str] = []
    assert check_database(db, notes=notes) == []
    assert notes == ["1 traces not yet in the search index (indexing runs after imports)"]
    index_pending(db)
    with db.session() as s:
        s.execute(text("DELETE FROM projects"))
        assert stale_index_entries(s) == 0, "the foreign key cascades into trace_search"
    with pytest.raises(BackupError, match="pg_dump"):
        backup_database(db, tmp_path / "copy.sqlite3")
    assert not (tmp_path / "copy.sqlite3").exists()


def test_newer_database_is_refused_on_postgres(db: Database, pg_url: str) -> None:
    with db.session() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(DatabaseTooNewError, match=r"revision 0099"):
        open_database(pg_url)


def test_older_database_is_upgraded_in_place_on_postgres(
    db: Database, pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with db.session() as s:
        add_trace(s, add_project(s, "p"), "a", "text")
    migrations = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "9999_priority.py").write_text(
        "import sqlalchemy as sa\n"
        "from alembic import op\n"
        "revision = '9999'\n"
        f"down_revision = '{head_revision()}'\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        "def upgrade() -> None:\n"
        "    op.add_column('traces', sa.Column('priority', sa.Integer(), server_default='3'))\n"
        "def downgrade() -> None:\n"
        "    op.drop_column('traces', 'priority')\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="annotator.store.open"):
        upgraded = open_database(pg_url, backup_dir=tmp_path / "b", migrations=migrations)
    try:
        assert current_revision(upgraded) == "9999"
        with upgraded.session() as s:
            assert s.scalar(text("SELECT priority FROM traces")) == 3
    finally:
        upgraded.dispose()
    assert "pg_dump" in caplog.text
    assert not (tmp_path / "b").exists(), "no file copy of a server database"


def test_search_past_its_time_budget_is_cancelled_on_postgres(db: Database) -> None:
    """A phrase query rechecks every candidate row's text: slow on many near-misses."""
    text_of = " ".join(f"filler{j}" for j in range(200))
    turns = encode_turns(
        (Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=f"zz {text_of} yy"),)),)
    )
    with db.session() as s:
        pid = add_project(s, "busy")
        s.execute(
            insert(TraceRow),
            [
                {"project_id": pid, "uid": f"t{i}", "source_format": "test", "turns_json": turns}
                for i in range(5_000)
            ],
        )
        last = add_trace(s, pid, "hit", "zz yy")
    index_pending(db, batch_size=5_000)
    with db.session() as s:
        with pytest.raises(SearchTooBroadError, match="too broad"):
            search_trace_ids(s, pid, '"zz yy"', timeout_s=0.001)
        # The savepoint kept the transaction alive; the timeout is back to the server's own.
        assert search_trace_ids(s, pid, '"zz yy"') == [last]
        assert s.scalar(text("SHOW statement_timeout")) == "0"


def test_row_the_index_cannot_take_is_skipped_on_postgres(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A tsvector holds at most 1 MB: one giant trace of unique words must not stop the batch."""
    giant = " ".join(f"u{i:07d}" for i in range(150_000))
    with db.session() as s:
        pid = add_project(s, "p")
        before = add_trace(s, pid, "before", "normal words")
        huge = add_trace(s, pid, "huge", giant)
        after = add_trace(s, pid, "after", "normal words")
    assert index_pending(db) == 3
    assert f"trace {huge}: cannot be indexed" in caplog.text
    assert search(db, pid, "normal") == [before, after]
    with db.session() as s:
        assert unindexed_count(s) == 0
