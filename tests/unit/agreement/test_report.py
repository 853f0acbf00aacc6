"""The agreement report from a real database: labels loaded into matrices correctly, every
section filled, gold accuracy with the missed items, lead-only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sqlalchemy import select

from annotator.domain.agreement import SpanTable, fleiss_kappa_table
from annotator.domain.label import Label
from annotator.resources import default_schema
from annotator.services.agreement import (
    AgreementData,
    agreement_report,
    build_agreement_data,
    gold_accuracy,
    load_agreement_data,
)
from annotator.services.assignment import mark_gold
from annotator.services.review import RoleError
from annotator.store.database import Database
from annotator.store.models import Annotator, LabelRow
from tests.unit.agreement.lead_world import LEAD, T0, make_project, open_db, put_label

LEG, SUS, OTH, CANT = (
    "legitimate",
    "suspected_distillation",
    "other_policy_issue",
    "cannot_determine",
)

# Krippendorff's 2011 example again, as verdicts: observers A-D are labelers, units are traces.
VERDICT = {1: LEG, 2: SUS, 3: OTH, 4: CANT, 5: None}
K2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3],
    [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0],
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "agreement.db")
    yield database
    database.dispose()


def fill_k2011(db: Database) -> list[int]:
    """Four labelers; value 5 of the paper becomes a fifth verdict unknown to the schema."""
    ids = make_project(db, n=12, labelers=("a", "b", "c", "d"))
    for who, row in zip("abcd", K2011, strict=True):
        for unit, value in enumerate(row):
            if value:
                verdict = VERDICT[value] or "unlisted_verdict"
                put_label(db, "P", ids[unit], who, verdict, at=T0 + timedelta(days=unit // 6))
    return ids


def test_verdict_agreement_reproduces_the_published_example(db: Database) -> None:
    fill_k2011(db)
    report = agreement_report(db, "P", lead=LEAD, bootstrap=300, seed=5)
    assert report.labelers == ("a", "b", "c", "d")
    alpha = report.verdict.alpha
    assert alpha.value is not None and round(alpha.value, 3) == 0.743
    reference = np.array(K2011, dtype=float)
    reference[reference == 0] = np.nan
    assert alpha.value == pytest.approx(
        krippendorff.alpha(reliability_data=reference, level_of_measurement="nominal")
    )
    assert alpha.low is not None and alpha.high is not None and alpha.low < alpha.value
    assert (report.verdict.n_items, report.verdict.n_pairable) == (12, 11)
    # Fleiss on the most common count: the units rated by all four (units 2-9 of the paper).
    assert report.verdict.fleiss_k == 4 and report.verdict.fleiss.n == 8
    full = np.array(K2011).T[1:9]
    table = np.stack([(full == v).sum(axis=1) for v in range(1, 6)], axis=1)
    assert report.verdict.fleiss.value == pytest.approx(fleiss_kappa_table(table))
    assert report.verdict.percent.value is not None and 0.7 < report.verdict.percent.value < 0.9
    pair = {(p.a, p.b): p for p in report.pairs}
    ab = pair[("a", "b")]
    assert ab.n_items == 9 and ab.percent.value == pytest.approx(8 / 9)
    assert ab.cohen.value is not None and ab.cohen.low is not None
    assert len(report.pairs) == 6
    by = {p.name: p for p in report.per_labeler}
    assert by["a"].n_items == 9 and by["a"].n_shared == 9
    assert by["a"].mean_kappa == pytest.approx(
        np.mean([pair[k].cohen.value for k in pair if "a" in k])
    )
    # Over time: the day of each unit's latest label.
    assert [(p.day.isoformat(), p.n_items) for p in report.over_time] == [
        ("2026-03-02", 6),
        ("2026-03-03", 6),
    ]
    assert report.as_dict()["verdict"]["alpha"]["value"] == alpha.value


def test_tag_and_span_agreement(db: Database) -> None:
    ids = make_project(db, n=4)
    put_label(db, "P", ids[0], "ann", SUS, tags=["REASONING_ELICIT"], spans=[(0, 10)])
    put_label(db, "P", ids[0], "bob", SUS, tags=["REASONING_ELICIT"], spans=[(5, 15)])
    put_label(db, "P", ids[1], "ann", SUS, tags=["REASONING_ELICIT", "DATASET_FORMAT"])
    put_label(db, "P", ids[1], "bob", SUS, tags=["DATASET_FORMAT"], spans=[(0, 4)])
    put_label(db, "P", ids[2], "ann", LEG, tags=["EDU_TUTORING"])
    put_label(db, "P", ids[2], "bob", LEG, tags=["EDU_TUTORING"])
    put_label(db, "P", ids[3], "ann", LEG)
    put_label(db, "P", ids[3], "bob", LEG)
    report = agreement_report(db, "P", lead=LEAD, bootstrap=0)
    tags = {t.tag: t for t in report.tags}
    assert tags["EDU_TUTORING"].kind == "counter_tag" and tags["REASONING_ELICIT"].kind == "tag"
    assert tags["REASONING_ELICIT"].chosen == 3 and tags["REASONING_ELICIT"].prevalence == 3 / 8
    # Per-tag alpha equals the package's alpha on the tag as a 0/1 variable.
    reasoning = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], dtype=float)
    assert tags["REASONING_ELICIT"].alpha.value == pytest.approx(
        krippendorff.alpha(reliability_data=reasoning, level_of_measurement="nominal")
    )
    assert tags["DATASET_FORMAT"].alpha.value == 1.0
    assert tags["GRADER_ROLE"].alpha.value is None  # never chosen: no variation
    assert tags["GRADER_ROLE"].chosen == 0
    # Spans: item 0 shares 5 of 10+10 chars; item 1: 0 of 4; items 2 and 3: none marked.
    spans = report.spans
    assert (spans.n, spans.both_empty) == (2, 2)
    assert spans.f1.value == pytest.approx(10 / 24)
    assert spans.jaccard.value == pytest.approx(5 / 19)
    assert report.pairs[0].spans.f1.value == spans.f1.value
    assert report.verdict.percent.value == 1.0 and report.verdict.alpha.value == 1.0


def test_without_detail_the_verdict_sections_are_the_same_and_tags_and_spans_absent(
    db: Database,
) -> None:
    """What the dashboard asks for: no tag or span agreement, everything else as in the full
    report (and the two are cached apart)."""
    ids = fill_k2011(db)
    put_label(db, "P", ids[0], "a", LEG, tags=["REASONING_ELICIT"], spans=[(0, 10)])
    put_label(db, "P", ids[0], "b", LEG, tags=["REASONING_ELICIT"], spans=[(5, 15)])
    full = agreement_report(db, "P", lead=LEAD, bootstrap=50)
    short = agreement_report(db, "P", lead=LEAD, bootstrap=50, detail=False)
    assert full.tags and full.spans is not None and full.spans.n == 3  # a-b, a-d, b-d
    assert short.tags == () and short.spans is None
    assert all(p.spans is None for p in short.pairs)
    assert [replace(p, spans=None) for p in full.pairs] == list(short.pairs)
    for section in ("verdict", "per_labeler", "over_time", "gold", "labelers"):
        assert getattr(short, section) == getattr(full, section), section
    as_dict = short.as_dict()
    assert as_dict["spans"] is None and as_dict["tags"] == []
    assert as_dict["pairs"][0]["spans"] is None
    assert agreement_report(db, "P", lead=LEAD, bootstrap=50).tags == full.tags
    data = load_agreement_data(db, "P", lead=LEAD, detail=False)
    assert data.tags == () and data.chosen.shape == (*data.codes.shape, 0)
    assert len(data.spans) == 0


def test_gold_accuracy_lists_missed_items(db: Database) -> None:
    ids = make_project(db, n=2, gold=3)
    mark_gold(db, "P", ids[2], Label(verdict=SUS, confidence=2), lead=LEAD)
    for who, verdicts in (("ann", [SUS, LEG, LEG]), ("bob", [LEG, CANT, LEG])):
        for trace_id, verdict in zip(ids[2:], verdicts, strict=True):
            put_label(db, "P", trace_id, who, verdict)
    put_label(db, "P", ids[0], "cy", LEG)  # not a gold item
    put_label(db, "P", ids[4], "cy", SUS, status="draft")  # not submitted
    gold = {g.name: g for g in gold_accuracy(db, "P", lead=LEAD)}
    assert set(gold) == {"ann", "bob"}
    assert (gold["ann"].n_gold, gold["ann"].correct, gold["ann"].accuracy) == (3, 3, 1.0)
    assert gold["ann"].missed == ()
    assert gold["bob"].correct == 1 and gold["bob"].accuracy == pytest.approx(1 / 3)
    assert [(m.uid, m.expected, m.given) for m in gold["bob"].missed] == [
        ("t002", SUS, LEG),
        ("t003", LEG, CANT),
    ]
    report = agreement_report(db, "P", lead=LEAD, bootstrap=0, labelers=["bob"])
    assert [g.name for g in report.gold] == ["bob"] and report.labelers == ("bob",)
    assert report.pairs == () and report.verdict.alpha.value is None


def test_agreement_is_lead_only(db: Database) -> None:
    fill_k2011(db)
    with pytest.raises(RoleError):
        agreement_report(db, "P", lead="a")
    with pytest.raises(RoleError):
        gold_accuracy(db, "P", lead="b")
    with pytest.raises(RoleError):
        load_agreement_data(db, "P", lead="c")


def test_loaded_matrices(db: Database) -> None:
    ids = fill_k2011(db)
    data = load_agreement_data(db, "P", lead=LEAD)
    assert data.categories[:4] == (LEG, SUS, OTH, CANT)
    assert data.categories[4] == "unlisted_verdict"
    assert data.trace_ids.tolist() == ids
    expected = np.array(K2011).T - 1  # 0 (missing) -> -1, 1..5 -> 0..4
    assert data.codes.tolist() == expected.tolist()


def _same_data(got: AgreementData, want: AgreementData) -> None:
    assert got.labelers == want.labelers and got.categories == want.categories
    assert got.tags == want.tags and got.tag_kinds == want.tag_kinds
    assert got.trace_ids.tolist() == want.trace_ids.tolist()
    assert got.codes.tolist() == want.codes.tolist()
    assert np.array_equal(got.chosen, want.chosen)
    assert got.days == want.days
    assert list(got.day_ordinals) == list(want.day_ordinals)

    def spans(table: SpanTable) -> list[tuple[int, ...]]:
        columns = (table.item, table.rater, table.group, table.start, table.end)
        return sorted(zip(*(c.tolist() for c in columns), strict=True))

    assert spans(got.spans) == spans(want.spans)


def test_matrices_from_the_label_table_match_the_row_by_row_reference(db: Database) -> None:
    """The numpy path (flat cell indexes into the item x labeler matrices) against
    :func:`build_agreement_data` on the same submitted labels: drafts, skips and labels without
    a verdict left out, several days, tags of both kinds, spans, gaps in the matrix."""
    labelers = ("ann", "bob", "cy", "dee")
    ids = make_project(db, n=80, labelers=labelers)
    schema = default_schema()
    verdicts = [*schema.verdict_values, "unlisted_verdict"]
    tags = [t.name for t in (*schema.evidence_tags, *schema.counter_tags)]
    rng = np.random.default_rng(3)
    for trace_id in ids:
        for who in labelers:
            if rng.random() < 0.3:
                continue  # not labeled by this one
            status = str(rng.choice(["done"] * 6 + ["draft", "skipped"]))
            verdict = None if rng.random() < 0.05 else str(rng.choice(verdicts))
            picked = rng.choice(tags, size=int(rng.integers(0, 4)), replace=False)
            start = int(rng.integers(0, 50))
            spans = [(start, start + int(rng.integers(1, 30)))] if rng.random() < 0.4 else []
            at = T0 + timedelta(days=int(rng.integers(0, 5)), minutes=int(rng.integers(0, 900)))
            put_label(
                db,
                "P",
                trace_id,
                who,
                verdict,
                tags=list(picked),
                spans=spans,
                status=status,
                at=at,
            )
    with db.session() as session:
        rows = session.execute(
            select(
                LabelRow.trace_id,
                Annotator.name,
                LabelRow.verdict,
                LabelRow.label_json,
                LabelRow.submitted_at,
            )
            .join(Annotator, Annotator.id == LabelRow.annotator_id)
            .where(LabelRow.status == "done", LabelRow.verdict.is_not(None))
        ).all()
    assert len({r[0] for r in rows}) > 60 and len(rows) > 150
    _same_data(load_agreement_data(db, "P", lead=LEAD), build_agreement_data(rows, schema))
    some = ["bob", "dee"]
    subset = [r for r in rows if r[1] in some]
    _same_data(
        load_agreement_data(db, "P", lead=LEAD, labelers=some),
        build_agreement_data(subset, schema),
    )


def test_gold_accuracy_over_more_gold_items_than_one_query_chunk(db: Database) -> None:
    """Gold ids come from the index, their answers and labels in chunks of 500."""
    ids = make_project(db, n=3, gold=620)
    gold_ids = ids[3:]
    for trace_id in gold_ids:
        put_label(db, "P", trace_id, "ann", SUS if trace_id == gold_ids[555] else LEG)
    put_label(db, "P", ids[0], "ann", SUS)  # not a gold item: not counted
    (ann,) = gold_accuracy(db, "P", lead=LEAD)
    assert (ann.name, ann.n_gold, ann.correct) == ("ann", 620, 619)
    assert [(m.uid, m.expected, m.given) for m in ann.missed] == [("t558", LEG, SUS)]
