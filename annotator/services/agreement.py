"""Agreement between labelers, and gold accuracy: loads the submitted labels of a project into
rating matrices and runs the metrics of :mod:`annotator.domain.agreement` on them.

Lead-only: it reads everyone's labels and the gold answers. The results are plain frozen
dataclasses (numbers, names, short lists) that a dashboard can plot and ``as_dict`` turns into
JSON. Loading is one query; the metrics themselves are vectorised and take well under a second
for 100k items x 3 labelers with bootstrap intervals (tests/benchmarks/test_bench_agreement.py).
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Engine, select

from annotator.domain.agreement import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CONFIDENCE,
    MISSING,
    Estimate,
    IntArray,
    RatingPatterns,
    SpanAgreement,
    SpanTable,
    binary_ratings,
    cohen_kappa,
    compress,
    fleiss_kappa,
    krippendorff_alpha,
    modal_raters,
    pair_percent_agreement,
    percent_agreement,
    span_agreements,
)
from annotator.domain.label import LabelStatus
from annotator.domain.schema import LabelSchema
from annotator.services.label_table import NO_TIME, NONE_CODE, LabelTable, label_table
from annotator.services.projects import get_project
from annotator.services.review import label_of, require_lead
from annotator.store.database import Database
from annotator.store.models import Annotator, LabelRow, TraceRow

SPAN_BOOTSTRAP = 250
"""At most this many replicates for span intervals: span overlaps are continuous, so a replicate
costs a pass over every item (verdict and tag replicates are nearly free, see the domain
module); 250 keeps 100k items x 3 labelers well under the 2 s budget."""
GROUP_STRIDE = 1 << 20
"""Spans are compared within one block: region = turn * GROUP_STRIDE + block."""


@dataclass(frozen=True)
class AgreementData:
    """Submitted labels as matrices: one row per item (trace with a submitted label), one
    column per labeler."""

    labelers: tuple[str, ...]
    categories: tuple[str, ...]
    """Verdict values; code ``i`` in ``codes`` is ``categories[i]``."""
    tags: tuple[str, ...]
    tag_kinds: tuple[str, ...]
    """``tag`` (evidence) or ``counter_tag``, per entry of ``tags``."""
    trace_ids: IntArray
    codes: IntArray
    """``(items, labelers)`` verdict codes, :data:`MISSING` where not labeled."""
    chosen: np.ndarray[Any, np.dtype[np.bool_]]
    """``(items, labelers, tags)``: whether the labeler chose the tag."""
    spans: SpanTable
    days: tuple[date | None, ...]
    """Per item, the UTC day of its latest submitted label."""
    day_ordinals: IntArray | None = None
    """``days`` as proleptic ordinals (0 for None), so per-day metrics group items with numpy
    instead of hashing 100k date objects; None when built without it."""

    @property
    def present(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return np.asarray(self.codes != MISSING)


@dataclass(frozen=True)
class VerdictAgreement:
    n_items: int
    """Items with a submitted label."""
    n_pairable: int
    """Items with two or more submitted labels."""
    percent: Estimate
    fleiss_k: int | None
    """Fleiss' kappa uses the items rated by exactly this many labelers."""
    fleiss: Estimate
    alpha: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items,
            "n_pairable": self.n_pairable,
            "percent": self.percent.as_dict(),
            "fleiss_k": self.fleiss_k,
            "fleiss": self.fleiss.as_dict(),
            "alpha": self.alpha.as_dict(),
        }


@dataclass(frozen=True)
class PairAgreement:
    a: str
    b: str
    n_items: int
    """Items both labeled."""
    percent: Estimate
    cohen: Estimate
    spans: SpanAgreement | None
    """None in a report computed without ``detail``."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "n_items": self.n_items,
            "percent": self.percent.as_dict(),
            "cohen": self.cohen.as_dict(),
            "spans": None if self.spans is None else self.spans.as_dict(),
        }


@dataclass(frozen=True)
class LabelerAgreement:
    """How one labeler agrees with the others on the items they share."""

    name: str
    n_items: int
    n_shared: int
    """Items this labeler and at least one other labeled."""
    percent: float | None
    """Verdict agreement pooled over all pairs with this labeler."""
    mean_kappa: float | None
    """Mean Cohen's kappa over this labeler's pairs."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_items": self.n_items,
            "n_shared": self.n_shared,
            "percent": self.percent,
            "mean_kappa": self.mean_kappa,
        }


