"""Hugging Face reasoning-dataset columns and eval-harness outputs:

- ``problem`` + ``generations`` (OpenR1-Math style): one trace per generation;
- ``problem`` (or ``question``) + ``solution`` (NuminaMath style): one trace;
- ``question`` + ``thinking_trajectories`` + ``attempt`` (s1K), and the per-model
  ``<model>_thinking_trajectory`` + ``<model>_attempt`` pairs of s1K-1.1: one trace per pair;
- ``question`` + ``code`` (list of model outputs; Qwen2.5-Math / SkyThought eval outputs with
  ``gt``, ``pred``, ``score``): one trace per output.

A record with several outputs gives several traces because each output is a separate sample a
labeler judges; their uids are the record's id (or content hash) with ``#<index>`` (or
``#<model>``) appended, so they stay stable across re-imports. Per-output columns of the same
length (``pred``, ``score``, ``correctness_math_verify`` ...) go into that trace's
``meta.extra``, as do scalar grading columns (``gt``, ``answer``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from annotator.formats.inline_tags import split_inline_reasoning

_PROMPT_KEYS = ("problem", "question")
_OUTPUT_LISTS = ("generations", "code")
_GRADING_KEYS = ("gt", "answer", "source", "problem_type", "question_type", "level", "subject")


def _prompt_key(data: Mapping[str, Any]) -> str | None:
    for key in _PROMPT_KEYS:
        if isinstance(data.get(key), str):
            return key
    return None


def _thinking_pairs(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, trajectory key, attempt key) for s1K-style columns, in column order."""
    pairs: list[tuple[str, str, str]] = []
    for key in data:
        for stem in ("thinking_trajectories", "thinking_trajectory"):
            if key == stem or key.endswith("_" + stem):
                prefix = key[: -len(stem)]
                pairs.append((prefix.rstrip("_"), key, prefix + "attempt"))
    return pairs


def _output_list(data: Mapping[str, Any]) -> str | None:
    for key in _OUTPUT_LISTS:
        value = data.get(key)
        if isinstance(value, list) and value and all(isinstance(v, str | None) for v in value):
            return key
    return None


class HfReasoningReader:
    name = "hf_reasoning"

    def detect(self, data: Any) -> bool:
        if not isinstance(data, dict) or _prompt_key(data) is None:
            return False
        return (
            _output_list(data) is not None
            or bool(_thinking_pairs(data))
            or isinstance(data.get("solution"), str)
        )

    def read(self, record: SourceRecord) -> list[Trace]:
        data = need_dict(record.data, field="record")
        key = _prompt_key(data)
        if key is None:
            raise RecordError("no problem or question text", field="problem")
        prompt = text_turn(Role.USER, data[key])
        base = record_uid(record)
        grading = {k: data[k] for k in _GRADING_KEYS if k in data and not isinstance(data[k], list)}
        outputs = _output_list(data)
        if outputs is not None:
            return self._per_output(record, data, outputs, prompt, base, grading)
        pairs = _thinking_pairs(data)
        if pairs:
            return self._thinking(record, data, pairs, prompt, base, grading)
        solution = need_str(data.get("solution"), field="solution")
        turns = [prompt, text_turn(Role.ASSISTANT, solution)]
        return [make_trace(record, self.name, turns, uid=base, extra=grading)]

    def _per_output(
        self,
        record: SourceRecord,
        data: dict[str, Any],
        key: str,
        prompt: Turn,
        base: str,
        grading: dict[str, Any],
    ) -> list[Trace]:
        outputs: list[Any] = data[key]
        aligned = {
            k: v
            for k, v in data.items()
            if k != key and isinstance(v, list) and len(v) == len(outputs)
        }
        traces: list[Trace] = []
        for i, output in enumerate(outputs):
            if output is None:
                continue
            extra = {**grading, "output_index": i, **{k: v[i] for k, v in aligned.items()}}
            turns = [prompt, text_turn(Role.ASSISTANT, output)]
            traces.append(make_trace(record, self.name, turns, uid=f"{base}#{i}", extra=extra))
        return traces

    def _thinking(
        self,
        record: SourceRecord,
        data: dict[str, Any],
        pairs: list[tuple[str, str, str]],
        prompt: Turn,
        base: str,
        grading: dict[str, Any],
    ) -> list[Trace]:
        traces: list[Trace] = []
        for label, trajectory_key, attempt_key in pairs:
            value = data[trajectory_key]
            if value is None:
                continue
            pieces = (
                [need_str(value, field=trajectory_key)]
                if isinstance(value, str)
                else [
                    need_str(v, field=f"{trajectory_key}[{i}]")
                    for i, v in enumerate(need_list(value, field=trajectory_key))
                ]
            )
            blocks = [Block(kind=BlockKind.REASONING, text=p) for p in pieces if p.strip()]
            attempt = need_str(data.get(attempt_key), field=attempt_key, optional=True)
            blocks.extend(split_inline_reasoning(attempt))
            turns = [prompt, Turn(role=Role.ASSISTANT, blocks=tuple(blocks))]
            uid = f"{base}#{label}" if len(pairs) > 1 or label else base
            extra = {**grading, "generator": label} if label else dict(grading)
            traces.append(make_trace(record, self.name, turns, uid=uid, extra=extra))
        return traces


READER = HfReasoningReader()
