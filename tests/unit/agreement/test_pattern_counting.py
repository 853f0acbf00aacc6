"""The agreement report groups rating rows by counting keys (verdicts, per tag, per day) instead
of the domain's sort; the groups must be exactly those of :func:`compress` on the same rows, on
the counting path and on the fallbacks for many labelers. Span agreement computed on the items
with spans only must equal the domain's on every item."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from annotator.domain.agreement import (
    MISSING,
    RatingPatterns,
    SpanTable,
    binary_ratings,
    compress,
    span_agreements,
)
from annotator.services import agreement as ag
from annotator.services.agreement import AgreementData


def _same(got: RatingPatterns, want: RatingPatterns) -> None:
    assert got.codes.tolist() == want.codes.tolist()
    assert got.weights.tolist() == want.weights.tolist()
    assert got.n_categories == want.n_categories


def _codes(rng: np.random.Generator, n: int, raters: int, categories: int) -> np.ndarray:
    codes = rng.integers(0, categories, (n, raters))
    codes[rng.random((n, raters)) < 0.3] = MISSING
    codes[codes.max(axis=1) == MISSING, 0] = 0  # every item has a rating
    return codes


@pytest.mark.parametrize("raters", [1, 2, 3, 5, 9, 12])  # 12: beyond counting
def test_verdict_patterns_equal_compress(raters: int) -> None:
    rng = np.random.default_rng(raters)
    codes = _codes(rng, 500, raters, 4)
    _same(ag._compress(codes, 4), compress(codes, 4))


@pytest.mark.parametrize("raters", [1, 3, 4, 6, 9])
def test_tag_patterns_equal_compress_per_tag(raters: int) -> None:
    """Up to 4 labelers one byte per key, up to 8 two bytes, beyond that the sort per tag."""
    rng = np.random.default_rng(10 + raters)
    present = rng.random((400, raters)) < 0.7
    chosen = rng.random((400, raters, 5)) < 0.3  # chosen where not present too: must not count
    got = ag._tag_patterns(present, chosen)
    assert len(got) == 5
    for t in range(5):
        _same(got[t], compress(binary_ratings(present, chosen[:, :, t] & present), 2))


def _data(codes: np.ndarray, days: list[date | None], with_ordinals: bool) -> AgreementData:
    n, r = codes.shape
    ordinals = np.asarray([d.toordinal() if d else 0 for d in days], dtype=np.int64)
    return AgreementData(
        labelers=tuple(f"r{j}" for j in range(r)),
        categories=("a", "b", "c"),
        tags=(),
        tag_kinds=(),
        trace_ids=np.arange(n, dtype=np.int64),
        codes=codes,
        chosen=np.zeros((n, r, 0), dtype=bool),
        spans=SpanTable.from_rows([]),
        days=tuple(days),
        day_ordinals=ordinals if with_ordinals else None,
    )


@pytest.mark.parametrize("with_ordinals", [True, False])
@pytest.mark.parametrize("count_keys", [ag._COUNT_KEYS, 1])
def test_daily_patterns_equal_compress_per_day(
    with_ordinals: bool, count_keys: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ag, "_COUNT_KEYS", count_keys)
    rng = np.random.default_rng(3)
    codes = _codes(rng, 300, 3, 3)
    choices = [date(2026, 3, 1), date(2026, 3, 4), date(2026, 2, 27), None]
    days = [choices[k] for k in rng.integers(0, 4, 300)]
    got = ag._daily_patterns(_data(codes, days, with_ordinals), 3)
    assert [day for day, _, _ in got] == sorted(d for d in set(days) if d is not None)
    for day, patterns, n_items in got:
        rows = [i for i, d in enumerate(days) if d == day]
        assert n_items == len(rows)
        _same(patterns, compress(codes[rows], 3))


def test_no_items_no_days() -> None:
    codes = np.zeros((0, 2), dtype=np.int64)
    assert ag._daily_patterns(_data(codes, [], True), 3) == []


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("bootstrap", [0, 40])
def test_span_agreement_on_the_marked_items_equals_all_items(share: float, bootstrap: int) -> None:
    """Only items with a span enter the estimates; the others only count as both empty."""
    rng = np.random.default_rng(int(share * 10) + bootstrap)
    n, raters = 200, 3
    present = rng.random((n, raters)) < 0.8
    rows = []
    for item in range(n):
        if rng.random() >= share:
            continue
        for rater in range(raters):
            if present[item, rater] and rng.random() < 0.7:
                start = int(rng.integers(0, 50))
                rows.append((item, rater, int(rng.integers(0, 2)), start, start + 5))
    spans = SpanTable.from_rows(rows)
    pairs = [(0, 1), (0, 2), (1, 2)]
    got = ag._span_agreements(spans, present, pairs, bootstrap, 7, 0.9)
    want = span_agreements(spans, present, pairs=pairs, bootstrap=bootstrap, seed=7, confidence=0.9)
    assert got[0] == want[0]
    assert got[1] == want[1]
