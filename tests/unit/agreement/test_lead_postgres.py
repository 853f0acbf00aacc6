"""The lead workflow on a real PostgreSQL (the SQL differs there: time buckets, tag counts):
the same figures as on SQLite.

Needs ANNOTATOR_TEST_PG_URL (``eval "$(.ci/postgres.sh)"``); each test gets a fresh schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from annotator.services.agreement import agreement_report
from annotator.services.assignment import assign
from annotator.services.progress import progress
from annotator.services.review import review_queue
from annotator.store.database import Database
from annotator.store.open import open_database
from tests.unit.agreement.lead_world import LEAD, T0, make_project, open_db, put_label

PG_URL = os.environ.get("ANNOTATOR_TEST_PG_URL")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL,
        reason='no PostgreSQL: set ANNOTATOR_TEST_PG_URL (eval "$(.ci/postgres.sh)")',
    ),
]


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Database]:
    assert PG_URL is not None
    schema = f"annotator_lead_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        database = open_database(url.render_as_string(hide_password=False))
        try:
            yield database
        finally:
            database.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "same.db")
    yield database
    database.dispose()


def fill(db: Database) -> None:
    ids = make_project(db, n=8, gold=1)
    assign(
        db,
        "P",
        n_items=6,
        labelers=["ann", "bob", "cy"],
        overlap_k=2,
        order="import",
        assigned_by=LEAD,
    )
    plan = [
        (0, "ann", "legitimate", ["EDU_TUTORING"], 0),
        (0, "bob", "legitimate", ["EDU_TUTORING"], 1),
        (1, "ann", "suspected_distillation", ["REASONING_ELICIT"], 3),
        (1, "cy", "legitimate", [], 26),
        (2, "bob", "suspected_distillation", ["REASONING_ELICIT", "DATASET_FORMAT"], 27),
        (2, "cy", "suspected_distillation", ["DATASET_FORMAT"], 49),
        (8, "ann", "cannot_determine", [], 50),
    ]
    for index, who, verdict, tags, hours in plan:
        put_label(
            db,
            "P",
            ids[index],
            who,
            verdict,
            tags=tags,
            spans=[(0, 10 + hours)],
            at=T0 + timedelta(hours=hours, minutes=30),
        )


def test_progress_agreement_and_review_match_sqlite(pg: Database, lite: Database) -> None:
    results = []
    for db in (pg, lite):
        fill(db)
        results.append(
            (
                progress(db, "P", lead=LEAD).as_dict(),
                progress(db, "P", lead=LEAD, bucket="hour", fill_gaps=False).as_dict(),
                agreement_report(db, "P", lead=LEAD, bootstrap=100, seed=3).as_dict(),
                [i.uid for i in review_queue(db, "P", lead=LEAD)],
            )
        )
    (pg_day, pg_hour, pg_agree, pg_review), (li_day, li_hour, li_agree, li_review) = results
    assert pg_day == li_day
    assert pg_hour == li_hour and len(pg_hour["over_time"]) == 7
    assert [p["total"] for p in pg_day["over_time"]] == [3, 2, 2]
    assert pg_day["tags"] == {"REASONING_ELICIT": 2, "DATASET_FORMAT": 2}
    assert pg_day["counter_tags"] == {"EDU_TUTORING": 2}
    assert pg_agree == li_agree
    assert pg_review == li_review == ["t001"]
