"""How good the heuristic suggestions are, measured on items whose label is settled.

Resolved label of a trace: its latest adjudication; otherwise, when every submitted (``done``)
label agrees on the verdict, that verdict with the tags all of them chose. Derived (group)
labels are not people's judgments and never count. Overall figures treat
``suspected_distillation`` as the positive class; per tag, a tag is positive when the resolved
label carries it.

Also: how often labelers' verdicts matched the suggestion, for labels made with suggestions
shown and without (a lead's check for anchoring)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select

from annotator.domain.label import Label
from annotator.domain.schema import LabelSchema
from annotator.services.detection.suggest import DETECTOR
from annotator.store.database import Database
from annotator.store.models import Adjudication, LabelRow, Project, Suggestion

POSITIVE = "suspected_distillation"


@dataclass(frozen=True)
class Resolved:
    verdict: str
    tags: frozenset[str]
    source: str
    """``adjudicated`` or ``unanimous``."""


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, actual: bool) -> None:
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass
class DetectorReport:
    detector: str
    items: int
    """Traces with both a resolved label and a suggestion."""
    adjudicated: int
    unanimous: int
    overall: Counts
    confusion: dict[str, dict[str, int]]
    """suggested verdict -> resolved verdict -> count."""
    tags: dict[str, Counts]
    anchoring: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``with``/``without`` suggestions shown: labels, and the share matching the suggestion."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "items": self.items,
            "adjudicated": self.adjudicated,
            "unanimous": self.unanimous,
            "overall": self.overall.as_dict(),
            "confusion": self.confusion,
            "tags": {t: c.as_dict() for t, c in self.tags.items()},
            "anchoring": self.anchoring,
        }


def _label(label_json: str) -> Label:
    return (
        Label() if not label_json or label_json == "{}" else Label.model_validate_json(label_json)
    )


def resolved_labels(db: Database, project_id: int) -> dict[int, Resolved]:
    """Trace id -> resolved label (see the module docstring)."""
    out: dict[int, Resolved] = {}
    with db.session() as session:
        for trace_id, verdict, label_json in session.execute(
            select(Adjudication.trace_id, Adjudication.verdict, Adjudication.label_json)
            .where(Adjudication.project_id == project_id)
            .order_by(Adjudication.id)
        ):
            label = _label(label_json)
            out[trace_id] = Resolved(verdict, frozenset(label.tags), "adjudicated")
        done: dict[int, list[tuple[str | None, Label]]] = defaultdict(list)
        for trace_id, row_verdict, label_json in session.execute(
            select(LabelRow.trace_id, LabelRow.verdict, LabelRow.label_json).where(
                LabelRow.project_id == project_id, LabelRow.status == "done"
            )
        ):
            if trace_id not in out:
                done[trace_id].append((row_verdict, _label(label_json)))
    for trace_id, labels in done.items():
        verdicts = {v for v, _ in labels}
        if len(verdicts) == 1 and None not in verdicts:
            tags = frozenset.intersection(*(frozenset(lb.tags) for _, lb in labels))
            out[trace_id] = Resolved(labels[0][0] or "", tags, "unanimous")
    return out


def detector_report(db: Database, project_id: int, detector: str = DETECTOR) -> DetectorReport:
    """Precision, recall and confusion of the stored suggestions on resolved items."""
    resolved = resolved_labels(db, project_id)
    with db.session() as session:
        project = session.get(Project, project_id)
        if project is None:
            raise ValueError(f"no project with id {project_id}")
        schema = LabelSchema.model_validate_json(project.schema_json)
        suggestions = {
            tid: (verdict, frozenset(orjson.loads(tags)))
            for tid, verdict, tags in session.execute(
                select(Suggestion.trace_id, Suggestion.verdict, Suggestion.tags_json).where(
                    Suggestion.project_id == project_id, Suggestion.detector == detector
                )
            )
        }
        shown = session.execute(
            select(LabelRow.trace_id, LabelRow.verdict, LabelRow.with_suggestions).where(
                LabelRow.project_id == project_id, LabelRow.status == "done"
            )
        ).all()
    overall = Counts()
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    tag_names = sorted(schema.tag_names | schema.counter_tag_names)
    tags = {t: Counts() for t in tag_names}
    items = 0
    sources: Counter[str] = Counter()
    for tid, truth in sorted(resolved.items()):
        if tid not in suggestions:
            continue
        verdict, fired = suggestions[tid]
        items += 1
        sources[truth.source] += 1
        overall.add(verdict == POSITIVE, truth.verdict == POSITIVE)
        confusion[verdict or "-"][truth.verdict] += 1
        for t in tag_names:
            tags[t].add(t in fired, t in truth.tags)
    anchoring: dict[str, dict[str, Any]] = {}
    for flag, name in ((True, "with"), (False, "without")):
        rows = [(tid, v) for tid, v, w in shown if bool(w) is flag and tid in suggestions]
        agree = sum(1 for tid, v in rows if v == suggestions[tid][0])
        anchoring[name] = {
            "labels": len(rows),
            "match_suggestion": agree / len(rows) if rows else None,
        }
    return DetectorReport(
        detector=detector,
        items=items,
        adjudicated=sources["adjudicated"],
        unanimous=sources["unanimous"],
        overall=overall,
        confusion={k: dict(v) for k, v in sorted(confusion.items())},
        tags=tags,
        anchoring=anchoring,
    )
