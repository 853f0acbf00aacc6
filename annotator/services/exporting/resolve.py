"""Which label a trace resolves to: a lead's adjudication first, then a unanimous vote, then a
majority (the single most common verdict), in the order the caller selects.

Only labels with status ``done`` vote. A majority with no single most common verdict is a tie:
``ties="skip"`` leaves the trace unresolved, ``ties="mark"`` keeps it, marked ``tie``, with the
tied verdicts listed. Pure functions: the export runner calls :func:`resolve_verdict` on bare
verdicts in its first pass and :func:`resolve` on full labels when it writes.
"""

from __future__ import annotations

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


def _count(votes: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in votes:
        counts[v] = counts.get(v, 0) + 1
    return counts


def resolve_verdict(
    votes: Sequence[str],
    adjudicated: str | None,
    steps: Sequence[str] = RESOLVE_STEPS,
) -> tuple[str, str | None, tuple[str, ...]]:
    """(method, verdict, tied verdicts) for the ``done`` verdicts of one trace."""
    return _decide(_count(votes), votes, adjudicated, steps)


def _decide(
    counts: dict[str, int],
    votes: Sequence[str],
    adjudicated: str | None,
    steps: Sequence[str],
) -> tuple[str, str | None, tuple[str, ...]]:
    for step in steps:
        if step == "adjudicated":
            if adjudicated is not None:
                return "adjudicated", adjudicated, ()
        elif step == "unanimous":
            if len(counts) == 1:
                return "unanimous", votes[0], ()
        elif counts:  # majority
            top = max(counts.values())
            leaders = [v for v, n in counts.items() if n == top]
            if len(leaders) == 1:
                return "majority", leaders[0], ()
            return "tie", None, tuple(sorted(leaders))
    if not counts:
        return "none", None, ()
    return "unresolved", None, ()


def agreement_figures(
    votes: Sequence[str], verdict: str | None
) -> tuple[tuple[tuple[str, int], ...], float | None, float | None]:
    """(sorted vote counts, share agreeing with ``verdict``, pairwise agreement)."""
    counts = _count(votes)
    n = len(votes)
    share = counts.get(verdict, 0) / n if verdict is not None and n else None
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
    return [v for v in value if type(v) is str] if type(value) is list else []


def _by_annotator(entry: LabelEntry) -> str:
    return entry.annotator


def resolve(
    labels: Sequence[LabelEntry],
    adjudication: AdjudicationEntry | None,
    steps: Sequence[str] = RESOLVE_STEPS,
) -> Resolution:
    """The resolved label with its details.

    Adjudicated: the lead's tags, confidence and spans. Unanimous or majority: the tags (and
    counter tags) that at least half of the agreeing labelers chose, the lower median of their
    confidences, and all their spans (one per position, the first labeler by name kept)."""
    done = [e for e in labels if e.status == "done" and e.verdict is not None]
    if len(done) > 1:
        done.sort(key=_by_annotator)
    votes: list[str] = [e.verdict for e in done]  # type: ignore[misc]  # filtered above
    counts = _count(votes)
    method, verdict, tied = _decide(
        counts, votes, adjudication.verdict if adjudication else None, steps
    )
    n = len(votes)
    pairs = n * (n - 1)
    res = Resolution(
        method=method,
        verdict=verdict,
        tied=tied,
        n_labelers=n,
        votes=tuple(sorted(counts.items())) if n > 1 else tuple(counts.items()),
        agreement=counts.get(verdict, 0) / n if verdict is not None and n else None,
        pairwise=sum(c * (c - 1) for c in counts.values()) / pairs if pairs else None,
    )
    if verdict is None:
        return res
    spans: dict[tuple[int, int, int, int], dict[str, Any]] = {}
    if method == "adjudicated" and adjudication is not None:
        label = adjudication.label
        tag_list, counter_list, confidence, raw_spans = _parts(label, adjudication.clean)
        res.tags = tuple(sorted(set(tag_list)))
        res.counter_tags = tuple(sorted(set(counter_list)))
        res.confidence = confidence
        _collect_spans(spans, raw_spans, adjudication.lead, adjudication.clean)
        res.spans = tuple(spans[k] for k in sorted(spans))
        return res
    tags: dict[str, int] = {}
    counter: dict[str, int] = {}
    confidences: list[int] = []
    n_agree = 0
    for entry in done:
        if entry.verdict != verdict:
            continue
        n_agree += 1
        label = entry.label
        if entry.clean:  # the common case, inlined: this runs for every exported label
            tag_list, counter_list, conf, raw_spans = (
                label["tags"],
                label["counter_tags"],
                label["confidence"],
                label["spans"],
            )
        else:
            tag_list, counter_list, conf, raw_spans = _parts(label, False)
        for tag in set(tag_list) if len(tag_list) > 1 else tag_list:
            tags[tag] = tags.get(tag, 0) + 1
        for tag in set(counter_list) if len(counter_list) > 1 else counter_list:
            counter[tag] = counter.get(tag, 0) + 1
        if conf is not None:
            confidences.append(conf)
        if raw_spans:
            _collect_spans(spans, raw_spans, entry.annotator, entry.clean)
    half = n_agree / 2
    if tags:
        res.tags = tuple(sorted([t for t, n in tags.items() if n >= half]))
    if counter:
        res.counter_tags = tuple(sorted([t for t, n in counter.items() if n >= half]))
    if confidences:
        confidences.sort()
        res.confidence = confidences[(len(confidences) - 1) // 2]
    if spans:
        res.spans = tuple([spans[k] for k in sorted(spans)])
    return res


def _parts(label: dict[str, Any], clean: bool) -> tuple[list[str], list[str], int | None, Any]:
    """(tags, counter tags, confidence, spans) of a label object; a clean one is trusted."""
    if clean:
        return label["tags"], label["counter_tags"], label["confidence"], label["spans"]
    conf = label.get("confidence")
    return (
        _strings(label.get("tags")),
        _strings(label.get("counter_tags")),
        conf if type(conf) is int else None,
        label.get("spans") or (),
    )


def _collect_spans(
    found: dict[tuple[int, int, int, int], dict[str, Any]],
    raw_spans: Any,
    labeler: str,
    clean: bool,
) -> None:
    """Add each span (with its labeler) unless one at the same position is already there."""
    for raw in raw_spans:
        if clean:  # the position first: a span several labelers marked is copied once
            key = (raw["turn"], raw["block"], raw["start"], raw["end"])
            if key not in found:
                found[key] = {**raw, "labeler": labeler}
            continue
        span = _span(raw, labeler)
        if span is not None:
            found.setdefault((span["turn"], span["block"], span["start"], span["end"]), span)
