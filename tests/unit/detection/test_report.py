"""Detector report on resolved items: adjudicated, else unanimous submitted labels; exact counts
on a hand-made set of labels over the demo's suggestions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from annotator.domain.label import Label
from annotator.services.detection.report import detector_report, resolved_labels
from annotator.services.detection.suggest import suggestion_for
from annotator.services.labeling import LabelingService
from annotator.store.models import Adjudication, Annotator
from tests.unit.detection.conftest import Demo

SUSPECT = "suspected_distillation"


def _label(verdict: str, *tags: str) -> Label:
    confidence = None if verdict == "cannot_determine" else 2
    return Label(verdict=verdict, tags=tags, confidence=confidence)


@pytest.fixture
def labeled(demo: Demo) -> Demo:
    x = demo.group("A")[0]
    y = demo.ids["r1-sourdough-4f1c"]
    z = demo.ids["r1-quadratic-e8a1"]
    w = demo.ids["resp_relaygw17000000000000451"]
    v = demo.ids["chatcmpl-nebula-0000"]
    ann1 = LabelingService(demo.db, "demo", "ann1")
    ann2 = LabelingService(demo.db, "demo", "ann2")
    ann1.submit(
        x, _label(SUSPECT, "REASONING_ELICIT", "TEMPLATE_AT_SCALE"), 1, with_suggestions=True
    )
    ann2.submit(x, _label(SUSPECT, "REASONING_ELICIT"), 1)
    ann1.submit(y, _label("legitimate"), 1, with_suggestions=True)
    ann2.submit(y, _label("legitimate"), 1)
    ann1.submit(z, _label("legitimate"), 1)
    ann2.submit(z, _label("cannot_determine", "REASONING_ELICIT"), 1)
    ann1.submit(w, _label("legitimate"), 1, with_suggestions=True)
    ann1.submit(v, _label(SUSPECT, "FOREIGN_IDENTITY"), 1)
    ann2.submit(v, _label("cannot_determine"), 1)
    # A draft never counts.
    ann2.save_draft(w, _label(SUSPECT), 1)
    with demo.db.session() as session:
        lead = session.scalar(select(Annotator.id).where(Annotator.name == "ann1"))
        assert lead is not None
        session.add(
            Adjudication(
                project_id=demo.project_id, trace_id=z, lead_id=lead, verdict=SUSPECT,
                label_json=_label(SUSPECT, "REASONING_ELICIT").model_dump_json(),
            )
        )  # fmt: skip
    return demo


def test_resolution_rules(labeled: Demo) -> None:
    resolved = resolved_labels(labeled.db, labeled.project_id)
    ids = labeled.ids
    assert set(resolved) == {
        labeled.group("A")[0], ids["r1-sourdough-4f1c"], ids["r1-quadratic-e8a1"],
        ids["resp_relaygw17000000000000451"],
    }  # fmt: skip
    x = resolved[labeled.group("A")[0]]
    assert (x.verdict, x.tags, x.source) == (SUSPECT, frozenset({"REASONING_ELICIT"}), "unanimous")
    z = resolved[ids["r1-quadratic-e8a1"]]
    assert (z.verdict, z.source) == (SUSPECT, "adjudicated")


def test_report_counts(labeled: Demo) -> None:
    # The suggestions the counts below rest on.
    got = {
        uid: suggestion_for(labeled.db, labeled.ids[uid])
        for uid in ("r1-quadratic-e8a1", "resp_relaygw17000000000000451", "r1-sourdough-4f1c")
    }
    assert [s.verdict for s in got.values() if s] == [
        "cannot_determine",
        "cannot_determine",
        "legitimate",
    ]
    report = detector_report(labeled.db, labeled.project_id)
    assert (report.items, report.adjudicated, report.unanimous) == (4, 1, 3)
    o = report.overall
    assert (o.tp, o.fp, o.fn, o.tn) == (1, 0, 1, 2)
    assert (o.precision, o.recall) == (1.0, 0.5)
    assert report.confusion == {
        "cannot_determine": {SUSPECT: 1, "legitimate": 1},
        "legitimate": {"legitimate": 1},
        SUSPECT: {SUSPECT: 1},
    }
    elicit = report.tags["REASONING_ELICIT"]
    assert (elicit.tp, elicit.fp, elicit.fn, elicit.tn) == (2, 0, 0, 2)
    template = report.tags["TEMPLATE_AT_SCALE"]
    assert (template.tp, template.fp, template.precision, template.recall) == (0, 1, 0.0, None)
    access = report.tags["ACCESS_OBFUSCATION"]
    assert (access.fp, access.tn) == (1, 3)
    # Anchoring: three labels made with suggestions shown, six without (drafts never count).
    assert report.anchoring["with"]["labels"] == 3
    assert report.anchoring["with"]["match_suggestion"] == pytest.approx(2 / 3)
    assert report.anchoring["without"]["labels"] == 6
    as_dict = report.as_dict()
    assert as_dict["overall"]["recall"] == 0.5 and "REASONING_ELICIT" in as_dict["tags"]


def test_empty_report(demo: Demo) -> None:
    report = detector_report(demo.db, demo.project_id)
    assert report.items == 0 and report.overall.precision is None
