"""Display text made from source text, with an exact offset map between the two.

Trace text is hostile, so what the document shows is not always what the source holds:
bidirectional controls become visible markers (``⟨U+202E⟩``) so they cannot reorder what the labeler
reads, C0 controls become control pictures (NUL -> ``␀``), characters that Qt's document treats as
structure (U+FDD0/U+FDD1 frame markers, U+FFFC object replacement), invisible characters (zero
width space, tag characters) and lone surrogates become markers, ``\\r\\n`` becomes one line break, very long lines get extra line breaks for display only
(laying out one 1 MB paragraph costs 0.7 s; many short ones are laid out lazily), and JSON is
re-indented. Evidence spans are offsets into the source, so every transformation is recorded in an
:class:`OffsetMap` that converts document offsets to source offsets and back.
"""

from __future__ import annotations

import html
import re
from array import array
from bisect import bisect_left, bisect_right
from typing import Final

import orjson

LINE_LIMIT: Final = 2000
"""Longest line inserted as one paragraph; longer lines are split for display (at a space if any)."""
JSON_PRETTY_LIMIT: Final = 200_000
"""JSON longer than this is shown as is: re-indenting costs Python time per token."""

_BIDI: Final = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE: Final = "\u00ad\u180e\u200b\u2060-\u2064\ufeff\U000e0000-\U000e007f"
"""Invisible characters that can hide text from a reader (tag characters smuggle ASCII); the
joiners U+200C/U+200D stay, scripts and emoji need them."""
_ESCAPE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\r"
    + _BIDI
    + _INVISIBLE
    + "\ufdd0\ufdd1\ufff9-\ufffc\ud800-\udfff]"
)
_LONG_LINE: Final = re.compile(f"^[^\n]{{{LINE_LIMIT + 1}}}", re.M)  # anchored: linear time
_JSON_TOKEN: Final = re.compile(r'\s*("(?:[^"\\]+|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+)', re.S)


def marker(ch: str) -> str:
    """The visible stand-in for an invisible or structural character."""
    return f"⟨U+{ord(ch):04X}⟩"


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # control pictures: NUL -> ␀, ESC -> ␛
    if code == 0x7F:
        return "\u2421"  # ␡
    return marker(ch)


class OffsetMap:
    """Piecewise map between a display string and the source substring it shows.

    Pieces are either copies (same length on both sides, one-to-one) or replacements (a marker, an
    inserted line break, re-indented whitespace): any offset inside a replacement maps to its start
    (for a span start) or its end (for a span end), so a selection that touches a marker covers the
    whole source character.
    """

    __slots__ = ("_copy", "_doc", "_src", "doc_len", "markers", "src_len")

    def __init__(self) -> None:
        self._doc = array("q")
        self._src = array("q")
        self._copy = bytearray()
        self.doc_len = 0
        self.src_len = 0
        self.markers: list[tuple[int, int]] = []
        """(display offset, length) of every escaped character, for styling."""

    @classmethod
    def identity(cls, length: int) -> OffsetMap:
        m = cls()
        m.copy(length)
        return m

    def copy(self, n: int) -> None:
        if n <= 0:
            return
        if not (self._copy and self._copy[-1]):
            self._doc.append(self.doc_len)
            self._src.append(self.src_len)
            self._copy.append(1)
        self.doc_len += n
        self.src_len += n

    def replace(self, doc_n: int, src_n: int) -> None:
        if doc_n <= 0 and src_n <= 0:
            return
        self._doc.append(self.doc_len)
        self._src.append(self.src_len)
        self._copy.append(0)
        self.doc_len += doc_n
        self.src_len += src_n

    @property
    def pieces(self) -> int:
        return len(self._copy)

    def _doc_end(self, i: int) -> int:
        return self._doc[i + 1] if i + 1 < len(self._doc) else self.doc_len

    def _src_end(self, i: int) -> int:
        return self._src[i + 1] if i + 1 < len(self._src) else self.src_len

    def to_src(self, d: int, *, end: bool = False) -> int:
        """Source offset of display offset ``d`` (``end``: ``d`` is an exclusive end)."""
        if d <= 0 or not self._copy:
            return 0
        if d >= self.doc_len:
            return self.src_len
        i = bisect_right(self._doc, d) - 1
        if self._copy[i]:
            return self._src[i] + d - self._doc[i]
        if end and d > self._doc[i]:
            return self._src_end(i)
        return self._src[i]

    def to_doc(self, s: int, *, end: bool = False) -> int:
        """Display offset of source offset ``s``."""
        if s <= 0 or not self._copy:
            return 0
        if s >= self.src_len:
            return self.doc_len
        if end:  # the last piece starting before s: an end stays before inserted breaks
            i = bisect_left(self._src, s) - 1
            if self._copy[i]:
                return self._doc[i] + s - self._src[i]
            return self._doc_end(i)
        i = bisect_right(self._src, s) - 1
        if self._copy[i]:
            return self._doc[i] + s - self._src[i]
        return self._doc[i]


