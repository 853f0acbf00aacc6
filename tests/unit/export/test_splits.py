"""Splits: seeded, stratified by verdict, group-aware."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest

from annotator.services.exporting.splits import SplitItem, assign_splits, parse_ratios


def items(seed: int = 1, n_groups: int = 300) -> list[SplitItem]:
    r = random.Random(seed)
    out = []
    for g in range(n_groups):
        main = r.choice("aaabc")
        for k in range(r.randint(1, 6)):
            verdict = main if r.random() < 0.85 else r.choice("abc")
            out.append(SplitItem(key=(g, k), group=f"acct{g}", stratum=verdict))
    return out


def test_groups_never_straddle_splits() -> None:
    data = items()
    out = assign_splits(data, (0.8, 0.1, 0.1), seed=7)
    by_group: dict[str, set[str]] = defaultdict(set)
    for item in data:
        by_group[str(item.group)].add(out[item.key])
    assert all(len(splits) == 1 for splits in by_group.values())
    assert set(out.values()) == {"train", "validation", "test"}


def test_sizes_follow_ratios_and_verdict_mix_is_kept() -> None:
    data = items()
    out = assign_splits(data, (0.8, 0.1, 0.1), seed=7)
    sizes = Counter(out.values())
    assert sizes["train"] / len(data) == pytest.approx(0.8, abs=0.02)
    assert sizes["test"] / len(data) == pytest.approx(0.1, abs=0.02)
    overall = Counter(i.stratum for i in data)
    per = Counter((out[i.key], i.stratum) for i in data)
    for split in ("train", "validation", "test"):
        for verdict in "abc":
            share = per[(split, verdict)] / sizes[split]
            assert share == pytest.approx(overall[verdict] / len(data), abs=0.03), (split, verdict)


def test_same_seed_same_split_other_seed_other_split() -> None:
    data = items()
    first = assign_splits(data, (0.8, 0.1, 0.1), seed=3)
    assert assign_splits(list(reversed(data)), (0.8, 0.1, 0.1), seed=3) == first
    assert assign_splits(data, (0.8, 0.1, 0.1), seed=4) != first


def test_two_ratios_and_a_zero_split() -> None:
    data = items(n_groups=50)
    assert set(assign_splits(data, (0.9, 0.1), seed=0).values()) == {"train", "test"}
    assert set(assign_splits(data, (0.9, 0.0, 0.1), seed=0).values()) == {"train", "test"}


@pytest.mark.parametrize("bad", ["0.8,0.3", "a,b", "1,0,0,0", "-0.2,1.2", ""])
def test_bad_ratios(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_ratios(bad)


def test_parse_ratios() -> None:
    assert parse_ratios("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    assert parse_ratios("1") == (1.0,)
