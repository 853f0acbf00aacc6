"""Fixtures for the export tests: a built project in a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from annotator.store.database import Database
from tests.unit.export.builders import Built, build, open_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "a.db")
    yield database
    database.dispose()


@pytest.fixture
def built(db: Database) -> Built:
    return build(db)