def _sanitize_into(text: str, start: int, stop: int, out: list[str], omap: OffsetMap) -> None:
    pos = start
    for m in _ESCAPE.finditer(text, start, stop):
        i = m.start()
        ch = text[i]
        if i > pos:
            out.append(text[pos:i])
            omap.copy(i - pos)
        if ch == "\r":
            if i + 1 < stop and text[i + 1] == "\n":
                out.append("\n")
                omap.replace(1, 2)
                pos = i + 2
                continue
            out.append("\n")
            omap.copy(1)
        else:
            shown = _escape(ch)
            omap.markers.append((omap.doc_len, len(shown)))
            out.append(shown)
            if len(shown) == 1:
                omap.copy(1)
            else:
                omap.replace(len(shown), 1)
        pos = i + 1
    if stop > pos:
        out.append(text[pos:stop])
        omap.copy(stop - pos)


def _line_breaks(text: str) -> list[int]:
    """Source offsets where a display-only line break goes, so no line exceeds LINE_LIMIT."""
    breaks: list[int] = []
    if len(text) <= LINE_LIMIT:
        return breaks
    for m in _LONG_LINE.finditer(text):
        pos = m.start()
        stop = text.find("\n", pos)
        stop = len(text) if stop < 0 else stop
        while stop - pos > LINE_LIMIT:
            lo, hi = pos + LINE_LIMIT // 2, pos + LINE_LIMIT
            cut = text.rfind(". ", lo, hi)  # a sentence end reads like an ordinary line break
            if cut >= 0:
                cut += 2
            else:
                cut = text.rfind(" ", lo, hi)
                cut = cut + 1 if cut >= 0 else hi
            if "\udc00" <= text[cut] <= "\udfff" or text[cut - 1] == "\r":
                cut -= 1  # never between a surrogate pair or inside \r\n
            breaks.append(cut)
            pos = cut
    return breaks


def display_text(text: str, *, split_lines: bool = True) -> tuple[str, OffsetMap]:
    """Inert display text for ``text`` and the map back to it."""
    breaks = _line_breaks(text) if split_lines else []
    if not breaks and _ESCAPE.search(text) is None:
        return text, OffsetMap.identity(len(text))
    out: list[str] = []
    omap = OffsetMap()
    pos = 0
    for cut in breaks:
        _sanitize_into(text, pos, cut, out, omap)
        out.append("\n")
        omap.replace(1, 0)
        pos = cut
    _sanitize_into(text, pos, len(text), out, omap)
    return "".join(out), omap


def needs_escape(text: str) -> bool:
    return _ESCAPE.search(text) is not None


