"""The demo project a new labeler is offered on first run: the shipped teaching traces in
``resources/demo/``, imported once into a project of their own with the default schema."""

from __future__ import annotations

import hashlib
from contextlib import suppress
from pathlib import Path

from sqlalchemy import select

from annotator.formats.containers import SUFFIXES
from annotator.resources import demo_dir
from annotator.services.detection.suggest import run_detection
from annotator.services.importing import import_files
from annotator.services.projects import ProjectError, ProjectInfo, create_project, project_info
from annotator.store.database import Database
from annotator.store.models import ImportBatch, Project

DEMO_PROJECT = "Demo"
NOT_TRACES = frozenset({"answer_key.json"})
"""Files of the demo folder that are not traces (the answer key is the lead's, and labelers
label blind)."""


def demo_files(folder: Path | None = None) -> list[Path]:
    """The trace files of the demo folder, in name order."""
    folder = folder if folder is not None else demo_dir()
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name not in NOT_TRACES and p.name.lower().endswith(SUFFIXES)
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_demo_project(db: Database, name: str = DEMO_PROJECT) -> ProjectInfo:
    """The demo project, created and filled on first call; later calls change nothing.

    Idempotent also after an interruption: any demo file without a finished import batch in the
    project is (re)imported, and the importer skips records it already holds."""
    with db.session() as session:
        exists = session.scalar(select(Project.id).where(Project.name == name)) is not None
    if not exists:
        # Created meanwhile by another process? Then fill it below like any other.
        with suppress(ProjectError):
            create_project(db, name)
    info = project_info(db, name)
    with db.session() as session:
        done = set(
            session.scalars(
                select(ImportBatch.file_sha256).where(
                    ImportBatch.project_id == info.id, ImportBatch.status == "done"
                )
            )
        )
    missing = [p for p in demo_files() if _sha256(p) not in done]
    if missing:
        import_files(db, name, missing, imported_by="demo")
        # Clusters and suggestions too, so the demo shows the campaign context from the start.
        run_detection(db, info.id, full=False)
        info = project_info(db, name)
    return info
