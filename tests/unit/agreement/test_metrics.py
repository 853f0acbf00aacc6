"""Agreement metrics against published worked examples and reference implementations
(the ``krippendorff`` package; statsmodels' inter_rater when installed; a plain loop written
from the textbook definitions otherwise), plus the bootstrap and span overlap."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pytest

from annotator.domain.agreement import (
    MISSING,
    SpanTable,
    binary_ratings,
    bootstrap_sums,
    cohen_kappa,
    compress,
    fleiss_kappa,
    fleiss_kappa_table,
    krippendorff_alpha,
    modal_raters,
    pair_percent_agreement,
    percent_agreement,
    span_agreement,
    span_agreements,
    span_overlap,
    span_overlaps,
)

NAN = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, values 1-5, missing data. Published nominal alpha: 0.743.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)

# The 10 subjects x 5 categories x 14 raters example reproduced on Wikipedia's "Fleiss' kappa"
# page (kappa = 0.210).
FLEISS_WIKIPEDIA = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (1 depression,
# 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other). Published kappa: 0.430.
FLEISS_1971 = np.array(
    [
        [4, 4, 4, 4, 4, 4],
        [2, 2, 2, 5, 5, 5],
        [2, 3, 3, 3, 3, 5],
        [5, 5, 5, 5, 5, 5],
        [2, 2, 2, 4, 4, 4],
        [1, 1, 3, 3, 3, 3],
        [3, 3, 3, 3, 5, 5],
        [1, 1, 3, 3, 3, 4],
        [1, 1, 4, 4, 4, 4],
        [5, 5, 5, 5, 5, 5],
        [1, 4, 4, 4, 4, 4],
        [1, 2, 4, 4, 4, 4],
        [2, 2, 2, 3, 3, 3],
        [1, 4, 4, 4, 4, 4],
        [2, 2, 4, 4, 4, 5],
        [3, 3, 3, 3, 3, 5],
        [1, 1, 1, 4, 5, 5],
        [1, 1, 1, 1, 1, 2],
        [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 5, 5, 5],
        [5, 5, 5, 5, 5, 5],
        [2, 4, 4, 4, 4, 4],
        [2, 2, 4, 5, 5, 5],
        [1, 1, 4, 4, 4, 4],
        [1, 4, 4, 4, 4, 5],
        [2, 2, 2, 2, 2, 4],
        [1, 1, 1, 1, 5, 5],
        [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 3, 3, 3],
        [5, 5, 5, 5, 5, 5],
    ]
)


def codes_from_reliability(data: np.ndarray) -> np.ndarray:
    """Observers x units with NaN (Krippendorff's layout) -> units x raters codes, 1..5 -> 0..4."""
    return np.where(np.isnan(data), MISSING, data - 1).T.astype(np.int64)


def cohen_by_hand(a: list[int], b: list[int]) -> float:
    """Cohen (1960) written out: (p_o - p_e) / (1 - p_e) with loops, no shared code."""
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    cats = set(a) | set(b)
    p_e = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    return (p_o - p_e) / (1 - p_e)


# -- worked examples ---------------------------------------------------------------------------


def test_krippendorff_2011_nominal_example_is_0743_and_matches_the_package() -> None:
    codes = codes_from_reliability(KRIPPENDORFF_2011)
    ours = krippendorff_alpha(codes, 5)
    assert ours.value is not None and round(ours.value, 3) == 0.743
    reference = krippendorff.alpha(
        reliability_data=KRIPPENDORFF_2011, level_of_measurement="nominal"
    )
    assert ours.value == pytest.approx(reference, abs=1e-12)
    # Unit 12 has a single value: not pairable, so 11 units enter the computation.
    assert ours.n == 11


def test_fleiss_wikipedia_example_is_0210() -> None:
    kappa = fleiss_kappa_table(FLEISS_WIKIPEDIA)
    assert kappa is not None and round(kappa, 3) == 0.210


def test_fleiss_1971_table_is_0430_from_codes_and_from_the_table() -> None:
    codes = FLEISS_1971 - 1
    from_codes = fleiss_kappa(codes, 5)
    assert from_codes.value is not None and round(from_codes.value, 3) == 0.430
    assert from_codes.n == 30
    table = np.stack([(codes == c).sum(axis=1) for c in range(5)], axis=1)
    assert fleiss_kappa_table(table) == pytest.approx(from_codes.value, abs=1e-12)


def test_fleiss_matches_statsmodels_when_installed() -> None:
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    assert fleiss_kappa_table(FLEISS_WIKIPEDIA) == pytest.approx(
        inter_rater.fleiss_kappa(FLEISS_WIKIPEDIA), abs=1e-12
    )
    table, _ = inter_rater.aggregate_raters(FLEISS_1971)
    assert fleiss_kappa(FLEISS_1971 - 1, 5).value == pytest.approx(
        inter_rater.fleiss_kappa(table), abs=1e-12
    )


def _pairs_from_table(table: list[list[int]]) -> tuple[list[int], list[int]]:
    a: list[int] = []
    b: list[int] = []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return a, b


@pytest.mark.parametrize(
    ("table", "published"),
    [
        # Wikipedia "Cohen's kappa", worked example: 50 grant proposals, two readers.
        ([[20, 5], [10, 15]], 0.4),
        # The same page's two tables with equal agreement (60%) but different kappas.
        ([[45, 15], [25, 15]], 0.1304),
        ([[25, 35], [5, 35]], 0.2593),
    ],
)
def test_cohen_textbook_examples(table: list[list[int]], published: float) -> None:
    a, b = _pairs_from_table(table)
    ours = cohen_kappa(np.column_stack([a, b]), 2)
    assert ours.value == pytest.approx(published, abs=5e-5)
    assert ours.value == pytest.approx(cohen_by_hand(a, b), abs=1e-12)
    assert ours.n == sum(map(sum, table))


def test_cohen_matches_independent_computations_on_random_data() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 500)
    a = np.where(rng.random(500) < 0.7, truth, rng.integers(0, 4, 500))
    b = np.where(rng.random(500) < 0.6, truth, rng.integers(0, 4, 500))
    ours = cohen_kappa(np.column_stack([a, b]), 4).value
    assert ours == pytest.approx(cohen_by_hand(a.tolist(), b.tolist()), abs=1e-12)
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    table = np.zeros((4, 4))
    np.add.at(table, (a, b), 1)
    assert ours == pytest.approx(inter_rater.cohens_kappa(table).kappa, abs=1e-12)


