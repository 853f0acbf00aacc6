"""The full view re-imports from every format the importer reads (JSONL, Parquet, the Hugging
Face folder's Parquet files): traces, ``meta.extra``, original records, labels and adjudications
come back equal. The columnar files keep ``meta.extra`` and ``original`` as JSON text (an Arrow
struct needs fixed keys), so the reader has to decode them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from annotator.formats.writers.views import JSON_META
from annotator.services.exporting import ExportOptions, export_dataset
from annotator.services.importing import import_files
from annotator.services.projects import create_project
from annotator.store.models import TraceRow
from tests.unit.export.builders import build, open_db

EXTRA = {"k": 3, "nested": {"tags": ["a", "b"], "ünï": "çødé", "n": None}, "list": [1, 2.5]}
"""A ``meta.extra`` with nesting, nulls and non-ASCII keys, set on a few traces."""


def _records(path: Path) -> dict[str, dict[str, Any]]:
    return {r["uid"]: r for r in map(orjson.loads, path.read_bytes().splitlines())}


def _data_files(out: Path, fmt: str) -> list[Path]:
    if fmt == "hf":
        return sorted((out / "data").glob("*.parquet"))
    return [out / f"data.{fmt}"]


@pytest.mark.parametrize(
    ("fmt", "split"), [("jsonl", None), ("parquet", None), ("hf", None), ("hf", (0.5, 0.5))]
)
def test_full_view_round_trips_through_import(
    tmp_path: Path, fmt: str, split: tuple[float, ...] | None
) -> None:
    db_a = open_db(tmp_path / "a.db")
    db_b = open_db(tmp_path / "b.db")
    try:
        build(db_a, gold=False)
        with db_a.session() as s:
            for row in s.query(TraceRow).filter(TraceRow.uid.in_(["t000", "t003", "t004"])):
                row.meta_extra = orjson.dumps(EXTRA).decode()
        opts = ExportOptions(include_original=True, unlabeled=True, ties="mark")
        export_dataset(db_a, "p", tmp_path / "ref", opts)
        export_dataset(db_a, "p", tmp_path / "a", replace(opts, format=fmt, split=split))

        files = _data_files(tmp_path / "a", fmt)
        assert files and all(f.is_file() for f in files)
        create_project(db_b, "p")
        result = import_files(db_b, "p", files)
        assert result.rejected == 0 and result.ok
        export_dataset(db_b, "p", tmp_path / "b", opts)
    finally:
        db_a.dispose()
        db_b.dispose()

    ref = _records(tmp_path / "ref" / "data.jsonl")
    back = _records(tmp_path / "b" / "data.jsonl")
    assert back.keys() == ref.keys() and len(ref) == 60
    for uid in ("t000", "t003", "t004"):
        assert back[uid]["meta"]["extra"] == EXTRA
    assert back["t001"]["meta"]["extra"] == {"k": 1}
    assert back["t003"]["adjudications"] and back["t003"]["adjudications"][0]["note"] == "settled"
    assert sum(len(r["labels"]) for r in back.values()) == sum(
        len(r["labels"]) for r in ref.values()
    )
    assert back == ref  # traces, metadata, original records, labels, resolutions: all equal
    assert (tmp_path / "b" / "data.jsonl").read_bytes() == (
        tmp_path / "ref" / "data.jsonl"
    ).read_bytes()


def test_parquet_keeps_free_form_parts_as_json_text(tmp_path: Path) -> None:
    """The documented columnar layout that the reader relies on (and downstream readers see)."""
    db = open_db(tmp_path / "a.db")
    try:
        build(db, n=6, gold=False)
        export_dataset(
            db, "p", tmp_path / "o", ExportOptions(format="parquet", include_original=True)
        )
    finally:
        db.dispose()
    schema = pq.read_schema(tmp_path / "o" / "data.parquet")
    meta = schema.field("meta").type
    extra = meta.field(meta.get_field_index("extra"))
    assert str(extra.type) == "string" and extra.metadata == JSON_META
    assert schema.field("original").metadata == JSON_META
    row = pq.read_table(tmp_path / "o" / "data.parquet").to_pylist()[0]
    assert orjson.loads(row["meta"]["extra"]) == {"k": 0}
    assert orjson.loads(row["original"]) == {"id": "t000", "messages": []}


def test_parquet_writes_a_stored_label_that_no_longer_validates(tmp_path: Path) -> None:
    """pyarrow refused such a label (the whole export failed) or split a string into one-letter
    tags. Parquet gets a null label object with the entry's verdict; JSONL keeps it as it is."""
    from annotator.services.projects import ensure_annotator, get_project
    from annotator.store.models import LabelRow

    broken = {
        "t000": '{"verdict": "legitimate", "tags": "oops"}',
        "t001": '{"verdict": "legitimate", "spans": [1]}',
        "t002": '{"verdict": "legitimate", "confidence": "high"}',
    }
    db = open_db(tmp_path / "a.db")
    try:
        build(db, n=6, gold=False)
        with db.session() as s:
            pid = get_project(s, "p").id
            for uid, text in broken.items():
                trace = s.query(TraceRow).filter_by(uid=uid).one()
                s.query(LabelRow).filter(LabelRow.trace_id == trace.id).delete()
                s.add(
                    LabelRow(
                        project_id=pid,
                        trace_id=trace.id,
                        annotator_id=ensure_annotator(s, "ann").id,
                        status="done",
                        verdict="legitimate",
                        label_json=text,
                    )
                )
        for fmt in ("parquet", "jsonl"):
            export_dataset(db, "p", tmp_path / fmt, ExportOptions(format=fmt, unlabeled=True))
    finally:
        db.dispose()
    rows = {r["uid"]: r for r in pq.read_table(tmp_path / "parquet" / "data.parquet").to_pylist()}
    for uid in broken:
        (entry,) = rows[uid]["labels"]
        assert entry["label"] is None
        assert (entry["annotator"], entry["verdict"]) == ("ann", "legitimate")
    valid = [e["label"] for uid in ("t003", "t005") for e in rows[uid]["labels"]]
    assert len(valid) == 4 and all(lab["rationale"] in ("because 3", "because 5") for lab in valid)
    jsonl = _records(tmp_path / "jsonl" / "data.jsonl")
    assert jsonl["t000"]["labels"][0]["label"] == orjson.loads(broken["t000"])
