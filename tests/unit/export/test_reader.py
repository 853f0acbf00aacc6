"""The reader for this app's own full export: detection by the marker key, the trace as it was,
labels carried to the importer in meta.extra, and bad records as RecordErrors."""

from __future__ import annotations

from typing import Any

import pytest

from annotator.domain.trace import BlockKind, Role
from annotator.formats.annotator_export import READER
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.registry import detect_reader


def record(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "annotator_export": 1,
        "uid": "u-1",
        "turns": [
            {"role": "user", "blocks": [{"kind": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "blocks": [
                    {"kind": "reasoning", "text": "think", "truncated": True},
                    {"kind": "text", "text": "hello"},
                ],
            },
        ],
        "meta": {
            "source_format": "openai_chat",
            "model": "m",
            "account_id": "a",
            "created_at": "2025-03-01T09:00:00+00:00",
            "source_line": 7,
            "extra": {"k": 1, "annotator_labels": ["stale"]},
        },
        "is_gold": False,
        "labels": [
            {
                "annotator": "alice",
                "status": "done",
                "verdict": "legitimate",
                "label": {"verdict": "legitimate", "tags": [], "confidence": 2},
                "seconds_spent": 3.0,
                "created_at": "2025-03-02T09:00:00+00:00",
                "submitted_at": "2025-03-02T09:00:00+00:00",
                "schema_version": 1,
                "comment": None,
            }
        ],
        "adjudications": [],
        "resolved": {"verdict": "legitimate", "method": "unanimous"},
        "agreement": {"n_labelers": 1},
        "original": {"messages": []},
    }
    data.update(changes)
    return data


def read(data: Any) -> Any:
    return READER.read(SourceRecord(data=data, source_file="x.jsonl", line=3))


def test_detected_before_every_other_reader() -> None:
    assert detect_reader(record()) is READER
    # a chat record that happens to look like OpenAI chat is not ours
    assert not READER.detect({"messages": [{"role": "user", "content": "x"}]})


def test_trace_comes_back_as_exported() -> None:
    (trace,) = read(record())
    assert trace.uid == "u-1"
    assert [t.role for t in trace.turns] == [Role.USER, Role.ASSISTANT]
    assert trace.turns[1].blocks[0].kind is BlockKind.REASONING
    assert trace.turns[1].blocks[0].truncated is True
    assert trace.meta.source_line == 7 and trace.meta.source_file is None
    assert trace.meta.created_at is not None and trace.meta.created_at.isoformat().startswith(
        "2025-03-01T09:00"
    )
    assert trace.original == {"messages": []}
    extra = trace.meta.extra
    assert extra["k"] == 1
    assert extra["annotator_labels"][0]["annotator"] == "alice"  # the record's, not the stale one
    assert "annotator_adjudications" not in extra


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"annotator_export": 2}, "annotator_export"),
        ({"uid": ""}, "uid"),
        ({"meta": "x"}, "meta"),
        ({"turns": {}}, "turns"),
        ({"turns": [{"role": "robot", "blocks": []}]}, "turns[0]"),
        ({"turns": [{"role": "user", "blocks": [{"kind": "video"}]}]}, "turns[0].blocks[0]"),
        ({"labels": {"a": 1}}, "labels"),
        ({"meta": {"source_format": "x", "colour": "red"}}, "meta"),
    ],
)
def test_bad_records_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(RecordError) as info:
        read(record(**changes))
    assert info.value.field == field


def test_columnar_form_with_json_text_is_decoded() -> None:
    """Parquet/HF rows keep meta.extra and original as JSON text; they read as the JSONL ones."""
    data = record()
    columnar = record(
        meta={**data["meta"], "extra": '{"k":1,"annotator_labels":["stale"]}'},
        original='{"messages":[]}',
        agreement={"n_labelers": 1, "votes": '{"legitimate":1}'},
    )
    (want,) = read(data)
    (got,) = read(columnar)
    assert got == want
    (text_original,) = read(record(meta=columnar["meta"], original='"a YAML cassette, as text"'))
    assert text_original.original == "a YAML cassette, as text"


@pytest.mark.parametrize(
    ("extra", "original", "field"),
    [("{not json", None, "meta.extra"), ("[1]", None, "meta.extra"), ("{}", "{bad", "original")],
)
def test_bad_json_text_names_the_field(extra: str, original: str | None, field: str) -> None:
    data = record()
    with pytest.raises(RecordError) as info:
        read(record(meta={**data["meta"], "extra": extra}, original=original))
    assert info.value.field == field
