"""Prompt normalisation: what is masked, what is kept, and bounded time on hostile input."""

from __future__ import annotations

import random
import time

import pytest

from annotator.services.detection.normalize import (
    MAX_CHARS,
    normalize,
    normalized_words,
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Find 1,234.5 apples", "num", "1,234.5"),
        ("growth of -12% a year", "num", "-12%"),
        ('Translate "good morning" now', "str", '"good morning"'),
        ("Translate 'good night' now", "str", "'good night'"),
        ("Fix «ceci» here", "str", "«ceci»"),
        ("see https://example.org/a?b=1 please", "url", "https://example.org/a?b=1"),
        ("see www.example.org please", "url", "www.example.org"),
        ("run ```py\nprint(1)\n``` it", "code", "```py\nprint(1)\n```"),
        ("call `len(x)` here", "code", "`len(x)`"),
        ("solve $x^2 + 1 = 0$ now", "math", "$x^2 + 1 = 0$"),
        ("display $$\\int_0^1 f$$ now", "math", "$$\\int_0^1 f$$"),
        ("inline \\(a+b\\) and", "math", "\\(a+b\\)"),
    ],
)
def test_each_slot_kind_is_masked_and_its_value_kept(text: str, kind: str, value: str) -> None:
    norm = normalize(text)
    masked = [t for t in norm.tokens if t.masked]
    assert [(t.text, t.surface) for t in masked] == [(f"⟨{kind}⟩", value)]
    assert f"⟨{kind}⟩" in norm.text


def test_fillings_of_one_template_normalise_alike() -> None:
    a = normalize('Solve: 17 * 23. Answer as JSON {"answer": 391}. See https://a.example/1')
    b = normalize('Solve: 400 * 2. Answer as JSON {"answer": 800}. See https://b.example/x?y')
    assert a.text == b.text
    assert a.text != normalize("Solve: x * y. Answer as YAML.").text


def test_words_are_lower_cased_and_cjk_split_per_character() -> None:
    assert normalize("Show EVERY Step 一步一步").words == [
        "show", "every", "step", "一", "步", "一", "步",
    ]  # fmt: skip


def test_fast_path_equals_full_normalisation() -> None:
    rng = random.Random(3)
    pieces = ["word", "42", '"q"', "`c`", "http://x.y/z", "$a$", "\n", "Ünïcode", "x_1", "--"]
    for _ in range(200):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert normalized_words(text) == normalize(text).words, text


def test_only_the_first_max_chars_are_considered() -> None:
    head = "alpha " * (MAX_CHARS // 6 + 1)
    assert normalize(head + "omega").words == normalize(head + "different tail").words
    assert "omega" not in normalized_words(head + " omega")
    assert "omega" in normalized_words("omega " + head)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 1_000_000,
        "a " * 500_000,
        "```" * 300_000,
        "$$" * 500_000,
        "\\[" * 500_000,
        '"' * 1_000_000,
        "'a" * 500_000,
        "1," * 500_000,
        bytes(random.Random(1).randrange(256) for _ in range(1_000_000)).decode("latin-1"),
        "\x00\x01\ufffd" * 300_000,
    ],
    ids=[
        "1MB-line",
        "1MB-words",
        "fences",
        "dollars",
        "brackets",
        "quotes",
        "apostrophes",
        "digits",
        "binary",
        "controls",
    ],
)
def test_pathological_input_is_bounded(text: str) -> None:
    start = time.perf_counter()
    words = normalized_words(text)
    full = normalize(text)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert len(words) <= MAX_CHARS
    assert all("\x00" not in w for w in words)
    assert full.words == words
