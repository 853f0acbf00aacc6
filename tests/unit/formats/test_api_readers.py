"""OpenAI chat, Anthropic and OpenAI Responses readers on hand-made records: shapes, metadata,
detection between the three, and RecordError for records of the right family with wrong types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from annotator.domain.trace import BlockKind, Role, Trace, content_uid
from annotator.formats.anthropic import ANTHROPIC
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.openai_chat import OPENAI_CHAT
from annotator.formats.openai_responses import OPENAI_RESPONSES
from annotator.formats.registry import detect_reader


def record(data: Any, line: int = 3) -> SourceRecord:
    return SourceRecord(data=data, source_file="logs.jsonl", line=line)


def one(reader: Any, data: Any) -> Trace:
    (trace,) = reader.read(record(data))
    assert isinstance(trace, Trace)
    return trace


def roles(trace: Trace) -> list[str]:
    return [t.role.value for t in trace.turns]


CHAT_PAIR = {
    "request": {
        "model": "gpt-4o",
        "user": "acct-7",
        "messages": [
            {"role": "system", "content": "You help."},
            {"role": "user", "content": "Weather?"},
        ],
    },
    "response": {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 9,
            "completion_tokens_details": {"reasoning_tokens": 4},
        },
    },
    "metadata": {"session_id": "sess-1"},
}


def test_openai_chat_pair_with_metadata() -> None:
    trace = one(OPENAI_CHAT, CHAT_PAIR)
    assert roles(trace) == ["system", "user", "assistant"]
    (call,) = trace.turns[2].blocks
    assert (call.kind, call.tool_name, call.tool_call_id) == (
        BlockKind.TOOL_CALL,
        "weather",
        "call_9",
    )
    assert call.text == '{\n  "city": "Oslo"\n}'
    meta = trace.meta
    assert trace.uid == "chatcmpl-1"
    assert meta.source_format == "openai_chat"
    assert meta.model == "gpt-4o-2024-08-06"  # the response's model wins
    assert (meta.input_tokens, meta.output_tokens, meta.reasoning_tokens) == (20, 9, 4)
    assert meta.created_at == datetime.fromtimestamp(1700000000, UTC)
    assert (meta.account_id, meta.session_id) == ("acct-7", "sess-1")
    assert (meta.source_file, meta.source_line) == ("logs.jsonl", 3)
    assert trace.original is CHAT_PAIR
    assert meta.extra["finish_reason"] == "tool_calls"


def test_openai_chat_bare_messages_use_a_content_hash_and_request_model() -> None:
    data = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
    trace = one(OPENAI_CHAT, data)
    assert trace.uid == content_uid(data)
    assert trace.meta.model == "m1"
    assert roles(trace) == ["user"]


def test_openai_chat_bare_response_and_multiple_choices() -> None:
    data = {
        "id": "r1",
        "choices": [
            {"message": {"role": "assistant", "content": "A"}},
            {"message": {"role": "assistant", "content": "B"}},
        ],
    }
    traces = OPENAI_CHAT.read(record(data))
    assert [t.uid for t in traces] == ["r1#0", "r1#1"]
    assert [t.turns[0].blocks[0].text for t in traces] == ["A", "B"]


def test_openai_chat_length_stop_truncates_trailing_reasoning() -> None:
    data = {
        "choices": [
            {
                "finish_reason": "length",
                "message": {"role": "assistant", "content": "", "reasoning_content": "and then"},
            }
        ]
    }
    trace = one(OPENAI_CHAT, data)
    assert [(b.kind, b.truncated) for b in trace.turns[0].blocks] == [(BlockKind.REASONING, True)]
    assert trace.truncated_count == 1


def test_openai_batch_lines() -> None:
    request_line = {
        "custom_id": "task-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Q"}]},
    }
    output_line = {
        "id": "batch_req_1",
        "custom_id": "task-1",
        "response": {
            "status_code": 200,
            "body": {
                "id": "chatcmpl-2",
                "model": "gpt-4o-mini",
                "choices": [{"message": {"role": "assistant", "content": "A"}}],
            },
        },
    }
    assert detect_reader(request_line) is OPENAI_CHAT
    assert detect_reader(output_line) is OPENAI_CHAT
    assert one(OPENAI_CHAT, request_line).uid == "task-1"
    answer = one(OPENAI_CHAT, output_line)
    assert answer.uid == "chatcmpl-2"
    assert roles(answer) == ["assistant"]


ANTHROPIC_PAIR = {
    "request": {
        "model": "claude-sonnet-4-0",
        "system": [{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}],
        "metadata": {"user_id": "u-42"},
        "messages": [{"role": "user", "content": "Hello"}],
    },
    "response": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "stop_reason": "tool_use",
        "content": [
            {"type": "thinking", "thinking": "Let me look.", "signature": "EqQB"},
            {"type": "redacted_thinking", "data": "x" * 50},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "hi"}},
        ],
        "usage": {"input_tokens": 11, "output_tokens": 22},
    },
}


def test_anthropic_pair() -> None:
    trace = one(ANTHROPIC, ANTHROPIC_PAIR)
    assert roles(trace) == ["system", "user", "assistant"]
    assert [b.text for b in trace.turns[0].blocks] == ["Rule one.", "Rule two."]
    thinking, redacted, text, tool = trace.turns[2].blocks
    assert (thinking.kind, thinking.signature) == (BlockKind.REASONING, "EqQB")
    assert (redacted.kind, redacted.opaque_chars, redacted.text) == (
        BlockKind.REDACTED_REASONING,
        50,
        "",
    )
    assert text.kind is BlockKind.TEXT
    assert (tool.kind, tool.tool_name, tool.tool_call_id) == (
        BlockKind.TOOL_CALL,
        "lookup",
        "toolu_1",
    )
    assert tool.text == '{\n  "q": "hi"\n}'
    meta = trace.meta
    assert (trace.uid, meta.source_format, meta.model) == (
        "msg_1",
        "anthropic",
        "claude-sonnet-4-20250514",
    )
    assert (meta.input_tokens, meta.output_tokens, meta.reasoning_tokens) == (11, 22, None)
    assert meta.account_id == "u-42"


def test_anthropic_string_system_and_bare_response() -> None:
    request = {"model": "c", "system": "Be terse.", "messages": [{"role": "user", "content": "x"}]}
    assert roles(one(ANTHROPIC, request)) == ["system", "user"]
    response = ANTHROPIC_PAIR["response"]
    assert roles(one(ANTHROPIC, response)) == ["assistant"]


def test_anthropic_max_tokens_marks_trailing_thinking_truncated() -> None:
    data = {
        "type": "message",
        "stop_reason": "max_tokens",
        "content": [{"type": "thinking", "thinking": "hmm"}],
    }
    assert one(ANTHROPIC, data).truncated_count == 1


RESPONSES_PAIR = {
    "request": {
        "model": "gpt-5",
        "instructions": "Answer well.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Add 2 and 2"}]},
        ],
    },
    "response": {
        "id": "resp_1",
        "object": "response",
        "created_at": 1757686928,
        "model": "gpt-5-2025-08-07",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "**Adding**"}],
                "content": [{"type": "reasoning_text", "text": "2+2=4"}],
                "encrypted_content": "gAAAA" * 10,
            },
            {
                "type": "function_call",
                "name": "add",
                "arguments": '{"a":2,"b":2}',
                "call_id": "call_a",
            },
            {"type": "function_call_output", "call_id": "call_a", "output": "4"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "4"}],
            },
        ],
        "usage": {
            "input_tokens": 13,
            "output_tokens": 200,
            "output_tokens_details": {"reasoning_tokens": 150},
        },
    },
}


def test_openai_responses_pair() -> None:
    trace = one(OPENAI_RESPONSES, RESPONSES_PAIR)
    assert roles(trace) == ["system", "user", "assistant", "tool", "assistant"]
    summary, raw, encrypted, call = trace.turns[2].blocks
    assert (summary.kind, summary.summary, summary.text) == (
        BlockKind.REASONING,
        True,
        "**Adding**",
    )
    assert (raw.kind, raw.summary) == (BlockKind.REASONING, False)
    assert (encrypted.kind, encrypted.opaque_chars) == (BlockKind.REDACTED_REASONING, 50)
    assert (call.tool_name, call.tool_call_id) == ("add", "call_a")
    (result,) = trace.turns[3].blocks
    assert (result.kind, result.tool_call_id, result.text) == (BlockKind.TOOL_RESULT, "call_a", "4")
    meta = trace.meta
    assert (trace.uid, meta.model, meta.source_format) == (
        "resp_1",
        "gpt-5-2025-08-07",
        "openai_responses",
    )
    assert (meta.input_tokens, meta.output_tokens, meta.reasoning_tokens) == (13, 200, 150)
    assert meta.created_at == datetime.fromtimestamp(1757686928, UTC)


def test_openai_responses_string_input() -> None:
    trace = one(OPENAI_RESPONSES, {"model": "gpt-5", "input": "Hi"})
    assert roles(trace) == ["user"]
    assert trace.prompt == "Hi"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (CHAT_PAIR, "openai_chat"),
        (ANTHROPIC_PAIR, "anthropic"),
        (ANTHROPIC_PAIR["response"], "anthropic"),
        ({"model": "c", "system": "s", "messages": []}, "anthropic"),
        ({"anthropic_version": "bedrock-2023-05-31", "messages": []}, "anthropic"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}],
                    }
                ]
            },
            "anthropic",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
            "openai_chat",
        ),
        (RESPONSES_PAIR, "openai_responses"),
        (RESPONSES_PAIR["response"], "openai_responses"),
        ({"model": "gpt-5", "input": "Hi"}, "openai_responses"),
    ],
)
def test_detection_tells_the_families_apart(data: Any, name: str) -> None:
    assert detect_reader(data).name == name


@pytest.mark.parametrize(
    "data",
    [
        {"conversations": [{"from": "human", "value": "hi"}]},
        {"messages": [{"from": "human", "value": "hi"}]},
        {"instruction": "Do", "input": "x", "output": "y"},
        {"prompt": "p", "completion": "c"},
        [1, 2],
        "text",
    ],
)
def test_detect_leaves_other_families_alone(data: Any) -> None:
    for reader in (ANTHROPIC, OPENAI_RESPONSES, OPENAI_CHAT):
        assert not reader.detect(data)


@pytest.mark.parametrize(
    ("reader", "data", "field"),
    [
        (OPENAI_CHAT, {"messages": "hello"}, "messages"),
        (
            OPENAI_CHAT,
            {"request": {"messages": [{"role": "user", "content": 5}]}},
            "request.messages[0].content",
        ),
        (OPENAI_CHAT, {"choices": "x"}, "choices"),
        (
            OPENAI_CHAT,
            {"choices": [{"message": {"role": "assistant", "content": {"a": 1}}}]},
            "choices[0].message.content",
        ),
        (OPENAI_CHAT, {"choices": [{"finish_reason": "stop"}]}, "choices[0].message"),
        (OPENAI_CHAT, {"request": 5, "response": {}}, "request"),
        (ANTHROPIC, {"system": 3, "messages": []}, "system"),
        (ANTHROPIC, {"system": [{"type": "image"}], "messages": []}, "system[0]"),
        (ANTHROPIC, {"type": "message", "content": 5}, "content"),
        (
            ANTHROPIC,
            {"type": "message", "content": [{"type": "redacted_thinking", "data": 9}]},
            "content[0].data",
        ),
        (
            ANTHROPIC,
            {"type": "message", "content": [{"type": "tool_use", "name": "n", "input": 4}]},
            "content[0].input",
        ),
        (OPENAI_RESPONSES, {"object": "response", "output": {"a": 1}}, "output"),
        (OPENAI_RESPONSES, {"object": "response", "output": [3]}, "output[0]"),
        (
            OPENAI_RESPONSES,
            {"object": "response", "output": [{"type": "reasoning", "summary": [{"text": 1}]}]},
            "output[0].summary[0].text",
        ),
        (
            OPENAI_RESPONSES,
            {"object": "response", "output": [{"type": "reasoning", "encrypted_content": 5}]},
            "output[0].encrypted_content",
        ),
        (
            OPENAI_RESPONSES,
            {
                "object": "response",
                "output": [{"type": "function_call", "name": "f", "arguments": 5}],
            },
            "output[0].arguments",
        ),
        (
            OPENAI_RESPONSES,
            {
                "request": {"model": "m", "input": 5},
                "response": {"object": "response", "output": []},
            },
            "request.input",
        ),
        (OPENAI_RESPONSES, {"model": "m", "instructions": 5, "input": "x"}, "instructions"),
    ],
)
def test_wrong_types_raise_record_error_naming_the_field(
    reader: Any, data: Any, field: str
) -> None:
    with pytest.raises(RecordError) as info:
        reader.read(record(data))
    assert info.value.field == field


def test_roles_survive_through_registry_for_chat_tool_loop() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c", "content": "r"},
            {"role": "assistant", "content": "done"},
        ]
    }
    reader = detect_reader(data)
    (trace,) = reader.read(record(data))
    assert [t.role for t in trace.turns] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]


def test_legacy_completions_prompt_and_text_choice() -> None:
    trace = one(OPENAI_CHAT, {"id": "cmpl-1", "prompt": "Once", "choices": [{"text": " upon"}]})
    assert roles(trace) == ["user", "assistant"]
    assert trace.turns[1].blocks[0].text == "upon"


def test_responses_other_calls_and_outputs() -> None:
    data = {
        "object": "response",
        "id": "resp_2",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"query": "q"},
            },
            {"type": "custom_tool_call", "name": "patch", "input": "*** raw ***", "call_id": "c1"},
            {
                "type": "custom_tool_call_output",
                "call_id": "c1",
                "output": [{"type": "input_text", "text": "ok"}],
            },
            {"type": "item_reference", "id": "x"},
            {
                "type": "reasoning",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "still"}],
            },
        ],
    }
    trace = one(OPENAI_RESPONSES, data)
    assert roles(trace) == ["assistant", "tool", "assistant"]
    search, custom = trace.turns[0].blocks
    assert (search.tool_name, search.text) == (
        "web_search_call",
        '{\n  "action": {\n    "query": "q"\n  }\n}',
    )
    assert (custom.tool_name, custom.text, custom.tool_call_id) == ("patch", "*** raw ***", "c1")
    assert trace.turns[1].blocks[0].text == "ok"
    (reasoning,) = trace.turns[2].blocks
    assert reasoning.truncated  # cut at max_output_tokens while reasoning
    assert trace.meta.extra["status"] == "incomplete"
