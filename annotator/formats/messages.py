"""Chat messages (OpenAI, Anthropic, LLaMA-Factory typed parts) into normalised turns, plus the
metadata helpers every API-log reader shares.

One message can hold reasoning in several places depending on the provider: DeepSeek
``reasoning_content``, Groq/OpenRouter ``reasoning``, LiteLLM ``thinking_blocks``, Anthropic
``thinking`` blocks, LLaMA-Factory ``{type: reasoning, value}`` parts, or inline ``<think>`` tags.
All of them become REASONING blocks so a labeler sees them the same way. Attachments (images,
audio, files) become short placeholders: trace text is untrusted and nothing it names is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn, content_uid
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.inline_tags import split_inline_reasoning

ROLES: dict[str, Role] = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "human": Role.USER,
    "assistant": Role.ASSISTANT,
    "model": Role.ASSISTANT,
    "gpt": Role.ASSISTANT,
    "tool": Role.TOOL,
    "function": Role.TOOL,
    "ipython": Role.TOOL,
    "observation": Role.TOOL,
}
"""Role spellings seen in API logs and fine-tuning sets; anything else is a RecordError."""

_TEXT_PARTS = frozenset({"text", "input_text", "output_text", "summary_text"})
_REASONING_PARTS = frozenset({"reasoning", "thinking", "reasoning_text"})
_REDACTED_PARTS = frozenset({"redacted_thinking", "redacted_reasoning"})
_EXPLICIT_REASONING = _REASONING_PARTS | _REDACTED_PARTS
_TOOL_CALL_PARTS = frozenset({"tool_call", "tool_use", "server_tool_use", "function_call"})
_PLACEHOLDERS = {
    "image_url": "[image]",
    "image": "[image]",
    "input_image": "[image]",
    "output_image": "[image]",
    "audio": "[audio]",
    "input_audio": "[audio]",
    "file": "[file]",
    "input_file": "[file]",
    "document": "[document]",
    "video": "[video]",
    "video_url": "[video]",
}
_TRUNCATING_STOPS = frozenset({"length", "max_tokens", "max_output_tokens"})


def pretty_json(value: Any) -> str:
    """Indented JSON for tool arguments and structured results: what a labeler can read."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return str(value)


def arguments_text(arguments: Any, *, field: str) -> str:
    """Tool-call arguments as text: pretty JSON when they parse, else the raw string."""
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return arguments
        return pretty_json(parsed) if isinstance(parsed, dict | list) else arguments
    if isinstance(arguments, dict | list):
        return pretty_json(arguments)
    raise RecordError("tool call arguments must be a JSON string or an object", field=field)


def _opt_str(value: Any, *, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"expected a string, got {type(value).__name__}", field=field)


def _str(value: Any, *, field: str) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    raise RecordError(f"expected a string, got {type(value).__name__}", field=field)


