"""OpenAI Chat Completions logs: a ``messages`` request, a ``choices`` response, or both.

Also covers the OpenAI-compatible providers that put reasoning beside the answer (DeepSeek
``reasoning_content``, Groq ``reasoning``, LiteLLM ``thinking_blocks``) or inline as ``<think>``,
and OpenAI batch files (``{custom_id, body}`` input lines, ``{response: {body}}`` output lines).
"""

from __future__ import annotations

from typing import Any

from annotator.domain.trace import Block, BlockKind, Role, Trace, Turn
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.messages import (
    is_sharegpt_list,
    make_trace,
    mark_truncated,
    message_turns,
    pair_parts,
    split_pair,
    turns_from_messages,
)


def _prefix(data: dict[str, Any], key: str) -> str:
    """Where the request or response sits in the record, for error fields."""
    if key == "request":
        for name in ("request", "body"):
            if isinstance(data.get(name), dict):
                inner = data[name]
                return f"{name}.body." if isinstance(inner.get("body"), dict) else f"{name}."
        return ""
    if isinstance(data.get("response"), dict):
        return "response.body." if isinstance(data["response"].get("body"), dict) else "response."
    return ""


class OpenAIChatReader:
    """Chat Completions requests/responses; the fallback for any ``messages`` list with roles."""

    name = "openai_chat"

    def detect(self, data: Any) -> bool:
        if not isinstance(data, dict):
            return False
        request, response = split_pair(data)
        if isinstance(request, dict) and "messages" in request:
            return not is_sharegpt_list(request["messages"])
        return isinstance(response, dict) and "choices" in response

    def read(self, record: SourceRecord) -> list[Trace]:
        data, request, response = pair_parts(record.data)
        turns: list[Turn] = []
        if request is not None and "messages" in request:
            field = _prefix(data, "request") + "messages"
            turns = turns_from_messages(request["messages"], field=field)
        elif request is not None and isinstance(request.get("prompt"), str):
            # Legacy Completions: a prompt string and ``choices[].text``.
            text = Block(kind=BlockKind.TEXT, text=request["prompt"])
            turns = [Turn(role=Role.USER, blocks=(text,))]
        choices = response.get("choices") if response is not None else None
        if choices is None:
            if not turns:
                raise RecordError("neither messages nor choices", field="messages")
            return [self._trace(record, turns, request, response, "", None)]
        where = _prefix(data, "response") + "choices"
        if not isinstance(choices, list):
            raise RecordError("choices must be a list", field=where)
        if not choices:
            return [self._trace(record, turns, request, response, "", None)]
        traces: list[Trace] = []
        for i, choice in enumerate(choices):
            item = f"{where}[{i}]"
            if not isinstance(choice, dict):
                raise RecordError("a choice must be an object", field=item)
            message = choice.get("message", choice.get("delta"))
            if message is None and "text" in choice:  # legacy completions
                message = {"role": "assistant", "content": choice["text"]}
            if message is None:
                raise RecordError("choice has no message", field=f"{item}.message")
            reply = message_turns(message, field=f"{item}.message", default_role=Role.ASSISTANT)
            all_turns = [*turns, *reply]
            finish = choice.get("finish_reason")
            mark_truncated(all_turns, finish)
            suffix = f"#{i}" if len(choices) > 1 else ""
            traces.append(self._trace(record, all_turns, request, response, suffix, finish))
        return traces

    def _trace(
        self,
        record: SourceRecord,
        turns: list[Turn],
        request: dict[str, Any] | None,
        response: dict[str, Any] | None,
        suffix: str,
        finish: Any,
    ) -> Trace:
        extra = {"finish_reason": finish} if isinstance(finish, str) else None
        if response is not None and "choices" not in response:
            response = None  # a request-only record: the request is not a response
        return make_trace(
            record,
            turns,
            source_format=self.name,
            request=request,
            response=response,
            uid_suffix=suffix,
            extra=extra,
        )


OPENAI_CHAT = OpenAIChatReader()
