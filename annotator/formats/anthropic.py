"""Anthropic Messages logs: a request (``system`` + ``messages`` of content blocks), a response
(``type: message`` with ``content`` blocks), or a ``{request, response}`` pair.

Thinking blocks keep their ``signature``; ``redacted_thinking`` keeps only its size; ``tool_result``
blocks inside a user message become TOOL turns so tool traffic reads the same as OpenAI's.
"""

from __future__ import annotations

from typing import Any

from annotator.domain.trace import Block, BlockKind, Role, Trace, Turn
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.messages import (
    content_turns,
    is_sharegpt_list,
    make_trace,
    mark_truncated,
    pair_parts,
    part_type,
    split_pair,
    turns_from_messages,
)

_ANTHROPIC_BLOCKS = frozenset(
    {"thinking", "redacted_thinking", "tool_use", "tool_result", "server_tool_use", "document"}
)
"""Content block types that only Anthropic's API uses (OpenAI's are text/image_url/...)."""


def _has_anthropic_blocks(messages: Any) -> bool:
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part_type(part) in _ANTHROPIC_BLOCKS:
                    return True
    return False


def _is_response(response: dict[str, Any]) -> bool:
    return "content" in response and (
        response.get("type") == "message" or "stop_reason" in response
    )


def _system_turn(system: Any, *, field: str) -> Turn | None:
    """``system`` as a string or a list of text blocks."""
    if isinstance(system, str):
        return Turn(role=Role.SYSTEM, blocks=(Block(kind=BlockKind.TEXT, text=system),))
    if not isinstance(system, list):
        raise RecordError("system must be a string or a list of text blocks", field=field)
    blocks: list[Block] = []
    for j, part in enumerate(system):
        if isinstance(part, str):
            text = part
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            text = part["text"]
        else:
            raise RecordError("a system block must be a text block", field=f"{field}[{j}]")
        blocks.append(Block(kind=BlockKind.TEXT, text=text))
    return Turn(role=Role.SYSTEM, blocks=tuple(blocks)) if blocks else None


class AnthropicReader:
    """Anthropic Messages API requests, responses and pairs."""

    name = "anthropic"

    def detect(self, data: Any) -> bool:
        if not isinstance(data, dict):
            return False
        if "anthropic_version" in data:
            return True
        request, response = split_pair(data)
        if isinstance(response, dict) and _is_response(response):
            return True
        if not isinstance(request, dict) or "messages" not in request:
            return False
        if is_sharegpt_list(request["messages"]):
            return False
        if "system" in request or "anthropic_version" in request:
            return True
        return _has_anthropic_blocks(request["messages"])

    def read(self, record: SourceRecord) -> list[Trace]:
        data, request, response = pair_parts(record.data)
        turns: list[Turn] = []
        if request is not None and ("messages" in request or "system" in request):
            prefix = "request." if isinstance(data.get("request"), dict) else ""
            if request.get("system") is not None:
                system = _system_turn(request["system"], field=f"{prefix}system")
                if system is not None:
                    turns.append(system)
            if "messages" in request:
                turns.extend(turns_from_messages(request["messages"], field=f"{prefix}messages"))
        reply_from = response if response is not None and _is_response(response) else None
        if reply_from is not None:
            prefix = "response." if isinstance(data.get("response"), dict) else ""
            turns.extend(
                content_turns(reply_from["content"], Role.ASSISTANT, field=f"{prefix}content")
            )
            mark_truncated(turns, reply_from.get("stop_reason"))
        if not turns:
            raise RecordError("neither messages nor a response content", field="messages")
        stop = reply_from.get("stop_reason") if reply_from is not None else None
        return [
            make_trace(
                record,
                turns,
                source_format=self.name,
                request=request,
                response=reply_from,
                extra={"stop_reason": stop} if isinstance(stop, str) else None,
            )
        ]


ANTHROPIC = AnthropicReader()
