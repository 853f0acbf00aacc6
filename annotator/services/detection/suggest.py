"""Suggestions: the heuristic signals of each trace and of its groups (cluster, account,
session), folded into a score, a suggested verdict and the tags that fired, stored as one
``Suggestion`` row per trace. A suggestion is only ever shown beside the labeler's own judgment;
nothing here writes a label.

Score: each tag's strength is ``1 - prod(1 - weight)`` over its hits (capped at 0.85), the score
``1 - prod(1 - strength)`` over the distillation tags, halved (x0.4) by a declared evaluation run.
Verdict: >= 0.6 suspected_distillation, >= 0.3 cannot_determine, else legitimate."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import delete, insert, select

from annotator.domain.trace import Trace, TraceMeta
from annotator.services.detection.clustering import (
    ClusterProgress,
    ClusterUpdate,
    update_clusters,
)
from annotator.services.detection.heuristics import (
    MIN_TEMPLATE,
    Hit,
    Member,
    account_hits,
    cluster_hits,
    domains_of,
    system_key,
    trace_hits,
)
from annotator.store.codec import decode_turns
from annotator.store.database import Database
from annotator.store.detection_models import PromptCluster, TraceCluster
from annotator.store.models import Suggestion, TraceRow, utcnow

DETECTOR = "heuristic-v1"
COUNTER_TAGS = frozenset({"EVAL_RUN"})
SUSPECT_AT = 0.6
UNSURE_AT = 0.3
CHUNK = 1_000


@dataclass(frozen=True)
class SuggestionView:
    trace_id: int
    detector: str
    score: float
    verdict: str | None
    tags: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...]
    """Each hit: tag, signal, weight, detail, and a passage (turn, block, start, end, text) for
    trace signals or a group (``cluster:12``) for group signals."""
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "detector": self.detector,
            "score": self.score,
            "verdict": self.verdict,
            "tags": list(self.tags),
            "evidence": list(self.evidence),
            "created_at": self.created_at,
        }


@dataclass
class SuggestProgress:
    done: int
    total: int


def fold(hits: list[Hit]) -> tuple[float, str, list[str]]:
    """Score, suggested verdict and fired tags of a trace's hits (see the module docstring)."""
    by_tag: dict[str, float] = defaultdict(lambda: 1.0)
    for hit in hits:
        by_tag[hit.tag] *= 1.0 - hit.weight
    strength = {tag: min(1.0 - rest, 0.85) for tag, rest in by_tag.items()}
    keep = 1.0
    for tag, value in strength.items():
        if tag not in COUNTER_TAGS:
            keep *= 1.0 - value
    score = 1.0 - keep
    if "EVAL_RUN" in strength:
        score *= 0.4
    if score >= SUSPECT_AT:
        verdict = "suspected_distillation"
    elif score >= UNSURE_AT:
        verdict = "cannot_determine"
    else:
        verdict = "legitimate"
    return round(score, 4), verdict, sorted(strength)


def _texts(turns_json: bytes) -> tuple[str, str]:
    """(first user text, system text) without building pydantic objects."""
    prompt, system = "", []
    for turn in orjson.loads(turns_json):
        texts = [b.get("text", "") for b in turn.get("blocks", ()) if b.get("kind") == "text"]
        if turn.get("role") == "system":
            system.extend(texts)
        elif turn.get("role") == "user" and not prompt:
            prompt = "\n\n".join(t for t in texts if t)
    return prompt, "\n".join(system)


