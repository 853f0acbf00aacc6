"""Alpaca instruction data: ``instruction`` (+ optional ``input``) is the user turn, ``output`` the
assistant turn; optional ``system`` and ``history`` (a list of ``[user, assistant]`` pairs that
came before), as LLaMA-Factory reads it.

The input is appended to the instruction after a blank line, the way Alpaca's prompt template
joins them, so the labeler sees the prompt the model saw.
"""

from __future__ import annotations

from typing import Any

from annotator.domain.trace import Role, Trace, Turn
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.dataset_common import (
    make_trace,
    need_dict,
    need_list,
    need_str,
    record_uid,
    text_turn,
)


class AlpacaReader:
    name = "alpaca"

    def detect(self, data: Any) -> bool:
        return (
            isinstance(data, dict)
            and isinstance(data.get("instruction"), str)
            and isinstance(data.get("output"), str)
        )

    def read(self, record: SourceRecord) -> list[Trace]:
        data = need_dict(record.data, field="record")
        instruction = need_str(data.get("instruction"), field="instruction")
        extra_input = need_str(data.get("input"), field="input", optional=True)
        output = need_str(data.get("output"), field="output")
        system = need_str(data.get("system"), field="system", optional=True)
        turns: list[Turn] = []
        if system.strip():
            turns.append(text_turn(Role.SYSTEM, system))
        history = data.get("history")
        if history is not None:
            for i, pair in enumerate(need_list(history, field="history")):
                where = f"history[{i}]"
                if not isinstance(pair, list) or len(pair) != 2:
                    raise RecordError("expected a [user, assistant] pair", field=where)
                turns.append(text_turn(Role.USER, need_str(pair[0], field=f"{where}[0]")))
                turns.append(text_turn(Role.ASSISTANT, need_str(pair[1], field=f"{where}[1]")))
        prompt = f"{instruction}\n\n{extra_input}" if extra_input.strip() else instruction
        turns.append(text_turn(Role.USER, prompt))
        turns.append(text_turn(Role.ASSISTANT, output))
        return [make_trace(record, self.name, turns, uid=record_uid(record))]


READER = AlpacaReader()
