"""Inter-annotator agreement: pure, vectorised functions (numpy, no I/O).

Ratings are an ``(items, raters)`` integer matrix of category codes ``0..C-1`` with
:data:`MISSING` (-1) where a rater did not rate an item. Every metric here is a ratio of sums over
items of per-item quantities, and an item's quantities depend only on its row of ratings. So the
rows are first compressed into distinct *patterns* with counts (3 raters and 4 verdicts give at
most 125 patterns however many items there are), and a bootstrap replicate (resampling items with
replacement) is a multinomial draw of pattern counts: 1000 replicates cost a ``(1000, P)`` matrix
product instead of a million row look-ups. This is exactly item resampling, not an
approximation. Span overlaps are continuous, so they are resampled item by item.

Formulas follow the published definitions: Cohen (1960), Fleiss (1971), Krippendorff (2011,
"Computing Krippendorff's Alpha-Reliability", nominal metric, coincidence matrix, pairable values
only). Undefined values (no pairable data, or no variation at all) are ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

MISSING = -1
"""Code of a missing rating."""
DEFAULT_BOOTSTRAP = 1000
DEFAULT_CONFIDENCE = 0.95
_MAX_MULTINOMIAL_PATTERNS = 20_000
"""Above this many distinct rows a replicate draws item indices instead of pattern counts."""
_GATHER_CHUNK_CELLS = 1_000_000
"""Item-by-item replicates are drawn in chunks of about this many indices: small enough for the
count vectors to stay in cache, large enough for the matrix product to be efficient."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Statistic = Callable[[FloatArray], FloatArray]
"""Maps summed features ``(..., f)`` to metric values ``(...)``, vectorised over replicates."""


@dataclass(frozen=True)
class Estimate:
    """A metric value with its bootstrap confidence interval (percentile method).

    ``n`` is the number of items that entered the computation; ``value`` (and the bounds) are
    ``None`` when the metric is undefined on the data."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0

    def as_dict(self) -> dict[str, float | int | None]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


@dataclass(frozen=True)
class RatingPatterns:
    """Distinct rows of a rating matrix and how many items have each (``weights``)."""

    codes: IntArray
    """``(P, R)`` category codes, :data:`MISSING` where absent."""
    weights: IntArray
    """``(P,)`` item counts, all positive."""
    n_categories: int

    @property
    def n_raters(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_items(self) -> int:
        return int(self.weights.sum())

    def counts(self) -> IntArray:
        """``(P, C)``: how many raters gave each category, per pattern."""
        out = np.zeros((self.codes.shape[0], self.n_categories), dtype=np.int64)
        for c in range(self.n_categories):
            out[:, c] = (self.codes == c).sum(axis=1)
        return out


def compress(codes: ArrayLike, n_categories: int) -> RatingPatterns:
    """Group identical rating rows. Codes outside ``0..n_categories-1`` must be :data:`MISSING`."""
    matrix = np.asarray(codes, dtype=np.int64)
    if matrix.ndim != 2:
        raise ValueError("ratings must be a 2-D (items, raters) matrix")
    if n_categories < 1:
        raise ValueError("there must be at least one category")
    if matrix.size and (matrix.min() < MISSING or matrix.max() >= n_categories):
        raise ValueError(f"rating codes must be {MISSING} (missing) or 0..{n_categories - 1}")
    n, r = matrix.shape
    if n == 0 or r == 0:
        return RatingPatterns(
            np.zeros((0, r), dtype=np.int64), np.zeros(0, dtype=np.int64), n_categories
        )
    base = n_categories + 1
    if base**r < 2**62:
        powers = base ** np.arange(r, dtype=np.int64)
        keys = (matrix + 1) @ powers
        uniq, weights = np.unique(keys, return_counts=True)
        rows = (uniq[:, None] // powers[None, :]) % base - 1
    else:
        rows, weights = np.unique(matrix, axis=0, return_counts=True)
    return RatingPatterns(rows.astype(np.int64), weights.astype(np.int64), n_categories)


def _patterns(ratings: RatingPatterns | ArrayLike, n_categories: int | None) -> RatingPatterns:
    if isinstance(ratings, RatingPatterns):
        return ratings
    matrix = np.asarray(ratings, dtype=np.int64)
    if n_categories is None:
        n_categories = int(matrix.max()) + 1 if matrix.size and matrix.max() >= 0 else 1
    return compress(matrix, n_categories)


# -- bootstrap ---------------------------------------------------------------------------------


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def bootstrap_sums(
    weights: IntArray, features: FloatArray, replicates: int, rng: np.random.Generator
) -> FloatArray:
    """``(replicates, f)`` sums of ``features`` over items resampled with replacement, where
    row ``p`` of ``features`` stands for ``weights[p]`` identical items."""
    n = int(weights.sum())
    n_rows, n_features = features.shape
    if replicates <= 0 or n == 0:
        return np.zeros((0, n_features))
    if n_rows <= _MAX_MULTINOMIAL_PATTERNS:
        draws = rng.multinomial(n, weights / n, size=replicates)
        return np.asarray(draws @ features, dtype=np.float64)
    per_item = np.repeat(features, weights, axis=0)
    out = np.empty((replicates, n_features))
    chunk = max(1, _GATHER_CHUNK_CELLS // n)
    for start in range(0, replicates, chunk):
        rows = min(replicates, start + chunk) - start
        picked = rng.integers(0, n, size=(rows, n), dtype=np.int64)
        picked += (np.arange(rows, dtype=np.int64) * n)[:, None]
        counts = np.bincount(picked.ravel(), minlength=rows * n).reshape(rows, n)
        out[start : start + rows] = counts.astype(np.float64) @ per_item
    return out


def estimate(
    weights: IntArray,
    features: FloatArray,
    statistic: Statistic,
    *,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """The statistic on all items, and a percentile interval over ``bootstrap`` replicates.

    Replicates on which the statistic is undefined (e.g. no variation) are left out."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    n = int(weights.sum())
    if n == 0:
        return Estimate(None, None, None, 0)
    sums = bootstrap_sums(weights, features, bootstrap, np.random.default_rng(seed))
    return interval(statistic, weights.astype(np.float64) @ features, sums, n, confidence)