def pretty_json(text: str) -> tuple[str, OffsetMap] | None:
    """Re-indent a JSON object or array token by token, keeping every token's source text.

    Returns None when ``text`` is not a JSON object/array, is too long, or holds characters that
    need escaping (those are shown as plain, escaped text instead).
    """
    stripped = text.strip()
    if (
        not stripped
        or stripped[0] not in "{["
        or len(text) > JSON_PRETTY_LIMIT
        or _ESCAPE.search(text) is not None
    ):
        return None
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    out: list[str] = []
    omap = OffsetMap()
    depth = 0
    pos = 0
    pending_ws = ""  # whitespace to emit before the next token
    prev = ""
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group(1)
        if tok in ("}", "]"):
            depth -= 1
            pending_ws = "" if prev in ("{", "[") else "\n" + "  " * depth
        skipped = m.start(1) - pos
        if pending_ws or skipped:
            out.append(pending_ws)
            omap.replace(len(pending_ws), skipped)
        out.append(tok)
        omap.copy(len(tok))
        pos = m.end(1)
        pending_ws = ""
        if tok in ("{", "["):
            depth += 1
            pending_ws = "\n" + "  " * depth
        elif tok == ",":
            pending_ws = "\n" + "  " * depth
        elif tok == ":":
            pending_ws = " "
        prev = tok
    if pos < len(text):
        omap.replace(0, len(text) - pos)
    return "".join(out), omap


class Segment:
    """A run of document text ``[start, end)`` that shows source text from ``src_start`` on.

    ``omap`` maps offsets inside the run exactly; None means the run was rendered (markdown) and
    its source position is only known approximately (``src_start`` is then a hint).
    """

    __slots__ = ("end", "omap", "src_start", "start")

    def __init__(self, start: int, end: int, src_start: int, omap: OffsetMap | None) -> None:
        self.start = start
        self.end = end
        self.src_start = src_start
        self.omap = omap

    @property
    def exact(self) -> bool:
        return self.omap is not None

    def to_src(self, pos: int, *, end: bool = False) -> int:
        """Source offset of document position ``pos`` (clamped to this run)."""
        if self.omap is None:
            return self.src_start
        return self.src_start + self.omap.to_src(pos - self.start, end=end)

    def src_end(self) -> int:
        return self.src_start + (self.omap.src_len if self.omap is not None else 0)

    def to_doc(self, src: int, *, end: bool = False) -> int:
        if self.omap is None:
            return self.start
        return self.start + self.omap.to_doc(src - self.src_start, end=end)


_ENTITY: Final = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_MAX_ALIGN_STARTS: Final = 64


def _align_at(content: str, src: str, j: int, limit: int) -> tuple[str, OffsetMap, int] | None:
    out: list[str] = []
    omap = OffsetMap()
    i = 0
    n = len(content)
    while i < n:
        if j >= limit:
            return None
        ch = content[i]
        sc = src[j]
        if sc == "&":
            m = _ENTITY.match(src, j, limit)
            if m is not None:
                decoded = html.unescape(m.group(0))
                if decoded != m.group(0) and content.startswith(decoded, i):
                    shown = display_text(decoded, split_lines=False)[0]
                    out.append(shown)
                    omap.replace(len(shown), m.end() - j)
                    i += len(decoded)
                    j = m.end()
                    continue
        if sc == "\\" and j + 1 < limit and src[j + 1] == ch and ch in _PUNCT:
            shown = display_text(ch, split_lines=False)[0]
            out.append(shown)
            omap.replace(len(shown), 2)
            i += 1
            j += 2
            continue
        if sc == ch or (ch == " " and sc == "\n"):
            shown = display_text(ch, split_lines=False)[0] if needs_escape(ch) else ch
            out.append(shown)
            if len(shown) == 1:
                omap.copy(1)
            else:
                omap.replace(len(shown), 1)
            i += 1
            j += 1
            continue
        return None
    return "".join(out), omap, j


_PUNCT: Final = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def align(content: str, src: str, start: int, limit: int) -> tuple[int, str, OffsetMap] | None:
    """Place rendered markdown text whose source spells it differently (``&amp;``, ``\\*``).

    Returns (source start, display text, map) for the first place at or after ``start`` where the
    source decodes to ``content``; None if there is none nearby.
    """
    if not content:
        return None
    tries = 0
    j = start
    first = content[0]
    while j < limit and tries < _MAX_ALIGN_STARTS:
        sc = src[j]
        if sc == first or sc in "&\\":
            tries += 1
            placed = _align_at(content, src, j, limit)
            if placed is not None:
                return j, placed[0], placed[1]
        j += 1
    return None