@dataclass(frozen=True)
class TagAgreement:
    tag: str
    kind: str
    chosen: int
    """Labels that chose the tag."""
    prevalence: float | None
    """Share of labels that chose it."""
    alpha: Estimate
    """Krippendorff's alpha of the tag as a binary variable (chosen / not chosen)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "kind": self.kind,
            "chosen": self.chosen,
            "prevalence": self.prevalence,
            "alpha": self.alpha.as_dict(),
        }


@dataclass(frozen=True)
class AgreementPoint:
    """Verdict agreement on the items whose latest label was submitted on ``day``."""

    day: date
    n_items: int
    alpha: float | None
    percent: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "n_items": self.n_items,
            "alpha": self.alpha,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class GoldMiss:
    uid: str
    expected: str
    given: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "expected": self.expected, "given": self.given}


@dataclass(frozen=True)
class GoldAccuracy:
    """A labeler's submitted labels on gold items against the known verdicts."""

    name: str
    n_gold: int
    correct: int
    missed: tuple[GoldMiss, ...]

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n_gold if self.n_gold else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_gold": self.n_gold,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "missed": [m.as_dict() for m in self.missed],
        }


@dataclass(frozen=True)
class AgreementReport:
    project: str
    labelers: tuple[str, ...]
    bootstrap: int
    confidence: float
    verdict: VerdictAgreement
    pairs: tuple[PairAgreement, ...]
    per_labeler: tuple[LabelerAgreement, ...]
    tags: tuple[TagAgreement, ...]
    """Empty in a report computed without ``detail``."""
    spans: SpanAgreement | None
    """None in a report computed without ``detail``."""
    over_time: tuple[AgreementPoint, ...]
    gold: tuple[GoldAccuracy, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "labelers": list(self.labelers),
            "bootstrap": self.bootstrap,
            "confidence": self.confidence,
            "verdict": self.verdict.as_dict(),
            "pairs": [p.as_dict() for p in self.pairs],
            "per_labeler": [p.as_dict() for p in self.per_labeler],
            "tags": [t.as_dict() for t in self.tags],
            "spans": None if self.spans is None else self.spans.as_dict(),
            "over_time": [p.as_dict() for p in self.over_time],
            "gold": [g.as_dict() for g in self.gold],
        }


def _day(value: datetime | None) -> date | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.date()


def load_agreement_data(
    db: Database,
    project: str,
    *,
    lead: str,
    labelers: Sequence[str] | None = None,
    detail: bool = True,
) -> AgreementData:
    """Lead-only. The submitted (``done``) labels of the project, optionally of some labelers;
    without ``detail``, only their verdicts and days (no tags, no spans).

    The rows come from the shared :func:`label_table` (read and parsed once per change, see
    that module); the matrices built from them are kept until the labels, the people or the
    schema change, so an unchanged project costs a few index lookups."""
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        schema_json = project_row.schema_json
        names = dict(session.execute(select(Annotator.id, Annotator.name)).all())
        table = label_table(db, session.connection(), project_row.id)
    wanted = None if labelers is None else frozenset(n.strip() for n in labelers)
    key = (table.fingerprint, tuple(sorted(names.items())), wanted, schema_json, detail)
    with _DATA_LOCK:
        cached = _DATA.get(db.engine, {}).get(project_row.id)
        if cached is not None and cached[0] == key:
            return cached[1]
    schema = LabelSchema.model_validate_json(schema_json)
    data = agreement_data_from_table(table, names, schema, wanted, detail=detail)
    with _DATA_LOCK:
        per_project = _DATA.setdefault(db.engine, {})
        per_project[project_row.id] = (key, data)
    return data


