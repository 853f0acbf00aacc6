"""ShareGPT-style conversations: ``conversations`` (or ``conversation``, or ``messages``) as a list
of ``{from, value}`` turns, the LLaMA-Factory variant with top-level ``system`` and ``tools`` and
``function_call`` / ``observation`` speakers, and lists of ``{role, content}`` under the same keys
(lmsys-chat-1m ``conversation`` with ``model``).

Assistant text is split on inline reasoning tags (``<think>`` ...), so distilled R1-style data
shows its reasoning as reasoning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from annotator.domain.trace import Block, BlockKind, Role, Trace, Turn
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.dataset_common import (
    make_trace,
    need_dict,
    need_list,
    need_str,
    record_uid,
    text_turn,
)
from annotator.formats.messages import message_turns, tool_call_block

_KEYS = ("conversations", "conversation", "messages")
_SPEAKERS: dict[str, Role] = {
    "human": Role.USER,
    "user": Role.USER,
    "prompter": Role.USER,
    "gpt": Role.ASSISTANT,
    "assistant": Role.ASSISTANT,
    "model": Role.ASSISTANT,
    "chatgpt": Role.ASSISTANT,
    "bard": Role.ASSISTANT,
    "bing": Role.ASSISTANT,
    "system": Role.SYSTEM,
    "observation": Role.TOOL,
    "tool": Role.TOOL,
    "function": Role.TOOL,
    "ipython": Role.TOOL,
}


def _conversation_key(data: Mapping[str, Any]) -> str | None:
    for key in _KEYS:
        value = data.get(key)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            first = value[0]
            if "from" in first and "value" in first:
                return key
            if key != "messages" and "role" in first and "content" in first:
                return key
    return None


def _function_call(value: str, *, field: str) -> Block:
    """A ``function_call`` turn's value: JSON ``{"name", "arguments"}`` (or a list of them)."""
    try:
        payload: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        return Block(kind=BlockKind.TOOL_CALL, text=value)
    if isinstance(payload, dict):
        return tool_call_block(
            payload.get("name"),
            payload.get("arguments", payload.get("parameters")),
            payload.get("id"),
            field=field,
        )
    return Block(kind=BlockKind.TOOL_CALL, text=value)


def _sharegpt_turns(message: dict[str, Any], *, field: str) -> list[Turn]:
    speaker = message.get("from")
    if not isinstance(speaker, str):
        raise RecordError("speaker missing or not a string", field=f"{field}.from")
    value = need_str(message.get("value"), field=f"{field}.value", optional=True)
    lowered = speaker.lower()
    if lowered == "function_call":
        calls = [_function_call(value, field=f"{field}.value")]
        return [Turn(role=Role.ASSISTANT, blocks=tuple(calls))]
    role = _SPEAKERS.get(lowered)
    if role is None:
        raise RecordError(f"unknown speaker {speaker[:40]!r}", field=f"{field}.from")
    if role is Role.TOOL:
        return [Turn(role=Role.TOOL, blocks=(Block(kind=BlockKind.TOOL_RESULT, text=value),))]
    return [text_turn(role, value)]


class ShareGptReader:
    name = "sharegpt"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and _conversation_key(data) is not None

    def read(self, record: SourceRecord) -> list[Trace]:
        data = need_dict(record.data, field="record")
        key = _conversation_key(data)
        if key is None:
            raise RecordError("no conversations list of {from, value} turns", field="conversations")
        turns: list[Turn] = []
        system = data.get("system")
        if isinstance(system, str) and system.strip():
            turns.append(text_turn(Role.SYSTEM, system))
        for i, message in enumerate(need_list(data[key], field=key)):
            where = f"{key}[{i}]"
            message = need_dict(message, field=where)
            if "from" in message:
                turns.extend(_sharegpt_turns(message, field=where))
            else:
                turns.extend(message_turns(message, field=where))
        model = data.get("model")
        return [
            make_trace(
                record,
                self.name,
                turns,
                uid=record_uid(record),
                model=model if isinstance(model, str) and model else None,
            )
        ]


READER = ShareGptReader()
