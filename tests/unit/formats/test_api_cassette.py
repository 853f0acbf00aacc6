"""VCR cassettes into request/response records: parsed bodies, vcrpy string and gzip bodies,
and clear errors for files that are not cassettes."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
import yaml

from annotator.formats.base import RecordError
from annotator.formats.cassette import iter_cassette_records
from annotator.formats.registry import detect_reader

REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
RESPONSE = {"id": "chatcmpl-x", "choices": [{"message": {"role": "assistant", "content": "yo"}}]}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "cassette.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_vcrpy_string_bodies(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "version": 1,
            "interactions": [
                {
                    "request": {
                        "method": "POST",
                        "uri": "https://api.openai.com/v1/chat/completions",
                        "body": orjson.dumps(REQUEST).decode(),
                    },
                    "response": {
                        "status": {"code": 200, "message": "OK"},
                        "body": {"string": orjson.dumps(RESPONSE).decode()},
                    },
                }
            ],
        },
    )
    (record,) = iter_cassette_records(path)
    assert record.line == 1 and record.source_file == str(path)
    assert record.data["request"] == REQUEST
    assert record.data["response"] == RESPONSE
    assert record.data["status"] == 200 and record.data["method"] == "POST"
    (trace,) = detect_reader(record.data).read(record)
    assert [t.role.value for t in trace.turns] == ["user", "assistant"]
    assert trace.uid == "chatcmpl-x"
    assert trace.meta.extra["uri"] == "https://api.openai.com/v1/chat/completions"


def test_gzipped_binary_body_and_non_json_body(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "interactions": [
                {
                    "request": {"body": orjson.dumps(REQUEST)},
                    "response": {"body": {"string": gzip.compress(orjson.dumps(RESPONSE))}},
                },
                {
                    "request": {"body": orjson.dumps(REQUEST).decode()},
                    "response": {"body": {"string": "data: {}\n\ndata: [DONE]\n"}},
                },
            ]
        },
    )
    first, second = iter_cassette_records(path)
    assert first.data["response"] == RESPONSE
    assert second.line == 2
    assert second.data["response"] == "data: {}\n\ndata: [DONE]\n"
    # A streamed body stays in ``original``; the request still reads as a trace.
    (trace,) = detect_reader(second.data).read(second)
    assert [t.role.value for t in trace.turns] == ["user"]
    assert trace.original["response"].startswith("data:")


def test_malformed_interaction_is_yielded_for_the_reader_to_reject(tmp_path: Path) -> None:
    path = write(tmp_path, {"interactions": [5, {"request": {"parsed_body": REQUEST}}]})
    bad, good = iter_cassette_records(path)
    assert (bad.data, bad.line) == (5, 1)
    with pytest.raises(RecordError):
        detect_reader(bad.data)
    assert good.data["request"] == REQUEST and good.data["response"] is None


@pytest.mark.parametrize("text", ["just: [a, mapping]\n", "- 1\n- 2\n", "key: [unclosed\n"])
def test_not_a_cassette(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecordError) as info:
        list(iter_cassette_records(path))
    assert info.value.source_file == str(path)


def test_yaml_tags_are_not_executed(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("interactions: !!python/object/apply:os.system ['echo hi']\n", encoding="utf-8")
    with pytest.raises(RecordError):
        list(iter_cassette_records(path))