def test_alpha_matches_the_package_on_random_sparse_data() -> None:
    rng = np.random.default_rng(11)
    for raters, missing in ((2, 0.0), (3, 0.2), (7, 0.6)):
        truth = rng.integers(0, 4, 300)
        codes = np.where(rng.random((300, raters)) < 0.75, truth[:, None], rng.integers(0, 4, 1))
        codes = np.where(rng.random((300, raters)) < missing, MISSING, codes)
        reliability = np.where(codes == MISSING, np.nan, codes).T.astype(float)
        expected = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
        assert krippendorff_alpha(codes, 4).value == pytest.approx(expected, abs=1e-10)


def test_two_complete_raters_alpha_is_corrected_scott_pi_and_percent_is_plain_share() -> None:
    a, b = _pairs_from_table([[20, 5], [10, 15]])
    codes = np.column_stack([a, b])
    assert percent_agreement(codes, 2).value == pytest.approx(0.7)
    assert pair_percent_agreement(codes, 2).value == pytest.approx(0.7)
    # Two raters, no missing data: alpha = 1 - (2N - 1) / 2N x (1 - Scott's pi) (Krippendorff
    # 2011, section A), with pi's chance term from the pooled margins (55 yes, 45 no of 100).
    scott_pi = (0.7 - (0.55**2 + 0.45**2)) / (1 - (0.55**2 + 0.45**2))
    assert krippendorff_alpha(codes, 2).value == pytest.approx(1 - 99 / 100 * (1 - scott_pi))


# -- edge cases --------------------------------------------------------------------------------


