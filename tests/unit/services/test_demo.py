"""The demo project: created and filled from resources/demo once, unchanged by later calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import delete, func, select

from annotator.resources import demo_dir
from annotator.services.demo import demo_files, ensure_demo_project
from annotator.services.labeling import LabelingService, QueueFilter
from annotator.services.projects import create_project
from annotator.store.database import Database
from annotator.store.detection_models import TraceCluster
from annotator.store.models import ImportBatch, Project, Suggestion, TraceRow
from annotator.store.open import open_database


@pytest.fixture
def db(tmp_path: Path, home: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'demo.db'}", backup_dir=None)
    yield database
    database.dispose()


def _answer_key() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = orjson.loads((demo_dir() / "answer_key.json").read_bytes())
    return data


def _uids(db: Database) -> list[str]:
    with db.session() as session:
        return sorted(session.scalars(select(TraceRow.uid)))


def test_demo_project_is_filled_once(db: Database) -> None:
    files = demo_files()
    assert files and all(p.name != "answer_key.json" for p in files)
    info = ensure_demo_project(db)
    key = _answer_key()
    assert info.name == "Demo"
    assert info.trace_count == len(key)
    assert _uids(db) == sorted(key)
    with db.session() as session:
        batches = session.scalar(select(func.count(ImportBatch.id)))
        assert session.scalar(select(func.count()).where(TraceRow.is_gold)) == 0

    again = ensure_demo_project(db)
    assert again == info
    with db.session() as session:
        assert session.scalar(select(func.count(ImportBatch.id))) == batches
    with db.session() as session:
        assert session.scalars(select(Project.name)).all() == ["Demo"]

    # every trace has a cluster and a suggestion: the campaign context shows from the start
    with db.session() as session:
        assert session.scalar(select(func.count(TraceCluster.trace_id))) == len(key)
        assert session.scalar(select(func.count(Suggestion.id))) == len(key)

    # labelable at once, and searchable (the importer indexes)
    svc = LabelingService(db, "Demo", "newcomer")
    ids = svc.queue_ids()
    assert len(ids) == len(key)
    assert svc.open(ids[0]).trace.turns
    assert svc.queue_ids(QueueFilter(search="Nebula Labs"))


def test_interrupted_demo_import_is_completed(db: Database) -> None:
    ensure_demo_project(db)
    with db.session() as session:  # as if the first run died after one file
        first = session.scalars(select(ImportBatch.file_sha256).order_by(ImportBatch.id)).first()
        session.execute(delete(TraceRow))
        session.execute(delete(ImportBatch).where(ImportBatch.file_sha256 != first))
    ensure_demo_project(db)
    assert len(_uids(db)) == len(_answer_key()) - sum(
        1 for v in _answer_key().values() if v["file"] == _first_file(db)
    )


def _first_file(db: Database) -> str:
    with db.session() as session:
        path = session.scalars(select(ImportBatch.file_path).order_by(ImportBatch.id)).first()
    assert path is not None
    return Path(path).name


def test_existing_project_of_that_name_is_reused(db: Database) -> None:
    create_project(db, "Practice")
    info = ensure_demo_project(db, name="Practice")
    assert info.trace_count == len(_answer_key())
