"""Inspect AI eval logs in JSON form: ``{version, eval, plan, results, stats, samples[]}``.

Each sample (one input at one epoch) is a trace built from its ``messages``: content is a string
or a list of parts (``text``, ``reasoning`` with optional ``signature`` / ``redacted``, images...),
assistant ``tool_calls`` are ``{id, function: <name>, arguments: {...}}`` and tool messages carry
``tool_call_id`` / ``function``. Strings the log moved to ``attachments`` (``attachment://<hash>``)
are put back. The uid is ``<eval_id>:<sample id>:<epoch>``, stable across re-imports; the trace's
original is the sample (the eval header would repeat in every trace; it is in ``meta.extra``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from annotator.domain.trace import Block, BlockKind, Role, Trace, Turn, content_uid
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.dataset_common import make_meta, need_dict, need_list
from annotator.formats.messages import (
    int_or_none,
    parse_time,
    part_blocks,
    result_text,
    role_of,
    tool_call_block,
)

_ATTACHMENT = "attachment://"


def _resolve(value: Any, attachments: Mapping[str, Any]) -> Any:
    """Put attachment references back in place, recursively (only where the log used them)."""
    if isinstance(value, str):
        if value.startswith(_ATTACHMENT):
            found = attachments.get(value[len(_ATTACHMENT) :])
            return found if isinstance(found, str) else value
        return value
    if not attachments:
        return value
    if isinstance(value, list):
        return [_resolve(v, attachments) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, attachments) for k, v in value.items()}
    return value


def _content_blocks(content: Any, *, field: str, assistant: bool) -> list[Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return part_blocks(content, field=field, assistant=assistant)
    blocks: list[Block] = []
    for j, part in enumerate(need_list(content, field=field)):
        where = f"{field}[{j}]"
        if isinstance(part, dict) and part.get("type") == "reasoning":
            blocks.extend(_reasoning_part(part, field=where))
            continue
        blocks.extend(part_blocks(part, field=where, assistant=assistant))
    return blocks


def _reasoning_part(part: Mapping[str, Any], *, field: str) -> list[Block]:
    """``{type: reasoning, reasoning, signature?, redacted?, summary?}``: a redacted part holds
    an opaque payload; its readable ``summary`` (when the provider gave one) is kept."""
    text = part.get("reasoning")
    summary = part.get("summary")
    signature = part.get("signature")
    signature = signature if isinstance(signature, str) else None
    if not isinstance(text, str):
        raise RecordError("reasoning part without reasoning text", field=f"{field}.reasoning")
    blocks: list[Block] = []
    if part.get("redacted"):
        blocks.append(Block(kind=BlockKind.REDACTED_REASONING, opaque_chars=len(text)))
    elif text.strip():
        blocks.append(Block(kind=BlockKind.REASONING, text=text, signature=signature))
    if (
        isinstance(summary, str)
        and summary.strip()
        and not (text.strip() and not part.get("redacted"))
    ):
        blocks.append(Block(kind=BlockKind.REASONING, text=summary, summary=True))
    return blocks


def _message_turn(message: Any, *, field: str) -> Turn:
    message = need_dict(message, field=field)
    role = role_of(message.get("role"), field=f"{field}.role")
    content = message.get("content")
    if role is Role.TOOL:
        text = result_text(content, field=f"{field}.content")
        error = message.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = (
                f"{text}\n\n[error] {error['message']}" if text else f"[error] {error['message']}"
            )
        function = message.get("function")
        block = Block(
            kind=BlockKind.TOOL_RESULT,
            text=text,
            tool_name=function if isinstance(function, str) else None,
            tool_call_id=(
                message["tool_call_id"] if isinstance(message.get("tool_call_id"), str) else None
            ),
        )
        return Turn(role=Role.TOOL, blocks=(block,))
    blocks = _content_blocks(content, field=f"{field}.content", assistant=role is Role.ASSISTANT)
    calls = message.get("tool_calls")
    if role is Role.ASSISTANT and calls:
        for j, call in enumerate(need_list(calls, field=f"{field}.tool_calls")):
            where = f"{field}.tool_calls[{j}]"
            call = need_dict(call, field=where)
            function = call.get("function")
            if isinstance(function, dict):  # OpenAI shape, in case a log carries it
                name, arguments = function.get("name"), function.get("arguments")
            else:
                name, arguments = function, call.get("arguments")
            blocks.append(tool_call_block(name, arguments, call.get("id"), field=where))
    return Turn(role=role, blocks=tuple(blocks))


def _usage(sample: Mapping[str, Any]) -> dict[str, int | None]:
    """Token counts summed over every model the sample used."""
    usage = sample.get("model_usage")
    totals: dict[str, int | None] = {
        "input_tokens": None,
        "output_tokens": None,
        "reasoning_tokens": None,
    }
    if not isinstance(usage, dict):
        return totals
    for counts in usage.values():
        if not isinstance(counts, dict):
            continue
        for key in totals:
            value = int_or_none(counts.get(key))
            if value is not None:
                totals[key] = (totals[key] or 0) + value
    return totals


class InspectLogReader:
    name = "inspect_log"

    def detect(self, data: Any) -> bool:
        return (
            isinstance(data, dict)
            and isinstance(data.get("eval"), dict)
            and isinstance(data.get("samples"), list)
        )

    def read(self, record: SourceRecord) -> list[Trace]:
        data = need_dict(record.data, field="record")
        header = need_dict(data.get("eval"), field="eval")
        samples = need_list(data.get("samples"), field="samples")
        if not samples:
            raise RecordError("the eval log has no samples (written without log_samples?)")
        model = header.get("model")
        eval_id = next(
            (header[k] for k in ("eval_id", "run_id", "task_id") if isinstance(header.get(k), str)),
            None,
        ) or content_uid(header)
        created = parse_time(header.get("created"))
        traces: list[Trace] = []
        for i, sample in enumerate(samples):
            where = f"samples[{i}]"
            sample = need_dict(sample, field=where)
            attachments = sample.get("attachments")
            attachments = attachments if isinstance(attachments, dict) else {}
            messages = _resolve(sample.get("messages"), attachments)
            turns = [
                _message_turn(m, field=f"{where}.messages[{j}]")
                for j, m in enumerate(need_list(messages, field=f"{where}.messages"))
            ]
            sample_id = sample.get("id", i + 1)
            epoch = sample.get("epoch", 1)
            extra = {
                "eval_id": eval_id,
                "task": header.get("task"),
                "sample_id": sample_id,
                "epoch": epoch,
                "status": data.get("status"),
                "target": sample.get("target"),
                "scores": sample.get("scores"),
            }
            meta = make_meta(
                record,
                self.name,
                model=model if isinstance(model, str) else None,
                created_at=created,
                extra={k: v for k, v in extra.items() if v is not None},
                **_usage(sample),
            )
            uid = f"{eval_id}:{sample_id}:{epoch}"
            traces.append(Trace(uid=uid, turns=tuple(turns), meta=meta, original=sample))
        return traces


READER = InspectLogReader()
