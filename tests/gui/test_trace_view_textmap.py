"""Escaping, display-only line breaks and JSON re-indenting keep exact source offsets."""

from __future__ import annotations

import orjson
import pytest

from annotator.gui.trace_view.textmap import (
    LINE_LIMIT,
    OffsetMap,
    display_text,
    marker,
    pretty_json,
)


def test_clean_text_is_untouched() -> None:
    shown, omap = display_text("plain text\nwith lines")
    assert shown == "plain text\nwith lines"
    assert omap.pieces == 1
    assert [omap.to_src(i) for i in range(len(shown) + 1)] == list(range(len(shown) + 1))


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("a\u202eb", "a⟨U+202E⟩b"),
        ("nul\x00x", "nul␀x"),
        ("esc\x1b[31m", "esc␛[31m"),
        ("crlf\r\nnext", "crlf\nnext"),
        ("lone\rcr", "lone\ncr"),
        ("frame\ufdd0\ufdd1obj\ufffc", "frame⟨U+FDD0⟩⟨U+FDD1⟩obj⟨U+FFFC⟩"),
        ("lone\ud800surrogate", "lone⟨U+D800⟩surrogate"),
        ("del\x7f", "del\u2421"),
        ("zero\u200bwidth\ufeff", "zero⟨U+200B⟩width⟨U+FEFF⟩"),
        ("tag\U000e0041\U000e0042", "tag⟨U+E0041⟩⟨U+E0042⟩"),
        ("emoji \U0001f468\u200d\U0001f469 ok", "emoji \U0001f468\u200d\U0001f469 ok"),
    ],
)
def test_escapes(source: str, shown: str) -> None:
    out, omap = display_text(source)
    assert out == shown
    assert omap.doc_len == len(out)
    assert omap.src_len == len(source)
    # every display position maps into the source and selections round-trip through markers
    for d in range(len(out) + 1):
        assert 0 <= omap.to_src(d) <= omap.to_src(d, end=True) <= len(source)
    for s in range(len(source) + 1):
        d = omap.to_doc(s)
        assert omap.to_src(d) == s or source[s - 1 : s + 1] == "\r\n"


def test_selection_touching_a_marker_covers_the_character() -> None:
    out, omap = display_text("x\u202ey")
    m = marker("\u202e")
    inside = out.index(m) + 3
    assert omap.to_src(inside) == 1  # start inside the marker: include the character
    assert omap.to_src(inside, end=True) == 2  # end inside it: include it too
    assert omap.to_src(out.index(m), end=True) == 1  # ending just before it excludes it


def test_long_lines_are_split_for_display_only() -> None:
    words = "word " * 3000
    out, omap = display_text(words)
    assert out.replace("\n", "") == words
    assert max(len(line) for line in out.split("\n")) <= LINE_LIMIT
    assert out.count("\n") >= len(words) // LINE_LIMIT
    for d in range(0, len(out) + 1, 7):
        s = omap.to_src(d)
        if out[d : d + 1] != "\n":
            assert words[s : s + 1] == out[d : d + 1]
    blob = "x" * (LINE_LIMIT * 3 + 5)  # no spaces: hard breaks
    out, omap = display_text(blob)
    assert out.count("\n") == 3
    assert omap.to_src(len(out)) == len(blob)


def test_pretty_json_keeps_token_offsets() -> None:
    source = '{"a":[1,2,{}],"b" : {"c":"x, y: [z]"},"e":[],"n":null,"esc":"q\\"uote"}'
    result = pretty_json(source)
    assert result is not None
    shown, omap = result
    assert orjson.loads(shown) == orjson.loads(source)
    assert shown.startswith('{\n  "a": [\n    1,\n    2,\n    {}\n  ],\n  "b": {\n')
    for token in ('"x, y: [z]"', '"q\\"uote"', "null", '"e": []'):
        d = shown.index(token)
        s, e = omap.to_src(d), omap.to_src(d + len(token), end=True)
        if token == '"e": []':
            assert source[s:e] == '"e":[]'
        else:
            assert source[s:e] == token
    assert pretty_json("not json") is None
    assert pretty_json('"a string"') is None
    assert pretty_json('{"bidi": "\u202e"}') is None  # escaped as plain text instead


def test_offset_map_merges_copies() -> None:
    omap = OffsetMap()
    omap.copy(3)
    omap.copy(4)
    omap.replace(2, 0)
    omap.copy(1)
    assert omap.pieces == 3
    assert (omap.doc_len, omap.src_len) == (10, 8)
    assert omap.to_doc(7) == 9  # a start goes after an inserted break
    assert omap.to_doc(7, end=True) == 7  # an end stays before it
    assert omap.to_src(8) == 7 and omap.to_src(9) == 7


def test_align_decodes_entities_and_escapes() -> None:
    from annotator.gui.trace_view.textmap import align

    src = "**x** Tom &amp; Jerry \\*not bold\\* &#x202E;end"
    placed = align("Tom & Jerry *not bold* \u202eend", src, 5, len(src))
    assert placed is not None
    start, shown, omap = placed
    assert start == src.index("Tom")
    assert shown == "Tom & Jerry *not bold* ⟨U+202E⟩end"
    amp = shown.index("&")
    assert src[start + omap.to_src(amp) : start + omap.to_src(amp + 1, end=True)] == "&amp;"
    star = shown.index("*")
    assert src[start + omap.to_src(star) : start + omap.to_src(star + 1, end=True)] == "\\*"
    assert start + omap.src_len == len(src)
    assert align("absent text", src, 0, len(src)) is None


def test_long_lines_break_after_sentences_when_they_can() -> None:
    text = "A sentence of some length here. " * 300
    out, _ = display_text(text)
    lines = out.split("\n")
    assert len(lines) > 1
    assert all(line.endswith(". ") for line in lines[:-1])
