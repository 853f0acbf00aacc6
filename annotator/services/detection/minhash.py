"""The few pieces of datasketch's MinHash LSH the clustering needs, in plain numpy.

datasketch's ``MinHashLSH`` imports SciPy (for one numerical integral), which alone would cost
the frozen app about 60 MB; the clustering already computes signatures and band keys itself. What
it took from datasketch is reproduced here bit for bit, so signatures stored in existing databases
stay valid (the dev extra keeps datasketch and the tests compare against it):

- :func:`permutations`: the ``(a, b)`` parameters of ``MinHash(num_perm, seed,
  scheme="affine32")`` (datasketch 2.x), drawn from ``numpy.random.RandomState(seed)`` in the
  same order;
- :func:`jaccard`: ``LeanMinHash.jaccard`` (share of equal signature values);
- :func:`optimal_bands`: the ``(b, r)`` that ``MinHashLSH(threshold, num_perm)`` picks with
  its default weights, integrating with Gauss-Legendre instead of ``scipy.integrate.quad``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

_U32 = np.uint32


def permutations(num_perm: int, seed: int) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """``MinHash(num_perm, seed, scheme="affine32").permutations``: odd multipliers ``a`` and
    offsets ``b`` of the maps ``h -> a*h + b mod 2^32`` (odd ``a``: a bijection, no collisions).
    Same generator, same draws, same order as datasketch's ``_init_permutations``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=_U32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=_U32)
    return a, b


def jaccard(sig_a: NDArray[np.uint32], sig_b: NDArray[np.uint32]) -> float:
    """Estimated Jaccard similarity of the two sets behind two signatures (``LeanMinHash``'s)."""
    if sig_a.shape != sig_b.shape:
        raise ValueError("signatures of different lengths")
    return float(np.count_nonzero(sig_a == sig_b)) / float(len(sig_a))


@cache
def optimal_bands(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows per band) minimising the weighted false positive and false negative areas
    of the LSH S-curve ``P(s) = 1 - (1 - s^r)^b`` around ``threshold``, as datasketch's
    ``_optimal_param`` does (same candidates, same order, first minimum wins).

    ``P`` is a polynomial of degree ``r*b <= num_perm``, so Gauss-Legendre with
    ``num_perm // 2 + 1`` nodes integrates it exactly up to rounding (scipy's adaptive ``quad``
    is only within 1.5e-8 of it; the tests check the choice agrees over a sweep of thresholds)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be in [0.0, 1.0]")
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def on(lo: float, hi: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Nodes and weights of the rule moved from [-1, 1] to [lo, hi]."""
        half = (hi - lo) / 2.0
        return lo + half * (nodes + 1.0), half * weights

    s_fp, w_fp = on(0.0, threshold)
    s_fn, w_fn = on(threshold, 1.0)
    false_negative_weight = 1.0 - false_positive_weight
    best, best_error = (0, 0), float("inf")
    for b in range(1, num_perm + 1):
        r = np.arange(1, num_perm // b + 1, dtype=np.float64)[:, None]
        fp = (1.0 - (1.0 - s_fp**r) ** b) @ w_fp
        fn = ((1.0 - s_fn**r) ** b) @ w_fn
        error = fp * false_positive_weight + fn * false_negative_weight
        i = int(np.argmin(error))  # the first of equal minima, as datasketch's strict "<"
        if error[i] < best_error:
            best_error, best = float(error[i]), (b, i + 1)
    return best
