"""File writers: CSV formula neutralising, write-then-rename, typed Parquet, the HF folder."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotator.formats.writers.atomic import AtomicFile
from annotator.formats.writers.csv_writer import CsvWriter, neutralise
from annotator.formats.writers.jsonl import JsonlWriter
from annotator.formats.writers.parquet import ParquetWriter
from annotator.formats.writers.views import CLASSIFIER_SCHEMA
from annotator.services.exporting import ExportOptions, export_dataset
from annotator.store.database import Database
from tests.unit.export.builders import FORMULA_PROMPT, Built


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_get_an_apostrophe(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["plain", "1=1", " =x", "", "'quoted"])
def test_other_cells_are_left_alone(cell: str) -> None:
    assert neutralise(cell) == cell


def test_csv_export_neutralises_trace_text(db: Database, built: Built, tmp_path: Path) -> None:
    export_dataset(db, "p", tmp_path / "o", ExportOptions(format="csv", view="classifier"))
    with open(tmp_path / "o" / "data.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    hit = next(r for r in rows if r["uid"] == "t007")
    assert hit["prompt"] == "'" + FORMULA_PROMPT
    for r in rows:
        for value in r.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert rows[0]["tags"] == "REASONING_ELICIT"  # a list of strings is one ;-joined cell


def test_csv_nested_columns_are_dotted(db: Database, built: Built, tmp_path: Path) -> None:
    export_dataset(db, "p", tmp_path / "o", ExportOptions(format="csv", view="full"))
    header = (tmp_path / "o" / "data.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "meta.account_id" in header.split(",")
    assert "resolved.verdict" in header.split(",")
    with open(tmp_path / "o" / "data.csv", newline="", encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    turns = orjson.loads(first["turns"])
    assert [t["role"] for t in turns][:3] == ["system", "user", "assistant"]
    assert orjson.loads(first["labels"])[0]["annotator"] == "alice"
    assert first["meta.extra"] == '{"k":0}'


class Boom(Exception):
    pass


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_atomic_file_leaves_nothing_under_the_final_name(
    tmp_path: Path, exc: type[BaseException]
) -> None:
    target = tmp_path / "data.jsonl"
    target.write_bytes(b"previous export\n")
    with pytest.raises(exc), AtomicFile(target) as f:
        f.write(b"half a rec")
        raise exc
    assert target.read_bytes() == b"previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_writer_abort_mid_file_removes_the_temporary(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"x.{kind}"
    writer = (
        JsonlWriter(path)
        if kind == "jsonl"
        else CsvWriter(path, CLASSIFIER_SCHEMA)
        if kind == "csv"
        else ParquetWriter(path, CLASSIFIER_SCHEMA)
    )
    writer.write({"uid": "a", "text": "t", "tags": ["A"]})
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_parquet_schema_is_typed(db: Database, built: Built, tmp_path: Path) -> None:
    export_dataset(db, "p", tmp_path / "o", ExportOptions(format="parquet", include_original=True))
    table = pq.read_table(tmp_path / "o" / "data.parquet")
    schema = table.schema
    assert schema.field("resolved").type.field("tags").type == pa.list_(pa.string())
    span_type = schema.field("resolved").type.field("spans").type.value_type
    assert pa.types.is_struct(span_type) and span_type.field("start").type == pa.int64()
    assert schema.field("meta").type.field("created_at").type == pa.timestamp("us", tz="UTC")
    label_type = schema.field("labels").type.value_type
    assert label_type.field("submitted_at").type == pa.timestamp("us", tz="UTC")
    rows = table.to_pylist()
    assert len(rows) == 40
    first = rows[0]
    assert first["uid"] == "t000"
    assert first["resolved"]["tags"] == ["REASONING_ELICIT"]
    assert first["original"] == '{"id":"t000","messages":[]}'
    assert first["meta"]["created_at"].isoformat() == "2025-03-01T09:00:00+00:00"


def test_hf_folder_loads_with_datasets(
    db: Database, built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    out = tmp_path / "o"
    summary = export_dataset(
        db,
        "p",
        out,
        ExportOptions(format="hf", view="spans", split=(0.7, 0.15, 0.15), seed=1),
    )
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nconfigs:\n")
    assert "suspected_distillation" in card and "REASONING_ELICIT" in card
    assert "## Provenance" in card
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf" / "cache"))
    expected = {s: n for s, n in summary.plan.split_counts.items() if n}
    assert {name: len(split) for name, split in ds.items()} == expected
    train = ds["train"]
    assert train.features["spans"].feature["start"].dtype == "int64"
    row = train[0]
    for s in row["spans"]:
        assert row["text"][s["start"] : s["end"]] == s["text"]
    all_uids = [u for split in ds.values() for u in split["uid"]]
    assert len(all_uids) == len(set(all_uids)) == summary.rows
    # the counts table in the card matches the data
    for split, n in expected.items():
        assert f"| {split} | {n} |" in card


def test_csv_reads_back_as_the_same_rows(db: Database, built: Built, tmp_path: Path) -> None:
    export_dataset(db, "p", tmp_path / "o", ExportOptions(format="csv", view="chat"))
    text = (tmp_path / "o" / "data.csv").read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 40 and rows[0]["uid"] == "t000"
    assert rows[0]["messages"].startswith('[{"content":"You are helpful."')
