"""Which label a trace resolves to: a lead's adjudication first, then a unanimous vote, then a
majority (the single most common verdict), in the order the caller selects.

Only labels with status ``done`` vote. A majority with no single most common verdict is a tie:
``ties="skip"`` leaves the trace unresolved, ``ties="mark"`` keeps it, marked ``tie``, with the
tied verdicts listed. Pure functions: the export runner calls :func:`resolve_verdict` on bare
verdicts in its first pass and :func:`resolve` on full labels when it writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from annotator.formats.writers.rows import AdjudicationEntry, LabelEntry, Resolution

RESOLVE_STEPS = ("adjudicated", "unanimous", "majority")
TIE_POLICIES = ("skip", "mark")
METHODS = (*RESOLVE_STEPS, "tie", "unresolved", "none")
"""``unresolved``: labels disagree and no selected step settles them; ``none``: no vote."""


def parse_steps(steps: Sequence[str] | str) -> tuple[str, ...]:
    """``"adjudicated,majority"`` or a sequence, validated and without repeats."""
    items = steps.split(",") if isinstance(steps, str) else list(steps)
    out: list[str] = []
    for item in (s.strip() for s in items if s.strip()):
        if item not in RESOLVE_STEPS:
            raise ValueError(
                f"unknown resolution step {item!r}; choose from {', '.join(RESOLVE_STEPS)}"
            )
        if item not in out:
            out.append(item)
    if not out:
        raise ValueError("name at least one resolution step")
    return tuple(out)


def resolve_verdict(
    votes: Sequence[str],
    adjudicated: str | None,
    steps: Sequence[str] = RESOLVE_STEPS,
) -> tuple[str, str | None, tuple[str, ...]]:
    """(method, verdict, tied verdicts) for the ``done`` verdicts of one trace."""
    counts = Counter(votes)
    for step in steps:
        if step == "adjudicated" and adjudicated is not None:
            return "adjudicated", adjudicated, ()
        if step == "unanimous" and len(counts) == 1:
            return "unanimous", next(iter(counts)), ()
        if step == "majority" and counts:
            ranked = counts.most_common()
            top = ranked[0][1]
            leaders = tuple(sorted(v for v, n in ranked if n == top))
            if len(leaders) == 1:
                return "majority", leaders[0], ()
            return "tie", None, leaders
    if not counts:
        return "none", None, ()
    return "unresolved", None, ()


def agreement_figures(
    votes: Sequence[str], verdict: str | None
) -> tuple[tuple[tuple[str, int], ...], float | None, float | None]:
    """(sorted vote counts, share agreeing with ``verdict``, pairwise agreement)."""
    counts = Counter(votes)
    n = len(votes)
    share = counts[verdict] / n if verdict is not None and n else None
    pairs = n * (n - 1)
    pairwise = sum(c * (c - 1) for c in counts.values()) / pairs if pairs else None
    return tuple(sorted(counts.items())), share, pairwise


def _span(span: Any, labeler: str) -> dict[str, Any] | None:
    if not isinstance(span, dict):
        return None
    try:
        return {
            "turn": int(span["turn"]),
            "block": int(span["block"]),
            "start": int(span["start"]),
            "end": int(span["end"]),
            "text": str(span.get("text", "")),
            "labeler": labeler,
        }
    except (KeyError, TypeError, ValueError):
        return None


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list | tuple) else []


def resolve(
    labels: Sequence[LabelEntry],
    adjudication: AdjudicationEntry | None,
    steps: Sequence[str] = RESOLVE_STEPS,
) -> Resolution:
    """The resolved label with its details.

    Adjudicated: the lead's tags, confidence and spans. Unanimous or majority: the tags (and
    counter tags) that at least half of the agreeing labelers chose, the lower median of their
    confidences, and all their spans (one per position, the first labeler by name kept)."""
    done = sorted(
        (e for e in labels if e.status == "done" and e.verdict is not None),
        key=lambda e: e.annotator,
    )
    votes = [e.verdict for e in done if e.verdict is not None]
    method, verdict, tied = resolve_verdict(
        votes, adjudication.verdict if adjudication else None, steps
    )
    counts, share, pairwise = agreement_figures(votes, verdict)
    common: dict[str, Any] = {
        "method": method,
        "verdict": verdict,
        "tied": tied,
        "n_labelers": len(votes),
        "votes": counts,
        "agreement": share,
        "pairwise": pairwise,
    }
    if method == "adjudicated" and adjudication is not None:
        label = adjudication.label
        spans = [_span(s, adjudication.lead) for s in label.get("spans") or ()]
        confidence = label.get("confidence")
        return Resolution(
            tags=tuple(sorted(set(_strings(label.get("tags"))))),
            counter_tags=tuple(sorted(set(_strings(label.get("counter_tags"))))),
            confidence=confidence if isinstance(confidence, int) else None,
            spans=tuple(_sorted_spans(s for s in spans if s is not None)),
            **common,
        )
    if verdict is None:
        return Resolution(**common)
    agreeing = [e for e in done if e.verdict == verdict]
    tags: Counter[str] = Counter()
    counter: Counter[str] = Counter()
    confidences: list[int] = []
    spans_found: dict[tuple[int, int, int, int], dict[str, Any]] = {}
    for entry in agreeing:
        tags.update(set(_strings(entry.label.get("tags"))))
        counter.update(set(_strings(entry.label.get("counter_tags"))))
        conf = entry.label.get("confidence")
        if isinstance(conf, int) and not isinstance(conf, bool):
            confidences.append(conf)
        for raw in entry.label.get("spans") or ():
            span = _span(raw, entry.annotator)
            if span is not None:
                spans_found.setdefault(
                    (span["turn"], span["block"], span["start"], span["end"]), span
                )
    half = len(agreeing) / 2
    confidences.sort()
    return Resolution(
        tags=tuple(sorted(t for t, n in tags.items() if n >= half)),
        counter_tags=tuple(sorted(t for t, n in counter.items() if n >= half)),
        confidence=confidences[(len(confidences) - 1) // 2] if confidences else None,
        spans=tuple(_sorted_spans(spans_found.values())),
        **common,
    )


def _sorted_spans(spans: Any) -> list[dict[str, Any]]:
    return sorted(spans, key=lambda s: (s["turn"], s["block"], s["start"], s["end"]))
