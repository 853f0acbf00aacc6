"""MinHash LSH clusters: signatures are datasketch's, clusters are right on the demo and on a
generated mix, incremental runs join existing clusters, merge bridged ones, and cancel cleanly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
from datasketch import LeanMinHash, MinHash
from sqlalchemy import func, select

from annotator.domain.label import Label
from annotator.domain.trace import Block, BlockKind, Role, Turn
from annotator.services.demo import demo_files
from annotator.services.detection.clustering import (
    NUM_PERM,
    SCHEME,
    SEED,
    ClusterProgress,
    biggest_clusters,
    cluster_prompts,
    describe,
    shingle_hashes,
    sig_from_bytes,
    sig_to_bytes,
    signatures,
    update_clusters,
)
from annotator.services.detection.groups import add_group_label
from annotator.services.detection.normalize import normalize
from annotator.services.projects import create_project
from annotator.store.codec import encode_turns
from annotator.store.database import Database
from annotator.store.detection_models import GroupLabel, PromptCluster, TraceCluster
from annotator.store.models import TraceRow
from tests.unit.detection.conftest import Demo, load_demo
from tests.unit.detection.synth import pair_quality, prompt_mix


def test_vectorised_signatures_equal_datasketch_minhash() -> None:
    rng = np.random.default_rng(5)
    sets = [
        shingle_hashes(rng.integers(0, 2**32, size=n, dtype=np.uint64)) for n in (1, 2, 3, 50, 400)
    ]
    sigs = signatures(sets)
    for row, hashes in zip(sigs, sets, strict=True):
        ref = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int, scheme=SCHEME)
        ref.update_batch([int(h) for h in hashes])
        assert np.array_equal(row, ref.hashvalues)
    back = sig_from_bytes(sig_to_bytes(sigs[3]))
    assert np.array_equal(back, sigs[3]) and len(sig_to_bytes(sigs[3])) == 4 * NUM_PERM

    def lean(sig: np.ndarray) -> LeanMinHash:
        return LeanMinHash(seed=SEED, hashvalues=sig, scheme=SCHEME)

    # A stored signature is an ordinary datasketch sketch.
    assert lean(sigs[3]).jaccard(lean(back)) == 1.0
    assert lean(sigs[3]).jaccard(lean(sigs[4])) < 0.2


def test_generated_mix_pair_precision_and_recall() -> None:
    mix = prompt_mix(3_000, seed=11)
    labels = cluster_prompts(mix.prompts)
    precision, recall = pair_quality(labels, mix.truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    # Free-form prompts stay alone (a handful may pair up by chance, not more).
    free = [label for label, t in zip(labels, mix.truth, strict=True) if t < 0]
    assert len(set(free)) >= 0.98 * len(free)


def test_pair_quality_can_fail() -> None:
    """The measure itself: everything in one cluster has full recall and poor precision."""
    mix = prompt_mix(600, seed=2)
    precision, recall = pair_quality([1] * len(mix.prompts), mix.truth)
    assert recall == 1.0 and precision < 0.5


def test_describe_finds_the_varying_slots() -> None:
    members = [
        normalize(f'Generate {n} diverse pairs as JSONL. Topic: {topic}. Style "{style}".')
        for n, topic, style in [(20, "python", "terse"), (5, "git", "terse"), (10, "sql", "chatty")]
    ]
    template, slots = describe(members)
    assert template == "generate {1} diverse pairs as jsonl topic {2} style {3}"
    assert [(s.kind, s.values, s.distinct) for s in slots] == [
        ("num", ("20", "5", "10"), 3),
        ("text", ("python", "git", "sql"), 3),
        ("str", ('"terse"', '"chatty"'), 2),
    ]


def test_demo_template_forms_one_cluster_of_eight_accounts(demo: Demo) -> None:
    group_a = demo.group("A")
    assert len(group_a) == 12
    with demo.db.session() as session:
        clusters = set(
            session.scalars(
                select(TraceCluster.cluster_id).where(TraceCluster.trace_id.in_(group_a))
            )
        )
        assert len(clusters) == 1
        cluster = session.get(PromptCluster, clusters.pop())
        assert cluster is not None
        assert (cluster.size, cluster.n_accounts) == (12, 8)
        assert cluster.first_at is not None and cluster.last_at is not None
        assert cluster.first_at.replace(tzinfo=UTC) == datetime(2026, 2, 11, 3, 0, tzinfo=UTC)
        assert (cluster.last_at - cluster.first_at).total_seconds() == 11 * 90
        assert cluster.template.startswith("solve the following competition problem show every")
        slots = orjson.loads(cluster.slots_json)
        assert len(slots) == 1 and slots[0]["kind"] == "text"
        assert "Find the remainder when 3^100 is divided by 13." not in slots[0]["values"]
        assert any("remainder when 3" in v for v in slots[0]["values"])
        # Every trace has exactly one cluster; nothing else joined group A.
        n_traces = session.scalar(select(func.count()).select_from(TraceRow))
        assert session.scalar(select(func.count()).select_from(TraceCluster)) == n_traces
        others = session.scalars(
            select(TraceCluster.trace_id).where(
                TraceCluster.cluster_id == cluster.id, TraceCluster.trace_id.not_in(group_a)
            )
        ).all()
        assert others == []
    top = biggest_clusters(demo.db, demo.project_id, limit=3)
    assert top[0].size == 12 and top[0].n_accounts == 8
    assert [c.size for c in top] == sorted((c.size for c in top), reverse=True)


def test_other_demo_campaigns_cluster_and_everyday_prompts_do_not(demo: Demo) -> None:
    with demo.db.session() as session:
        cluster_of = {
            t: c for t, c in session.execute(select(TraceCluster.trace_id, TraceCluster.cluster_id))
        }
    for group in ("G", "F"):
        assert len({cluster_of[t] for t in demo.group(group)}) == 1, group
    everyday = demo.group("everyday")
    assert len({cluster_of[t] for t in everyday}) == len(everyday)


def test_incremental_import_joins_existing_clusters(db: Database, tmp_path: Path) -> None:
    files = demo_files()
    first = [f for f in files if f.name == "openai_chat.jsonl"]
    loaded = load_demo(db, tmp_path, first)
    one = update_clusters(db, loaded.project_id)
    assert one.new_traces == 16 and not one.cancelled
    with db.session() as session:
        before = dict(session.execute(select(TraceCluster.trace_id, TraceCluster.signature)).all())
        a_ids = [tid for uid, tid in loaded.ids.items() if loaded.key[uid]["group"] == "A"]
        a_cluster = session.scalar(
            select(TraceCluster.cluster_id).where(TraceCluster.trace_id == a_ids[0])
        )
        assert session.get(PromptCluster, a_cluster).size == 8  # type: ignore[union-attr]
    from annotator.services.importing import import_files

    import_files(db, "demo", [f for f in files if f not in first], reject_dir=tmp_path)
    seen: list[ClusterProgress] = []
    two = update_clusters(db, loaded.project_id, progress=seen.append)
    assert two.new_traces == 44
    assert seen and seen[-1].done == seen[-1].total
    with db.session() as session:
        # Old rows untouched (not rehashed), the A cluster kept its id and grew to 12.
        after = {
            t: sig
            for t, sig in session.execute(select(TraceCluster.trace_id, TraceCluster.signature))
        }
        assert all(after[t] == sig for t, sig in before.items())
        cluster = session.get(PromptCluster, a_cluster)
        assert cluster is not None and (cluster.size, cluster.n_accounts) == (12, 8)
    assert a_cluster in two.touched_clusters
    three = update_clusters(db, loaded.project_id)
    assert (three.new_traces, three.new_clusters, three.touched_clusters) == (0, 0, [])


def _add(db: Database, project_id: int, texts: list[str], start: int) -> list[int]:
    with db.session() as session:
        rows = [
            TraceRow(
                project_id=project_id,
                uid=f"t{start + i}",
                source_format="test",
                account_id=f"acct-{i % 3}",
                created_at=datetime(2026, 3, 1, 12, 0, i),
                turns_json=encode_turns(
                    (Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=text),)),)
                ),
            )
            for i, text in enumerate(texts)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def test_a_bridging_prompt_merges_two_clusters_and_rekeys_group_labels(db: Database) -> None:
    pid = create_project(db, "bridge").id
    left = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima"
    right = "mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray"
    ids = _add(db, pid, [left, left + " one", right, right + " two"], 0)
    update_clusters(db, pid)
    with db.session() as session:
        cluster_of = {
            t: c for t, c in session.execute(select(TraceCluster.trace_id, TraceCluster.cluster_id))
        }
    c_left, c_right = cluster_of[ids[0]], cluster_of[ids[2]]
    assert c_left != c_right and cluster_of[ids[1]] == c_left and cluster_of[ids[3]] == c_right
    add_group_label(db, pid, "cluster", str(c_right), "lead", Label(verdict="cannot_determine"))
    bridge = _add(db, pid, [left + " " + right], 10)
    result = update_clusters(db, pid)
    assert result.merged_clusters == 1
    with db.session() as session:
        cluster_of = {
            t: c for t, c in session.execute(select(TraceCluster.trace_id, TraceCluster.cluster_id))
        }
        assert {cluster_of[t] for t in [*ids, *bridge]} == {min(c_left, c_right)}
        assert session.get(PromptCluster, max(c_left, c_right)) is None
        merged = session.get(PromptCluster, min(c_left, c_right))
        assert merged is not None and merged.size == 5
        keys = session.scalars(select(GroupLabel.group_key)).all()
        assert keys == [str(min(c_left, c_right))]


def test_cancel_writes_nothing(db: Database) -> None:
    pid = create_project(db, "cancel").id
    _add(db, pid, [f"prompt number {i} about things" for i in range(5)], 0)
    stop = threading.Event()
    stop.set()
    result = update_clusters(db, pid, cancel=stop)
    assert result.cancelled
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(TraceCluster)) == 0
        assert session.scalar(select(func.count()).select_from(PromptCluster)) == 0
    assert update_clusters(db, pid).new_traces == 5


def test_empty_and_junk_prompts_still_get_a_cluster(db: Database) -> None:
    pid = create_project(db, "junk").id
    junk = bytes(range(256)).decode("latin-1") * 4000
    ids = _add(db, pid, ["", "x" * 1_000_000, junk, "ok"], 0)
    update_clusters(db, pid)
    with db.session() as session:
        assert set(session.scalars(select(TraceCluster.trace_id))) == set(ids)


def test_prompts_without_user_text_are_not_one_template(db: Database) -> None:
    pid = create_project(db, "empty").id
    ids = _add(db, pid, ["", "", "   ", "real words here and there"], 0)
    update_clusters(db, pid)
    with db.session() as session:
        clusters = [
            session.scalar(select(TraceCluster.cluster_id).where(TraceCluster.trace_id == t))
            for t in ids
        ]
    assert len(set(clusters)) == 4
