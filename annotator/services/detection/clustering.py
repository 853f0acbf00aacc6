"""Near-duplicate prompt clusters: MinHash LSH on word shingles of normalised prompts.

How it stays fast and incremental:

- Shingles are hashed once per token (crc32, cached) and combined with numpy; signatures of many
  prompts are computed in one vectorised pass (the same permutations and formula as datasketch's
  ``MinHash.update_batch``, scheme ``affine32``, so a stored signature is a valid ``LeanMinHash``;
  datasketch itself is not imported, see :mod:`.minhash`, it would bring SciPy along).
- Each trace joins the cluster of any earlier prompt the LSH index proposes and whose estimated
  Jaccard similarity passes :data:`VERIFY` (union-find, so a prompt that bridges two clusters
  merges them).
- Only the first :data:`INDEX_CAP` signatures of a cluster go into the index: a template sent
  50,000 times then costs one query per new prompt against a few dozen candidates, not 50,000.
- Signatures and the "in the index" flag are stored per trace (``trace_clusters``). A later import
  rebuilds the index from the stored signatures (no prompt is normalised or hashed twice) and only
  the traces without a row are clustered; clusters they join or merge get fresh statistics.
"""

from __future__ import annotations

import difflib
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from annotator.services.detection.minhash import optimal_bands, permutations
from annotator.services.detection.normalize import Normalized, Token, normalize, normalized_words
from annotator.store.database import Database
from annotator.store.detection_models import GroupLabel, PromptCluster, TraceCluster
from annotator.store.models import TraceRow, utcnow

NUM_PERM = 128
SEED = 1
SHINGLE = 3
THRESHOLD = 0.3
"""LSH threshold on the Jaccard similarity of 3-word shingles. Two fillings of one template share
the template's shingles; the benchmark's mix (templates with long slots) sits around 0.5."""
VERIFY = 0.27
"""Estimated Jaccard a candidate must reach to join: LSH banding alone lets some pairs through
well below the threshold."""
INDEX_CAP = 8
SLOT_SAMPLE_MEMBERS = 12
"""Members diffed against the first one to find a cluster's varying slots."""
MAX_TEMPLATE_TOKENS = 300
MAX_SAMPLES = 5
CHUNK = 2_000

SCHEME = "affine32"
_U32 = np.uint32
_MAX_HASH = np.uint64((1 << 32) - 1)
_MIX1 = np.uint64(0x9E3779B1)
_MIX2 = np.uint64(0x85EBCA77)
_FMIX = (16, _U32(0x85EBCA6B), 13, _U32(0xC2B2AE35), 16)
"""MurmurHash3's 32-bit finalizer, as datasketch applies it before its affine permutations."""
_PERM_A, _PERM_B = permutations(NUM_PERM, SEED)
_SHINGLES_PER_PASS = 32_768
"""Rows of the (shingles x permutations) matrix computed at once: 16 MB of uint32."""

Signature = NDArray[np.uint32]


# -- hashing -----------------------------------------------------------------------------------


class _TokenHasher:
    """crc32 of each distinct token, cached: prompts repeat their words a lot."""

    def __init__(self) -> None:
        self.cache: dict[str, int] = {}

    def __call__(self, words: Sequence[str]) -> NDArray[np.uint64]:
        cache = self.cache
        out = []
        for w in words:
            h = cache.get(w)
            if h is None:
                h = zlib.crc32(w.encode("utf-8", "surrogatepass"))
                if len(cache) < 2_000_000:
                    cache[w] = h
            out.append(h)
        return np.fromiter(out, dtype=np.uint64, count=len(out))