def test_undefined_metrics_are_none_not_nan() -> None:
    same = np.zeros((5, 3), dtype=np.int64)
    assert krippendorff_alpha(same, 2).value is None  # no variation: expected disagreement 0
    assert percent_agreement(same, 2).value == 1.0
    lonely = np.array([[0, MISSING], [MISSING, 1]])
    assert krippendorff_alpha(lonely, 2).value is None and krippendorff_alpha(lonely, 2).n == 0
    assert cohen_kappa(lonely, 2).n == 0 and cohen_kappa(lonely, 2).value is None
    assert fleiss_kappa(lonely, 2).value is None
    empty = np.zeros((0, 3), dtype=np.int64)
    assert percent_agreement(empty, 2).value is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="rating codes"):
        compress(np.array([[0, 5]]), 3)
    with pytest.raises(ValueError, match="2-D"):
        compress(np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa_table([[1, 2], [3, 3]])
    with pytest.raises(ValueError, match="confidence"):
        krippendorff_alpha(np.array([[0, 1], [1, 1]]), 2, bootstrap=10, confidence=1.5)
    with pytest.raises(ValueError, match="end after"):
        SpanTable.from_rows([(0, 0, 0, 5, 5)])


def test_compress_keeps_every_item_and_decodes_rows() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(-1, 4, size=(1000, 3))
    p = compress(codes, 4)
    assert p.n_items == 1000 and p.weights.min() >= 1
    assert len(p.codes) == len({tuple(r) for r in codes})
    for row, w in zip(p.codes, p.weights, strict=True):
        assert int((codes == row).all(axis=1).sum()) == w
    # Many raters take the other path (np.unique over rows) with the same result.
    wide = rng.integers(-1, 4, size=(200, 40))
    q = compress(wide, 4)
    assert q.n_items == 200 and q.codes.shape[1] == 40
    assert krippendorff_alpha(q).value == pytest.approx(
        krippendorff.alpha(
            reliability_data=np.where(wide == -1, np.nan, wide).T.astype(float),
            level_of_measurement="nominal",
        ),
        abs=1e-10,
    )


def test_fleiss_uses_the_modal_number_of_raters() -> None:
    codes = np.array([[0, 0, 1], [1, 1, 1], [0, MISSING, 0], [1, 0, MISSING], [0, 0, 0]])
    assert modal_raters(compress(codes, 2)) == 3
    three = fleiss_kappa(codes, 2)
    assert three.n == 3
    assert three.value == pytest.approx(fleiss_kappa(codes[[0, 1, 4]], 2).value)
    assert fleiss_kappa(codes, 2, k=2).n == 2


def test_binary_ratings_mark_unlabeled_items_missing() -> None:
    present = np.array([[True, True], [True, False]])
    chosen = np.array([[True, False], [False, True]])
    assert binary_ratings(present, chosen).tolist() == [[1, 0], [0, MISSING]]


# -- bootstrap ---------------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_brackets_the_value() -> None:
    codes = FLEISS_1971 - 1
    one = krippendorff_alpha(codes, 5, bootstrap=500, seed=7)
    two = krippendorff_alpha(codes, 5, bootstrap=500, seed=7)
    other = krippendorff_alpha(codes, 5, bootstrap=500, seed=8)
    assert one == two and one != other
    assert one.low is not None and one.high is not None and one.value is not None
    assert one.low < one.value < one.high
    assert 0.2 < one.high - one.low < 0.5  # 30 items: a wide interval
    narrow = krippendorff_alpha(np.tile(codes, (40, 1)), 5, bootstrap=500, seed=7)
    assert narrow.low is not None and narrow.high is not None
    assert narrow.high - narrow.low < (one.high - one.low) / 4  # 40x the items: ~1/6.3 the width


def test_pattern_bootstrap_equals_resampling_items_one_by_one() -> None:
    """The multinomial-over-patterns shortcut and plain index resampling give the same
    distribution of replicate sums (same mean, same spread)."""
    rng = np.random.default_rng(5)
    weights = np.array([500, 300, 200], dtype=np.int64)
    features = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 3.0]])
    fast = bootstrap_sums(weights, features, 4000, rng)
    items = np.repeat(features, weights, axis=0)
    slow = np.stack([items[rng.integers(0, 1000, 1000)].sum(axis=0) for _ in range(4000)])
    assert fast[:, 0].tolist() == [1000.0] * 4000
    assert fast[:, 1].mean() == pytest.approx(slow[:, 1].mean(), rel=0.01)
    assert fast[:, 1].std() == pytest.approx(slow[:, 1].std(), rel=0.08)
    expected_sd = np.sqrt(1000 * items[:, 1].var())
    assert fast[:, 1].std() == pytest.approx(expected_sd, rel=0.08)


def test_item_by_item_path_for_many_distinct_rows() -> None:
    rng = np.random.default_rng(9)
    features = rng.random((30_000, 2))
    weights = np.ones(30_000, dtype=np.int64)
    sums = bootstrap_sums(weights, features, 40, rng)
    assert sums.shape == (40, 2)
    expected_sd = np.sqrt(30_000 * features[:, 0].var())
    assert sums[:, 0].mean() == pytest.approx(features[:, 0].sum(), abs=4 * expected_sd)
    assert 0.6 * expected_sd < sums[:, 0].std() < 1.4 * expected_sd


# -- spans -------------------------------------------------------------------------------------


def chars(spans: list[tuple[int, int, int]]) -> set[tuple[int, int]]:
    return {(g, c) for g, s, e in spans for c in range(s, e)}


def test_span_overlap_counts_characters_once_per_rater() -> None:
    rows = [
        (0, 0, 0, 0, 10),
        (0, 0, 0, 5, 12),  # overlaps the first span of the same rater: 0..12 = 12 chars
        (0, 1, 0, 8, 20),
        (0, 1, 1, 0, 4),  # another block: shares nothing with rater 0
        (1, 0, 0, 0, 3),
        (2, 1, 0, 0, 3),
    ]
    len_a, len_b, both = span_overlap(SpanTable.from_rows(rows), 3, 0, 1)
    assert len_a.tolist() == [12, 3, 0]
    assert len_b.tolist() == [16, 0, 3]
    assert both.tolist() == [4, 0, 0]