def interval(
    statistic: Statistic, total: FloatArray, replicate_sums: FloatArray, n: int, confidence: float
) -> Estimate:
    """The statistic of the summed features and its percentile interval over replicate sums
    (several statistics can share one set of replicates)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = _finite(float(statistic(total)))
        if value is None or replicate_sums.shape[0] == 0:
            return Estimate(value, None, None, n)
        values = statistic(replicate_sums)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Estimate(value, None, None, n)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Estimate(value, float(low), float(high), n)


# -- nominal metrics over rating patterns ------------------------------------------------------


def _percent_features(p: RatingPatterns) -> tuple[IntArray, FloatArray]:
    counts = p.counts()
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, m = counts[keep], m[keep]
    agree = (counts * (counts - 1)).sum(axis=1) / (m * (m - 1))
    return p.weights[keep], np.column_stack([np.ones(len(m)), agree])


def _percent_stat(s: FloatArray) -> FloatArray:
    return np.asarray(s[..., 1] / s[..., 0], dtype=np.float64)


def percent_agreement(
    ratings: RatingPatterns | ArrayLike,
    n_categories: int | None = None,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Share of agreeing rater pairs per item, averaged over items with two or more ratings."""
    weights, features = _percent_features(_patterns(ratings, n_categories))
    return estimate(
        weights, features, _percent_stat, bootstrap=bootstrap, seed=seed, confidence=confidence
    )


def _alpha_features(p: RatingPatterns) -> tuple[IntArray, FloatArray]:
    counts = p.counts()
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, m = counts[keep], m[keep]
    diagonal = (counts * (counts - 1)).sum(axis=1) / (m - 1)
    features = np.column_stack([m.astype(np.float64), diagonal, counts.astype(np.float64)])
    return p.weights[keep], features


def _alpha_stat(s: FloatArray) -> FloatArray:
    n, diagonal, marginals = s[..., 0], s[..., 1], s[..., 2:]
    expected = n * n - (marginals * marginals).sum(axis=-1)
    return np.asarray(1.0 - (n - 1.0) * (n - diagonal) / expected, dtype=np.float64)