_DATA: weakref.WeakKeyDictionary[Engine, dict[int, tuple[Any, AgreementData]]] = (
    weakref.WeakKeyDictionary()
)
_DATA_LOCK = threading.Lock()
_REPORTS: weakref.WeakKeyDictionary[Engine, tuple[AgreementData, Any, AgreementReport]] = (
    weakref.WeakKeyDictionary()
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def agreement_data_from_table(
    table: LabelTable,
    names: dict[int, str],
    schema: LabelSchema,
    labelers: frozenset[str] | None = None,
    *,
    detail: bool = True,
) -> AgreementData:
    """Matrices from a :class:`LabelTable` (submitted labels with a verdict, of ``labelers``
    when given), the same as :func:`build_agreement_data` on the equivalent rows, with numpy
    instead of a loop over rows. Without ``detail``, no tags and no spans (what the verdict
    sections need: a third less work)."""
    sel = (table.status == table.status_code(LabelStatus.DONE)) & (table.verdict != NONE_CODE)
    aid_known = np.zeros(int(table.annotator.max(initial=0)) + 1, dtype=bool)
    for aid, name in names.items():
        if aid < aid_known.size and (labelers is None or name in labelers):
            aid_known[aid] = True
    sel &= aid_known[table.annotator]
    everything = bool(sel.all())
    rows = np.flatnonzero(sel)

    def take(values: IntArray) -> IntArray:
        # Every row selected (all labels submitted): the column itself, no 8 MB gather.
        return values if everything else values[rows]

    aids = take(table.annotator)
    person_ids = np.flatnonzero(np.bincount(aids)) if aids.size else np.zeros(0, np.int64)
    by_name = sorted((names[int(a)], int(a)) for a in person_ids)
    labeler_names = tuple(n for n, _ in by_name)
    column = np.zeros(int(table.annotator.max(initial=0)) + 1, dtype=np.int64)
    for j, (_, aid) in enumerate(by_name):
        column[aid] = j
    categories = list(schema.verdict_values)
    # Codes in use by counting (rows have a verdict, so codes are >= 0): no sort of 1M codes.
    verdict_rows = take(table.verdict)
    used = np.flatnonzero(np.bincount(verdict_rows, minlength=len(table.verdicts)))
    for verdict in sorted({table.verdicts[int(c)] for c in used} - set(categories)):
        categories.append(verdict)
    code_of = {v: i for i, v in enumerate(categories)}
    verdict_code = np.asarray([code_of.get(v, MISSING) for v in table.verdicts], dtype=np.int64)
    evidence = [t.name for t in schema.evidence_tags] if detail else []
    counter = [t.name for t in schema.counter_tags] if detail else []
    tags = evidence + counter
    kinds = ["tag"] * len(evidence) + ["counter_tag"] * len(counter)
    tag_index = {t: i for i, t in enumerate(tags)}

    traces = take(table.trace)
    seen = np.zeros(int(traces.max(initial=0)) + 1, dtype=bool)
    seen[traces] = True
    trace_ids = np.flatnonzero(seen).astype(np.int64)
    # Item and rater per label in 4 and 1-2 bytes: the per-label arrays alive at once here
    # are the peak of fresh memory in a refresh (indexing converts them as it goes).
    item_of_trace = (np.cumsum(seen) - 1).astype(np.int32)
    item = item_of_trace[traces]
    rater = column.astype(np.int8 if len(by_name) < 128 else np.int64)[aids]
    n_items, n_raters = trace_ids.size, len(labeler_names)
    # Each label's cell of the (item, labeler) matrices as one flat index, computed once for
    # the verdicts, tags and days: a flat store is 3-4x faster than one by two index arrays.
    cell: IntArray = item.astype(np.int64)
    cell *= n_raters
    np.add(cell, rater, out=cell)
    codes = np.full((n_items, n_raters), MISSING, dtype=np.int64)
    if rows.size:
        codes.reshape(-1)[cell] = verdict_code[verdict_rows]

    if everything:
        position = None
    else:
        position = np.full(len(table), -1, dtype=np.int64)
        position[rows] = np.arange(rows.size, dtype=np.int64)

    def at(row_refs: IntArray) -> IntArray:
        # Position among the selected rows (-1: not selected) of tag and span row references.
        return row_refs if position is None else position[row_refs]

    chosen = np.zeros((n_items, n_raters, len(tags)), dtype=bool)
    vocab_tag = np.asarray(
        [tag_index.get(tag, -1) for _key, tag in table.tag_vocab], dtype=np.int64
    ).reshape(-1)
    if table.tag_row.size and tags:
        hit_pos = at(table.tag_row)
        hit_tag = vocab_tag[table.tag_code]
        ok = (hit_pos >= 0) & (hit_tag >= 0)
        hit = hit_pos[ok]
        # One flat index instead of three (a third of the time for 800k tags).
        flat = cell[hit]
        flat *= len(tags)
        flat += hit_tag[ok]
        chosen.reshape(-1)[flat] = True

    spans = SpanTable.from_rows([])
    if detail:
        span_pos = at(table.span_row)
        keep = (span_pos >= 0) & (table.span_end > table.span_start)
        span_at = span_pos[keep]
        spans = SpanTable(
            item[span_at].astype(np.int64),
            rater[span_at].astype(np.int64),
            np.ascontiguousarray(table.span_turn[keep] * GROUP_STRIDE + table.span_block[keep]),
            np.ascontiguousarray(table.span_start[keep]),
            np.ascontiguousarray(table.span_end[keep]),
        )

    # Latest submit per item in seconds first, then one division per item (not per label).
    day_matrix = np.full((n_items, max(n_raters, 1)), NO_TIME, dtype=np.int64)
    day_matrix.reshape(-1)[cell] = take(table.submitted)
    latest_at = day_matrix[:, 0].copy()
    for j in range(1, day_matrix.shape[1]):  # column by column: max along 3 wide is slow
        np.maximum(latest_at, day_matrix[:, j], out=latest_at)
    latest = np.where(latest_at == NO_TIME, 0, latest_at // 86400 + _EPOCH_ORDINAL)
    low = int(latest.min(initial=0))
    seen_day = np.bincount(latest - low) > 0 if n_items else np.zeros(0, bool)
    distinct = np.flatnonzero(seen_day) + low
    inverse = (np.cumsum(seen_day) - 1)[latest - low]
    day_objects = np.asarray(
        [date.fromordinal(int(o)) if o > 0 else None for o in distinct], dtype=object
    )
    return AgreementData(
        labelers=labeler_names,
        categories=tuple(categories),
        tags=tuple(tags),
        tag_kinds=tuple(kinds),
        trace_ids=trace_ids,
        codes=codes,
        chosen=chosen,
        spans=spans,
        days=tuple(day_objects[inverse.reshape(-1)].tolist()) if n_items else (),
        day_ordinals=latest.astype(np.int64),
    )


DayLike = date | datetime | str | None


def _as_day(value: DayLike) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _day(value)
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10])


