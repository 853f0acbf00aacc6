"""The readers, most specific first, and the per-record choice between them."""

from __future__ import annotations

from typing import Any

from annotator.formats import alpaca, hf_reasoning, inspect_log, sharegpt, swe_agent, trl
from annotator.formats.annotator_export import READER as ANNOTATOR_EXPORT
from annotator.formats.anthropic import ANTHROPIC
from annotator.formats.base import Reader, RecordError
from annotator.formats.openai_chat import OPENAI_CHAT
from annotator.formats.openai_responses import OPENAI_RESPONSES

READERS: list[Reader] = [ANNOTATOR_EXPORT, ANTHROPIC, OPENAI_RESPONSES, OPENAI_CHAT]
"""Order matters: ``detect_reader`` returns the first reader whose ``detect`` accepts a record."""
READERS += [m.READER for m in (inspect_log, swe_agent, sharegpt, trl, hf_reasoning, alpaca)]


def reader_names() -> list[str]:
    return [r.name for r in READERS]


def get_reader(name: str) -> Reader:
    for reader in READERS:
        if reader.name == name:
            return reader
    raise KeyError(f"unknown format {name!r}; known formats: {', '.join(reader_names())}")


def detect_reader(data: Any) -> Reader:
    for reader in READERS:
        if reader.detect(data):
            return reader
    keys = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, dict) else type(data).__name__
    raise RecordError(f"unknown record shape (keys: {keys})")
