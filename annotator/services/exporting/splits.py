"""Train/validation/test splits: seeded, stratified by verdict, and group-aware.

All traces of one group (an account, a session or a near-duplicate cluster) land in the same
split, so a detector is never tested on an account it saw in training. Groups are placed
greedily, largest first (ties in a seeded shuffle), each into the split whose per-verdict quota
it fills best; that keeps every split's verdict mix close to the whole set's while groups stay
whole. The result depends only on the items, the ratios and the seed.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

SPLIT_NAMES: dict[int, tuple[str, ...]] = {
    1: ("train",),
    2: ("train", "test"),
    3: ("train", "validation", "test"),
}


def parse_ratios(text: str | Sequence[float]) -> tuple[float, ...]:
    """``"0.8,0.1,0.1"`` -> (0.8, 0.1, 0.1); one to three non-negative ratios summing to 1."""
    try:
        ratios = tuple(
            float(x) for x in (text.split(",") if isinstance(text, str) else text) if str(x).strip()
        )
    except ValueError:
        raise ValueError(f"split ratios must be numbers like 0.8,0.1,0.1, got {text!r}") from None
    if not 1 <= len(ratios) <= 3:
        raise ValueError("give one to three split ratios (train[,validation],test)")
    if any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"split ratios must be non-negative and sum to 1, got {text!r}")
    return ratios


def split_names(ratios: Sequence[float]) -> tuple[str, ...]:
    return SPLIT_NAMES[len(ratios)]


@dataclass(frozen=True, slots=True)
class SplitItem:
    key: Hashable
    group: Hashable
    stratum: str


def assign_splits(
    items: Sequence[SplitItem], ratios: Sequence[float], seed: int
) -> dict[Hashable, str]:
    """Split name for every item key."""
    names = split_names(ratios)
    live = [i for i, r in enumerate(ratios) if r > 0]
    members: dict[Hashable, list[SplitItem]] = defaultdict(list)
    for item in items:
        members[item.group].append(item)
    totals = Counter(item.stratum for item in items)
    n_total = len(items)
    target = [{s: ratios[i] * totals[s] for s in totals} for i in range(len(ratios))]
    placed: list[Counter[str]] = [Counter() for _ in ratios]
    sizes = [0] * len(ratios)
    groups = sorted(members, key=repr)
    random.Random(seed).shuffle(groups)
    groups.sort(key=lambda g: -len(members[g]))  # stable: the shuffle orders equal sizes
    out: dict[Hashable, str] = {}
    for group in groups:
        counts = Counter(item.stratum for item in members[group])
        n = len(members[group])

        def score(i: int, counts: Counter[str] = counts, n: int = n) -> tuple[float, float, int]:
            fill = sum(
                c * (target[i][s] - placed[i][s]) / max(totals[s], 1) for s, c in counts.items()
            )
            room = ratios[i] * n_total - sizes[i] - n
            return (fill, room, -i)

        best = max(live, key=score)
        for s, c in counts.items():
            placed[best][s] += c
        sizes[best] += n
        for item in members[group]:
            out[item.key] = names[best]
    return out
