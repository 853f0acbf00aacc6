"""SWE-agent trajectories (``.traj``): ``{environment, trajectory[], history[], info{}}``.

``history`` is the conversation the model saw. An assistant message's free-text ``thought``
becomes a REASONING block (it is the agent's ReAct reasoning) and its ``action`` (a shell or
editor command) a TOOL_CALL named after the command; the user message that answers an action is
the environment's observation, so it becomes a TOOL turn (newer versions mark it with
``message_type: observation`` or role ``tool``). Demonstration messages (``is_demo``) keep their
roles and are named ``demonstration`` so they are not mistaken for the model's own work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from annotator.domain.trace import Block, BlockKind, Role, Trace, Turn
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.dataset_common import make_trace, need_dict, need_list, record_uid, text_turn
from annotator.formats.messages import int_or_none, result_text

_DEMO = "demonstration"


def _model(data: Mapping[str, Any]) -> str | None:
    """The model name where the trajectory records it: ``info.model_stats`` (some versions),
    ``replay_config.agent.model.name`` (SWE-agent 1.x), or a top-level ``model``."""
    info = data.get("info")
    stats = info.get("model_stats") if isinstance(info, dict) else None
    for source in (stats, info, data):
        if isinstance(source, dict):
            for key in ("model_name", "model"):
                value = source.get(key)
                if isinstance(value, str) and value:
                    return value
    config: Any = data.get("replay_config")
    if isinstance(config, str):
        try:
            config = orjson.loads(config)
        except orjson.JSONDecodeError:
            return None
    agent = config.get("agent") if isinstance(config, dict) else None
    model = agent.get("model") if isinstance(agent, dict) else None
    name = model.get("name") if isinstance(model, dict) else None
    return name if isinstance(name, str) and name else None


def _call_id(message: Mapping[str, Any], step: int) -> str:
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls and isinstance(calls[0], dict):
        found = calls[0].get("id")
        if isinstance(found, str) and found:
            return found
    return f"step-{step}"


class SweAgentReader:
    name = "swe_agent"

    def detect(self, data: Any) -> bool:
        return (
            isinstance(data, dict)
            and isinstance(data.get("history"), list)
            and (isinstance(data.get("trajectory"), list) or isinstance(data.get("info"), dict))
        )

    def read(self, record: SourceRecord) -> list[Trace]:
        data = need_dict(record.data, field="record")
        turns: list[Turn] = []
        pending: Block | None = None  # the last action still waiting for its observation
        step = 0
        for i, message in enumerate(need_list(data.get("history"), field="history")):
            where = f"history[{i}]"
            message = need_dict(message, field=where)
            role = message.get("role")
            kind = message.get("message_type")
            name = _DEMO if message.get("is_demo") else None
            text = result_text(message.get("content"), field=f"{where}.content")
            if role == "assistant":
                thought, action = message.get("thought"), message.get("action")
                if not isinstance(thought, str) and not isinstance(action, str):
                    turns.append(text_turn(Role.ASSISTANT, text, name=name))
                    continue
                blocks: list[Block] = []
                if isinstance(thought, str) and thought.strip():
                    blocks.append(Block(kind=BlockKind.REASONING, text=thought.strip()))
                pending = None
                if isinstance(action, str) and action.strip():
                    step += 1
                    command = action.strip()
                    pending = Block(
                        kind=BlockKind.TOOL_CALL,
                        text=command,
                        tool_name=command.split(maxsplit=1)[0],
                        tool_call_id=_call_id(message, step),
                    )
                    blocks.append(pending)
                turns.append(Turn(role=Role.ASSISTANT, blocks=tuple(blocks), name=name))
            elif role == "tool" or kind == "observation" or (role == "user" and pending):
                result = Block(
                    kind=BlockKind.TOOL_RESULT,
                    text=text,
                    tool_name=pending.tool_name if pending else None,
                    tool_call_id=pending.tool_call_id if pending else None,
                )
                turns.append(Turn(role=Role.TOOL, blocks=(result,), name=name))
                pending = None
            elif role in ("system", "user"):
                turn_role = Role.SYSTEM if role == "system" else Role.USER
                turns.append(text_turn(turn_role, text, name=name))
            else:
                raise RecordError(f"unknown role {str(role)[:40]!r}", field=f"{where}.role")
        return [make_trace(record, self.name, turns, uid=record_uid(record), **_meta(data))]


def _meta(data: Mapping[str, Any]) -> dict[str, Any]:
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    assert isinstance(info, dict)
    stats = info.get("model_stats") if isinstance(info.get("model_stats"), dict) else {}
    assert isinstance(stats, dict)
    extra = {
        key: value
        for key, value in (
            ("environment", data.get("environment")),
            ("exit_status", info.get("exit_status")),
            ("api_calls", stats.get("api_calls")),
            ("instance_cost", stats.get("instance_cost")),
        )
        if value is not None
    }
    return {
        "model": _model(data),
        "input_tokens": int_or_none(stats.get("tokens_sent")),
        "output_tokens": int_or_none(stats.get("tokens_received")),
        "extra": extra,
    }


READER = SweAgentReader()
