"""Prompt normalisation for near-duplicate clustering.

A campaign sends one template with slots filled in. Masking what typically fills a slot (numbers,
quoted strings, code, URLs, LaTeX) makes two fillings of one template look alike, while the masked
values are kept so a cluster can show which slots vary and with what.

Bounded time on hostile input: only the first :data:`MAX_CHARS` characters are considered, every
pattern is linear (no nested quantifiers, bounded spans), and control or binary characters are
dropped before matching."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 20_000
"""Characters of a prompt that are looked at: templates show in the first few hundred, and a 1 MB
single line must not cost more than a normal prompt."""
MAX_SPAN = 2_000
"""Longest code block, quote or formula masked as one slot."""

_MASK_RE = re.compile(
    # The lookahead lists every alternative's first character: a cheap test at each position
    # before the alternation is tried (5x faster on ordinary prose).
    r"(?=[`~$\\\"“«„'\d+\-hfw])(?:"
    r"(?P<code>```[\s\S]{0,SPAN}?```|~~~[\s\S]{0,SPAN}?~~~)"
    r"|(?P<inline>`[^`\n]{1,200}`)"
    r"|(?P<url>\b(?:https?|ftp)://[^\s<>\"'`]{1,500}|\bwww\.[^\s<>\"'`]{1,500})"
    r"|(?P<math>\$\$[\s\S]{1,SPAN}?\$\$|\\\[[\s\S]{1,500}?\\\]|\\\([\s\S]{1,500}?\\\)"
    r"|\$(?=[^\s$\d])[^$\n]{1,300}?(?<=\S)\$)"
    r"|(?P<str>\"[^\"\n]{1,300}\"|“[^”\n]{1,300}”|«[^»\n]{1,300}»|„[^“”\n]{1,300}[“”]"
    r"|(?<!\w)'[^'\n]{1,300}'(?!\w))"
    r"|(?P<num>(?<![\w.])[-+]?\d[\d,_]*(?:\.\d+)?(?:[eE][-+]?\d+)?%?))".replace(
        "SPAN", str(MAX_SPAN)
    )
)
"""One pass, leftmost match wins: fenced code first so nothing inside it is masked twice."""

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ud800-\udfff]+")
_TOKEN_RE = re.compile(
    r"⟨[a-z]+⟩"
    r"|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
    r"|[^\W_]+(?:['’][^\W_]+)*"
)
"""Words; one token per CJK character (no spaces to split on); masks as single tokens."""

MASKS = ("code", "inline", "url", "math", "str", "num")


@dataclass(frozen=True)
class Token:
    """One word of a normalised prompt. ``surface`` is the original text of a masked slot."""

    text: str
    surface: str

    @property
    def masked(self) -> bool:
        return self.text.startswith("⟨")


@dataclass(frozen=True)
class Normalized:
    text: str
    """Lower-cased, masked, single-spaced prompt."""
    tokens: tuple[Token, ...]

    @property
    def words(self) -> list[str]:
        return [t.text for t in self.tokens]


def _clean(text: str) -> str:
    return _CONTROL_RE.sub(" ", text[:MAX_CHARS])


def normalize(text: str) -> Normalized:
    """Mask slot-like spans and split into tokens (see the module docstring)."""
    text = _clean(text)
    tokens: list[Token] = []
    pos = 0
    for match in _MASK_RE.finditer(text):
        _words(text[pos : match.start()], tokens)
        kind = match.lastgroup or "str"
        if kind == "inline":
            kind = "code"
        tokens.append(Token(f"⟨{kind}⟩", match.group()))
        pos = match.end()
    _words(text[pos:], tokens)
    return Normalized(" ".join(t.text for t in tokens), tuple(tokens))


def _words(chunk: str, out: list[Token]) -> None:
    for m in _TOKEN_RE.finditer(chunk):
        word = m.group()
        out.append(Token(word.lower(), word))


def _mask(match: re.Match[str]) -> str:
    kind = match.lastgroup or "str"
    return " ⟨code⟩ " if kind == "inline" else f" ⟨{kind}⟩ "


def normalized_words(text: str) -> list[str]:
    """``normalize(text).words`` without keeping the masked values: the fast path clustering
    takes for every prompt (the values are only needed for the few members a template is
    described from)."""
    return [
        w if w.startswith("⟨") else w.lower()
        for w in _TOKEN_RE.findall(_MASK_RE.sub(_mask, _clean(text)))
    ]