def krippendorff_alpha(
    ratings: RatingPatterns | ArrayLike,
    n_categories: int | None = None,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Krippendorff's alpha, nominal metric: any number of raters, missing ratings allowed
    (items with fewer than two ratings are not pairable and do not count)."""
    weights, features = _alpha_features(_patterns(ratings, n_categories))
    return estimate(
        weights, features, _alpha_stat, bootstrap=bootstrap, seed=seed, confidence=confidence
    )


def _fleiss_features(p: RatingPatterns, k: int) -> tuple[IntArray, FloatArray]:
    counts = p.counts()
    keep = counts.sum(axis=1) == k
    counts = counts[keep].astype(np.float64)
    squares = (counts * counts).sum(axis=1) - k
    return p.weights[keep], np.column_stack([np.ones(len(counts)), squares, counts])


def _fleiss_stat(k: int) -> Statistic:
    def stat(s: FloatArray) -> FloatArray:
        items, squares, marginals = s[..., 0], s[..., 1], s[..., 2:]
        observed = squares / (items * k * (k - 1))
        shares = marginals / (items * k)[..., None]
        chance = (shares * shares).sum(axis=-1)
        return np.asarray((observed - chance) / (1.0 - chance), dtype=np.float64)

    return stat


def modal_raters(ratings: RatingPatterns) -> int | None:
    """The most common number of ratings per item among items with at least two (ties: more)."""
    m = (ratings.codes != MISSING).sum(axis=1)
    per_k = np.bincount(m, weights=ratings.weights, minlength=2)[2:]
    if per_k.size == 0 or per_k.max() == 0:
        return None
    best = np.flatnonzero(per_k == per_k.max())
    return int(best[-1]) + 2


def fleiss_kappa(
    ratings: RatingPatterns | ArrayLike,
    n_categories: int | None = None,
    *,
    k: int | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Fleiss' kappa over the items rated by exactly ``k`` raters (default: the most common
    number of ratings per item); the raters may differ from item to item."""
    p = _patterns(ratings, n_categories)
    if k is None:
        k = modal_raters(p)
        if k is None:
            return Estimate(None, None, None, 0)
    if k < 2:
        raise ValueError("Fleiss' kappa needs at least two ratings per item")
    weights, features = _fleiss_features(p, k)
    return estimate(
        weights, features, _fleiss_stat(k), bootstrap=bootstrap, seed=seed, confidence=confidence
    )


def fleiss_kappa_table(table: ArrayLike) -> float | None:
    """Fleiss' kappa from the classic ``(items, categories)`` table of rater counts, as printed
    in Fleiss (1971); every row must sum to the same number of raters."""
    counts = np.asarray(table, dtype=np.float64)
    k = counts.sum(axis=1)
    if counts.ndim != 2 or counts.shape[0] == 0 or not np.all(k == k[0]) or k[0] < 2:
        raise ValueError("every item must be rated by the same number (>= 2) of raters")
    squares = (counts * counts).sum(axis=1) - k
    features = np.column_stack([np.ones(len(counts)), squares, counts])
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(float(_fleiss_stat(int(k[0]))(features.sum(axis=0))))


def _pair_features(p: RatingPatterns, a: int, b: int) -> tuple[IntArray, FloatArray]:
    ra, rb = p.codes[:, a], p.codes[:, b]
    keep = (ra != MISSING) & (rb != MISSING)
    ra, rb = ra[keep], rb[keep]
    c = p.n_categories
    onehot_a = (ra[:, None] == np.arange(c)[None, :]).astype(np.float64)
    onehot_b = (rb[:, None] == np.arange(c)[None, :]).astype(np.float64)
    agree = (ra == rb).astype(np.float64)
    features = np.column_stack([np.ones(len(ra)), agree, onehot_a, onehot_b])
    return p.weights[keep], features


def _cohen_stat(c: int) -> Statistic:
    def stat(s: FloatArray) -> FloatArray:
        n, agree = s[..., 0], s[..., 1]
        margins_a, margins_b = s[..., 2 : 2 + c], s[..., 2 + c : 2 + 2 * c]
        observed = agree / n
        chance = (margins_a * margins_b).sum(axis=-1) / (n * n)
        return np.asarray((observed - chance) / (1.0 - chance), dtype=np.float64)

    return stat


def cohen_kappa(
    ratings: RatingPatterns | ArrayLike,
    n_categories: int | None = None,
    *,
    pair: tuple[int, int] = (0, 1),
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Cohen's kappa between two raters (columns ``pair``) on the items both rated."""
    p = _patterns(ratings, n_categories)
    weights, features = _pair_features(p, *pair)
    return estimate(
        weights,
        features,
        _cohen_stat(p.n_categories),
        bootstrap=bootstrap,
        seed=seed,
        confidence=confidence,
    )


def pair_percent_agreement(
    ratings: RatingPatterns | ArrayLike,
    n_categories: int | None = None,
    *,
    pair: tuple[int, int] = (0, 1),
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Estimate:
    """Share of the items both raters rated on which they gave the same category."""
    weights, features = _pair_features(_patterns(ratings, n_categories), *pair)

    def stat(s: FloatArray) -> FloatArray:
        return np.asarray(s[..., 1] / s[..., 0], dtype=np.float64)

    return estimate(weights, features, stat, bootstrap=bootstrap, seed=seed, confidence=confidence)


def binary_ratings(present: ArrayLike, chosen: ArrayLike) -> IntArray:
    """Codes for one multi-select option as a binary variable: 1 chosen, 0 not chosen,
    :data:`MISSING` where the rater did not label the item at all."""
    mask = np.asarray(present, dtype=bool)
    return np.where(mask, np.asarray(chosen, dtype=bool).astype(np.int64), MISSING)


# -- evidence spans ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanTable:
    """Evidence spans as parallel arrays: the item and rater (matrix row and column), the
    region (``group``: e.g. turn and block of the trace, as one integer) and char offsets."""

    item: IntArray
    rater: IntArray
    group: IntArray
    start: IntArray
    end: IntArray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, int, int, int, int]]) -> SpanTable:
        """From ``(item, rater, group, start, end)`` tuples."""
        data = np.asarray(rows, dtype=np.int64).reshape(-1, 5)
        if np.any(data[:, 4] <= data[:, 3]):
            raise ValueError("every span must end after it starts")
        return cls(*(np.ascontiguousarray(data[:, j]) for j in range(5)))

    def __len__(self) -> int:
        return int(self.item.shape[0])


