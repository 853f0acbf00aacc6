"""read_file: per-record detection, forcing a format, and never letting one record stop a file."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from annotator.domain.trace import Trace
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.containers import FormatError, RejectedRecord
from annotator.formats.reading import read_file, read_record
from annotator.formats.registry import reader_names

SHAREGPT = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}
ALPACA = {"instruction": "Add 2 and 2.", "input": "", "output": "<think>2+2</think>4"}
TRL = {"prompt": "Capital of France?", "completion": "Paris."}
HF = {"problem": "1+1?", "generations": ["<think>one plus one</think>2", "2"]}
CHAT = {"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]}


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _split(
    items: list[tuple[SourceRecord, list[Trace]] | RecordError],
) -> tuple[list[tuple[SourceRecord, list[Trace]]], list[RejectedRecord]]:
    good = [i for i in items if not isinstance(i, RecordError)]
    bad = [i for i in items if isinstance(i, RejectedRecord)]
    assert len(good) + len(bad) == len(items)
    return good, bad


def test_formats_are_detected_per_record(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "mixed.jsonl", [SHAREGPT, ALPACA, TRL, HF, CHAT])
    good, bad = _split(list(read_file(path)))
    assert not bad
    formats = [[t.meta.source_format for t in traces] for _, traces in good]
    assert formats == [
        ["sharegpt"],
        ["alpaca"],
        ["trl"],
        ["hf_reasoning", "hf_reasoning"],
        ["openai_chat"],
    ]
    assert [record.line for record, _ in good] == [1, 2, 3, 4, 5]
    assert good[0][0].raw == orjson.dumps(SHAREGPT)
    for record, traces in good:
        assert all(t.meta.source_line == record.line for t in traces)
        assert all(t.meta.source_file == str(path) for t in traces)


def test_an_unknown_shape_is_rejected_with_its_line_and_keys(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "odd.jsonl", [ALPACA, {"foo": 1, "bar": 2}, TRL])
    good, bad = _split(list(read_file(path)))
    assert [record.line for record, _ in good] == [1, 3]
    assert len(bad) == 1
    assert bad[0].line == 2 and bad[0].source_file == str(path)
    assert bad[0].reason == "unknown record shape (keys: bar, foo)"
    assert bad[0].raw == orjson.dumps({"foo": 1, "bar": 2})


def test_container_errors_pass_through_in_order(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_bytes(orjson.dumps(ALPACA) + b"\n{nope\n" + orjson.dumps(TRL) + b"\n")
    items = list(read_file(path))
    assert [type(i).__name__ for i in items] == ["tuple", "RejectedRecord", "tuple"]
    error = items[1]
    assert isinstance(error, RejectedRecord)
    assert error.line == 2 and error.reason.startswith("invalid JSON")


def test_a_reader_error_keeps_file_line_field_and_raw(tmp_path: Path) -> None:
    bad_speaker = {"conversations": [{"from": "narrator", "value": "once upon a time"}]}
    path = _write_jsonl(tmp_path / "bad.jsonl", [SHAREGPT, bad_speaker])
    _, bad = _split(list(read_file(path)))
    assert len(bad) == 1
    assert (bad[0].line, bad[0].field) == (2, "conversations[0].from")
    assert bad[0].reason == "unknown speaker 'narrator'"
    assert bad[0].raw == orjson.dumps(bad_speaker)
    assert str(bad[0]) == f"{path}:2: unknown speaker 'narrator' [conversations[0].from]"


def test_forcing_a_format_skips_detection(tmp_path: Path) -> None:
    both = {**SHAREGPT, "instruction": "Say hi.", "output": "hi"}
    path = _write_jsonl(tmp_path / "both.jsonl", [both, TRL])
    detected, _ = _split(list(read_file(path)))
    assert detected[0][1][0].meta.source_format == "sharegpt"
    good, bad = _split(list(read_file(path, format="alpaca")))
    assert [t.meta.source_format for _, traces in good for t in traces] == ["alpaca"]
    assert [t.prompt for _, traces in good for t in traces] == ["Say hi."]
    assert [e.line for e in bad] == [2]
    assert bad[0].reason == "expected a string, got NoneType"
    assert bad[0].field == "instruction"


def test_an_unknown_format_name_lists_the_known_ones(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "a.jsonl", [ALPACA])
    with pytest.raises(FormatError) as info:
        read_file(path, format="csv")
    message = str(info.value)
    assert message.startswith("unknown format 'csv'; known formats: ")
    for name in ("alpaca", "sharegpt", "trl", "hf_reasoning", "swe_agent", "inspect_log"):
        assert name in reader_names() and name in message


def test_an_unreadable_file_fails_before_reading(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        read_file(tmp_path / "missing.jsonl")


class _Crashing:
    name = "crashing"

    def detect(self, data: Any) -> bool:
        return True

    def read(self, record: SourceRecord) -> list[Trace]:
        return [data["turns"] for data in record.data["items"]]


class _Empty:
    name = "empty"

    def detect(self, data: Any) -> bool:
        return True

    def read(self, record: SourceRecord) -> list[Trace]:
        return []


def test_an_unexpected_reader_exception_becomes_an_informative_record_error() -> None:
    record = SourceRecord(data={"items": [{}]}, source_file="f.jsonl", line=7, raw=b"{}")
    result = read_record(record, _Crashing())
    assert isinstance(result, RejectedRecord)
    assert (result.source_file, result.line, result.raw) == ("f.jsonl", 7, b"{}")
    assert result.reason == "crashing reader failed: KeyError: 'turns'"


def test_a_record_with_no_traces_is_rejected() -> None:
    record = SourceRecord(data={}, source_file="f.jsonl", line=3)
    result = read_record(record, _Empty())
    assert isinstance(result, RejectedRecord)
    assert result.reason == "the empty reader found no trace in this record"


def test_reading_the_whole_corpus_gives_no_errors(corpus_dir: Path) -> None:
    expected = {
        "SkyThought": ("hf_reasoning", 30),
        "SWE-agent": ("swe_agent", 1),
        "inspect_ai": ("inspect_log", 3),
    }
    for folder, (name, count) in expected.items():
        (path,) = sorted((corpus_dir / folder).iterdir())
        good, bad = _split(list(read_file(path)))
        assert not bad
        traces = [t for _, ts in good for t in ts]
        assert {t.meta.source_format for t in traces} == {name}
        assert len(traces) == count
        assert len({t.uid for t in traces}) == count


def test_mixed_records_in_a_json_array_and_in_gzip(tmp_path: Path) -> None:
    rows = [SHAREGPT, ALPACA, TRL, HF, CHAT]
    array = tmp_path / "mixed.json"
    array.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    packed = tmp_path / "mixed.jsonl.gz"
    with gzip.open(packed, "wb") as out:
        out.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    for path in (array, packed):
        good, bad = _split(list(read_file(path)))
        assert not bad
        assert [record.line for record, _ in good] == [1, 2, 3, 4, 5]
        assert [traces[0].meta.source_format for _, traces in good] == [
            "sharegpt",
            "alpaca",
            "trl",
            "hf_reasoning",
            "openai_chat",
        ]
        assert [orjson.loads(record.raw or b"") for record, _ in good] == rows
