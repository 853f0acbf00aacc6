"""The numpy stand-ins for datasketch (which the app no longer imports, so SciPy stays out of the
bundle) give datasketch's results exactly: permutations, signatures, Jaccard estimates and the
LSH band/row choice. datasketch is a dev dependency kept for these comparisons."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from annotator.services.detection import clustering
from annotator.services.detection.clustering import (
    NUM_PERM,
    SCHEME,
    SEED,
    THRESHOLD,
    Clusterer,
    band_params,
    shingle_hashes,
    signatures,
)
from annotator.services.detection.minhash import jaccard, optimal_bands, permutations
from annotator.services.detection.normalize import normalized_words


@pytest.mark.parametrize(("num_perm", "seed"), [(NUM_PERM, SEED), (64, 7), (256, 42), (1, 0)])
def test_permutations_are_datasketchs(num_perm: int, seed: int) -> None:
    a, b = permutations(num_perm, seed)
    ref_a, ref_b = MinHash(num_perm, seed, scheme="affine32").permutations
    assert a.dtype == ref_a.dtype == np.uint32 and b.dtype == ref_b.dtype
    assert np.array_equal(a, ref_a) and np.array_equal(b, ref_b)
    assert np.all(a & 1 == 1)


def test_the_clustering_uses_datasketchs_permutations() -> None:
    ref_a, ref_b = MinHash(NUM_PERM, SEED, scheme=SCHEME).permutations
    assert np.array_equal(clustering._PERM_A, ref_a)
    assert np.array_equal(clustering._PERM_B, ref_b)


def test_prompt_signatures_equal_datasketch_update_batch() -> None:
    """Real prompts through the whole path (normalise, token hashes, shingles, signature)."""
    prompts = [
        "Write a haiku about the sea.",
        "Write a haiku about the mountains.",
        "Translate to French: the cat sleeps on the mat, and the dog barks at the mailman.",
        "",
        "ok",
    ]
    clusterer = Clusterer()
    words = [normalized_words(p) for p in prompts]
    sigs = clusterer.signatures_of(words)
    for sig, w in zip(sigs, words, strict=True):
        ref = MinHash(NUM_PERM, SEED, hashfunc=int, scheme=SCHEME)
        ref.update_batch([int(h) for h in shingle_hashes(clusterer.hasher(w))])
        assert np.array_equal(sig, ref.hashvalues)
        assert np.array_equal(sig, LeanMinHash(ref).hashvalues)


def test_jaccard_equals_lean_minhash() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**32, size=600, dtype=np.uint64).astype(np.uint32)
    sets = [base[:600], base[100:600], base[300:], base[550:], rng.permutation(base)[:50]]
    sigs = signatures(sets)
    leans = [LeanMinHash(seed=SEED, hashvalues=s, scheme=SCHEME) for s in sigs]
    estimates = set()
    for i in range(len(sets)):
        for j in range(len(sets)):
            assert jaccard(sigs[i], sigs[j]) == leans[i].jaccard(leans[j])
            estimates.add(jaccard(sigs[i], sigs[j]))
    assert len(estimates) > 3  # the pairs really differ, so equality is not trivially 0 or 1
    with pytest.raises(ValueError):
        jaccard(sigs[0], sigs[0][:64])


def test_band_params_of_the_clustering_are_minhashlshs() -> None:
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    index = clustering.ClusterIndex()
    assert band_params() == (index.bands, index.rows) == (lsh.b, lsh.r)


@pytest.mark.parametrize("num_perm", [16, 64, NUM_PERM])
def test_optimal_bands_match_datasketch_over_a_threshold_sweep(num_perm: int) -> None:
    thresholds = [round(t, 2) for t in np.arange(0.01, 1.0, 0.01)]
    choices = set()
    for t in thresholds:
        for fp_weight in (0.5, 0.3, 0.8):
            expected = _optimal_param(t, num_perm, fp_weight, 1.0 - fp_weight)
            assert optimal_bands(t, num_perm, fp_weight) == expected, (t, fp_weight)
            choices.add(expected)
    assert len(choices) > 5  # the sweep crosses many different (b, r) choices


def test_optimal_bands_rejects_a_threshold_outside_0_1() -> None:
    with pytest.raises(ValueError):
        optimal_bands(1.5, NUM_PERM)


def test_clustering_imports_neither_datasketch_nor_scipy() -> None:
    """SciPy came into the frozen app only through datasketch; the detection services (and the
    rest of the services layer) must not bring either back."""
    code = (
        "import sys, importlib, pkgutil, annotator.services as s\n"
        "for m in pkgutil.walk_packages(s.__path__, 'annotator.services.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('scipy', 'datasketch')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout
