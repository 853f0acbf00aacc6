"""Backups are consistent copies that never clobber; the check finds real damage and stays quiet
on a healthy database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.store.codec import encode_turns
from annotator.store.database import SEARCH_SHARD_LIST, Database, SearchShard, search_file_of
from annotator.store.errors import BackupError
from annotator.store.maintenance import backup_database, check_database
from annotator.store.models import Annotator, LabelRow, Project, TraceRow
from annotator.store.open import head_revision, open_database
from annotator.store.search import index_pending, reset_index


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "annotator.sqlite3"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{db_path}")
    yield database
    database.dispose()


def populate(db: Database, n_traces: int = 3) -> tuple[int, int, list[int]]:
    """A project, an annotator, traces and a label on the first; returns their ids."""
    with db.session() as s:
        project = Project(name="p", schema_json="{}")
        annotator = Annotator(name="a")
        s.add_all([project, annotator])
        s.flush()
        rows = [
            TraceRow(
                project_id=project.id,
                uid=f"u{i}",
                source_format="test",
                turns_json=encode_turns(
                    (Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=f"words {i}"),)),)
                ),
            )
            for i in range(n_traces)
        ]
        s.add_all(rows)
        s.flush()
        s.add(
            LabelRow(
                project_id=project.id, trace_id=rows[0].id, annotator_id=annotator.id, status="s"
            )
        )
        return project.id, annotator.id, [r.id for r in rows]


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection: foreign keys OFF, as any other tool would open the file."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    return conn


def test_backup_copies_everything_including_the_wal(db: Database, tmp_path: Path) -> None:
    populate(db)
    dest = backup_database(db, tmp_path / "copy.sqlite3")
    assert dest == (tmp_path / "copy.sqlite3").resolve()
    with sqlite3.connect(dest) as conn:
        assert conn.execute("SELECT count(*) FROM traces").fetchone() == (3,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert not list(tmp_path.glob(".*.partial"))


def test_backup_refuses_to_overwrite_unless_asked(db: Database, tmp_path: Path) -> None:
    populate(db)
    dest = tmp_path / "copy.sqlite3"
    dest.write_bytes(b"precious")
    with pytest.raises(BackupError, match="already exists"):
        backup_database(db, dest)
    assert dest.read_bytes() == b"precious"
    backup_database(db, dest, overwrite=True)
    with sqlite3.connect(dest) as conn:
        assert conn.execute("SELECT count(*) FROM traces").fetchone() == (3,)
    conn.close()


def test_backup_into_a_folder_gets_a_dated_name(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    dest = backup_database(db, folder)
    assert dest.parent == folder.resolve()
    assert dest.name.startswith("annotator-") and dest.suffix == ".sqlite3"


def test_backup_into_a_new_folder_named_with_a_trailing_slash(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "usb" / "backups"
    dest = backup_database(db, f"{folder}/")
    assert folder.is_dir(), "created as a folder, not a file named backups"
    assert dest.parent == folder.resolve()
    assert dest.name.startswith("annotator-") and dest.suffix == ".sqlite3"
    assert dest.with_name(dest.name + "-search").is_file()
    assert dest.with_name(dest.name + "-search1").is_file()


def test_backup_onto_the_database_itself_is_refused(db: Database, db_path: Path) -> None:
    with pytest.raises(BackupError, match="database itself"):
        backup_database(db, db_path, overwrite=True)


def test_healthy_database_has_no_problems(db: Database) -> None:
    populate(db)
    notes: list[str] = []
    assert check_database(db, notes=notes) == []
    assert notes == ["3 traces not yet in the search index (indexing runs after imports)"]
    index_pending(db)
    notes.clear()
    assert check_database(db, notes=notes) == []
    assert notes == []


def test_foreign_key_violation_is_reported(db: Database, db_path: Path) -> None:
    project_id, annotator_id, _ = populate(db)
    conn = raw(db_path)
    conn.execute(
        "INSERT INTO labels (project_id, trace_id, annotator_id, status, label_json, "
        "seconds_spent, schema_version, with_suggestions, updated_at) "
        "VALUES (?, 999, ?, 's', '{}', 0, 1, 0, '2026-01-01')",
        (project_id, annotator_id),
    )
    conn.close()
    problems = check_database(db)
    assert "1 rows in labels point to missing rows of traces" in problems
    assert "1 orphan rows in labels: their traces row is missing" in problems


def test_label_in_another_project_than_its_trace_is_reported(db: Database) -> None:
    _, _, _ = populate(db)
    with db.session() as s:
        other = Project(name="other", schema_json="{}")
        s.add(other)
        s.flush()
        s.execute(text("UPDATE labels SET project_id = :p"), {"p": other.id})
    assert check_database(db) == ["1 rows in labels name a different project than their trace"]


def test_revision_other_than_head_is_reported(db: Database) -> None:
    with db.session() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    assert check_database(db) == [
        f"the schema is at revision 0000, this version of the app expects {head_revision()}"
    ]


def test_search_entries_of_deleted_traces_are_reported(db: Database) -> None:
    project_id, _, _ = populate(db)
    index_pending(db)
    with db.session() as s:
        s.execute(text("DELETE FROM projects WHERE id = :id"), {"id": project_id})
    problems = check_database(db)
    assert problems == [
        "3 search index entries belong to deleted traces (reset the search index to rebuild it)"
    ]
    with db.session() as s:
        reset_index(s)
    assert check_database(db) == []


def test_corrupt_index_is_reported(db: Database, db_path: Path) -> None:
    """Make an index disagree with its table by rewriting its definition behind SQLite's back."""
    populate(db)
    with db.session() as s:
        s.execute(text("UPDATE labels SET verdict = 'legitimate'"))
    db.dispose()
    conn = raw(db_path)
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = 'CREATE INDEX ix_labels_verdict ON labels (comment)' "
        "WHERE name = 'ix_labels_verdict'"
    )
    conn.close()
    problems = check_database(db)
    assert problems, "the damaged index must be noticed"
    assert all(p.startswith("integrity check: ") for p in problems)
    assert any("ix_labels_verdict" in p for p in problems)


@pytest.mark.parametrize("shard", SEARCH_SHARD_LIST, ids=lambda shard: shard.schema)
def test_damaged_search_index_is_reported(db: Database, db_path: Path, shard: SearchShard) -> None:
    populate(db)
    index_pending(db)
    conn = raw(Path(search_file_of(str(db_path), shard)))
    conn.execute("DELETE FROM trace_fts_data WHERE id > 10")
    conn.close()
    problems = check_database(db)
    assert any(p.startswith("the search index is damaged") for p in problems), problems
