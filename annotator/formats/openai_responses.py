"""OpenAI Responses API logs: ``input`` (a string or a list of items) and ``output`` items.

Items are fragments of turns: a ``reasoning`` item, a ``message`` and ``function_call`` items in a
row are one assistant turn, so consecutive assistant items within one list are merged. Reasoning
shows up as provider summaries (``summary=True``), raw ``reasoning_text`` content, or only as
``encrypted_content`` (a REDACTED_REASONING block that records its size).
"""

from __future__ import annotations

from typing import Any

from annotator.domain.trace import Block, BlockKind, Role, Trace, Turn
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.messages import (
    make_trace,
    mark_truncated,
    message_turns,
    pair_parts,
    pretty_json,
    result_text,
    split_pair,
    tool_call_block,
)

_SKIPPED_CALL_FIELDS = frozenset({"id", "type", "status", "result"})
"""Bookkeeping (and image_generation_call's base64 ``result``) left out of a call's text."""


def _reasoning_blocks(item: dict[str, Any], *, field: str) -> list[Block]:
    blocks: list[Block] = []
    for key, summary in (("summary", True), ("content", False)):
        parts = item.get(key)
        if parts is None:
            continue
        if not isinstance(parts, list):
            raise RecordError(f"reasoning {key} must be a list", field=f"{field}.{key}")
        for j, part in enumerate(parts):
            where = f"{field}.{key}[{j}]"
            if not isinstance(part, dict):
                raise RecordError("a reasoning part must be an object", field=where)
            text = part.get("text")
            if not isinstance(text, str):
                raise RecordError("reasoning text must be a string", field=f"{where}.text")
            if text.strip():
                blocks.append(Block(kind=BlockKind.REASONING, text=text, summary=summary))
    encrypted = item.get("encrypted_content")
    if encrypted is not None:
        if not isinstance(encrypted, str):
            raise RecordError(
                "encrypted_content must be a string", field=f"{field}.encrypted_content"
            )
        blocks.append(Block(kind=BlockKind.REDACTED_REASONING, opaque_chars=len(encrypted)))
    return blocks


def _call_text(item: dict[str, Any]) -> str:
    return pretty_json({k: v for k, v in item.items() if k not in _SKIPPED_CALL_FIELDS})


def items_to_turns(items: list[Any], *, field: str) -> list[Turn]:
    """Responses ``input``/``output`` items into turns, merging adjacent assistant fragments."""
    turns: list[Turn] = []

    def add_assistant(blocks: list[Block]) -> None:
        if turns and turns[-1].role is Role.ASSISTANT:
            last = turns[-1]
            turns[-1] = Turn(role=Role.ASSISTANT, blocks=(*last.blocks, *blocks), name=last.name)
        else:
            turns.append(Turn(role=Role.ASSISTANT, blocks=tuple(blocks)))

    for i, item in enumerate(items):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise RecordError("an input/output item must be an object", field=where)
        kind = item.get("type")
        if kind is not None and not isinstance(kind, str):
            raise RecordError("item type must be a string", field=f"{where}.type")
        if kind is None or kind == "message":
            for turn in message_turns(item, field=where):
                if turn.role is Role.ASSISTANT:
                    add_assistant(list(turn.blocks))
                else:
                    turns.append(turn)
        elif kind == "reasoning":
            add_assistant(_reasoning_blocks(item, field=where))
        elif kind in ("function_call", "custom_tool_call"):
            key = "input" if kind == "custom_tool_call" else "arguments"
            call_id = item.get("call_id", item.get("id"))
            block = tool_call_block(
                item.get("name"), item.get(key), call_id, field=where, arguments_key=key
            )
            add_assistant([block])
        elif kind.endswith("_call_output"):
            call_id = item.get("call_id")
            block = Block(
                kind=BlockKind.TOOL_RESULT,
                text=result_text(item.get("output"), field=f"{where}.output"),
                tool_call_id=call_id if isinstance(call_id, str) else None,
            )
            turns.append(Turn(role=Role.TOOL, blocks=(block,)))
        elif kind.endswith("_call"):
            name = item.get("name")
            call_id = item.get("call_id", item.get("id"))
            block = Block(
                kind=BlockKind.TOOL_CALL,
                text=_call_text(item),
                tool_name=name if isinstance(name, str) else kind,
                tool_call_id=call_id if isinstance(call_id, str) else None,
            )
            add_assistant([block])
        # Other item types (item_reference, mcp_list_tools, ...) carry nothing to read; the
        # record stays whole in ``original``.
    return turns


def _looks_like_items(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


class OpenAIResponsesReader:
    """Responses API requests (``input``), responses (``output``) and pairs."""

    name = "openai_responses"

    def detect(self, data: Any) -> bool:
        if not isinstance(data, dict):
            return False
        request, response = split_pair(data)
        if isinstance(response, dict):
            if response.get("object") == "response":
                return True
            output = response.get("output")
            if (
                isinstance(output, list)
                and output
                and isinstance(output[0], dict)
                and "type" in output[0]
            ):
                return True
        if not isinstance(request, dict) or "input" not in request:
            return False
        if (
            "messages" in request
            or "instruction" in request
            or isinstance(request.get("output"), str)
        ):
            return False  # chat logs, Alpaca rows
        value = request["input"]
        return _looks_like_items(value) or (
            isinstance(value, str) and ("model" in request or "instructions" in request)
        )

    def read(self, record: SourceRecord) -> list[Trace]:
        data, request, response = pair_parts(record.data)
        req_prefix = "request." if isinstance(data.get("request"), dict) else ""
        res_prefix = "response." if isinstance(data.get("response"), dict) else ""
        turns: list[Turn] = []
        instructions = request.get("instructions") if request is not None else None
        if instructions is None and response is not None:
            instructions = response.get("instructions")
        if isinstance(instructions, str):
            if instructions:
                text = Block(kind=BlockKind.TEXT, text=instructions)
                turns.append(Turn(role=Role.SYSTEM, blocks=(text,)))
        elif isinstance(instructions, list):
            turns.extend(items_to_turns(instructions, field=f"{req_prefix}instructions"))
        elif instructions is not None:
            raise RecordError("instructions must be a string", field=f"{req_prefix}instructions")
        value = request.get("input") if request is not None else None
        if isinstance(value, str):
            turns.append(Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=value),)))
        elif isinstance(value, list):
            turns.extend(items_to_turns(value, field=f"{req_prefix}input"))
        elif value is not None:
            raise RecordError(
                "input must be a string or a list of items", field=f"{req_prefix}input"
            )
        output = response.get("output") if response is not None else None
        if output is not None:
            if not isinstance(output, list):
                raise RecordError("output must be a list of items", field=f"{res_prefix}output")
            turns.extend(items_to_turns(output, field=f"{res_prefix}output"))
            details = response.get("incomplete_details") if response is not None else None
            if isinstance(details, dict):
                mark_truncated(turns, details.get("reason"))
        if not turns:
            raise RecordError("neither input nor output", field=f"{req_prefix}input")
        has_output = response is not None and "output" in response
        status = response.get("status") if has_output and response is not None else None
        return [
            make_trace(
                record,
                turns,
                source_format=self.name,
                request=request,
                response=response if has_output else None,
                extra={"status": status} if isinstance(status, str) else None,
            )
        ]


OPENAI_RESPONSES = OpenAIResponsesReader()
