"""The export service against real SQLite files: resolution and filters, reproducibility, the
manifest and --since, refusing a non-empty folder, no partial files, and the round trip through
``annotator import``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from annotator.formats.writers.jsonl import JsonlWriter
from annotator.services.exporting import (
    ExportCancelled,
    ExportError,
    ExportOptions,
    export_dataset,
    plan_export,
    read_manifest,
)
from annotator.services.exporting.manifest import sha256_of
from annotator.services.importing import import_files
from annotator.services.projects import create_project
from annotator.store.database import Database
from annotator.store.detection_models import PromptCluster, TraceCluster
from annotator.store.models import TraceRow
from tests.unit.export.builders import T0, Built, add_label, adjudicate, build, label, open_db


def records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def uids(db: Database, tmp_path: Path, name: str, **options: Any) -> list[str]:
    export_dataset(db, "p", tmp_path / name, ExportOptions(**options))
    return [r["uid"] for r in records(tmp_path / name / "data.jsonl")]


def test_resolution_cases_and_what_is_left_out(db: Database, built: Built, tmp_path: Path) -> None:
    summary = export_dataset(db, "p", tmp_path / "o", ExportOptions())
    recs = {r["uid"]: r for r in records(tmp_path / "o" / "data.jsonl")}
    assert len(recs) == 40 and summary.plan.skipped == {"tie": 10, "unresolved": 10}
    assert recs["t000"]["resolved"]["method"] == "unanimous"
    assert recs["t001"]["resolved"]["method"] == "majority"
    assert recs["t001"]["agreement"]["share"] == pytest.approx(2 / 3)
    assert recs["t003"]["resolved"] == {
        "confidence": 1,
        "counter_tags": [],
        "method": "adjudicated",
        "spans": [
            {"block": 0, "end": 9, "labeler": "lead", "start": 0, "text": "Let me th", "turn": 2}
        ],
        "tags": ["GRADER_ROLE"],
        "tied": [],
        "verdict": "suspected_distillation",
    }
    assert recs["t003"]["adjudications"][0]["note"] == "settled"
    # the draft is exported as a label but does not vote
    t005 = recs["t005"]
    assert [(e["annotator"], e["status"]) for e in t005["labels"]] == [
        ("alice", "done"),
        ("bob", "draft"),
    ]
    assert t005["agreement"]["n_labelers"] == 1
    assert "t002" not in recs and "t004" not in recs
    assert [r["uid"] for r in records(tmp_path / "o" / "data.jsonl")] == sorted(recs)


def test_ties_marked_and_unlabeled_on_request(db: Database, built: Built, tmp_path: Path) -> None:
    marked = export_dataset(db, "p", tmp_path / "m", ExportOptions(ties="mark"))
    recs = {r["uid"]: r for r in records(tmp_path / "m" / "data.jsonl")}
    assert marked.rows == 50
    assert recs["t002"]["resolved"]["method"] == "tie"
    assert recs["t002"]["resolved"]["verdict"] is None
    assert recs["t002"]["resolved"]["tied"] == ["legitimate", "suspected_distillation"]
    everything = export_dataset(db, "p", tmp_path / "u", ExportOptions(unlabeled=True))
    assert everything.rows == 60
    counts = everything.plan.label_counts["data"]
    assert (counts["(unlabeled)"], counts["(tie)"]) == (10, 10)
    only_majority = export_dataset(
        db, "p", tmp_path / "r", ExportOptions(resolve=("majority",), unlabeled=False)
    )
    # without the adjudication step, t003 (one vote each way) is a tie and left out
    assert only_majority.rows == 30


def test_filters(db: Database, built: Built, tmp_path: Path) -> None:
    assert all(
        r["resolved"]["verdict"] == "legitimate"
        for r in records(
            export_dataset(db, "p", tmp_path / "v", ExportOptions(verdicts=("legitimate",))).out_dir
            / "data.jsonl"
        )
    )
    assert uids(db, tmp_path, "s", statuses=("adjudicated",)) == [
        f"t{i:03d}" for i in range(60) if i % 6 == 3
    ]
    assert uids(db, tmp_path, "n", min_labelers=3) == [
        f"t{i:03d}" for i in range(60) if i % 6 in (0, 1)
    ]
    assert uids(db, tmp_path, "a", min_agreement=0.9) == [
        f"t{i:03d}" for i in range(60) if i % 6 in (0, 5)
    ]
    assert "t005" not in uids(db, tmp_path, "g", gold=False)
    assert "t005" in uids(db, tmp_path, "g2", gold=True)
    with db.session() as s:
        first_batch = s.query(TraceRow).filter_by(uid="t000").one().batch_id
    assert all(int(u[1:]) < 30 for u in uids(db, tmp_path, "b", batches=(first_batch,)))
    assert uids(db, tmp_path, "l", labelers=("carol",)) == [
        f"t{i:03d}" for i in range(60) if i % 6 in (0, 1)
    ]
    day = T0 + timedelta(days=1)  # labels of trace i are at day + i minutes
    window = uids(
        db,
        tmp_path,
        "d",
        since_date=day + timedelta(minutes=10),
        until_date=day + timedelta(minutes=20),
    )
    assert window and all(10 <= int(u[1:]) < 20 for u in window)


def test_options_are_checked() -> None:
    for bad in (
        ExportOptions(format="xml"),
        ExportOptions(view="tree"),
        ExportOptions(ties="coin"),
        ExportOptions(split=(0.5, 0.6)),
        ExportOptions(min_agreement=1.5),
        ExportOptions(statuses=("maybe",)),
        ExportOptions(view="chat", include_original=True),
    ):
        with pytest.raises(ExportError):
            bad.checked()


def test_unknown_project(db: Database, built: Built, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no project named 'q'"):
        export_dataset(db, "q", tmp_path / "o", ExportOptions())
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "hf"])
def test_same_database_and_options_give_identical_files(
    db: Database, built: Built, tmp_path: Path, fmt: str
) -> None:
    opts = ExportOptions(format=fmt, split=(0.8, 0.1, 0.1), seed=5, include_original=True)
    one = export_dataset(db, "p", tmp_path / "one", opts, now=datetime(2030, 1, 1, tzinfo=UTC))
    two = export_dataset(db, "p", tmp_path / "two", opts)
    assert [f.path for f in one.files] == [f.path for f in two.files]
    for f in one.files:
        assert (tmp_path / "one" / f.path).read_bytes() == (tmp_path / "two" / f.path).read_bytes()
        assert sha256_of(tmp_path / "one" / f.path) == f.sha256
    m1, m2 = read_manifest(tmp_path / "one"), read_manifest(tmp_path / "two")
    assert m1.pop("exported_at") == "2030-01-01T00:00:00+00:00"
    m2.pop("exported_at")
    assert m1 == m2
    assert m1["counts"]["splits"] == one.plan.split_counts
    assert m1["schema"]["version"] == 1
    assert m1["options"]["seed"] == 5


def test_split_keeps_accounts_together(db: Database, built: Built, tmp_path: Path) -> None:
    summary = export_dataset(
        db, "p", tmp_path / "o", ExportOptions(split=(0.6, 0.2, 0.2), unlabeled=True, seed=2)
    )
    where: dict[str, set[str]] = {}
    for split in summary.plan.splits:
        for r in records(tmp_path / "o" / f"{split}.jsonl"):
            where.setdefault(r["meta"]["account_id"], set()).add(split)
    assert all(len(s) == 1 for s in where.values())
    assert sum(summary.plan.split_counts.values()) == 60
    assert all(summary.plan.split_counts[s] > 0 for s in ("train", "validation", "test"))
    by_session = export_dataset(
        db, "p", tmp_path / "s", ExportOptions(split=(0.6, 0.2, 0.2), group_by="session")
    )
    sessions: dict[str, set[str]] = {}
    for split in by_session.plan.splits:
        for r in records(tmp_path / "s" / f"{split}.jsonl"):
            sessions.setdefault(r["meta"]["session_id"], set()).add(split)
    assert all(len(s) == 1 for s in sessions.values())


def test_split_by_cluster(db: Database, built: Built, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no trace has a near-duplicate cluster"):
        export_dataset(db, "p", tmp_path / "x", ExportOptions(split=(0.5, 0.5), group_by="cluster"))
    cluster_of_uid: dict[str, int] = {}
    with db.session() as s:
        rows = list(s.query(TraceRow))
        made = [PromptCluster(project_id=rows[0].project_id) for _ in range(4)]
        s.add_all(made)
        s.flush()
        for row in rows:
            cluster = made[int(row.uid[1:]) % 4].id
            cluster_of_uid[row.uid] = cluster
            s.add(
                TraceCluster(
                    trace_id=row.id, project_id=row.project_id, cluster_id=cluster, signature=b""
                )
            )
    summary = export_dataset(
        db, "p", tmp_path / "o", ExportOptions(split=(0.5, 0.5), group_by="cluster")
    )
    clusters: dict[int, set[str]] = {}
    for split in summary.plan.splits:
        for r in records(tmp_path / "o" / f"{split}.jsonl"):
            clusters.setdefault(cluster_of_uid[r["uid"]], set()).add(split)
    assert len(clusters) == 4 and all(len(s) == 1 for s in clusters.values())


def test_plan_counts_match_the_export(db: Database, built: Built, tmp_path: Path) -> None:
    opts = ExportOptions(split=(0.8, 0.2), ties="mark")
    plan = plan_export(db, "p", opts)
    summary = export_dataset(db, "p", tmp_path / "o", opts)
    assert plan.counts() == summary.plan.counts()
    for f in summary.files:
        assert f.rows == plan.split_counts[f.split or ""]
        assert len(records(tmp_path / "o" / f.path)) == f.rows


def test_non_empty_folder_is_refused_unless_overwrite(
    db: Database, built: Built, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_dataset(db, "p", out, ExportOptions())
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    export_dataset(db, "p", out, ExportOptions(split=(0.8, 0.1, 0.1), overwrite=True))
    assert (out / "validation.jsonl").exists()
    # a later export into the same folder removes the files the earlier one listed, only those
    export_dataset(db, "p", out, ExportOptions(overwrite=True))
    assert sorted(p.name for p in out.iterdir()) == ["data.jsonl", "manifest.json", "notes.txt"]


class DiskFull(OSError):
    pass


@pytest.mark.parametrize("exc", [DiskFull(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_no_partial_file(
    db: Database, built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    real = JsonlWriter.write
    calls = {"n": 0}

    def failing(self: JsonlWriter, record: dict[str, Any]) -> None:
        calls["n"] += 1
        if calls["n"] == 25:
            raise exc
        real(self, record)

    monkeypatch.setattr(JsonlWriter, "write", failing)
    out = tmp_path / "o"
    with pytest.raises(type(exc)):
        export_dataset(db, "p", out, ExportOptions(split=(0.8, 0.1, 0.1)))
    assert calls["n"] == 25
    assert not out.exists()  # created by the export, removed again with nothing in it
    previous = tmp_path / "prev"
    previous.mkdir()
    (previous / "train.jsonl").write_bytes(b"old\n")
    calls["n"] = 0
    with pytest.raises(type(exc)):
        export_dataset(db, "p", previous, ExportOptions(split=(0.8, 0.1, 0.1), overwrite=True))
    assert sorted(p.name for p in previous.iterdir()) == ["train.jsonl"]
    assert (previous / "train.jsonl").read_bytes() == b"old\n"


@pytest.mark.parametrize("split", [None, (0.5, 0.5)], ids=["one-pass", "split"])
def test_export_reads_one_snapshot(
    db: Database,
    built: Built,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    split: tuple[float, ...] | None,
) -> None:
    """A label saved while the export runs does not show up half-way through it."""
    from annotator.services.exporting import runner

    monkeypatch.setattr(runner, "WRITE_CHUNK", 2)
    added: list[str] = []

    def progress(p: Any) -> None:
        if not added:
            add_label(db, "p", "t059", "zed", label("suspected_distillation", 59), when=T0)
            added.append(p.phase)

    export_dataset(db, "p", tmp_path / "o", ExportOptions(split=split), progress=progress)
    assert added
    files = sorted((tmp_path / "o").glob("*.jsonl"))
    recs = {r["uid"]: r for f in files for r in records(f)}
    assert [e["annotator"] for e in recs["t059"]["labels"]] == ["alice", "bob"]
    export_dataset(db, "p", tmp_path / "again", ExportOptions(split=split))
    again = {r["uid"]: r for f in (tmp_path / "again").glob("*.jsonl") for r in records(f)}
    assert "zed" in [e["annotator"] for e in again["t059"]["labels"]]


@pytest.mark.parametrize(
    ("split", "phase"), [(None, "write"), ((0.5, 0.5), "scan")], ids=["one-pass", "split"]
)
def test_cancel_writes_nothing(
    db: Database, built: Built, tmp_path: Path, split: tuple[float, ...] | None, phase: str
) -> None:
    cancel = threading.Event()
    seen: list[str] = []

    def progress(p: Any) -> None:
        seen.append(p.phase)
        cancel.set()

    with pytest.raises(ExportCancelled):
        export_dataset(
            db, "p", tmp_path / "o", ExportOptions(split=split), progress=progress, cancel=cancel
        )
    assert seen == [phase]
    assert not (tmp_path / "o").exists()


def test_since_manifest_exports_only_what_changed(
    db: Database, built: Built, tmp_path: Path
) -> None:
    first = export_dataset(db, "p", tmp_path / "one", ExportOptions(unlabeled=True))
    assert first.rows == 60
    later = T0 + timedelta(days=5)
    add_label(db, "p", "t004", "dave", label("legitimate", 4), when=later)  # was unlabeled
    add_label(db, "p", "t006", "dave", label("suspected_distillation", 6), when=later)
    adjudicate(db, "p", "t002", "lead", label("legitimate", 2), later)
    since = tmp_path / "one" / "manifest.json"
    delta = export_dataset(db, "p", tmp_path / "two", ExportOptions(since=since))
    got = {r["uid"]: r for r in records(tmp_path / "two" / "data.jsonl")}
    assert sorted(got) == ["t002", "t004", "t006"]
    assert got["t002"]["resolved"]["method"] == "adjudicated"
    assert delta.plan.skipped["unchanged"] == 57
    assert read_manifest(tmp_path / "two")["since"] == read_manifest(since)["high_water"]
    nothing = export_dataset(
        db, "p", tmp_path / "three", ExportOptions(since=tmp_path / "two" / "manifest.json")
    )
    assert nothing.rows == 0
    assert (tmp_path / "three" / "data.jsonl").read_bytes() == b""


def test_since_needs_a_manifest_of_the_same_project(
    db: Database, built: Built, tmp_path: Path
) -> None:
    create_project(db, "other")
    export_dataset(db, "other", tmp_path / "o", ExportOptions())
    with pytest.raises(ExportError, match="for project 'other'"):
        export_dataset(db, "p", tmp_path / "x", ExportOptions(since=tmp_path / "o"))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ExportError, match="not an export manifest"):
        export_dataset(db, "p", tmp_path / "y", ExportOptions(since=tmp_path / "bad.json"))


def _round_trip(db_a: Database, tmp_path: Path, project: str) -> None:
    opts = ExportOptions(include_original=True, unlabeled=True, ties="mark")
    export_dataset(db_a, project, tmp_path / "a", opts)
    db_b = open_db(tmp_path / "b.db")
    try:
        create_project(db_b, project)
        result = import_files(db_b, project, [tmp_path / "a" / "data.jsonl"])
        assert result.ok and result.rejected == 0
        export_dataset(db_b, project, tmp_path / "b", opts)
    finally:
        db_b.dispose()
    a = (tmp_path / "a" / "data.jsonl").read_bytes()
    assert a == (tmp_path / "b" / "data.jsonl").read_bytes()
    assert a.count(b"\n") > 0


def test_round_trip_through_import_is_exact(tmp_path: Path) -> None:
    db_a = open_db(tmp_path / "a.db")
    try:
        build(db_a, gold=False)
        _round_trip(db_a, tmp_path, "p")
    finally:
        db_a.dispose()


def test_round_trip_of_real_corpus_traces(tmp_path: Path, corpus_dir: Path) -> None:
    """Real files: import, label a few, export, import into a fresh database, export again."""
    db_a = open_db(tmp_path / "a.db")
    try:
        create_project(db_a, "c")
        files = [
            corpus_dir / "LLaMA-Factory" / "reason_tool_use_demo_50.jsonl",
            corpus_dir / "SWE-agent" / "pydicom__pydicom-1458.traj",
            corpus_dir / "pydantic-ai" / "test_anthropic_tool_with_thinking.yaml",
        ]
        assert import_files(db_a, "c", files).imported > 50
        with db_a.session() as s:
            some = [r.uid for r in s.query(TraceRow).order_by(TraceRow.id).limit(12)]
        for k, uid in enumerate(some):
            add_label(db_a, "c", uid, "alice", label("legitimate", k), when=T0)
            if k % 2:
                add_label(db_a, "c", uid, "bob", label("suspected_distillation", k), when=T0)
        _round_trip(db_a, tmp_path, "c")
        recs = records(tmp_path / "a" / "data.jsonl")
        assert len(recs) > 50
        assert any(r["original"] is not None for r in recs)
        assert sum(1 for r in recs if r["labels"]) == 12
    finally:
        db_a.dispose()


def test_stored_labels_are_normalised_and_broken_ones_kept_as_they_are(
    db: Database, tmp_path: Path
) -> None:
    """A partial label row comes out as a complete Label (as the importer would store it); a row
    that no longer validates is exported as it stands and cannot break resolution."""
    from annotator.services.projects import ensure_annotator, get_project
    from annotator.store.models import LabelRow

    build(db, n=2)
    with db.session() as s:
        pid = get_project(s, "p").id
        t0 = s.query(TraceRow).filter_by(uid="t000").one()
        t1 = s.query(TraceRow).filter_by(uid="t001").one()
        s.query(LabelRow).filter(LabelRow.trace_id.in_([t0.id, t1.id])).delete()
        for trace, who, text in (
            (t0, "ann", '{"verdict": "legitimate", "tags": ["DATASET_FORMAT"]}'),
            (t1, "ann", '{"verdict": "legitimate", "tags": "oops", "spans": [1]}'),
        ):
            s.add(
                LabelRow(
                    project_id=pid,
                    trace_id=trace.id,
                    annotator_id=ensure_annotator(s, who).id,
                    status="done",
                    verdict="legitimate",
                    label_json=text,
                )
            )
    export_dataset(db, "p", tmp_path / "o", ExportOptions())
    recs = {r["uid"]: r for r in records(tmp_path / "o" / "data.jsonl")}
    assert recs["t000"]["labels"][0]["label"] == {
        "confidence": None,
        "counter_tags": [],
        "rationale": "",
        "spans": [],
        "tags": ["DATASET_FORMAT"],
        "verdict": "legitimate",
    }
    assert recs["t000"]["resolved"]["tags"] == ["DATASET_FORMAT"]
    assert recs["t001"]["labels"][0]["label"] == {
        "verdict": "legitimate",
        "tags": "oops",
        "spans": [1],
    }
    assert recs["t001"]["resolved"]["tags"] == [] and recs["t001"]["resolved"]["spans"] == []
