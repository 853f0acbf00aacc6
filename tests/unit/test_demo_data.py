"""The shipped demo dataset: parseable, the right size and mix, keyed, and reproducible."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from annotator.resources import default_schema

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo"
GENERATOR = REPO / "tests" / "fixtures" / "make_demo.py"
TRACE_FILES = [
    "openai_chat.jsonl",
    "anthropic.jsonl",
    "openai_responses.jsonl",
    "r1_inline_think.jsonl",
    "sharegpt.json",
    "alpaca.jsonl",
]
TEMPLATE_PREFIX = "Solve the following competition problem. Show every step of your reasoning"


def load(name: str) -> list[dict[str, Any]]:
    text = (DEMO / name).read_text(encoding="utf-8")
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines()]
    data = json.loads(text)
    assert isinstance(data, list)
    return data


def uid_of(record: dict[str, Any]) -> str:
    if "response" in record:
        return str(record["response"]["id"])
    return str(record["id"])


def account_of(record: dict[str, Any]) -> str | None:
    request = record.get("request", {})
    return request.get("user") or request.get("metadata", {}).get("user_id") or record.get("user")


def timestamp_of(record: dict[str, Any]) -> float:
    response = record.get("response", {})
    for value in (response.get("created"), response.get("created_at"), record.get("created")):
        if isinstance(value, int):
            return float(value)
    return datetime.fromisoformat(record["created_at"].replace("Z", "+00:00")).timestamp()


def first_user_text(record: dict[str, Any]) -> str:
    request = record.get("request", {})
    messages = request.get("messages") or request.get("input") or record.get("messages") or []
    for message in messages:
        if message.get("role") == "user":
            content = message["content"]
            if isinstance(content, str):
                return content
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    for turn in record.get("conversations", []):
        if turn["from"] == "human":
            return str(turn["value"])
    return str(record.get("instruction", ""))


@pytest.fixture(scope="module")
def records() -> dict[str, list[dict[str, Any]]]:
    return {name: load(name) for name in TRACE_FILES}


@pytest.fixture(scope="module")
def key() -> dict[str, dict[str, Any]]:
    data = json.loads((DEMO / "answer_key.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_file_parses_and_the_size_is_right(
    records: dict[str, list[dict[str, Any]]],
) -> None:
    counts = {name: len(recs) for name, recs in records.items()}
    assert all(n > 0 for n in counts.values()), counts
    assert len(counts) >= 5
    assert 40 <= sum(counts.values()) <= 80
    total_bytes = sum(p.stat().st_size for p in DEMO.iterdir() if p.is_file())
    assert total_bytes < 600 * 1024


def test_every_record_has_a_unique_id_account_session_and_time(
    records: dict[str, list[dict[str, Any]]],
) -> None:
    uids = [uid_of(r) for recs in records.values() for r in recs]
    assert len(uids) == len(set(uids))
    for recs in records.values():
        for record in recs:
            assert account_of(record), uid_of(record)
            session = record.get("session_id") or record.get("request", {}).get("metadata", {}).get(
                "session_id"
            )
            assert session, uid_of(record)
            assert timestamp_of(record) > 0


def test_one_template_spans_many_accounts_at_machine_intervals(
    records: dict[str, list[dict[str, Any]]],
) -> None:
    hits = [
        r
        for recs in records.values()
        for r in recs
        if first_user_text(r).startswith(TEMPLATE_PREFIX)
    ]
    assert len({account_of(r) for r in hits}) >= 6
    assert len({name for name, recs in records.items() for r in recs if r in hits}) >= 2
    times = sorted(timestamp_of(r) for r in hits)
    assert {b - a for a, b in pairwise(times)} == {90.0}


def test_the_answer_key_covers_every_record_with_schema_values(
    records: dict[str, list[dict[str, Any]]], key: dict[str, dict[str, Any]]
) -> None:
    by_file = {uid_of(r): name for name, recs in records.items() for r in recs}
    assert set(key) == set(by_file)
    schema = default_schema()
    for uid, entry in key.items():
        assert entry["file"] == by_file[uid]
        assert entry["verdict"] in schema.verdict_values
        assert set(entry["tags"]) <= schema.tag_names, uid
        assert set(entry["counter_tags"]) <= schema.counter_tag_names, uid
        assert (entry["confidence"] is None) == (entry["verdict"] == "cannot_determine"), uid
    verdicts = Counter(e["verdict"] for e in key.values())
    assert verdicts["legitimate"] >= len(key) // 3
    assert verdicts["suspected_distillation"] >= len(key) // 3
    assert verdicts["cannot_determine"] >= 3
    used = {t for e in key.values() for t in e["tags"]}
    assert {
        "REASONING_ELICIT",
        "DATASET_FORMAT",
        "GRADER_ROLE",
        "SAFETY_BOUNDARY_HARVEST",
        "FOREIGN_IDENTITY",
        "SYNTHETIC_AGENT_HARNESS",
        "TEMPLATE_AT_SCALE",
    } <= used


def test_the_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], check=True, capture_output=True)
    produced = sorted(p.name for p in tmp_path.iterdir())
    assert produced == sorted(p.name for p in DEMO.iterdir() if p.is_file())
    for name in produced:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name


def test_every_demo_file_reads_cleanly_through_the_readers(
    records: dict[str, list[dict[str, Any]]], key: dict[str, dict[str, Any]]
) -> None:
    reading = pytest.importorskip(
        "annotator.formats.reading", reason="the format readers (annotator.formats) are missing"
    )
    from annotator.domain.trace import BlockKind

    uids: list[str] = []
    long_reasoning = 0
    for name in TRACE_FILES:
        items = list(reading.read_file(DEMO / name))
        errors = [item for item in items if isinstance(item, Exception)]
        assert errors == [], name
        traces = [trace for _, found in items for trace in found]
        assert len(traces) == len(records[name]), name
        assert any(t.reasoning_chars > 0 for t in traces), f"no reasoning found in {name}"
        long_reasoning += sum(1 for t in traces if t.reasoning_chars >= 5000)
        uids += [t.uid for t in traces]
        if name == "r1_inline_think.jsonl":
            assert sum(1 for t in traces if t.truncated_count) == 2
        if name == "anthropic.jsonl":
            kinds = {b.kind for t in traces for _, _, b in t.blocks()}
            assert {
                BlockKind.REDACTED_REASONING,
                BlockKind.TOOL_CALL,
                BlockKind.TOOL_RESULT,
            } <= kinds
        if name != "sharegpt.json" and name != "alpaca.jsonl":
            # The API and chat logs carry account, session and time in places the readers know.
            assert all(
                t.meta.account_id and t.meta.session_id and t.meta.created_at for t in traces
            )
    assert sorted(uids) == sorted(key)
    assert long_reasoning >= 3
