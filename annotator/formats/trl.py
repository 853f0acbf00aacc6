"""TRL dataset formats beyond ``messages`` (which is OpenAI chat and read by that reader):
prompt/completion (with an optional KTO ``label``), prompt/chosen/rejected, and the implicit-prompt
preference form where ``chosen`` and ``rejected`` are whole conversations. Each field may be a
string ("standard") or a list of chat messages ("conversational").

A preference record is ONE trace: the prompt followed by the chosen completion, because that is
what a model trained on the set learns to produce and what a labeler judges. The rejected
completion is kept, as it stands in the record, in ``meta.extra["rejected"]`` (and in the
original), so it stays visible without doubling the queue with near-identical items.
"""

from __future__ import annotations

from typing import Any

from annotator.domain.trace import Role, Trace, Turn
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.dataset_common import make_trace, need_dict, record_uid, text_turn
from annotator.formats.messages import turns_from_messages


def _side(value: Any, role: Role, *, field: str) -> list[Turn]:
    """A standard (string) or conversational (message list) prompt or completion."""
    if isinstance(value, str):
        return [text_turn(role, value)]
    if isinstance(value, list):
        return turns_from_messages(value, field=field)
    raise RecordError(
        f"expected a string or a list of messages, got {type(value).__name__}", field=field
    )


def _is_side(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and (not value or isinstance(value[0], dict))
    )


class TrlReader:
    name = "trl"

    def detect(self, data: Any) -> bool:
        if not isinstance(data, dict):
            return False
        if _is_side(data.get("prompt")):
            return _is_side(data.get("completion")) or _is_side(data.get("chosen"))
        return isinstance(data.get("chosen"), list) and isinstance(data.get("rejected"), list)

    def read(self, record: SourceRecord) -> list[Trace]:
        data = need_dict(record.data, field="record")
        turns: list[Turn] = []
        if "prompt" in data:
            turns.extend(_side(data["prompt"], Role.USER, field="prompt"))
        extra: dict[str, Any] = {}
        if "completion" in data:
            turns.extend(_side(data["completion"], Role.ASSISTANT, field="completion"))
            if "label" in data:
                extra["label"] = data["label"]
        elif "chosen" in data:
            turns.extend(_side(data["chosen"], Role.ASSISTANT, field="chosen"))
            if "rejected" in data:
                extra["rejected"] = data["rejected"]
        else:
            raise RecordError("neither a completion nor a chosen response", field="completion")
        return [make_trace(record, self.name, turns, uid=record_uid(record), extra=extra)]


READER = TrlReader()
