"""``annotator assign --order uncertainty`` as a user runs it: the console script in a
subprocess on a project whose traces carry heuristic suggestions; the queue it writes starts
with the least certain suggestion and ends with the traces that have none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from annotator.services.detection.suggest import DETECTOR, ordered_trace_ids
from annotator.store.models import Annotator, Assignment, Suggestion, TraceRow
from tests.unit.agreement.lead_world import LEAD, make_project, open_db

REPO = Path(__file__).resolve().parents[2]
ANNOTATOR = REPO / ".venv" / "bin" / "annotator"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = [str(ANNOTATOR)] if ANNOTATOR.exists() else [sys.executable, "-m", "annotator"]
    env = {**os.environ, "ANNOTATOR_HOME": str(home), "COLUMNS": "200"}
    env.pop("ANNOTATOR_DB", None)
    env.pop("ANNOTATOR_USER", None)
    return subprocess.run(
        [*exe, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_assign_by_uncertainty_from_the_command_line(home: Path) -> None:
    db = open_db(home / "annotator.sqlite3")
    try:
        ids = make_project(db, n=8)
        scores = {ids[0]: 0.9, ids[1]: 0.58, ids[2]: 0.2, ids[3]: 0.65, ids[4]: 0.45}
        with db.session() as session:
            pid = session.scalar(select(TraceRow.project_id).where(TraceRow.id == ids[0]))
            assert pid is not None
            for trace_id, score in scores.items():
                session.add(
                    Suggestion(project_id=pid, trace_id=trace_id, detector=DETECTOR, score=score)
                )
    finally:
        db.dispose()

    args = ("assign", "--project", "P", "-n", "6", "--to", "ann", "--as", LEAD)
    bad = run(home, *args, "--order", "doubt")
    assert bad.returncode == 2 and "'uncertainty'" in bad.stderr, bad.stderr
    done = run(home, *args, "--order", "uncertainty", "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert json.loads(done.stdout)["items"] == 6

    db = open_db(home / "annotator.sqlite3")
    try:
        with db.session() as session:
            queue = list(
                session.scalars(
                    select(Assignment.trace_id)
                    .join(Annotator, Annotator.id == Assignment.annotator_id)
                    .where(Annotator.name == "ann")
                    .order_by(Assignment.position)
                )
            )
        assert queue == [ids[1], ids[3], ids[4], ids[0], ids[2], ids[5]]
        assert queue == ordered_trace_ids(db, pid, by="uncertainty")[:6]
    finally:
        db.dispose()
