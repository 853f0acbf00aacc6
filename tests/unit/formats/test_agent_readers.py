"""Agent and eval logs: SWE-agent trajectories and Inspect eval logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from annotator.domain.trace import BlockKind, Role, Trace
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.inspect_log import READER as INSPECT
from annotator.formats.reading import read_file
from annotator.formats.registry import detect_reader
from annotator.formats.swe_agent import READER as SWE


def _traces(path: Path) -> list[Trace]:
    traces: list[Trace] = []
    for item in read_file(path):
        assert not isinstance(item, RecordError), item
        traces.extend(item[1])
    return traces


def _record(data: Any) -> SourceRecord:
    return SourceRecord(data=data, source_file="log.json", line=1)


# --- SWE-agent ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swe(corpus_dir: Path) -> tuple[dict[str, Any], Trace]:
    path = corpus_dir / "SWE-agent" / "pydicom__pydicom-1458.traj"
    data = json.loads(path.read_text())
    (trace,) = _traces(path)
    return data, trace


def test_swe_agent_turn_roles_follow_the_history(swe: tuple[dict[str, Any], Trace]) -> None:
    data, trace = swe
    history = data["history"]
    assert trace.meta.source_format == "swe_agent"
    assert len(trace.turns) == len(history)
    expected: list[Role] = []
    after_action = False
    for message in history:
        if message["role"] == "assistant":
            expected.append(Role.ASSISTANT)
            after_action = bool(message.get("action"))
        elif message["role"] == "user" and after_action:
            expected.append(Role.TOOL)
            after_action = False
        else:
            expected.append(Role(message["role"]))
    assert [t.role for t in trace.turns] == expected
    assert expected[:3] == [Role.SYSTEM, Role.USER, Role.USER]
    assert trace.turns[1].name == "demonstration"  # the is_demo message is not the real task
    assert trace.prompt == history[1]["content"]


def test_swe_agent_thoughts_are_reasoning_and_actions_are_tool_calls(
    swe: tuple[dict[str, Any], Trace],
) -> None:
    data, trace = swe
    steps = [m for m in data["history"] if m["role"] == "assistant"]
    assert len(steps) == len(data["trajectory"]) == 12
    assistant = [t for t in trace.turns if t.role is Role.ASSISTANT]
    assert len(assistant) == len(steps)
    for turn, step in zip(assistant, steps, strict=True):
        assert [b.kind for b in turn.blocks] == [BlockKind.REASONING, BlockKind.TOOL_CALL]
        assert turn.blocks[0].text == step["thought"].strip()
        call = turn.blocks[1]
        assert call.text == step["action"].strip()
        assert call.tool_name == step["action"].split()[0]
    tools = [t for t in trace.turns if t.role is Role.TOOL]
    assert len(tools) == sum(1 for s in steps if s["action"].strip() != "submit")
    for turn in tools:
        (result,) = turn.blocks
        assert result.kind is BlockKind.TOOL_RESULT
    calls = [b for t in assistant for b in t.blocks if b.kind is BlockKind.TOOL_CALL]
    assert [t.blocks[0].tool_call_id for t in tools] == [c.tool_call_id for c in calls[:-1]]
    assert calls[-1].tool_name == "submit"
    stats = data["info"]["model_stats"]
    assert trace.meta.input_tokens == stats["tokens_sent"]
    assert trace.meta.output_tokens == stats["tokens_received"]
    assert trace.meta.extra["exit_status"] == "submitted"


def test_swe_agent_newer_format_with_tool_role_and_model_in_replay_config() -> None:
    data = {
        "environment": "docker",
        "trajectory": [],
        "info": {"model_stats": {"tokens_sent": 10, "tokens_received": 5}},
        "replay_config": json.dumps({"agent": {"model": {"name": "claude-3-5-sonnet"}}}),
        "history": [
            {"role": "system", "content": "sys", "message_type": "system_prompt"},
            {"role": "user", "content": [{"type": "text", "text": "fix it"}]},
            {
                "role": "assistant",
                "content": "look\n```\nls\n```",
                "thought": "look",
                "action": "ls",
                "tool_calls": [{"id": "call_1", "function": {"name": "bash"}}],
            },
            {
                "role": "tool",
                "content": [{"type": "text", "text": "a.py"}],
                "message_type": "observation",
            },
            {"role": "assistant", "content": "done", "message_type": "action"},
        ],
    }
    assert detect_reader(data) is SWE
    (trace,) = SWE.read(_record(data))
    assert [t.role for t in trace.turns] == [
        Role.SYSTEM,
        Role.USER,
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
    ]
    assert trace.meta.model == "claude-3-5-sonnet"
    assert trace.turns[1].blocks[0].text == "fix it"
    assert trace.turns[2].blocks[1].tool_call_id == "call_1"
    assert trace.turns[3].blocks[0].tool_call_id == "call_1"
    assert trace.turns[3].blocks[0].text == "a.py"
    assert [b.kind for b in trace.turns[4].blocks] == [BlockKind.TEXT]


def test_swe_agent_unknown_role_is_a_record_error() -> None:
    data = {"trajectory": [], "history": [{"role": "critic", "content": "x"}]}
    with pytest.raises(RecordError) as info:
        SWE.read(_record(data))
    assert info.value.field == "history[0].role"


# --- Inspect -----------------------------------------------------------------------------------


def test_inspect_log_gives_one_trace_per_sample(corpus_dir: Path) -> None:
    (path,) = sorted((corpus_dir / "inspect_ai").glob("*.json"))
    data = json.loads(path.read_text())
    traces = _traces(path)
    assert len(traces) == len(data["samples"]) == 3
    eval_id = data["eval"]["eval_id"]
    for trace, sample in zip(traces, data["samples"], strict=True):
        assert trace.meta.source_format == "inspect_log"
        assert trace.meta.model == "openai/gpt-4o-mini"
        assert trace.uid == f"{eval_id}:{sample['id']}:{sample['epoch']}"
        assert [t.role for t in trace.turns] == [Role.SYSTEM, Role.USER, Role.ASSISTANT]
        assert trace.turns[2].text_of() == sample["output"]["choices"][0]["message"]["content"]
        usage = sample["model_usage"]["openai/gpt-4o-mini"]
        assert trace.meta.input_tokens == usage["input_tokens"]
        assert trace.meta.output_tokens == usage["output_tokens"]
        assert trace.meta.extra["scores"] == sample["scores"]
        assert trace.meta.created_at is not None and trace.meta.created_at.year == 2025
        assert trace.original == sample
        assert not any(b.kind is BlockKind.REASONING for _, _, b in trace.blocks())
    assert len({t.uid for t in traces}) == 3


def test_inspect_reasoning_tool_calls_and_attachments() -> None:
    data = {
        "version": 2,
        "eval": {"eval_id": "E1", "model": "anthropic/claude-sonnet-4", "task": "t"},
        "samples": [
            {
                "id": "s1",
                "epoch": 2,
                "attachments": {"abc": "a long user prompt"},
                "model_usage": {
                    "anthropic/claude-sonnet-4": {
                        "input_tokens": 100,
                        "output_tokens": 50,
                        "reasoning_tokens": 30,
                    },
                    "openai/grader": {"input_tokens": 7, "output_tokens": 1},
                },
                "messages": [
                    {"role": "user", "content": "attachment://abc"},
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "reasoning", "reasoning": "Think first.", "signature": "sig"},
                            {"type": "reasoning", "reasoning": "ENCRYPTED", "redacted": True},
                            {"type": "text", "text": "Calling a tool."},
                        ],
                        "tool_calls": [
                            {
                                "id": "tc1",
                                "function": "bash",
                                "arguments": {"cmd": "ls"},
                                "type": "function",
                            }
                        ],
                    },
                    {
                        "role": "tool",
                        "content": "file.txt",
                        "tool_call_id": "tc1",
                        "function": "bash",
                    },
                    {"role": "assistant", "content": "<think>inline</think>Done."},
                ],
            }
        ],
    }
    assert detect_reader(data) is INSPECT
    (trace,) = INSPECT.read(_record(data))
    assert trace.uid == "E1:s1:2"
    assert trace.prompt == "a long user prompt"
    assert [(t.role.value, [b.kind.value for b in t.blocks]) for t in trace.turns] == [
        ("user", ["text"]),
        ("assistant", ["reasoning", "redacted_reasoning", "text", "tool_call"]),
        ("tool", ["tool_result"]),
        ("assistant", ["reasoning", "text"]),
    ]
    blocks = trace.turns[1].blocks
    assert blocks[0].signature == "sig"
    assert blocks[1].opaque_chars == len("ENCRYPTED") and blocks[1].text == ""
    assert blocks[3].tool_name == "bash" and blocks[3].tool_call_id == "tc1"
    assert orjson.loads(blocks[3].text) == {"cmd": "ls"}
    result = trace.turns[2].blocks[0]
    assert (result.tool_name, result.tool_call_id, result.text) == ("bash", "tc1", "file.txt")
    assert (trace.meta.input_tokens, trace.meta.output_tokens) == (107, 51)
    assert trace.meta.reasoning_tokens == 30


def test_inspect_log_without_samples_is_a_record_error() -> None:
    data = {"eval": {"eval_id": "E", "model": "m"}, "samples": []}
    with pytest.raises(RecordError, match="no samples"):
        INSPECT.read(_record(data))
