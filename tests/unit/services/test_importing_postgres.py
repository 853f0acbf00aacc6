"""Import and stats on a real PostgreSQL (ON CONFLICT DO NOTHING, no SQLite pragmas).

Needs ANNOTATOR_TEST_PG_URL (``eval "$(.ci/postgres.sh)"``); each test gets its own schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from annotator.services.importing import import_files
from annotator.services.projects import create_project
from annotator.services.stats import project_stats
from annotator.store.database import Database
from annotator.store.open import open_database

PG_URL = os.environ.get("ANNOTATOR_TEST_PG_URL")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL,
        reason='no PostgreSQL: set ANNOTATOR_TEST_PG_URL (eval "$(.ci/postgres.sh)")',
    ),
]


@pytest.fixture
def db() -> Iterator[Database]:
    assert PG_URL is not None
    schema = f"annotator_import_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    database = open_database(url.render_as_string(hide_password=False))
    try:
        create_project(database, "p")
        yield database
    finally:
        database.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_corpus_import_dedupe_and_stats(db: Database, corpus_dir: Path, tmp_path: Path) -> None:
    first = import_files(db, "p", [corpus_dir], reject_dir=tmp_path)
    assert first.ok and first.imported > 0 and first.indexed == first.imported
    again = import_files(db, "p", [corpus_dir], reject_dir=tmp_path)
    assert (again.imported, again.duplicates) == (0, first.imported)
    stats = project_stats(db, "p")
    assert stats.traces == first.imported and stats.unindexed == 0
    assert sum(stats.by_format.values()) == stats.traces


def test_strict_rolls_back_on_postgres(db: Database, tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}
    path = tmp_path / "a.jsonl"
    path.write_bytes(orjson.dumps(good) + b"\n{bad\n")
    summary = import_files(db, "p", [path], strict=True, reject_dir=tmp_path)
    assert summary.stopped and summary.imported == 0
    assert project_stats(db, "p").traces == 0