def test_span_overlap_matches_sets_of_characters_on_random_spans() -> None:
    rng = np.random.default_rng(2)
    rows = []
    for item in range(60):
        for rater in range(3):
            for _ in range(rng.integers(0, 4)):
                start = int(rng.integers(0, 40))
                rows.append(
                    (
                        item,
                        rater,
                        int(rng.integers(0, 2)),
                        start,
                        start + 1 + int(rng.integers(0, 15)),
                    )
                )
    table = SpanTable.from_rows(rows)
    for a, b in itertools.combinations(range(3), 2):
        len_a, len_b, both = span_overlap(table, 60, a, b)
        for item in range(60):
            sa = chars([(g, s, e) for i, r, g, s, e in rows if i == item and r == a])
            sb = chars([(g, s, e) for i, r, g, s, e in rows if i == item and r == b])
            assert (len_a[item], len_b[item], both[item]) == (len(sa), len(sb), len(sa & sb))


def test_span_overlaps_of_all_pairs_at_once_match_sets_of_characters() -> None:
    """One sweep for every pair (as the dashboard computes them) equals the character sets,
    with a rater who marked nothing and one who is in no pair."""
    rng = np.random.default_rng(7)
    rows = [
        (item, rater, int(rng.integers(0, 3)), start, start + 1 + int(rng.integers(0, 20)))
        for item in range(40)
        for rater in (0, 1, 2, 4)
        for start in rng.integers(0, 50, size=int(rng.integers(0, 4))).tolist()
    ]
    table = SpanTable.from_rows(rows)
    pairs = [(0, 1), (0, 2), (1, 2), (2, 3)]
    lengths, boths = span_overlaps(table, 40, pairs)
    assert sorted(lengths) == [0, 1, 2, 3]

    def marked(item: int, rater: int) -> set[tuple[int, int]]:
        return chars([(g, s, e) for i, r, g, s, e in rows if i == item and r == rater])

    for item in range(40):
        for rater in range(4):
            assert lengths[rater][item] == len(marked(item, rater))
        for (a, b), both in zip(pairs, boths, strict=True):
            assert both[item] == len(marked(item, a) & marked(item, b))


def test_span_agreement_jaccard_and_f1() -> None:
    rows = [
        (0, 0, 0, 0, 10),
        (0, 1, 0, 5, 15),  # item 0: 5 shared of 15 marked -> J 1/3, F1 1/2
        (1, 0, 0, 0, 4),  # item 1: rater 1 labeled but marked nothing -> 0 shared of 4
    ]
    present = np.array([[True, True], [True, True], [True, True], [True, False]])
    result = span_agreement(SpanTable.from_rows(rows), present)
    # Micro: 5 shared, 10 + 10 + 4 = 24 marked in total.
    assert result.n == 2 and result.both_empty == 1  # item 2: both marked nothing
    assert result.jaccard.value == pytest.approx(5 / (24 - 5))
    assert result.f1.value == pytest.approx(2 * 5 / 24)
    identical = span_agreement(
        SpanTable.from_rows([(0, 0, 0, 2, 9), (0, 1, 0, 2, 9)]), np.ones((1, 2), dtype=bool)
    )
    assert identical.jaccard.value == 1.0 and identical.f1.value == 1.0


def test_span_agreements_per_pair_and_pooled_share_replicates() -> None:
    rng = np.random.default_rng(4)
    rows = []
    for item in range(200):
        start = int(rng.integers(0, 50))
        for rater in range(3):
            jitter = int(rng.integers(0, 6)) * rater
            rows.append((item, rater, 0, start + jitter, start + jitter + 20))
    present = np.ones((200, 3), dtype=bool)
    table = SpanTable.from_rows(rows)
    pooled, per_pair = span_agreements(table, present, bootstrap=200, seed=1)
    assert len(per_pair) == 3 and pooled.n == 600
    assert all(p.n == 200 for p in per_pair)
    # Raters further apart (0 and 2 have the largest jitter gap) agree least.
    assert per_pair[1].f1.value is not None and per_pair[0].f1.value is not None
    assert per_pair[1].f1.value < per_pair[0].f1.value
    for result in (pooled, *per_pair):
        assert result.f1.low is not None and result.f1.high is not None
        assert result.f1.low <= (result.f1.value or 0) <= result.f1.high
    single = span_agreement(table, present, pairs=[(0, 2)])
    assert single.f1.value == pytest.approx(per_pair[1].f1.value)