def shingle_hashes(token_hashes: NDArray[np.uint64], k: int = SHINGLE) -> NDArray[np.uint32]:
    """32-bit hashes of the k-word shingles (the whole prompt if it has fewer than k words)."""
    n = len(token_hashes)
    if n == 0:
        return np.zeros(1, dtype=_U32)
    if n < k:
        h = 0
        for v in token_hashes.tolist():
            h = (h * 0x9E3779B1 + v) & 0xFFFFFFFF
        return np.array([h], dtype=_U32)
    with np.errstate(over="ignore"):
        h64 = token_hashes[: n - k + 1].copy()
        for i in range(1, k):
            h64 = (h64 * _MIX1 + token_hashes[i : n - k + 1 + i] * _MIX2) & _MAX_HASH
    return h64.astype(_U32)


def _fmix(hv: NDArray[np.uint32]) -> NDArray[np.uint32]:
    s1, m1, s2, m2, s3 = _FMIX
    hv = hv ^ (hv >> _U32(s1))
    hv = hv * m1
    hv = hv ^ (hv >> _U32(s2))
    hv = hv * m2
    return hv ^ (hv >> _U32(s3))


def signatures(shingle_sets: Sequence[NDArray[np.uint32]]) -> NDArray[np.uint32]:
    """MinHash signatures (rows) of many shingle-hash arrays in a few numpy passes.

    Row i equals ``MinHash(NUM_PERM, SEED, hashfunc=int, scheme="affine32")`` updated with
    ``shingle_sets[i]``: stored signatures are ordinary datasketch sketches."""
    n = len(shingle_sets)
    out = np.empty((n, NUM_PERM), dtype=_U32)
    start = 0
    while start < n:
        end, total = start, 0
        while end < n and (end == start or total + len(shingle_sets[end]) <= _SHINGLES_PER_PASS):
            total += len(shingle_sets[end])
            end += 1
        parts = shingle_sets[start:end]
        hv = _fmix(np.concatenate(parts))[:, None]
        phv = hv * _PERM_A + _PERM_B
        offsets = np.zeros(len(parts), dtype=np.intp)
        np.cumsum([len(p) for p in parts[:-1]], out=offsets[1:])
        out[start:end] = np.minimum.reduceat(phv, offsets, axis=0)
        start = end
    return out


def sig_to_bytes(sig: Signature) -> bytes:
    return sig.astype("<u4").tobytes()


def sig_from_bytes(data: bytes) -> Signature:
    return np.frombuffer(data, dtype="<u4").astype(_U32)


# -- the index ---------------------------------------------------------------------------------