def build_agreement_data(rows: Sequence[Sequence[Any]], schema: LabelSchema) -> AgreementData:
    """Matrices from ``(trace_id, labeler, verdict, label_json, submitted)`` rows, where
    ``submitted`` is a datetime, a date or an ISO date string (or None)."""
    n_rows = len(rows)
    names = tuple(sorted({r[1] for r in rows}))
    column = {name: j for j, name in enumerate(names)}
    categories = list(schema.verdict_values)
    for verdict in sorted({r[2] for r in rows if r[2] is not None} - set(categories)):
        categories.append(verdict)
    code_of: dict[str | None, int] = {v: i for i, v in enumerate(categories)}
    code_of[None] = MISSING
    evidence = [t.name for t in schema.evidence_tags]
    counter = [t.name for t in schema.counter_tags]
    tags = evidence + counter
    kinds = ["tag"] * len(evidence) + ["counter_tag"] * len(counter)
    tag_index = {t: i for i, t in enumerate(tags)}

    trace_of_row = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n_rows)
    trace_ids, item = np.unique(trace_of_row, return_inverse=True)
    rater = np.fromiter((column[r[1]] for r in rows), dtype=np.int64, count=n_rows)
    codes = np.full((len(trace_ids), len(names)), MISSING, dtype=np.int64)
    codes[item, rater] = np.fromiter((code_of[r[2]] for r in rows), dtype=np.int64, count=n_rows)

    tag_hits: list[tuple[int, int]] = []
    span_rows: list[tuple[int, int, int, int, int]] = []
    loads = orjson.loads
    for k, r in enumerate(rows):
        data = loads(r[3] or "{}")
        for key in ("tags", "counter_tags"):
            for tag in data.get(key) or ():
                t = tag_index.get(tag)
                if t is not None:
                    tag_hits.append((k, t))
        for span in data.get("spans") or ():
            start, end = int(span["start"]), int(span["end"])
            if end > start:
                group = int(span["turn"]) * GROUP_STRIDE + int(span["block"])
                span_rows.append((int(item[k]), int(rater[k]), group, start, end))
    chosen = np.zeros((len(trace_ids), len(names), len(tags)), dtype=bool)
    if tag_hits:
        hits = np.asarray(tag_hits, dtype=np.int64)
        chosen[item[hits[:, 0]], rater[hits[:, 0]], hits[:, 1]] = True

    day_cache: dict[Any, int] = {}
    ordinals = np.empty(n_rows, dtype=np.int64)
    for k, r in enumerate(rows):
        raw = r[4]
        ordinal = day_cache.get(raw)
        if ordinal is None:
            day = _as_day(raw)
            ordinal = day.toordinal() if day is not None else 0
            day_cache[raw] = ordinal
        ordinals[k] = ordinal
    latest = np.zeros(len(trace_ids), dtype=np.int64)
    np.maximum.at(latest, item, ordinals)
    return AgreementData(
        labelers=names,
        categories=tuple(categories),
        tags=tuple(tags),
        tag_kinds=tuple(kinds),
        trace_ids=trace_ids.astype(np.int64),
        codes=codes,
        chosen=chosen,
        spans=SpanTable.from_rows(span_rows),
        days=tuple(date.fromordinal(int(o)) if o > 0 else None for o in latest),
        day_ordinals=latest,
    )


def compute_agreement(
    data: AgreementData,
    *,
    project: str = "",
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    gold: Sequence[GoldAccuracy] = (),
    span_bootstrap: int | None = None,
    detail: bool = True,
) -> AgreementReport:
    """Every metric of the report from the matrices (no database). Span intervals use
    ``span_bootstrap`` replicates (default: ``bootstrap``, at most :data:`SPAN_BOOTSTRAP`).
    Without ``detail``, the verdict sections only: no tag or span agreement (``tags`` empty,
    ``spans`` None), the two costliest parts after the verdicts."""
    if span_bootstrap is None:
        span_bootstrap = min(bootstrap, SPAN_BOOTSTRAP)
    n_categories = max(len(data.categories), 1)
    patterns = _compress(data.codes, n_categories)
    present = data.present
    # Raters per item by adding columns: a sum along a 3-wide axis is several times slower.
    raters_per_item = np.zeros(present.shape[0], dtype=np.int64)
    for j in range(present.shape[1]):
        raters_per_item += present[:, j]
    k = modal_raters(patterns)
    verdict = VerdictAgreement(
        n_items=int(np.count_nonzero(raters_per_item)),
        n_pairable=int(np.count_nonzero(raters_per_item >= 2)),
        percent=percent_agreement(patterns, bootstrap=bootstrap, seed=seed, confidence=confidence),
        fleiss_k=k,
        fleiss=fleiss_kappa(patterns, k=k, bootstrap=bootstrap, seed=seed, confidence=confidence)
        if k is not None
        else Estimate(None),
        alpha=krippendorff_alpha(patterns, bootstrap=bootstrap, seed=seed, confidence=confidence),
    )
    names = data.labelers
    index_pairs = [
        (a, b)
        for a in range(len(names))
        for b in range(a + 1, len(names))
        if np.any(present[:, a] & present[:, b])
    ]
    overall_spans: SpanAgreement | None = None
    pair_spans: list[SpanAgreement | None] = [None] * len(index_pairs)
    if detail:
        overall_spans, found = _span_agreements(
            data.spans, present, index_pairs, span_bootstrap, seed, confidence
        )
        pair_spans = list(found)
    pairs = []
    for (a, b), spans in zip(index_pairs, pair_spans, strict=True):
        pairs.append(
            PairAgreement(
                a=names[a],
                b=names[b],
                n_items=int((present[:, a] & present[:, b]).sum()),
                percent=pair_percent_agreement(
                    patterns, pair=(a, b), bootstrap=bootstrap, seed=seed, confidence=confidence
                ),
                cohen=cohen_kappa(
                    patterns, pair=(a, b), bootstrap=bootstrap, seed=seed, confidence=confidence
                ),
                spans=spans,
            )
        )
    per_labeler = []
    for j, name in enumerate(names):
        mine = [p for (a, b), p in zip(index_pairs, pairs, strict=True) if j in (a, b)]
        shared = sum(p.n_items for p in mine)
        agreeing = sum((p.percent.value or 0.0) * p.n_items for p in mine)
        kappas = [p.cohen.value for p in mine if p.cohen.value is not None]
        others = (raters_per_item - present[:, j]) > 0 if len(names) > 1 else None
        per_labeler.append(
            LabelerAgreement(
                name=name,
                n_items=int(present[:, j].sum()),
                n_shared=int((present[:, j] & others).sum()) if others is not None else 0,
                percent=agreeing / shared if shared else None,
                mean_kappa=float(np.mean(kappas)) if kappas else None,
            )
        )
    n_labels = int(present.sum())
    tag_patterns = _tag_patterns(present, data.chosen) if detail else []
    tag_results = []
    measured = zip(data.tags, data.tag_kinds, strict=True) if detail else iter(())
    for t, (tag, kind) in enumerate(measured):
        # Labels that chose the tag: code 1 in the binary patterns, times their items.
        chosen_n = int(((tag_patterns[t].codes == 1).sum(axis=1) * tag_patterns[t].weights).sum())
        tag_results.append(
            TagAgreement(
                tag=tag,
                kind=kind,
                chosen=chosen_n,
                prevalence=chosen_n / n_labels if n_labels else None,
                alpha=krippendorff_alpha(
                    tag_patterns[t], bootstrap=bootstrap, seed=seed, confidence=confidence
                ),
            )
        )
    over_time = []
    for day, subset, n_day in _daily_patterns(data, n_categories):
        over_time.append(
            AgreementPoint(
                day=day,
                n_items=n_day,
                alpha=krippendorff_alpha(subset).value,
                percent=percent_agreement(subset).value,
            )
        )
    return AgreementReport(
        project=project,
        labelers=names,
        bootstrap=bootstrap,
        confidence=confidence,
        verdict=verdict,
        pairs=tuple(pairs),
        per_labeler=tuple(per_labeler),
        tags=tuple(tag_results),
        spans=overall_spans,
        over_time=tuple(over_time),
        gold=tuple(gold),
    )