def _dict(value: Any, *, field: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise RecordError(f"expected an object, got {type(value).__name__}", field=field)


def _list(value: Any, *, field: str) -> list[Any]:
    if isinstance(value, list):
        return value
    raise RecordError(f"expected a list, got {type(value).__name__}", field=field)


def role_of(value: Any, *, field: str) -> Role:
    """Map a role spelling onto :class:`Role` (RecordError for anything unknown)."""
    if not isinstance(value, str):
        raise RecordError("message role missing or not a string", field=field)
    role = ROLES.get(value.lower())
    if role is None:
        raise RecordError(f"unknown message role {value[:40]!r}", field=field)
    return role


def _text_blocks(text: str, assistant: bool) -> list[Block]:
    if assistant:
        return split_inline_reasoning(text)
    return [Block(kind=BlockKind.TEXT, text=text)] if text else []


def _reasoning(text: str, signature: str | None = None, summary: bool = False) -> list[Block]:
    if not text.strip():
        return []
    return [Block(kind=BlockKind.REASONING, text=text, signature=signature, summary=summary)]


def part_type(part: Mapping[str, Any]) -> str | None:
    """A part's ``type`` when it is a string (None otherwise: never hash unknown values)."""
    kind = part.get("type")
    return kind if isinstance(kind, str) else None


def _part_text(part: Mapping[str, Any], *, field: str) -> str:
    """Text of a part: OpenAI/Anthropic ``text``, LLaMA-Factory ``value``."""
    if "text" in part:
        text = part["text"]
        if isinstance(text, dict) and isinstance(text.get("value"), str):
            return str(text["value"])  # Assistants API: {type: text, text: {value, annotations}}
        return _str(text, field=f"{field}.text")
    return _str(part.get("value"), field=f"{field}.value")


def tool_call_block(
    name: Any, arguments: Any, call_id: Any, *, field: str, arguments_key: str = "arguments"
) -> Block:
    """A TOOL_CALL block; ``text`` is the arguments as pretty JSON (or verbatim if not JSON)."""
    return Block(
        kind=BlockKind.TOOL_CALL,
        text=arguments_text(arguments, field=f"{field}.{arguments_key}"),
        tool_name=_opt_str(name, field=f"{field}.name"),
        tool_call_id=_opt_str(call_id, field=f"{field}.id"),
    )


def _typed_tool_call(part: Mapping[str, Any], *, field: str) -> Block:
    """LLaMA-Factory ``{type: tool_call, value: '{"name":..,"arguments":..}'}`` or an Anthropic
    ``tool_use`` block ``{id, name, input}``."""
    if "value" in part and "name" not in part:
        raw = part["value"]
        payload: Any = raw
        if isinstance(raw, str):
            try:
                payload = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return Block(kind=BlockKind.TOOL_CALL, text=raw)
        if isinstance(payload, dict):
            return tool_call_block(
                payload.get("name"),
                payload.get("arguments", payload.get("parameters")),
                payload.get("id"),
                field=f"{field}.value",
            )
        return Block(kind=BlockKind.TOOL_CALL, text=pretty_json(payload))
    key = "input" if "input" in part else "arguments"
    return tool_call_block(
        part.get("name"), part.get(key), part.get("id"), field=field, arguments_key=key
    )


def result_text(content: Any, *, field: str) -> str:
    """A tool result's content (string, list of parts, or structured JSON) as readable text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces: list[str] = []
        for j, part in enumerate(content):
            where = f"{field}[{j}]"
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if "text" in part or "value" in part:
                    pieces.append(_part_text(part, field=where))
                elif isinstance(kind, str) and kind in _PLACEHOLDERS:
                    pieces.append(_PLACEHOLDERS[kind])
                else:
                    pieces.append(pretty_json(part))
            else:
                raise RecordError("a content part must be an object or a string", field=where)
        return "\n\n".join(pieces)
    if isinstance(content, dict):
        return pretty_json(content)
    raise RecordError(
        f"content must be a string or a list, got {type(content).__name__}", field=field
    )


def _tool_result_turn(part: Mapping[str, Any], *, field: str) -> Turn:
    """Anthropic ``tool_result`` (and server ``*_tool_result``) blocks become a TOOL turn."""
    block = Block(
        kind=BlockKind.TOOL_RESULT,
        text=result_text(part.get("content"), field=f"{field}.content"),
        tool_call_id=_opt_str(part.get("tool_use_id"), field=f"{field}.tool_use_id"),
    )
    return Turn(role=Role.TOOL, blocks=(block,))


def part_blocks(part: Any, *, field: str, assistant: bool) -> list[Block]:
    """One content part into blocks (a tool_result part is the caller's business)."""
    if isinstance(part, str):
        return _text_blocks(part, assistant)
    if not isinstance(part, dict):
        raise RecordError("a content part must be an object or a string", field=field)
    kind = part.get("type")
    if kind is not None and not isinstance(kind, str):
        raise RecordError("content part type must be a string", field=f"{field}.type")
    if kind is None or kind in _TEXT_PARTS:
        return _text_blocks(_part_text(part, field=field), assistant)
    if kind in _REASONING_PARTS:
        if "thinking" in part:
            text = _str(part["thinking"], field=f"{field}.thinking")
        elif isinstance(part.get("reasoning"), str):  # Inspect: {type, reasoning, redacted}
            text = part["reasoning"]
            if part.get("redacted") is True:
                return [Block(kind=BlockKind.REDACTED_REASONING, opaque_chars=len(text))]
        else:
            text = _part_text(part, field=field)
        signature = _opt_str(part.get("signature"), field=f"{field}.signature")
        return _reasoning(text, signature)
    if kind in _REDACTED_PARTS:
        data = part.get("data", part.get("value"))
        opaque = _str(data, field=f"{field}.data")
        return [Block(kind=BlockKind.REDACTED_REASONING, opaque_chars=len(opaque))]
    if kind in _TOOL_CALL_PARTS:
        return [_typed_tool_call(part, field=field)]
    if kind == "refusal":
        refusal = _str(part.get("refusal", part.get("text")), field=f"{field}.refusal")
        return [Block(kind=BlockKind.TEXT, text=refusal)] if refusal else []
    placeholder = _PLACEHOLDERS.get(kind)
    if placeholder is not None:
        return [Block(kind=BlockKind.TEXT, text=placeholder)]
    other = part.get("text")
    if isinstance(other, str):
        return _text_blocks(other, assistant)
    return [Block(kind=BlockKind.TEXT, text=f"[{kind[:40]}]")]


def content_turns(
    content: Any,
    role: Role,
    *,
    field: str,
    name: str | None = None,
    explicit_reasoning: bool = False,
) -> list[Turn]:
    """A message's ``content`` into one turn, or several when Anthropic ``tool_result`` blocks sit
    inside a user message (each becomes its own TOOL turn, in order).

    Assistant text is searched for inline ``<think>`` tags only when the message has no explicit
    reasoning (a separate field or typed reasoning parts): where the source already separated the
    reasoning, a stray tag in the answer is literal text, not a second reasoning channel."""
    assistant = role is Role.ASSISTANT and not explicit_reasoning
    if assistant and isinstance(content, list):
        assistant = not any(
            isinstance(part, dict) and part_type(part) in _EXPLICIT_REASONING for part in content
        )
    if content is None:
        return [Turn(role=role, name=name)]
    if isinstance(content, str):
        return [Turn(role=role, blocks=tuple(_text_blocks(content, assistant)), name=name)]
    if not isinstance(content, list):
        raise RecordError(
            f"content must be a string or a list, got {type(content).__name__}", field=field
        )
    turns: list[Turn] = []
    blocks: list[Block] = []
    for j, part in enumerate(content):
        where = f"{field}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if isinstance(kind, str) and kind.endswith("tool_result"):
            if blocks:
                turns.append(Turn(role=role, blocks=tuple(blocks), name=name))
                blocks = []
            turns.append(_tool_result_turn(part, field=where))
        else:
            blocks.extend(part_blocks(part, field=where, assistant=assistant))
    if blocks or not turns:
        turns.append(Turn(role=role, blocks=tuple(blocks), name=name))
    return turns


def _message_reasoning(message: Mapping[str, Any], *, field: str) -> list[Block]:
    """Reasoning carried beside the content. LiteLLM fills both ``thinking_blocks`` and
    ``reasoning_content`` with the same text, so the first field present wins."""
    thinking_blocks = message.get("thinking_blocks")
    if thinking_blocks is not None:
        where = f"{field}.thinking_blocks"
        blocks: list[Block] = []
        for j, part in enumerate(_list(thinking_blocks, field=where)):
            blocks.extend(part_blocks(part, field=f"{where}[{j}]", assistant=True))
        return blocks
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if value is not None:
            return _reasoning(_str(value, field=f"{field}.{key}"))
    details = message.get("reasoning_details")
    if details is not None:
        return _reasoning_details(details, field=f"{field}.reasoning_details")
    return []


def _reasoning_details(details: Any, *, field: str) -> list[Block]:
    """OpenRouter ``reasoning_details``: reasoning.text / reasoning.summary / reasoning.encrypted."""
    blocks: list[Block] = []
    for j, item in enumerate(_list(details, field=field)):
        where = f"{field}[{j}]"
        item = _dict(item, field=where)
        kind = item.get("type")
        if kind == "reasoning.encrypted":
            opaque = _str(item.get("data"), field=f"{where}.data")
            blocks.append(Block(kind=BlockKind.REDACTED_REASONING, opaque_chars=len(opaque)))
        elif kind == "reasoning.summary":
            blocks.extend(
                _reasoning(_str(item.get("summary"), field=f"{where}.summary"), None, True)
            )
        else:
            signature = _opt_str(item.get("signature"), field=f"{where}.signature")
            blocks.extend(_reasoning(_str(item.get("text"), field=f"{where}.text"), signature))
    return blocks


def _tool_calls(message: Mapping[str, Any], *, field: str) -> list[Block]:
    blocks: list[Block] = []
    calls = message.get("tool_calls")
    if calls is not None:
        where = f"{field}.tool_calls"
        for j, call in enumerate(_list(calls, field=where)):
            item = f"{where}[{j}]"
            call = _dict(call, field=item)
            if isinstance(call.get("function"), str):  # Inspect: {id, function: name, arguments}
                blocks.append(
                    tool_call_block(
                        call["function"], call.get("arguments"), call.get("id"), field=item
                    )
                )
            elif "function" in call:
                fn = _dict(call["function"], field=f"{item}.function")
                blocks.append(
                    tool_call_block(
                        fn.get("name"),
                        fn.get("arguments"),
                        call.get("id"),
                        field=f"{item}.function",
                    )
                )
            elif "custom" in call:
                custom = _dict(call["custom"], field=f"{item}.custom")
                blocks.append(
                    tool_call_block(
                        custom.get("name"),
                        custom.get("input"),
                        call.get("id"),
                        field=f"{item}.custom",
                        arguments_key="input",
                    )
                )
            else:
                blocks.append(
                    tool_call_block(
                        call.get("name"),
                        call.get("arguments", call.get("input")),
                        call.get("id"),
                        field=item,
                    )
                )
    legacy = message.get("function_call")
    if legacy is not None:
        where = f"{field}.function_call"
        fn = _dict(legacy, field=where)
        blocks.append(tool_call_block(fn.get("name"), fn.get("arguments"), None, field=where))
    return blocks


def message_turns(message: Any, *, field: str, default_role: Role | None = None) -> list[Turn]:
    """One chat message into turns (usually one; see :func:`content_turns`)."""
    message = _dict(message, field=field)
    raw_role = message.get("role")
    if raw_role is None and default_role is not None:
        role = default_role
    else:
        role = role_of(raw_role, field=f"{field}.role")
    name = message.get("name")
    name = name if isinstance(name, str) else None
    content = message.get("content")
    if role is Role.TOOL:
        if name is None and isinstance(message.get("function"), str):  # Inspect tool messages
            name = message["function"]
        block = Block(
            kind=BlockKind.TOOL_RESULT,
            text=result_text(content, field=f"{field}.content"),
            tool_call_id=_opt_str(message.get("tool_call_id"), field=f"{field}.tool_call_id"),
            tool_name=name,
        )
        return [Turn(role=Role.TOOL, blocks=(block,), name=name)]
    if role is not Role.ASSISTANT:
        return content_turns(content, role, field=f"{field}.content", name=name)
    reasoning = _message_reasoning(message, field=field)
    turns = content_turns(
        content, role, field=f"{field}.content", name=name, explicit_reasoning=bool(reasoning)
    )
    calls = _tool_calls(message, field=field)
    if not reasoning and not calls:
        return turns
    if len(turns) == 1:
        return [Turn(role=role, blocks=(*reasoning, *turns[0].blocks, *calls), name=name)]
    if reasoning:
        turns.insert(0, Turn(role=role, blocks=tuple(reasoning), name=name))
    if calls:
        turns.append(Turn(role=role, blocks=tuple(calls), name=name))
    return turns


def turns_from_messages(messages: list[Any], *, field: str) -> list[Turn]:
    """Normalise a chat ``messages`` list. ``field`` names the list in error reports, so a bad
    content reads ``RecordError(field="messages[2].content")``."""
    messages = _list(messages, field=field)
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        turns.extend(message_turns(message, field=f"{field}[{i}]"))
    return turns


def mark_truncated(turns: list[Turn], stop_reason: Any) -> None:
    """A response cut by its token limit while still reasoning: flag that last reasoning block."""
    if not isinstance(stop_reason, str) or stop_reason not in _TRUNCATING_STOPS or not turns:
        return
    last = turns[-1]
    if last.role is not Role.ASSISTANT or not last.blocks:
        return
    block = last.blocks[-1]
    if block.kind is BlockKind.REASONING and not block.truncated:
        fixed = block.model_copy(update={"truncated": True})
        turns[-1] = last.model_copy(update={"blocks": (*last.blocks[:-1], fixed)})


# --- metadata shared by the API-log readers -------------------------------------------------


def split_pair(data: Mapping[str, Any]) -> tuple[Any, Any]:
    """(request, response) of a log record. Accepts ``{request, response}``, OpenAI batch lines
    (``{custom_id, body}`` requests, ``{response: {status_code, body}}`` results), a bare request
    or a bare response (returned on both sides; callers look for their own keys)."""
    request = data.get("request", data.get("body"))
    response = data.get("response")
    if request is None:
        request = data
    if response is None:
        response = data
    if isinstance(request, dict) and isinstance(request.get("body"), dict):
        request = request["body"]
    if isinstance(response, dict) and isinstance(response.get("body"), dict):
        response = response["body"]
    return request, response


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_time(value: Any) -> datetime | None:
    """Unix seconds (or milliseconds) or ISO 8601; anything unparseable is simply unknown."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


_TIME_KEYS = ("created", "created_at", "timestamp", "start_time", "startTime", "time")


def first_time(*sources: Any) -> datetime | None:
    for source in sources:
        if isinstance(source, dict):
            for key in _TIME_KEYS:
                value = source.get(key)
                if value is not None:
                    found = parse_time(value)
                    if found is not None:
                        return found
    return None


def _id_value(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


_ACCOUNT_KEYS = ("account_id", "user_id", "user", "safety_identifier", "api_key_alias", "team_id")
_SESSION_KEYS = ("session_id", "conversation_id", "thread_id", "chat_id")


def _find_key(keys: tuple[str, ...], scopes: list[dict[str, Any]]) -> str | None:
    for scope in scopes:
        for key in keys:
            value = scope.get(key)
            if value is not None:
                found = _id_value(value)
                if found is not None:
                    return found
    return None


def account_and_session(*sources: Any) -> tuple[str | None, str | None]:
    """Account and session ids from the keys logs commonly use (top level, then ``metadata``)."""
    scopes: list[dict[str, Any]] = []
    for source in sources:
        if isinstance(source, dict) and all(source is not seen for seen in scopes):
            scopes.append(source)
            metadata = source.get("metadata")
            if isinstance(metadata, dict) and metadata:
                scopes.append(metadata)
    account = _find_key(_ACCOUNT_KEYS, scopes)
    session = _find_key(_SESSION_KEYS, scopes)
    if session is None:
        for scope in scopes:
            conversation = scope.get("conversation")
            if isinstance(conversation, dict):
                session = _id_value(conversation.get("id"))
            elif conversation is not None:
                session = _id_value(conversation)
            if session is not None:
                break
    return account, session


def record_uid(*sources: Any) -> str | None:
    """The record's own id: the response's ``id``, else a top-level ``id`` or ``custom_id``."""
    for source in sources:
        if isinstance(source, dict):
            for key in ("id", "custom_id", "request_id"):
                found = _id_value(source.get(key))
                if found is not None:
                    return found
    return None


def model_of(*sources: Any) -> str | None:
    """The first string ``model`` found: pass the response first (it names the exact snapshot)."""
    for source in sources:
        if isinstance(source, dict):
            model = source.get("model")
            if isinstance(model, str) and model:
                return model
    return None


def usage_tokens(usage: Any) -> tuple[int | None, int | None, int | None]:
    """(input, output, reasoning) tokens from OpenAI (``prompt_tokens``/``completion_tokens``) or
    Anthropic/Responses (``input_tokens``/``output_tokens``) usage objects."""
    if not isinstance(usage, dict):
        return None, None, None
    tokens_in = int_or_none(usage.get("prompt_tokens", usage.get("input_tokens")))
    tokens_out = int_or_none(usage.get("completion_tokens", usage.get("output_tokens")))
    reasoning = None
    for key in ("completion_tokens_details", "output_tokens_details"):
        details = usage.get(key)
        if isinstance(details, dict):
            reasoning = int_or_none(details.get("reasoning_tokens"))
            if reasoning is not None:
                break
    if reasoning is None:
        reasoning = int_or_none(usage.get("reasoning_tokens"))
    return tokens_in, tokens_out, reasoning


def pair_parts(data: Any) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Validate a record's top level and return (data, request, response) as dicts or None.

    A response that is a string (a streamed body kept as text) is left to ``original``."""
    if not isinstance(data, dict):
        raise RecordError(f"expected a JSON object, got {type(data).__name__}")
    for key in ("request", "response"):
        value = data.get(key)
        if value is not None and not isinstance(value, dict | str):
            raise RecordError(f"{key} must be an object", field=key)
    request, response = split_pair(data)
    return (
        data,
        request if isinstance(request, dict) else None,
        response if isinstance(response, dict) else None,
    )


def make_trace(
    record: SourceRecord,
    turns: list[Turn],
    *,
    source_format: str,
    request: dict[str, Any] | None,
    response: dict[str, Any] | None,
    uid_suffix: str = "",
    extra: dict[str, Any] | None = None,
) -> Trace:
    """Build the Trace with the metadata every API log carries in the same places."""
    data = record.data
    has_response = response is not None and response is not data
    own_id = record_uid(response, data) if has_response else record_uid(data)
    usage = response.get("usage") if response is not None else None
    if usage is None and isinstance(data, dict):
        usage = data.get("usage")
    tokens_in, tokens_out, reasoning = usage_tokens(usage)
    account, session = account_and_session(data, request, response)
    meta_extra: dict[str, Any] = {}
    uri = data.get("uri") if isinstance(data, dict) else None
    if isinstance(uri, str):
        meta_extra["uri"] = uri
    if extra:
        meta_extra.update(extra)
    meta = TraceMeta(
        source_format=source_format,
        model=model_of(response, request, data),
        account_id=account,
        session_id=session,
        created_at=first_time(response, data, request),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        reasoning_tokens=reasoning,
        source_file=record.source_file,
        source_line=record.line,
        extra=meta_extra,
    )
    if own_id is None:
        try:
            own_id = content_uid(data)
        except TypeError as exc:  # e.g. a YAML integer beyond 64 bits
            raise RecordError(f"record cannot be hashed for an id: {exc}") from None
    uid = own_id + uid_suffix
    return Trace(uid=uid, turns=tuple(turns), meta=meta, original=data)


def is_sharegpt_list(messages: Any) -> bool:
    """ShareGPT-style ``{from, value}`` message lists belong to the dataset readers."""
    return (
        isinstance(messages, list)
        and bool(messages)
        and isinstance(messages[0], dict)
        and "role" not in messages[0]
        and "from" in messages[0]
    )
