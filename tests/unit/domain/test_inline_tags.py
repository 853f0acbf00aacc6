"""Inline reasoning tags split into reasoning and answer blocks; unclosed tags mean truncated."""

from __future__ import annotations

from annotator.domain.trace import BlockKind
from annotator.formats.inline_tags import has_inline_reasoning, split_inline_reasoning


def kinds(text: str) -> list[tuple[str, str, bool]]:
    return [(b.kind.value, b.text, b.truncated) for b in split_inline_reasoning(text)]


def test_think_then_answer() -> None:
    assert kinds("<think>\nstep 1\n</think>\n\nThe answer is 4.") == [
        ("reasoning", "step 1", False),
        ("text", "The answer is 4.", False),
    ]


def test_closing_tag_without_opening_makes_prefix_reasoning() -> None:
    assert kinds("the template opened it\n</think>\nDone.") == [
        ("reasoning", "the template opened it", False),
        ("text", "Done.", False),
    ]


def test_unclosed_tag_is_truncated_reasoning() -> None:
    assert kinds("Intro <thinking>long chain cut at max tok") == [
        ("text", "Intro", False),
        ("reasoning", "long chain cut at max tok", True),
    ]


def test_sky_t1_thought_and_solution_tags() -> None:
    text = "<|begin_of_thought|>\n\nLet me see.\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n\\boxed{42}\n\n<|end_of_solution|>"
    assert kinds(text) == [("reasoning", "Let me see.", False), ("text", "\\boxed{42}", False)]


def test_several_reasoning_sections_keep_order() -> None:
    blocks = split_inline_reasoning("<think>a</think>one<think>b</think>two")
    assert [b.kind for b in blocks] == [
        BlockKind.REASONING,
        BlockKind.TEXT,
        BlockKind.REASONING,
        BlockKind.TEXT,
    ]


def test_plain_text_untouched() -> None:
    assert not has_inline_reasoning("nothing to see")
    assert kinds("  nothing to see ") == [("text", "nothing to see", False)]
    assert kinds("") == []