def _span_agreements(
    spans: SpanTable,
    present: np.ndarray[Any, np.dtype[np.bool_]],
    pairs: list[tuple[int, int]],
    bootstrap: int,
    seed: int,
    confidence: float,
) -> tuple[SpanAgreement, list[SpanAgreement]]:
    """:func:`span_agreements` on the items where someone marked a span, the only ones that
    enter its estimates (same rows in the same order, so the same sums and resamples); the
    items without any span only add to ``both_empty``, counted here. A third of the per-item
    work when a third of the labels have spans."""
    n_items = present.shape[0]
    marked = np.zeros(n_items, dtype=bool)
    marked[spans.item] = True
    if np.count_nonzero(marked) == n_items:
        return span_agreements(
            spans, present, pairs=pairs, bootstrap=bootstrap, seed=seed, confidence=confidence
        )
    position = np.cumsum(marked) - 1
    subset = SpanTable(
        np.ascontiguousarray(position[spans.item]), spans.rater, spans.group, spans.start, spans.end
    )
    overall, per_pair = span_agreements(
        subset, present[marked], pairs=pairs, bootstrap=bootstrap, seed=seed, confidence=confidence
    )
    unmarked = present[~marked]
    empty = [int(np.count_nonzero(unmarked[:, a] & unmarked[:, b])) for a, b in pairs]
    per_pair = [
        replace(result, both_empty=result.both_empty + extra)
        for result, extra in zip(per_pair, empty, strict=True)
    ]
    return replace(overall, both_empty=overall.both_empty + sum(empty)), per_pair


_COUNT_KEYS = 1 << 22
"""Most distinct rating rows (``(categories + 1) ** raters``) grouped by counting instead of
sorting."""


def _compress(codes: IntArray, n_categories: int) -> RatingPatterns:
    """:func:`compress` by counting keys instead of sorting them (same rows, same order: both
    list the keys ascending) when the key space is small, as with a handful of labelers."""
    n, r = codes.shape
    base = n_categories + 1
    if n == 0 or r == 0 or base**r > _COUNT_KEYS:
        return compress(codes, n_categories)
    powers = base ** np.arange(r, dtype=np.int64)
    keys = (codes + 1) @ powers
    return _from_counts(np.bincount(keys, minlength=base**r), powers, base, n_categories)


