"""Reasoning written inline in text: ``<think>…</think>``, ``<thinking>…</thinking>``,
``<|begin_of_thought|>…<|end_of_thought|>`` with ``<|begin_of_solution|>…<|end_of_solution|>``.

An opening tag without its closing tag means the reasoning was cut off (``truncated``). A closing
``</think>`` with no opening tag (R1 chat templates put ``<think>`` in the prompt) makes everything
before it reasoning.
"""

from __future__ import annotations

import re

from annotator.domain.trace import Block, BlockKind

_PAIRS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
    ("<|begin_of_thought|>", "<|end_of_thought|>"),
)
_SOLUTION = ("<|begin_of_solution|>", "<|end_of_solution|>")
_OPEN = re.compile("|".join(re.escape(o) for o, _ in _PAIRS))
_CLOSE_OF = dict(_PAIRS)


def has_inline_reasoning(text: str) -> bool:
    # Every tag starts with "<": one scan settles most texts (an import scans every answer).
    return "<" in text and any(o in text or c in text for o, c in _PAIRS)


def _text_block(text: str) -> Block | None:
    if "<|" in text:
        text = text.replace(_SOLUTION[0], "").replace(_SOLUTION[1], "")
    text = text.strip()
    return Block(kind=BlockKind.TEXT, text=text) if text else None


def split_inline_reasoning(text: str) -> list[Block]:
    """Split ``text`` into reasoning and text blocks in reading order."""
    blocks: list[Block] = []
    if not has_inline_reasoning(text):
        block = _text_block(text)
        return [block] if block else []
    pos = 0
    first_open = _OPEN.search(text)
    for _opener, closer in _PAIRS:
        close_at = text.find(closer)
        if close_at != -1 and (first_open is None or close_at < first_open.start()):
            # "</think>" before any opening tag: the opening tag was in the prompt template.
            reasoning = text[:close_at].strip()
            if reasoning:
                blocks.append(Block(kind=BlockKind.REASONING, text=reasoning))
            pos = close_at + len(closer)
            break
    while True:
        match = _OPEN.search(text, pos)
        if match is None:
            block = _text_block(text[pos:])
            if block:
                blocks.append(block)
            return blocks
        block = _text_block(text[pos : match.start()])
        if block:
            blocks.append(block)
        closer = _CLOSE_OF[match.group(0)]
        end = text.find(closer, match.end())
        if end == -1:
            reasoning = text[match.end() :].strip()
            blocks.append(Block(kind=BlockKind.REASONING, text=reasoning, truncated=True))
            return blocks
        reasoning = text[match.end() : end].strip()
        if reasoning:
            blocks.append(Block(kind=BlockKind.REASONING, text=reasoning))
        pos = end + len(closer)