def compute_suggestions(
    db: Database,
    project_id: int,
    *,
    trace_ids: Collection[int] | None = None,
    progress: Callable[[SuggestProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """(Re)compute and store the suggestion of ``trace_ids`` (default: every trace). Group
    signals always look at whole groups. Returns the number of suggestions written."""
    members: dict[int, Member] = {}
    cluster_of: dict[int, int] = {}
    with db.session() as session:
        rows = session.execute(
            select(
                TraceRow.id,
                TraceRow.account_id,
                TraceRow.session_id,
                TraceRow.created_at,
                TraceRow.turns_json,
                TraceCluster.cluster_id,
            )
            .outerjoin(TraceCluster, TraceCluster.trace_id == TraceRow.id)
            .where(TraceRow.project_id == project_id)
            .execution_options(yield_per=2_000)
        )
        for tid, account, sess, created, turns_json, cid in rows:
            prompt, system = _texts(turns_json)
            when = created.replace(tzinfo=UTC) if created and created.tzinfo is None else created
            members[tid] = Member(
                tid, account, sess, when, frozenset(domains_of(prompt)), system_key(system)
            )
            if cid is not None:
                cluster_of[tid] = cid
        slots = {
            cid: len(orjson.loads(sj))
            for cid, sj in session.execute(
                select(PromptCluster.id, PromptCluster.slots_json).where(
                    PromptCluster.project_id == project_id, PromptCluster.size >= MIN_TEMPLATE
                )
            )
        }
    groups: dict[tuple[str, str], list[Member]] = defaultdict(list)
    for tid, m in members.items():
        if tid in cluster_of:
            groups[("cluster", str(cluster_of[tid]))].append(m)
        if m.account:
            groups[("account", m.account)].append(m)
        if m.session:
            groups[("session", m.session)].append(m)
    group_hits: dict[tuple[str, str], list[Hit]] = {}
    for (kind, key), ms in groups.items():
        if len(ms) < 2:
            continue
        if kind == "cluster":
            group_hits[(kind, key)] = cluster_hits(ms, int(key), slots.get(int(key), 0))
        else:
            group_hits[(kind, key)] = account_hits(ms, kind, key)

    targets = sorted(members if trace_ids is None else set(trace_ids) & members.keys())
    written = 0
    for start in range(0, len(targets), CHUNK):
        if cancel is not None and cancel.is_set():
            break
        ids = targets[start : start + CHUNK]
        with db.session() as session:
            records = session.execute(
                select(
                    TraceRow.id, TraceRow.uid, TraceRow.source_format, TraceRow.turns_json,
                    TraceRow.original,
                ).where(TraceRow.id.in_(ids))
            ).all()  # fmt: skip
            values = []
            now = utcnow()
            for tid, uid, fmt, turns_json, original in records:
                trace = Trace(
                    uid=uid, turns=decode_turns(turns_json), meta=TraceMeta(source_format=fmt)
                )
                hits = trace_hits(trace, original)
                m = members[tid]
                for group in (
                    ("cluster", str(cluster_of.get(tid))),
                    ("account", m.account or ""),
                    ("session", m.session or ""),
                ):
                    hits.extend(group_hits.get(group, []))
                score, verdict, tags = fold(hits)
                values.append(
                    {
                        "project_id": project_id,
                        "trace_id": tid,
                        "detector": DETECTOR,
                        "score": score,
                        "verdict": verdict,
                        "tags_json": orjson.dumps(tags).decode(),
                        "evidence_json": orjson.dumps([h.as_dict() for h in hits]).decode(),
                        "created_at": now,
                    }
                )
            session.execute(
                delete(Suggestion).where(
                    Suggestion.trace_id.in_(ids), Suggestion.detector == DETECTOR
                )
            )
            if values:
                session.execute(insert(Suggestion), values)
            written += len(values)
        if progress is not None:
            progress(SuggestProgress(min(start + CHUNK, len(targets)), len(targets)))
    return written


def _view(row: Suggestion) -> SuggestionView:
    created = row.created_at
    return SuggestionView(
        trace_id=row.trace_id,
        detector=row.detector,
        score=row.score,
        verdict=row.verdict,
        tags=tuple(orjson.loads(row.tags_json)),
        evidence=tuple(orjson.loads(row.evidence_json)),
        created_at=created.replace(tzinfo=UTC) if created.tzinfo is None else created,
    )


def suggestion_for(db: Database, trace_id: int) -> SuggestionView | None:
    """The stored heuristic suggestion of a trace, if any (the GUI shows it, never applies it)."""
    with db.session() as session:
        row = session.scalar(
            select(Suggestion).where(
                Suggestion.trace_id == trace_id, Suggestion.detector == DETECTOR
            )
        )
        return None if row is None else _view(row)


def ordered_trace_ids(
    db: Database, project_id: int, by: Literal["score", "uncertainty"] = "score"
) -> list[int]:
    """The project's trace ids for a lead's assignment: highest score first, or most uncertain
    first (score nearest the suspect line). Traces without a suggestion come last, by id."""
    if by not in ("score", "uncertainty"):
        raise ValueError(f"order by 'score' or 'uncertainty', not {by!r}")
    with db.session() as session:
        scored = session.execute(
            select(Suggestion.trace_id, Suggestion.score).where(
                Suggestion.project_id == project_id, Suggestion.detector == DETECTOR
            )
        ).all()
        all_ids = session.scalars(
            select(TraceRow.id).where(TraceRow.project_id == project_id).order_by(TraceRow.id)
        ).all()
    if by == "score":
        ordered = sorted(scored, key=lambda r: (-r[1], r[0]))
    else:
        ordered = sorted(scored, key=lambda r: (abs(r[1] - SUSPECT_AT), r[0]))
    ids = [tid for tid, _ in ordered]
    seen = set(ids)
    return ids + [tid for tid in all_ids if tid not in seen]


@dataclass
class DetectionRun:
    clusters: ClusterUpdate
    suggestions: int
    cancelled: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "clusters": self.clusters.as_dict(),
            "suggestions": self.suggestions,
            "cancelled": self.cancelled,
        }


def run_detection(
    db: Database,
    project_id: int,
    *,
    full: bool = True,
    cluster_progress: Callable[[ClusterProgress], None] | None = None,
    suggest_progress: Callable[[SuggestProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> DetectionRun:
    """Cluster what is new, then suggest: for every trace (``full``), or after an import only
    for the new traces and the members of the groups they joined."""
    clusters = update_clusters(db, project_id, progress=cluster_progress, cancel=cancel)
    if clusters.cancelled:
        return DetectionRun(clusters, 0, True)
    targets: set[int] | None = None
    if not full:
        targets = set(clusters.new_trace_ids)
        with db.session() as session:
            for start in range(0, len(clusters.touched_clusters), 500):
                part = clusters.touched_clusters[start : start + 500]
                targets.update(
                    session.scalars(
                        select(TraceCluster.trace_id).where(TraceCluster.cluster_id.in_(part))
                    )
                )
            new = clusters.new_trace_ids
            for start in range(0, len(new), 500):
                rows = session.execute(
                    select(TraceRow.account_id, TraceRow.session_id).where(
                        TraceRow.id.in_(new[start : start + 500])
                    )
                ).all()
                accounts = {a for a, _ in rows if a}
                sessions = {s for _, s in rows if s}
                if accounts or sessions:
                    targets.update(
                        session.scalars(
                            select(TraceRow.id).where(
                                TraceRow.project_id == project_id,
                                TraceRow.account_id.in_(accounts)
                                | TraceRow.session_id.in_(sessions),
                            )
                        )
                    )
    written = compute_suggestions(
        db, project_id, trace_ids=targets, progress=suggest_progress, cancel=cancel
    )
    return DetectionRun(clusters, written, bool(cancel is not None and cancel.is_set()))