def _from_counts(
    counts: IntArray, powers: IntArray, base: int, n_categories: int
) -> RatingPatterns:
    keys = np.flatnonzero(counts)
    rows = (keys[:, None] // powers[None, :]) % base - 1
    return RatingPatterns(rows.astype(np.int64), counts[keys].astype(np.int64), n_categories)


def _tag_patterns(
    present: np.ndarray[Any, np.dtype[np.bool_]], chosen: np.ndarray[Any, np.dtype[np.bool_]]
) -> list[RatingPatterns]:
    """Per tag, the patterns of ``binary_ratings(present, chosen[:, :, t] & present)``: one
    count over small (who labeled, who chose) bit keys for every tag at once instead of a sort
    per tag (17 tags x 100k items: milliseconds instead of a tenth of a second)."""
    n, r, n_tags = chosen.shape
    if n == 0 or r == 0 or n_tags == 0 or r > 8:
        return [
            compress(binary_ratings(present, chosen[:, :, t] & present), 2) for t in range(n_tags)
        ]
    dtype = np.uint8 if r <= 4 else np.uint16
    who = np.zeros(n, dtype=dtype)
    bits = np.zeros((n, n_tags), dtype=dtype)
    for j in range(r):
        who += np.left_shift(present[:, j].astype(dtype), j)
        bits += np.left_shift(chosen[:, j, :].astype(dtype), j)
    bits &= who[:, None]
    bits |= who[:, None] << r
    space = 1 << (2 * r)
    # Tag by tag over contiguous rows (a strided column costs bincount a copy).
    by_tag = np.ascontiguousarray(bits.T)
    counts = [np.bincount(by_tag[t], minlength=space) for t in range(n_tags)]
    # Bit key (labeled mask << r | chosen mask) -> ternary key: per rater code + 1 is 0
    # (missing), 1 (not chosen) or 2 (chosen).
    key = np.arange(space, dtype=np.int64)
    ternary = np.zeros(space, dtype=np.int64)
    for j in range(r):
        labeled, picked = (key >> (r + j)) & 1, (key >> j) & 1
        ternary += (labeled + (labeled & picked)) * 3**j
    powers = 3 ** np.arange(r, dtype=np.int64)
    out = []
    for t in range(n_tags):
        per_key = np.bincount(ternary, weights=counts[t], minlength=3**r).astype(np.int64)
        out.append(_from_counts(per_key, powers, 3, 2))
    return out


def _daily_patterns(
    data: AgreementData, n_categories: int
) -> list[tuple[date, RatingPatterns, int]]:
    """Per day with items (ascending), the verdict patterns of those items and their number."""
    n, r = data.codes.shape
    if n == 0:
        return []
    if data.day_ordinals is not None:
        ordinals = data.day_ordinals
    else:
        ordinals = np.asarray([d.toordinal() if d else 0 for d in data.days], dtype=np.int64)
    low = int(ordinals.min())
    seen = np.bincount(ordinals - low) > 0
    days = np.flatnonzero(seen) + low
    item_day = (np.cumsum(seen) - 1)[ordinals - low]
    base = n_categories + 1
    dated = [(k, int(o)) for k, o in enumerate(days.tolist()) if o > 0]
    if r == 0 or base**r * days.size > _COUNT_KEYS:
        return [
            (
                date.fromordinal(o),
                compress(data.codes[item_day == k], n_categories),
                int(np.count_nonzero(item_day == k)),
            )
            for k, o in dated
        ]
    powers = base ** np.arange(r, dtype=np.int64)
    keys = (data.codes + 1) @ powers + item_day * base**r
    counts = np.bincount(keys, minlength=base**r * days.size).reshape(days.size, base**r)
    return [
        (
            date.fromordinal(o),
            _from_counts(counts[k], powers, base, n_categories),
            int(counts[k].sum()),
        )
        for k, o in dated
    ]


def gold_accuracy(
    db: Database, project: str, *, lead: str, labelers: Sequence[str] | None = None
) -> list[GoldAccuracy]:
    """Lead-only. Per labeler, their submitted verdicts on gold items against the answers, with
    the items they missed."""
    with db.session() as session:
        project_row = get_project(session, project)
        require_lead(session, project_row, lead)
        # Gold trace ids first, from the (project_id, is_gold) index alone: asking for their
        # answers in the same query let SQLite's planner, told by ANALYZE that half the
        # rows might match, scan every trace row instead (30-45 ms at 333k tiny rows; real
        # rows are tens of KB). Then their answers by id, then their labels through the
        # (trace_id, annotator_id) index: joining from the labels side scans every label.
        gold_ids = session.scalars(
            select(TraceRow.id).where(
                TraceRow.project_id == project_row.id, TraceRow.is_gold.is_(True)
            )
        ).all()
        by_id: dict[int, tuple[str, str | None]] = {}
        for start in range(0, len(gold_ids), 500):
            for trace_id, uid, gold_json in session.execute(
                select(TraceRow.id, TraceRow.uid, TraceRow.gold_json).where(
                    TraceRow.id.in_(gold_ids[start : start + 500]),
                    TraceRow.gold_json.is_not(None),
                )
            ):
                by_id[trace_id] = (uid, gold_json)
        found: list[tuple[str, str, str | None, str | None]] = []
        ids = sorted(by_id)
        for start in range(0, len(ids), 500):
            stmt = (
                select(LabelRow.trace_id, Annotator.name, LabelRow.verdict)
                .join(Annotator, Annotator.id == LabelRow.annotator_id)
                .where(
                    LabelRow.trace_id.in_(ids[start : start + 500]),
                    LabelRow.project_id == project_row.id,
                    LabelRow.status == LabelStatus.DONE.value,
                )
            )
            if labelers is not None:
                stmt = stmt.where(Annotator.name.in_([n.strip() for n in labelers]))
            for trace_id, name, verdict in session.execute(stmt):
                uid, gold_json = by_id[trace_id]
                found.append((name, uid, gold_json, verdict))
    rows = sorted(found, key=lambda r: (r[0], r[1]))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: dict[str, list[GoldMiss]] = defaultdict(list)
    for name, uid, gold_json, given in rows:
        expected = label_of(gold_json).verdict
        if expected is None:
            continue
        totals[name][0] += 1
        if given == expected:
            totals[name][1] += 1
        else:
            missed[name].append(GoldMiss(uid, expected, given))
    return [
        GoldAccuracy(name, n, correct, tuple(missed.get(name, ())))
        for name, (n, correct) in sorted(totals.items())
    ]


def agreement_report(
    db: Database,
    project: str,
    *,
    lead: str,
    labelers: Sequence[str] | None = None,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    detail: bool = True,
) -> AgreementReport:
    """Lead-only. Agreement on the verdict (percent, Fleiss, Krippendorff's alpha), per pair
    (percent, Cohen's kappa, spans), per labeler, per tag (alpha), on evidence spans, per day,
    and gold accuracy; intervals from ``bootstrap`` seeded item resamples (0: none). Without
    ``detail``, no tag or span agreement (the dashboard draws neither)."""
    # Gold first: its queries run without the GIL while a parallel job (the dashboard's
    # progress) may hold the label table's lock, reading or merging the labels.
    gold = tuple(gold_accuracy(db, project, lead=lead, labelers=labelers))
    data = load_agreement_data(db, project, lead=lead, labelers=labelers, detail=detail)
    # The matrices are cached (same object while the labels are unchanged), so an unchanged
    # project with the same options gets the same report without recomputing the metrics.
    key = (project, labelers and tuple(labelers), bootstrap, seed, confidence, gold, detail)
    with _DATA_LOCK:
        cached = _REPORTS.get(db.engine)
        if cached is not None and cached[0] is data and cached[1] == key:
            return cached[2]
    report = compute_agreement(
        data,
        project=project,
        bootstrap=bootstrap,
        seed=seed,
        confidence=confidence,
        gold=gold,
        detail=detail,
    )
    with _DATA_LOCK:
        # The matrices are the key by identity (held here, so the identity cannot be reused);
        # new matrices (labels changed) mean a new report.
        _REPORTS[db.engine] = (data, key, report)
    return report
