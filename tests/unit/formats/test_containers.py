"""Containers: every file kind streams records with 1-based positions and per-record errors."""

from __future__ import annotations

import gzip
import json
import random
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotator.formats import containers
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.containers import FormatError, RejectedRecord, iter_records


def _records(path: Path, **kwargs: Any) -> list[SourceRecord | RecordError]:
    return list(iter_records(path, **kwargs))


def _ok(items: list[SourceRecord | RecordError]) -> list[SourceRecord]:
    return [i for i in items if isinstance(i, SourceRecord)]


def _errors(items: list[SourceRecord | RecordError]) -> list[RejectedRecord]:
    found = [i for i in items if isinstance(i, RecordError)]
    assert all(isinstance(e, RejectedRecord) for e in found)
    return [e for e in found if isinstance(e, RejectedRecord)]


def test_jsonl_lines_are_numbered_from_one_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n{"a": 2}\r\n   \n{"a": 3}')
    items = _records(path)
    assert [(r.data, r.line) for r in _ok(items)] == [({"a": 1}, 1), ({"a": 2}, 3), ({"a": 3}, 5)]
    assert [r.raw for r in _ok(items)] == [b'{"a": 1}', b'{"a": 2}', b'{"a": 3}']
    assert all(r.source_file == str(path) for r in _ok(items))


def test_ndjson_is_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_text('{"x": "y"}\n')
    assert [r.data for r in _ok(_records(path))] == [{"x": "y"}]


def test_bad_lines_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"ok": 1}\n{"broken": \n{"text": "caf\xe9"}\n[1, 2, 3]\n"just a string"\n{"ok": 2}\n'
    )
    items = _records(path)
    assert [(r.line, r.data) for r in _ok(items)] == [(1, {"ok": 1}), (6, {"ok": 2})]
    errors = _errors(items)
    assert [e.line for e in errors] == [2, 3, 4, 5]
    assert all(e.source_file == str(path) for e in errors)
    with pytest.raises(orjson.JSONDecodeError) as orjson_says:
        orjson.loads(b'{"broken": ')
    assert errors[0].reason == f"invalid JSON: {orjson_says.value}"
    assert errors[0].raw == b'{"broken": '
    assert errors[1].reason.startswith("invalid UTF-8 at byte 13")
    assert errors[2].reason == "record is a JSON array, not an object"
    assert errors[3].reason == "record is a JSON string, not an object"
    assert str(errors[0]).startswith(f"{path}:2: invalid JSON")


def test_an_oversize_line_is_skipped_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    big = b'{"text": "' + b"x" * 12_000_000 + b'"}'
    path.write_bytes(b'{"n": 1}\n' + big + b'\n{"n": 2}\n' + big)
    tracemalloc.start()
    try:
        items = _records(path, max_record_bytes=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(r.line, r.data) for r in _ok(items)] == [(1, {"n": 1}), (3, {"n": 2})]
    errors = _errors(items)
    assert [e.line for e in errors] == [2, 4]
    assert f"is {len(big) + 1} bytes" in errors[0].reason
    assert f"is {len(big)} bytes" in errors[1].reason
    assert "65536-byte limit" in errors[0].reason
    assert errors[0].raw is None
    assert peak < 4 * 1024 * 1024  # chunks of the 12 MB line were dropped as they were read


def test_a_line_exactly_at_the_limit_is_read(tmp_path: Path) -> None:
    line = b'{"t": "' + b"y" * 100 + b'"}'
    path = tmp_path / "edge.jsonl"
    path.write_bytes(line + b"\n" + line)
    assert len(_ok(_records(path, max_record_bytes=len(line)))) == 2
    assert len(_errors(_records(path, max_record_bytes=len(line) - 1))) == 2


def test_json_object_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"a": {"b": [1, 2]}}, indent=2))
    items = _records(path)
    assert [(r.line, r.data) for r in _ok(items)] == [(1, {"a": {"b": [1, 2]}})]


def test_json_array_elements_are_records_numbered_from_one(tmp_path: Path) -> None:
    tricky = ['a "quoted" ] } , [ {', "back\\slash\\", '\\\\"', "ünïcode ✓"]
    data = [{"i": i, "s": tricky[i % len(tricky)], "n": [{"x": "]"}, []]} for i in range(40)]
    data.insert(7, {"empty": {}})
    path = tmp_path / "many.json"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    items = _records(path)
    assert [r.data for r in _ok(items)] == data
    assert [r.line for r in _ok(items)] == list(range(1, len(data) + 1))
    first = _ok(items)[0]
    assert first.raw is not None and orjson.loads(first.raw) == data[0]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_json_array_split_is_independent_of_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    data = [{"s": 'a\\"b\\\\', "t": "}]", "u": [1, {"v": None}]}, {"w": "\\"}, {"x": ""}]
    path = tmp_path / "c.json"
    path.write_text(" \n" + json.dumps(data))
    monkeypatch.setattr(containers, "_CHUNK", chunk)
    assert [r.data for r in _ok(_records(path))] == data


