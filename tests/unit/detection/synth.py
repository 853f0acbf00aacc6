"""A deterministic mix of templated and free-form prompts with the template of each known.

Templates are built the way campaigns build them: shared instruction boilerplate ("Show every step
of your reasoning", "Answer as JSON") around slots filled with numbers, quoted strings, code,
topics and whole problem statements. Different templates reuse the same boilerplate phrases, so
the clusterer has to tell "one template" from "the same stock phrases". Free-form prompts are
word sequences drawn with a Zipf-like frequency from one shared vocabulary (like real text,
common words repeat across unrelated prompts)."""

from __future__ import annotations

import random
from dataclasses import dataclass

_SYLLABLES = [
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "den", "par", "gol", "fin", "tra", "bel",
    "cor", "dav", "em", "is", "ul", "on", "ast", "pri", "qua", "zen", "rho", "mar", "sel", "tis",
]  # fmt: skip
_STOCK = [
    "Show every step of your reasoning in full detail.",
    "Think step by step before answering.",
    "Give the final answer as JSON.",
    "Put your chain of thought inside think tags.",
    "Answer concisely and explain your reasoning.",
    "Use the following format for the output.",
    "Do not skip any intermediate calculation.",
    "You are an expert tutor and grader.",
    "Return only valid JSON with the fields answer and explanation.",
    "Be precise and double check the result.",
]
_TOPICS = [
    "number theory", "geometry", "probability", "python", "sql", "organic chemistry",
    "thermodynamics", "graph algorithms", "linear algebra", "statistics", "git", "regex",
]  # fmt: skip


def _vocabulary(rng: random.Random, n: int) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 3))))
    return sorted(words)


@dataclass(frozen=True)
class Mix:
    prompts: list[str]
    truth: list[int]
    """Template number of each prompt; free-form prompts get a unique negative number."""


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vocab = _vocabulary(self.rng, 6_000)
        # Zipf-like: word i drawn with weight 1 / (i + 10)
        self.weights = [1.0 / (i + 10) for i in range(len(self.vocab))]

    def words(self, n: int) -> str:
        return " ".join(self.rng.choices(self.vocab, self.weights, k=n))

    def sentence(self, lo: int, hi: int) -> str:
        text = self.words(self.rng.randint(lo, hi))
        return text[:1].upper() + text[1:] + "."

    def template(self) -> list[str]:
        """Fixed parts and slot markers: ``{num}``, ``{str}``, ``{code}``, ``{topic}``, ``{text}``."""
        rng = self.rng
        parts = [self.sentence(8, 16)]
        parts += rng.sample(_STOCK, rng.randint(1, 2))
        slots = rng.sample(["{num}", "{str}", "{code}", "{topic}", "{text}"], rng.randint(1, 3))
        for slot in slots:
            parts.append(f"{self.words(rng.randint(2, 5)).capitalize()}: {slot}")
            if rng.random() < 0.5:
                parts.append(self.sentence(4, 10))
        return parts

    def fill(self, template: list[str]) -> str:
        rng = self.rng
        out = []
        for part in template:
            part = part.replace("{num}", str(rng.randint(2, 100_000)))
            part = part.replace("{str}", f'"{self.words(rng.randint(1, 4))}"')
            part = part.replace("{code}", f"```\nx = {rng.randint(0, 99)}\nprint(x * 2)\n```")
            part = part.replace("{topic}", rng.choice(_TOPICS))
            part = part.replace("{text}", self.sentence(6, 18))
            out.append(part)
        return " ".join(out)

    def free(self) -> str:
        return " ".join(self.sentence(5, 20) for _ in range(self.rng.randint(1, 3)))


def prompt_mix(n: int, *, seed: int = 20260211, templated_share: float = 0.6) -> Mix:
    """``n`` prompts: about ``templated_share`` from ~n/300 templates (sizes skewed: a few big
    campaigns, many small ones), the rest free-form; shuffled, deterministic for a seed."""
    gen = _Gen(seed)
    n_templates = max(2, n // 300)
    templates = [gen.template() for _ in range(n_templates)]
    sizes = [1.0 / (i + 1) ** 0.8 for i in range(n_templates)]
    n_templated = int(n * templated_share)
    picks = gen.rng.choices(range(n_templates), sizes, k=n_templated)
    items = [(gen.fill(templates[t]), t) for t in picks]
    items += [(gen.free(), -(i + 1)) for i in range(n - n_templated)]
    gen.rng.shuffle(items)
    return Mix([p for p, _ in items], [t for _, t in items])


def pair_quality(labels: list[int], truth: list[int]) -> tuple[float, float]:
    """Precision and recall of "same cluster" over pairs of prompts from one template."""
    from collections import Counter

    def pairs(counts: Counter[object]) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = pairs(Counter((c, t) for c, t in zip(labels, truth, strict=True) if t >= 0))
    predicted = pairs(Counter(labels))
    actual = pairs(Counter(t for t in truth if t >= 0))
    precision = both / predicted if predicted else 1.0
    recall = both / actual if actual else 1.0
    return precision, recall