def span_overlap(
    spans: SpanTable, n_items: int, a: int, b: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per item: characters covered by rater ``a``, by rater ``b``, and by both (overlapping
    spans of one rater count once)."""
    lengths, both = span_overlaps(spans, n_items, [(a, b)])
    return lengths[a], lengths[b], both[0]


def span_overlaps(
    spans: SpanTable, n_items: int, pairs: Sequence[tuple[int, int]]
) -> tuple[dict[int, FloatArray], list[FloatArray]]:
    """Per item, the characters covered by each rater of ``pairs`` (overlapping spans of one
    rater count once) and, per pair, by both. One sort of every span boundary and a sweep per
    rater, shared by all pairs (no Python loop over spans)."""
    raters = sorted({r for pair in pairs for r in pair})
    zeros = np.zeros(n_items)
    if not raters:
        return {}, []
    sel = np.isin(spans.rater, raters)
    item = spans.item[sel]
    if item.size == 0:
        return {r: zeros.copy() for r in raters}, [zeros.copy() for _ in pairs]
    region = item * (int(spans.group.max()) + 1) + spans.group[sel]
    pos = np.concatenate([spans.start[sel], spans.end[sel]])
    key = np.concatenate([region, region])
    order = np.lexsort((pos, key))
    n = item.size
    # Boundary k of the sorted order: a start (+1) when its source index is below n.
    source = order
    delta = np.where(source < n, 1, -1)
    who = np.concatenate([spans.rater[sel], spans.rater[sel]])[source]
    items = np.concatenate([item, item])[source]
    pos, key = pos[order], key[order]
    # Each rater's +1/-1 events balance within a region, so a global running sum is exact.
    cover = {r: np.cumsum(np.where(who == r, delta, 0)) > 0 for r in raters}
    seg = np.zeros(pos.size)
    seg[:-1] = np.where(key[1:] == key[:-1], pos[1:] - pos[:-1], 0)

    def per_item(covered: NDArray[np.bool_]) -> FloatArray:
        return np.asarray(
            np.bincount(items, weights=seg * covered, minlength=n_items), dtype=np.float64
        )

    lengths = {r: per_item(cover[r]) for r in raters}
    return lengths, [per_item(cover[a] & cover[b]) for a, b in pairs]


@dataclass(frozen=True)
class SpanAgreement:
    """Character-level overlap of evidence spans, micro-averaged over (item, rater pair)s where
    both raters labeled the item and at least one marked a span. ``n`` counts those (item, pair)s
    (also the ``n`` of the estimates); ``both_empty`` those where both marked nothing."""

    jaccard: Estimate
    f1: Estimate
    n: int
    both_empty: int

    def as_dict(self) -> dict[str, object]:
        return {
            "jaccard": self.jaccard.as_dict(),
            "f1": self.f1.as_dict(),
            "n": self.n,
            "both_empty": self.both_empty,
        }


def _jaccard_stat(s: FloatArray) -> FloatArray:
    inter, total = s[..., 1], s[..., 2]
    return np.asarray(inter / (total - inter), dtype=np.float64)


def _f1_stat(s: FloatArray) -> FloatArray:
    return np.asarray(2.0 * s[..., 1] / s[..., 2], dtype=np.float64)


def _columns(first: int) -> Callable[[Statistic], Statistic]:
    """Apply a 3-column span statistic to columns ``first..first+2`` of wider sums."""

    def wrap(stat: Statistic) -> Statistic:
        return lambda s: stat(s[..., first : first + 3])

    return wrap


def span_agreements(
    spans: SpanTable,
    present: ArrayLike,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[SpanAgreement, list[SpanAgreement]]:
    """Span overlap over all the ``pairs`` of raters (default: every pair) and for each pair,
    with one shared set of item resamples for all of them.

    Jaccard = shared chars / chars marked by either; F1 (Dice) = 2 x shared / (chars of one +
    chars of the other). ``present`` is the ``(items, raters)`` mask of who labeled which item:
    a rater who labeled an item but marked nothing fully disagrees with one who marked spans."""
    mask = np.asarray(present, dtype=bool)
    n_items, n_raters = mask.shape
    if pairs is None:
        pairs = [(a, b) for a in range(n_raters) for b in range(a + 1, n_raters)]
    columns = [np.zeros((n_items, 3))]
    empties = [0]
    lengths, boths = span_overlaps(spans, n_items, pairs)
    for (a, b), both in zip(pairs, boths, strict=True):
        len_a, len_b = lengths[a], lengths[b]
        shared = mask[:, a] & mask[:, b]
        marked = shared & ((len_a + len_b) > 0)
        empties.append(int((shared & ~marked).sum()))
        pair = np.column_stack(
            [marked, np.where(marked, both, 0.0), np.where(marked, len_a + len_b, 0.0)]
        )
        columns.append(pair)
        columns[0] += pair
    empties[0] = sum(empties[1:])
    features = np.hstack(columns)
    keep = features[:, 0] > 0
    features = features[keep]
    weights = np.ones(features.shape[0], dtype=np.int64)
    sums = bootstrap_sums(weights, features, bootstrap, np.random.default_rng(seed))
    total = features.sum(axis=0)
    results = []
    for j in range(len(columns)):
        col = _columns(3 * j)
        n_pairs = int(total[3 * j])
        results.append(
            SpanAgreement(
                jaccard=interval(col(_jaccard_stat), total, sums, n_pairs, confidence),
                f1=interval(col(_f1_stat), total, sums, n_pairs, confidence),
                n=n_pairs,
                both_empty=empties[j],
            )
        )
    return results[0], results[1:]


def span_agreement(
    spans: SpanTable,
    present: ArrayLike,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> SpanAgreement:
    """Span overlap pooled over the ``pairs`` of raters (default: every pair); see
    :func:`span_agreements`."""
    overall, _ = span_agreements(
        spans, present, pairs=pairs, bootstrap=bootstrap, seed=seed, confidence=confidence
    )
    return overall
