"""Projects, their schema and guidelines, and the people in them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotator.domain.schema import LabelSchema, load_schema
from annotator.resources import default_guidelines, default_schema
from annotator.store.database import Database
from annotator.store.models import Annotator, Project, ProjectMember, TraceRow


class ProjectError(ValueError):
    """A project that does not exist, already exists, or cannot be made as asked."""


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    name: str
    schema: LabelSchema
    guidelines: str
    trace_count: int = 0


def _info(project: Project, trace_count: int = 0) -> ProjectInfo:
    return ProjectInfo(
        id=project.id,
        name=project.name,
        schema=LabelSchema.model_validate_json(project.schema_json),
        guidelines=project.guidelines_md,
        trace_count=trace_count,
    )


def create_project(
    db: Database,
    name: str,
    *,
    schema_path: Path | None = None,
    guidelines_path: Path | None = None,
) -> ProjectInfo:
    """Create a project with the default schema or one loaded (and validated) from a file."""
    name = name.strip()
    if not name:
        raise ProjectError("a project needs a name")
    schema = load_schema(schema_path) if schema_path else default_schema()
    if guidelines_path:
        try:
            guidelines = guidelines_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(f"{guidelines_path}: cannot read guidelines: {exc}") from None
    else:
        guidelines = default_guidelines()
    with db.session() as session:
        if session.scalar(select(Project.id).where(Project.name == name)) is not None:
            raise ProjectError(f"a project named {name!r} already exists")
        project = Project(name=name, schema_json=schema.model_dump_json(), guidelines_md=guidelines)
        session.add(project)
        session.flush()
        return _info(project)


def get_project(session: Session, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        known = session.scalars(select(Project.name).order_by(Project.name)).all()
        hint = (
            f"; known projects: {', '.join(known)}"
            if known
            else "; none exist yet (annotator init)"
        )
        raise ProjectError(f"no project named {name!r}{hint}")
    return project


def project_info(db: Database, name: str) -> ProjectInfo:
    with db.session() as session:
        project = get_project(session, name)
        count = session.scalar(select(func.count()).where(TraceRow.project_id == project.id)) or 0
        return _info(project, count)


def project_schema(db: Database, name: str) -> LabelSchema:
    """The project's label schema: one row, no trace count (:func:`project_info` counts)."""
    with db.session() as session:
        return LabelSchema.model_validate_json(get_project(session, name).schema_json)


def list_projects(db: Database) -> list[ProjectInfo]:
    with db.session() as session:
        counts: dict[int, int] = {
            project_id: count
            for project_id, count in session.execute(
                select(TraceRow.project_id, func.count()).group_by(TraceRow.project_id)
            )
        }
        projects = session.scalars(select(Project).order_by(Project.name)).all()
        return [_info(p, counts.get(p.id, 0)) for p in projects]


def ensure_annotator(session: Session, name: str) -> Annotator:
    """The annotator row for ``name``, created on first use."""
    name = name.strip()
    if not name:
        raise ProjectError("an annotator needs a name")
    annotator = session.scalar(select(Annotator).where(Annotator.name == name))
    if annotator is None:
        annotator = Annotator(name=name)
        session.add(annotator)
        session.flush()
    return annotator


def add_member(db: Database, project: str, annotator: str, role: str = "labeler") -> None:
    """Add (or change the role of) a member; roles are ``labeler`` and ``lead``."""
    if role not in ("labeler", "lead"):
        raise ProjectError(f"unknown role {role!r}; use labeler or lead")
    with db.session() as session:
        project_row = get_project(session, project)
        person = ensure_annotator(session, annotator)
        member = session.get(ProjectMember, (project_row.id, person.id))
        if member is None:
            session.add(ProjectMember(project_id=project_row.id, annotator_id=person.id, role=role))
        else:
            member.role = role