def test_json_array_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"a": 1}, 2, {"b": tru}, {"c": "' + "z" * 500 + '"}, {"d": 4}]')
    items = _records(path, max_record_bytes=200)
    assert [(r.line, r.data) for r in _ok(items)] == [(1, {"a": 1}), (5, {"d": 4})]
    errors = _errors(items)
    assert [e.line for e in errors] == [2, 3, 4]
    assert errors[0].reason == "record is a JSON number, not an object"
    assert errors[1].reason.startswith("invalid JSON: ")
    assert "array element is" in errors[2].reason and "200-byte limit" in errors[2].reason


def test_truncated_json_array_and_trailing_data(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_text('[{"a": 1}, {"b": 2')
    items = _records(cut)
    assert [r.data for r in _ok(items)] == [{"a": 1}]
    assert [(e.line, e.reason) for e in _errors(items)] == [
        (2, "file ends inside the top-level array (truncated file?)")
    ]
    tail = tmp_path / "tail.json"
    tail.write_text('[{"a": 1}] {"b": 2}')
    items = _records(tail)
    assert [r.data for r in _ok(items)] == [{"a": 1}]
    assert [e.line for e in _errors(items)] == [2]


def test_json_lines_misnamed_json_fall_back_to_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.json"
    path.write_text('{"a": 1}\n{"a": 2}\n\n{"a": 3}\n')
    items = _records(path)
    assert [(r.line, r.data["a"]) for r in _ok(items)] == [(1, 1), (2, 2), (4, 3)]


def test_gzip_by_inner_suffix(tmp_path: Path) -> None:
    lines = tmp_path / "a.jsonl.gz"
    with gzip.open(lines, "wb") as out:
        out.write(b'{"a": 1}\n{"a": 2}\nnot json\n')
    items = _records(lines)
    assert [(r.line, r.data) for r in _ok(items)] == [(1, {"a": 1}), (2, {"a": 2})]
    assert [e.line for e in _errors(items)] == [3]
    array = tmp_path / "b.json.gz"
    with gzip.open(array, "wb") as out:
        out.write(json.dumps([{"b": 1}, {"b": 2}]).encode())
    assert [(r.line, r.data) for r in _ok(_records(array))] == [(1, {"b": 1}), (2, {"b": 2})]
    obj = tmp_path / "c.json.gz"
    with gzip.open(obj, "wb") as out:
        out.write(json.dumps({"c": [1]}, indent=2).encode())
    assert [r.data for r in _ok(_records(obj))] == [{"c": [1]}]


def test_corrupt_gzip_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(FormatError, match=r"bad\.jsonl\.gz"):
        list(iter_records(path))


def test_parquet_rows_become_records(tmp_path: Path) -> None:
    rows = [
        {"question": f"q{i}", "generations": [f"<think>t{i}</think>a{i}"], "score": i * 0.5}
        for i in range(2500)
    ]
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=700)
    items = _records(path)
    assert not _errors(items)
    assert [r.data for r in _ok(items)] == rows
    assert [r.line for r in _ok(items)] == list(range(1, 2501))


def test_not_a_parquet_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("{}")
    with pytest.raises(FormatError, match=r"fake\.parquet"):
        list(iter_records(path))


def test_traj_is_one_json_object(corpus_dir: Path) -> None:
    path = corpus_dir / "SWE-agent" / "pydicom__pydicom-1458.traj"
    items = _records(path)
    assert len(items) == 1
    record = items[0]
    assert isinstance(record, SourceRecord) and record.line == 1
    assert set(record.data) == {"environment", "trajectory", "history", "info"}


def test_yaml_cassettes_are_read_by_the_cassette_reader(corpus_dir: Path) -> None:
    path = corpus_dir / "pydantic-ai" / "test_anthropic_tool_with_thinking.yaml"
    records = _ok(_records(path))
    assert [r.line for r in records] == [1, 2]


def test_not_a_cassette_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("key: [unclosed\n")
    with pytest.raises(FormatError, match=r"x\.yaml: not valid YAML"):
        list(iter_records(path))


def test_missing_unknown_and_unreadable_files_raise_at_once(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        iter_records(tmp_path / "missing.jsonl")
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    with pytest.raises(
        FormatError, match=r"notes.txt: unknown file type '.txt'; readable: .*\.jsonl"
    ):
        iter_records(odd)
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    with pytest.raises(FormatError, match="not a file"):
        iter_records(folder)


def test_json_array_split_survives_escapes_at_every_chunk_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    alphabet = ['"', "\\", "]", "}", "[", "{", ",", "a", " ", "\n", "é"]
    data = [
        {"k": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))), "i": i}
        for i in range(60)
    ]
    path = tmp_path / "escapes.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    for chunk in range(1, 14):
        monkeypatch.setattr(containers, "_CHUNK", chunk)
        items = _records(path)
        assert [r.data for r in _ok(items)] == data, chunk


def test_document_limits_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    path.write_text(json.dumps({"samples": ["x" * 3000]}, indent=2))
    (error,) = _errors(_records(path, max_document_bytes=1000))
    assert error.line == 1 and "document is" in error.reason and "1000-byte limit" in error.reason
    assert [r.data for r in _ok(_records(path, max_document_bytes=10_000))] == [
        {"samples": ["x" * 3000]}
    ]
    broken = tmp_path / "broken.traj"
    broken.write_bytes(b'\xef\xbb\xbf{\n  "history": [\n')
    (error,) = _errors(_records(broken))
    assert error.line == 1 and error.reason.startswith("invalid JSON: ")
    assert error.raw is None  # a whole document is not copied into the reject file