def band_params(threshold: float = THRESHOLD, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band) as datasketch's ``MinHashLSH`` picks them for ``threshold``
    (equal weight on false positives and false negatives)."""
    return optimal_bands(threshold, num_perm)


def band_keys(sigs: NDArray[np.uint32], bands: int, rows: int) -> NDArray[np.uint64]:
    """One 64-bit bucket key per (signature, band), computed for a whole batch at once: the
    same banding as ``MinHashLSH``, without a Python call per band."""
    n = len(sigs)
    cols = sigs[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    with np.errstate(over="ignore"):
        keys: NDArray[np.uint64] = np.zeros((n, bands), dtype=np.uint64)
        for j in range(rows):
            keys = (keys * np.uint64(0x100000001B3)) ^ cols[:, :, j]
        salted = keys * np.uint64(0x9E3779B97F4A7C15) + np.arange(bands, dtype=np.uint64)
    return salted.astype(np.uint64, copy=False)


class ClusterIndex:
    """Union-find over cluster labels plus a capped LSH index of member signatures.

    Labels: positive = an existing cluster id, negative = a new trace's provisional cluster.
    The buckets are a plain dict keyed by :func:`band_keys` (datasketch's banding, vectorised);
    candidates are verified on the estimated Jaccard similarity before they join."""

    def __init__(
        self, threshold: float = THRESHOLD, verify: float = VERIFY, cap: int = INDEX_CAP
    ) -> None:
        self.bands, self.rows = band_params(threshold)
        self.buckets: dict[int, list[int]] = {}
        self.verify = verify
        self.cap = cap
        self.parent: dict[int, int] = {}
        self.indexed: dict[int, int] = defaultdict(int)
        self.label_of: dict[int, int] = {}
        self.row_of: dict[int, int] = {}
        """Row of an indexed key's signature in ``matrix`` (one fancy-index per query)."""
        self.matrix = np.empty((1024, NUM_PERM), dtype=_U32)
        self.key_at: list[int] = []

    def find(self, label: int) -> int:
        parent = self.parent
        root = label
        while parent[root] != root:
            root = parent[root]
        while parent[label] != root:
            parent[label], label = root, parent[label]
        return root

    def _union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        # An existing cluster outlives a new one; of two existing ones, the older (smaller id).
        if (ra > 0) != (rb > 0):
            keep, gone = (ra, rb) if ra > 0 else (rb, ra)
        elif ra > 0:
            keep, gone = min(ra, rb), max(ra, rb)
        else:
            keep, gone = max(ra, rb), min(ra, rb)
        self.parent[gone] = keep
        self.indexed[keep] += self.indexed.pop(gone, 0)

    def _insert(self, key: int, sig: Signature, keys: list[int]) -> None:
        buckets = self.buckets
        row = len(self.row_of)
        for k in keys:
            bucket = buckets.get(k)
            if bucket is None:
                buckets[k] = [row]
            else:
                bucket.append(row)
        if row == len(self.matrix):
            self.matrix = np.concatenate([self.matrix, np.empty_like(self.matrix)])
        self.matrix[row] = sig
        self.row_of[key] = row
        self.key_at.append(key)

    def load(self, keys: Sequence[int], labels: Sequence[int], sigs: NDArray[np.uint32]) -> None:
        """Put stored, indexed members of existing clusters back into the index."""
        all_keys = band_keys(sigs, self.bands, self.rows).tolist()
        for key, label, sig, bk in zip(keys, labels, sigs, all_keys, strict=True):
            self.parent.setdefault(label, label)
            self._insert(key, sig, bk)
            self.label_of[key] = label
            self.indexed[label] += 1

    def add_batch(
        self, keys: Sequence[int], sigs: NDArray[np.uint32], alone: Sequence[bool] = ()
    ) -> list[bool]:
        """Cluster new prompts (label ``-key``) in order; for each, whether it went into the
        index. ``alone[i]``: keep prompt i a cluster of its own (an empty prompt is not a
        template shared with every other empty prompt)."""
        out = []
        buckets = self.buckets
        need = int(np.ceil(self.verify * NUM_PERM))
        for i, (key, sig, bk) in enumerate(
            zip(keys, sigs, band_keys(sigs, self.bands, self.rows).tolist(), strict=True)
        ):
            label = -key
            self.parent[label] = label
            self.label_of[key] = label
            if i < len(alone) and alone[i]:
                out.append(False)
                continue
            candidates: set[int] = set()
            for k in bk:
                bucket = buckets.get(k)
                if bucket is not None:
                    candidates.update(bucket)
            if candidates:
                rows = np.fromiter(candidates, dtype=np.intp, count=len(candidates))
                similar = (self.matrix[rows] == sig).sum(axis=1) >= need
                key_at, label_of, find = self.key_at, self.label_of, self.find
                roots = {find(label_of[key_at[r]]) for r in rows[similar].tolist()}
                for root in roots:
                    self._union(label, root)
            root = self.find(label)
            if self.indexed[root] < self.cap:
                self._insert(key, sig, bk)
                self.indexed[root] += 1
                out.append(True)
            else:
                out.append(False)
        return out


class Clusterer:
    """Normalise, hash and cluster prompts in batches (what the benchmark times without a db)."""

    def __init__(self, index: ClusterIndex | None = None) -> None:
        self.index = index if index is not None else ClusterIndex()
        self.hasher = _TokenHasher()
        self.in_index: dict[int, bool] = {}
        self.sigs: dict[int, Signature] = {}
        self.texts: dict[int, str] = {}
        """Normalised text of each new prompt (a singleton cluster's template)."""

    def signatures_of(self, word_lists: Sequence[Sequence[str]]) -> NDArray[np.uint32]:
        return signatures([shingle_hashes(self.hasher(words)) for words in word_lists])

    def add_batch(self, keys: Sequence[int], prompts: Sequence[str]) -> None:
        words = [normalized_words(p) for p in prompts]
        sigs = self.signatures_of(words)
        for key, w in zip(keys, words, strict=True):
            self.texts[key] = " ".join(w[:MAX_TEMPLATE_TOKENS])
        flags = self.index.add_batch(keys, sigs, [not w for w in words])
        for key, sig, flag in zip(keys, sigs, flags, strict=True):
            self.in_index[key] = flag
            self.sigs[key] = sig

    def labels(self, keys: Iterable[int]) -> list[int]:
        return [self.index.find(self.index.label_of[k]) for k in keys]


def cluster_prompts(prompts: Sequence[str]) -> list[int]:
    """Cluster label of each prompt (equal labels = one cluster). No database involved."""
    clusterer = Clusterer()
    keys = list(range(1, len(prompts) + 1))
    for start in range(0, len(prompts), CHUNK):
        clusterer.add_batch(keys[start : start + CHUNK], prompts[start : start + CHUNK])
    return clusterer.labels(keys)


# -- templates and slots -----------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A stretch of the template that differs between members, with sample values."""

    index: int
    kind: str
    """``num``, ``str``, ``code``, ``url``, ``math`` for one masked value, else ``text``."""
    values: tuple[str, ...]
    distinct: int
    """Distinct values among the members compared (a lower bound for the whole cluster)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "slot": self.index,
            "kind": self.kind,
            "values": list(self.values),
            "distinct": self.distinct,
        }


def _short(text: str, width: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _alignment(
    ref: Sequence[Token], toks: Sequence[Token]
) -> tuple[list[int], list[int], list[int], set[int]]:
    """Where each boundary of the reference falls in ``toks`` (as a run's start, as a run's end),
    the reference tokens that differ (masked values count), and where ``toks`` has extra words."""
    n = len(ref)
    ref_words = [t.text for t in ref]
    starts: list[int | None] = [None] * (n + 1)
    ends = [0] * (n + 1)
    varying: list[int] = []
    inserts: set[int] = set()
    matcher = difflib.SequenceMatcher(None, ref_words, [t.text for t in toks], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1 + 1):
                if starts[i1 + k] is None:
                    starts[i1 + k] = j1 + k
                ends[i1 + k] = j1 + k
                inside = k < i2 - i1
                if inside and ref[i1 + k].masked and ref[i1 + k].surface != toks[j1 + k].surface:
                    varying.append(i1 + k)
            continue
        if op == "insert":
            inserts.add(i1)
        varying.extend(range(i1, i2))
        for i in range(i1, i2 + 1):
            if starts[i] is None:
                starts[i] = j1
            ends[i] = j2
    return [0 if v is None else v for v in starts], ends, varying, inserts


def describe(members: Sequence[Normalized]) -> tuple[str, list[Slot]]:
    """The template (first member, varying stretches as ``{1}``, ``{2}``...) and its slots."""
    if not members:
        return "", []
    ref: Sequence[Token] = members[0].tokens[:MAX_TEMPLATE_TOKENS]
    n = len(ref)
    ref_words = [t.text for t in ref]
    var = [False] * n
    inserts: set[int] = set()
    aligned: list[tuple[Sequence[Token], list[int], list[int]]] = []
    for other in members[1:]:
        toks: Sequence[Token] = other.tokens[:MAX_TEMPLATE_TOKENS]
        starts, ends, varying, extra = _alignment(ref, toks)
        for i in varying:
            var[i] = True
        inserts |= extra
        aligned.append((toks, starts, ends))
    runs: list[tuple[int, int]] = []
    i = 0
    while i <= n:
        if i < n and var[i]:
            j = i
            while j < n and var[j]:
                j += 1
            runs.append((i, j))
            i = j + 1 if j in inserts else j
            continue
        if i in inserts:
            runs.append((i, i))
        i += 1
    slots: list[Slot] = []
    parts: list[str] = []
    pos = 0
    for number, (s, e) in enumerate(runs, start=1):
        parts.extend(ref_words[pos:s])
        parts.append(f"{{{number}}}")
        pos = e
        values = [" ".join(t.surface for t in ref[s:e])]
        for toks, starts, ends in aligned:
            values.append(" ".join(t.surface for t in toks[starts[s] : max(ends[e], starts[s])]))
        distinct = list(dict.fromkeys(_short(v) for v in values))
        only = ref[s] if e - s == 1 and ref[s].masked else None
        kind = only.text.strip("⟨⟩") if only is not None else "text"
        slots.append(Slot(number, kind, tuple(distinct[:MAX_SAMPLES]), len(distinct)))
    parts.extend(ref_words[pos:])
    return " ".join(parts)[:4_000], slots


# -- the database side -------------------------------------------------------------------------


@dataclass
class ClusterProgress:
    done: int
    total: int
    phase: str
    """``cluster`` (hashing and joining new prompts) then ``describe`` (statistics, templates)."""


@dataclass
class ClusterUpdate:
    """What an incremental run did."""

    new_traces: int = 0
    new_clusters: int = 0
    merged_clusters: int = 0
    touched_clusters: list[int] = field(default_factory=list)
    new_trace_ids: list[int] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "new_traces": self.new_traces,
            "new_clusters": self.new_clusters,
            "merged_clusters": self.merged_clusters,
            "touched_clusters": len(self.touched_clusters),
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
        }


def prompt_of(turns_json: bytes) -> str:
    """The first user text of an encoded trace (``Trace.prompt`` without building pydantic)."""
    for turn in orjson.loads(turns_json):
        if turn.get("role") != "user":
            continue
        text = "\n\n".join(
            b.get("text", "") for b in turn.get("blocks", ()) if b.get("kind") == "text"
        )
        if text:
            return text
    return ""


def _parts(ids: list[int], *, whole: bool) -> list[list[int] | None]:
    """``[None]`` (no IN filter: scan the project once) for many ids, else chunks of 500."""
    if whole:
        return [None]
    return [ids[i : i + 500] for i in range(0, len(ids), 500)]


def _naive(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=None) if value is not None and value.tzinfo else value


def update_clusters(
    db: Database,
    project_id: int,
    *,
    progress: Callable[[ClusterProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> ClusterUpdate:
    """Cluster the project's traces that have no cluster yet; refresh the clusters they touch.

    Nothing is written when ``cancel`` is set before the end (the next run starts over for the
    same traces); the run itself holds no transaction open while it computes. Runs on one
    project must not overlap (the GUI's worker and the importer's hook take turns)."""
    started = time.perf_counter()
    result = ClusterUpdate()
    index = ClusterIndex()
    with db.session() as session:
        stored = session.execute(
            select(TraceCluster.trace_id, TraceCluster.cluster_id, TraceCluster.signature).where(
                TraceCluster.project_id == project_id, TraceCluster.in_index.is_(True)
            )
        ).all()
        if stored:
            index.load(
                [r[0] for r in stored],
                [r[1] for r in stored],
                np.stack([sig_from_bytes(r[2]) for r in stored]),
            )
        existing_clusters = set(
            session.scalars(select(PromptCluster.id).where(PromptCluster.project_id == project_id))
        )
        for cid in existing_clusters:
            index.parent.setdefault(cid, cid)
        new_ids = list(
            session.scalars(
                select(TraceRow.id)
                .outerjoin(TraceCluster, TraceCluster.trace_id == TraceRow.id)
                .where(TraceRow.project_id == project_id, TraceCluster.trace_id.is_(None))
                .order_by(TraceRow.id)
            )
        )
    total = len(new_ids)
    clusterer = Clusterer(index)
    for start in range(0, total, CHUNK):
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            result.seconds = time.perf_counter() - started
            return result
        ids = new_ids[start : start + CHUNK]
        with db.session() as session:
            rows = session.execute(
                select(TraceRow.id, TraceRow.turns_json).where(TraceRow.id.in_(ids))
            ).all()
        prompt = {tid: prompt_of(tj) for tid, tj in rows}
        clusterer.add_batch(ids, [prompt.get(tid, "") for tid in ids])
        if progress is not None:
            progress(ClusterProgress(min(start + CHUNK, total), total, "cluster"))
    if cancel is not None and cancel.is_set():
        result.cancelled = True
        result.seconds = time.perf_counter() - started
        return result

    with db.session() as session:
        root_of_new = {tid: index.find(-tid) for tid in new_ids}
        merged = {cid: index.find(cid) for cid in existing_clusters if index.find(cid) != cid}
        new_roots = sorted({r for r in root_of_new.values() if r < 0}, reverse=True)
        cluster_id: dict[int, int] = {}
        if new_roots:
            now = utcnow()
            ids_out = session.scalars(
                insert(PromptCluster).returning(PromptCluster.id, sort_by_parameter_order=True),
                [{"project_id": project_id, "updated_at": now} for _ in new_roots],
            ).all()
            cluster_id = dict(zip(new_roots, ids_out, strict=True))
        for old, target in merged.items():
            session.execute(
                update(TraceCluster).where(TraceCluster.cluster_id == old).values(cluster_id=target)
            )
            session.execute(
                update(GroupLabel)
                .where(
                    GroupLabel.project_id == project_id,
                    GroupLabel.kind == "cluster",
                    GroupLabel.group_key == str(old),
                )
                .values(group_key=str(target))
            )
            session.execute(delete(PromptCluster).where(PromptCluster.id == old))
        final = {tid: cluster_id.get(r, r) for tid, r in root_of_new.items()}
        in_index, sigs = clusterer.in_index, clusterer.sigs
        for start in range(0, total, 5_000):
            session.execute(
                insert(TraceCluster),
                [
                    {
                        "trace_id": tid,
                        "project_id": project_id,
                        "cluster_id": final[tid],
                        "signature": sig_to_bytes(sigs[tid]),
                        "in_index": in_index[tid],
                    }
                    for tid in new_ids[start : start + 5_000]
                ],
            )
        touched = sorted(set(final.values()) | set(merged.values()))
        result.new_traces = total
        result.new_clusters = len(new_roots)
        result.merged_clusters = len(merged)
        result.touched_clusters = touched
        result.new_trace_ids = new_ids
        _refresh(session, project_id, touched, clusterer.texts, progress)
    result.seconds = time.perf_counter() - started
    return result


def _refresh(
    session: Session,
    project_id: int,
    touched: list[int],
    texts: dict[int, str],
    progress: Callable[[ClusterProgress], None] | None,
) -> None:
    """Size, accounts, sessions, time span, template and slots of the touched clusters."""
    if not touched:
        return
    touched_set = set(touched)
    stats: dict[int, dict[str, Any]] = {}
    stmt = (
        select(
            TraceCluster.cluster_id,
            func.count(),
            func.count(func.distinct(TraceRow.account_id)),
            func.count(func.distinct(TraceRow.session_id)),
            func.min(TraceRow.created_at),
            func.max(TraceRow.created_at),
        )
        .join(TraceRow, TraceRow.id == TraceCluster.trace_id)
        .where(TraceCluster.project_id == project_id)
        .group_by(TraceCluster.cluster_id)
    )
    member_stmt = select(TraceCluster.cluster_id, TraceCluster.trace_id).where(
        TraceCluster.project_id == project_id
    )
    whole = len(touched) > 500
    groups = [touched] if whole else [touched[i : i + 500] for i in range(0, len(touched), 500)]
    for part in groups:
        query = stmt if whole else stmt.where(TraceCluster.cluster_id.in_(part))
        for cid, size, accounts, sessions, first, last in session.execute(query):
            if cid in touched_set:
                stats[cid] = {
                    "id": cid,
                    "size": size,
                    "n_accounts": accounts,
                    "n_sessions": sessions,
                    "first_at": first,
                    "last_at": last,
                }
    multi = sorted(cid for cid, st in stats.items() if st["size"] > 1)
    single = sorted(cid for cid, st in stats.items() if st["size"] <= 1)
    sample: dict[int, list[int]] = defaultdict(list)
    for chunk in _parts(multi, whole=len(multi) > 500):
        m = member_stmt if chunk is None else member_stmt.where(TraceCluster.cluster_id.in_(chunk))
        for cid, tid in session.execute(m.order_by(TraceCluster.trace_id)):
            if cid in stats and stats[cid]["size"] > 1 and len(sample[cid]) <= SLOT_SAMPLE_MEMBERS:
                sample[cid].append(tid)
    for chunk in _parts(single, whole=len(single) > 500):
        m = member_stmt if chunk is None else member_stmt.where(TraceCluster.cluster_id.in_(chunk))
        for cid, tid in session.execute(m):
            if cid in stats and stats[cid]["size"] <= 1:
                sample[cid] = [tid]
    normalized: dict[int, Normalized] = {}
    need = [
        tid
        for cid, tids in sample.items()
        for tid in tids
        if stats[cid]["size"] > 1 or tid not in texts
    ]
    for start in range(0, len(need), 500):
        for tid, tj in session.execute(
            select(TraceRow.id, TraceRow.turns_json).where(
                TraceRow.id.in_(need[start : start + 500])
            )
        ):
            normalized[tid] = normalize(prompt_of(tj))
    now = utcnow()
    rows = []
    for i, (cid, st) in enumerate(sorted(stats.items())):
        head = sample[cid][0]
        slots: list[Slot] = []
        if st["size"] <= 1 and head in texts:
            template = texts[head][:4_000]
        else:
            template, slots = describe([normalized[t] for t in sample[cid]])
        rows.append(
            {
                **st,
                "first_at": _naive(st["first_at"]),
                "last_at": _naive(st["last_at"]),
                "template": template,
                "slots_json": orjson.dumps([sl.as_dict() for sl in slots]).decode(),
                "updated_at": now,
            }
        )
        if progress is not None and i % 5_000 == 0:
            progress(ClusterProgress(i, len(stats), "describe"))
    for start in range(0, len(rows), 5_000):
        session.execute(update(PromptCluster), rows[start : start + 5_000])
    if progress is not None:
        progress(ClusterProgress(len(stats), len(stats), "describe"))


@dataclass(frozen=True)
class ClusterView:
    id: int
    size: int
    n_accounts: int
    n_sessions: int
    first_at: datetime | None
    last_at: datetime | None
    template: str
    slots: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["slots"] = list(self.slots)
        return out


def biggest_clusters(
    db: Database, project_id: int, *, limit: int = 20, min_size: int = 2
) -> list[ClusterView]:
    """The project's largest clusters, biggest first (ties: most accounts, then oldest id)."""
    from datetime import UTC

    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    with db.session() as session:
        rows = session.scalars(
            select(PromptCluster)
            .where(PromptCluster.project_id == project_id, PromptCluster.size >= min_size)
            .order_by(PromptCluster.size.desc(), PromptCluster.n_accounts.desc(), PromptCluster.id)
            .limit(limit)
        ).all()
        return [
            ClusterView(
                c.id,
                c.size,
                c.n_accounts,
                c.n_sessions,
                utc(c.first_at),
                utc(c.last_at),
                c.template,
                tuple(orjson.loads(c.slots_json)),
            )
            for c in rows
        ]
