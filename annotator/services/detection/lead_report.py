"""The detector report as the lead's dashboard asks for it: by project name, lead-only, and
without the cost of resolving every label when the project has no suggestion to measure."""

from __future__ import annotations

from sqlalchemy import select

from annotator.services.detection.report import DetectorReport, detector_report
from annotator.services.detection.suggest import DETECTOR
from annotator.services.projects import get_project
from annotator.services.review import require_lead
from annotator.store.database import Database
from annotator.store.models import Suggestion

__all__ = ["lead_detector_report"]


def lead_detector_report(
    db: Database, project: str, *, lead: str, detector: str = DETECTOR
) -> DetectorReport | None:
    """Lead-only (:class:`~annotator.services.review.RoleError` otherwise). None when the
    project has no suggestion from ``detector`` yet: nothing to measure, and resolving every
    label of a large project would only slow the dashboard's refresh."""
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        project_id = project_row.id
        any_suggestion = session.scalar(
            select(Suggestion.id)
            .where(Suggestion.project_id == project_id, Suggestion.detector == detector)
            .limit(1)
        )
    if any_suggestion is None:
        return None
    return detector_report(db, project_id, detector)
