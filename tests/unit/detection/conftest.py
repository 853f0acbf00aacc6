"""Real SQLite files in tmp_path; the demo project imported from resources/demo with its answer
key (uid -> verdict, tags, group)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from annotator.resources import demo_dir
from annotator.services.demo import demo_files
from annotator.services.detection.suggest import run_detection
from annotator.services.importing import import_files
from annotator.services.projects import create_project
from annotator.store.database import Database
from annotator.store.models import TraceRow
from annotator.store.open import open_database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'detect.db'}", backup_dir=None)
    yield database
    database.dispose()


@dataclass
class Demo:
    db: Database
    project_id: int
    key: dict[str, dict[str, Any]]
    ids: dict[str, int]
    """uid -> trace id."""

    def group(self, name: str) -> list[int]:
        return sorted(self.ids[u] for u, v in self.key.items() if v["group"] == name)


def load_demo(db: Database, tmp_path: Path, files: list[Path] | None = None) -> Demo:
    info = create_project(db, "demo")
    import_files(db, "demo", files or demo_files(), reject_dir=tmp_path / "rejects")
    key = json.loads((demo_dir() / "answer_key.json").read_text(encoding="utf-8"))
    with db.session() as session:
        ids = dict(
            session.execute(
                select(TraceRow.uid, TraceRow.id).where(TraceRow.project_id == info.id)
            ).all()
        )
    return Demo(db, info.id, key, ids)


@pytest.fixture
def demo(db: Database, tmp_path: Path) -> Demo:
    """The demo imported, clustered and with suggestions."""
    loaded = load_demo(db, tmp_path)
    run_detection(db, loaded.project_id)
    return loaded
