"""The trace view as a labeler uses it: structure, markdown, spans, find, collapse, hostile text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor, QTextDocument, QTextTable
from PySide6.QtNetwork import QNetworkAccessManager
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from annotator.domain.label import EvidenceSpan
from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn
from annotator.gui.trace_view import TraceView, samples
from annotator.gui.trace_view.render import COLLAPSED, EXPANDED

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[TraceView]:
    widget = TraceView()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget


def plain(view: TraceView) -> str:
    return view.browser.document().toPlainText()


def select(view: TraceView, start: int, end: int) -> None:
    cursor = QTextCursor(view.browser.document())
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    view.browser.setTextCursor(cursor)


def doc_pos(view: TraceView, needle: str, nth: int = 0) -> int:
    text = plain(view)
    pos = -1
    for _ in range(nth + 1):
        pos = text.index(needle, pos + 1)
    return pos


def test_structure_headings_reasoning_tools(view: TraceView) -> None:
    view.set_trace(samples.rich_trace())
    text = plain(view)
    # header
    for value in (
        "gpt-4o-2024-08-06",
        "acct_7f3a21",
        "sess_0192",
        "2025-03-14 09:26:53",
        "in 412 · out 1,260 · reasoning 845",
        "logs/2025-03-14.jsonl:1187",
        "openai_chat",
    ):
        assert value in text
    # role headings in order
    headings = [
        m.group(0)
        for m in re.finditer(r"^(System|User|Assistant|Tool · web_search)(?=   #)", text, re.M)
    ]
    assert headings == ["System", "User", "Assistant", "Tool · web_search", "Assistant"]
    # reasoning: labelled, with length; summary; truncated; redacted placeholder
    assert f"{EXPANDED} Reasoning · {len(samples.REASONING):,} chars" in text
    assert "Reasoning summary · 54 chars" in text
    assert "Reasoning · 49 chars · cut off: no closing tag" in text
    assert "Redacted reasoning — 18,432 characters of encrypted data, not shown" in text
    # tool call and result: pretty-printed JSON in monospace
    assert (
        'Tool call · web_search · call_01\n{\n  "query": "two sum hash map",\n  "limit": 3,' in text
    )
    assert '"filters": {\n    "lang": [\n      "py"\n    ]\n  }\n}' in text
    assert 'Tool result · web_search · call_01\n{\n  "results": [' in text
    cursor = QTextCursor(view.browser.document())
    cursor.setPosition(doc_pos(view, '"query"') + 1)
    assert cursor.charFormat().fontFixedPitch()


def test_reasoning_is_tinted_and_answers_are_not(view: TraceView) -> None:
    view.set_trace(samples.rich_trace())
    doc = view.browser.document()
    reasoning = doc.findBlock(doc_pos(view, "The user wants two_sum"))
    answer = doc.findBlock(doc_pos(view, "The function is"))
    assert reasoning.blockFormat().background().color() == view._styles.reasoning_bg
    assert answer.blockFormat().background().style() == Qt.BrushStyle.NoBrush


def test_markdown_formats(view: TraceView) -> None:
    view.set_trace(samples.rich_trace())
    doc = view.browser.document()
    tables = [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]
    assert len(tables) == 1
    table = tables[0]
    assert (table.rows(), table.columns()) == (3, 3)
    assert table.cellAt(1, 0).firstCursorPosition().block().text() == "nested loops"
    heading = doc.findBlock(doc_pos(view, "Plan\n"))
    assert heading.blockFormat().headingLevel() == 2
    cursor = QTextCursor(doc)
    cursor.setPosition(doc_pos(view, "def two_sum") + 1)
    assert cursor.charFormat().fontFixedPitch()
    cursor.setPosition(doc_pos(view, "O(1).") + 1)
    assert cursor.charFormat().fontFixedPitch()  # inline code
    cursor.setPosition(doc_pos(view, "quadratic") + 1)
    assert cursor.charFormat().fontWeight() >= 700
    assert cursor.block().text().startswith("The function is quadratic")  # no ** left
    cursor.setPosition(doc_pos(view, "Build an index") + 1)
    assert cursor.block().textList() is not None
    text = plain(view)
    assert "[diagram]" in text  # image as its alt text
    assert "http://example.com/d.png" not in text
    assert "the docs ⟨https://docs.python.org/3/⟩" in text  # link: text, address inert
    # no anchors anywhere: nothing can be clicked open
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            assert not it.fragment().charFormat().isAnchor()
            it += 1
        block = block.next()


def test_text_without_markdown_is_verbatim(view: TraceView) -> None:
    text = "line one\n  indented line two\n\n\n\nafter blank lines"
    trace = Trace(
        uid="t",
        turns=(Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=text),)),),
        meta=TraceMeta(source_format="x"),
    )
    view.set_trace(trace)
    assert text in plain(view)


def test_selection_on_reasoning_maps_to_exact_offsets(view: TraceView) -> None:
    trace = samples.rich_trace()
    view.set_trace(trace)
    source = samples.REASONING
    needle = "hash map from value to index"
    start = doc_pos(view, needle)
    select(view, start, start + len(needle))
    span = view.selected_span()
    assert span == EvidenceSpan(
        turn=2,
        block=0,
        start=source.index(needle),
        end=source.index(needle) + len(needle),
        text=needle,
    )
    # across a paragraph break inside the block
    a = doc_pos(view, "already seen.")
    b = doc_pos(view, "Edge cases") + len("Edge cases")
    select(view, a, b)
    span = view.selected_span()
    assert span is not None
    assert span.text == "already seen.\n\nEdge cases"
    assert source[span.start : span.end] == span.text


def test_selection_in_markdown_and_json_maps_back(view: TraceView) -> None:
    view.set_trace(samples.rich_trace())
    pos = doc_pos(view, "quadratic")
    select(view, pos, pos + len("quadratic because"))
    span = view.selected_span()
    assert span is not None
    assert (span.turn, span.block) == (4, 2)
    assert samples.ANSWER_MD[span.start : span.end] == "quadratic** because"
    pos = doc_pos(view, "nested loops")
    select(view, pos, pos + len("nested loops"))
    span = view.selected_span()
    assert span is not None
    assert samples.ANSWER_MD[span.start : span.end] == "nested loops"
    assert samples.ANSWER_MD.index("| nested loops") + 2 == span.start
    # re-indented JSON maps exactly onto the compact source
    call = samples.rich_trace().turns[2].blocks[1].text
    pos = doc_pos(view, '"limit": 3')
    select(view, pos, pos + len('"limit": 3'))
    span = view.selected_span()
    assert span is not None
    assert (span.turn, span.block) == (2, 1)
    assert call[span.start : span.end] == '"limit":3'


def test_selection_crossing_blocks_or_empty_is_none(view: TraceView) -> None:
    view.set_trace(samples.rich_trace())
    assert view.selected_span() is None
    a = doc_pos(view, "short table.")
    b = doc_pos(view, '"query"')
    select(view, a, b)
    assert view.selected_span() is None
    select(view, 0, 10)  # the header is not trace text
    assert view.selected_span() is None


def test_set_spans_highlights_and_click_emits(view: TraceView, qtbot: QtBot) -> None:
    trace = samples.rich_trace()
    view.set_trace(trace)
    src = samples.REASONING
    s = src.index("brute force")
    spans = [
        EvidenceSpan(turn=2, block=0, start=s, end=s + 11, text="brute force"),
        EvidenceSpan(
            turn=4,
            block=2,
            start=samples.ANSWER_MD.index("dictionary"),
            end=samples.ANSWER_MD.index("dictionary") + 10,
            text="dictionary",
        ),
    ]
    assert view.browser.extraSelections() == []
    view.set_spans(spans)
    sels = view.browser.extraSelections()
    assert [sel.cursor.selectedText() for sel in sels] == ["brute force", "dictionary"]
    assert sels[0].format.background().color() == view._styles.span_bg
    # clicking the highlighted passage reports its index
    cursor = QTextCursor(view.browser.document())
    cursor.setPosition(doc_pos(view, "brute force") + 3)
    view.browser.setTextCursor(cursor)
    view.browser.ensureCursorVisible()
    rect = view.browser.cursorRect(cursor)
    with qtbot.waitSignal(view.spanClicked, timeout=1000) as blocker:
        qtbot.mouseClick(
            view.browser.viewport(), Qt.MouseButton.LeftButton, pos=rect.center() + QPoint(2, 0)
        )
    assert blocker.args == [0]
    view.set_spans([])
    assert view.browser.extraSelections() == []


def test_scroll_to_span_moves_cursor_and_view(view: TraceView) -> None:
    trace = samples.sized_trace(100_000)
    view.set_trace(trace)
    t = len(trace.turns) - 2  # the last assistant reasoning... find one
    turn_index, block_index, block = next(
        (ti, bi, b) for ti, bi, b in reversed(trace.blocks()) if b.kind is BlockKind.REASONING
    )
    assert t > 0
    start = len(block.text) - 50
    span = EvidenceSpan(
        turn=turn_index,
        block=block_index,
        start=start,
        end=start + 20,
        text=block.text[start : start + 20],
    )
    assert view.browser.verticalScrollBar().value() == 0
    view.scroll_to_span(span)
    cursor = view.browser.textCursor()
    rng = view._map.doc_range(span)
    assert rng is not None
    assert cursor.position() == rng[0]
    assert plain(view)[rng[0] : rng[1]] == span.text
    assert view.browser.verticalScrollBar().value() > 0
    rect = view.browser.cursorRect(cursor)
    assert 0 <= rect.top() < view.browser.viewport().height()


def test_find_highlights_and_cycles(view: TraceView, qtbot: QtBot) -> None:
    view.set_trace(samples.rich_trace())
    view.show_find()
    assert view.find_bar.isVisible()
    qtbot.keyClicks(view.find_bar.edit, "HASH map")
    expected = [m.start() for m in re.finditer("hash map", plain(view), re.IGNORECASE)]
    assert len(expected) >= 4
    matches = view.find_matches()
    assert [a for a, _ in matches] == expected
    sels = view.browser.extraSelections()
    assert len(sels) == len(expected) + 1  # all matches, then the current one on top
    assert view.find_bar.count.text() == f"1 of {len(expected)}"
    first = view.current_match()
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return)
    assert view.current_match() == (first + 1) % len(expected)
    assert view.browser.textCursor().position() == matches[view.current_match()][0]
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert view.current_match() == first
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert view.current_match() == len(expected) - 1  # wraps around
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_F3)
    assert view.current_match() == first
    assert view.find_bar.count.text() == f"{first + 1} of {len(expected)}"
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Escape)
    assert not view.find_bar.isVisible()
    assert view.browser.extraSelections() == []


def test_ctrl_f_opens_find(view: TraceView, qtbot: QtBot) -> None:
    view.set_trace(samples.rich_trace())
    view.browser.setFocus()
    qtbot.keyClick(view.browser, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.find_bar.isVisible()
    assert view.find_bar.edit.hasFocus()
    assert view.find_text("zzz-not-there") == 0
    assert view.find_bar.count.text() == "no matches"


def test_find_shortcut_can_be_left_to_the_window(qtbot: QtBot) -> None:
    view = TraceView(find_shortcut=False)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.browser.setFocus()
    qtbot.keyClick(view.browser, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert not view.find_bar.isVisible()
    view.show_find()
    assert view.find_bar.isVisible()


def test_collapse_hides_reasoning(view: TraceView, qtbot: QtBot) -> None:
    view.set_trace(samples.rich_trace())
    doc = view.browser.document()
    height = doc.documentLayout().documentSize().height()
    body = doc.findBlock(doc_pos(view, "The user wants two_sum"))
    assert body.isVisible()
    view.set_collapsed_reasoning(True)
    assert not doc.findBlock(doc_pos(view, "The user wants two_sum")).isVisible()
    assert not doc.findBlock(doc_pos(view, "Summarised:")).isVisible()
    assert doc.findBlock(doc_pos(view, "The function is")).isVisible()  # answers stay
    assert f"{COLLAPSED} Reasoning · " in plain(view)
    assert doc.documentLayout().documentSize().height() < height
    # the setting carries over to the next trace
    view.set_trace(samples.rich_trace())
    doc = view.browser.document()
    assert not doc.findBlock(doc_pos(view, "The user wants two_sum")).isVisible()
    # clicking a heading expands just that block
    cursor = QTextCursor(doc)
    cursor.setPosition(doc_pos(view, f"{COLLAPSED} Reasoning · 398") + 4)
    rect = view.browser.cursorRect(cursor)
    qtbot.mouseClick(view.browser.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert doc.findBlock(doc_pos(view, "The user wants two_sum")).isVisible()
    assert not doc.findBlock(doc_pos(view, "Summarised:")).isVisible()
    # a span in a collapsed block expands it when scrolled to
    text = "the search confirms"
    s = "Summarised: the search confirms the hash map approach.".index(text)
    view.scroll_to_span(EvidenceSpan(turn=4, block=0, start=s, end=s + len(text), text=text))
    assert doc.findBlock(doc_pos(view, "Summarised:")).isVisible()
    view.set_collapsed_reasoning(False)
    assert doc.findBlock(doc_pos(view, "Now I should")).isVisible()


def _anchors(doc: QTextDocument) -> int:
    count = 0
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            count += it.fragment().charFormat().isAnchor()
            it += 1
        block = block.next()
    return count


def test_hostile_trace_is_inert(view: TraceView, qtbot: QtBot) -> None:
    view.set_trace(samples.hostile_trace())
    view.finish_rendering()
    qtbot.wait(50)
    view.browser.viewport().repaint()
    view.browser.verticalScrollBar().setValue(view.browser.verticalScrollBar().maximum())
    view.browser.viewport().repaint()
    text = plain(view)
    for literal in (
        '<img src="http://evil.example/pixel.png">',
        '<a href="file:///etc/passwd">passwd</a>',
        "<script>alert(1)</script>",
        "<style>body{display:none}</style>",
        "# Title <img src=x onerror=alert(1)>",
        '{\n  "html": "<img src=\\"http://evil.example/t.png\\">"\n}',
        "[" * 2000,
        "]" * 2000,
    ):
        assert literal in text, literal
    assert "ab⟨U+202E⟩cod.exe⟨U+202C⟩ ⟨U+2066⟩isolate⟨U+2069⟩" in text
    assert "nul␀byte" in text
    assert "smuggled⟨U+E0069⟩⟨U+E0067⟩tag" in text
    assert not view.browser.acceptDrops()
    for invisible in ("\u202e", "\u202c", "\u2066", "\x00", "\U000e0069"):
        assert invisible not in view.browser.document().toRawText()
    assert view.browser.resource_requests == []
    assert _anchors(view.browser.document()) == 0
    assert view.findChildren(QNetworkAccessManager) == []
    app = QApplication.instance()
    assert app is not None
    assert app.findChildren(QNetworkAccessManager) == []
    # the hostile reasoning still maps exactly: a selection over a marker covers the character
    source = samples.HOSTILE_TEXT
    pos = doc_pos(view, "ab⟨U+202E⟩cod", nth=1)
    select(view, pos, pos + len("ab⟨U+2"))
    span = view.selected_span()
    assert span is not None
    assert (span.turn, span.block) == (1, 0)
    assert span.text == "ab\u202e"
    assert span.start == source.index("ab\u202e")


def test_resource_recorder_catches_a_load(view: TraceView, qtbot: QtBot) -> None:
    """Control for the hostile test: an image in the document does reach loadResource."""
    view.set_trace(samples.rich_trace())
    cursor = QTextCursor(view.browser.document())
    cursor.insertImage("http://evil.example/control.png")
    view.browser.viewport().repaint()
    qtbot.wait(10)
    assert any("control.png" in url for _, url in view.browser.resource_requests)
    before = len(view.browser.resource_requests)
    view.browser.setSource("file:///etc/passwd")  # navigation is refused and recorded
    assert len(view.browser.resource_requests) == before + 1
    assert "passwd" not in plain(view)


def test_one_megabyte_single_line_opens(view: TraceView, qtbot: QtBot) -> None:
    trace = samples.sized_trace(1_000_000, single_line=True)
    text = trace.turns[1].blocks[0].text
    assert "\n" not in text and len(text) == 1_000_000
    view.set_trace(trace)
    assert not view.rendering_done()  # the first part is shown, the rest follows in idle time
    first = view.browser.document().characterCount()
    assert 40_000 < first < 100_000
    qtbot.waitUntil(view.rendering_done, timeout=10_000)
    doc = view.browser.document()
    assert doc.characterCount() > 1_000_000
    assert doc.blockCount() > 400  # split for display
    # a selection across a display-only break maps to one contiguous source range
    rb = view._map.get(1, 0)
    assert rb is not None
    omap = rb.segments[0].omap
    assert omap is not None
    cut = omap.to_doc(5000)
    select(view, cut - 30, cut + 30)
    span = view.selected_span()
    assert span is not None
    assert span.end - span.start in (59, 60)
    assert text[span.start : span.end] == span.text
    assert "\n" not in span.text
    view.scroll_to_span(
        EvidenceSpan(turn=1, block=0, start=999_000, end=999_100, text=text[999_000:999_100])
    )
    assert view.browser.textCursor().block().text() in plain(view)


def test_empty_view_and_palette_change(view: TraceView) -> None:
    view.set_trace(None)
    assert plain(view) == ""
    assert view.selected_span() is None
    view.set_trace(samples.rich_trace())
    old = view._styles.reasoning_bg
    from annotator.gui.trace_view.__main__ import dark_palette

    view.setPalette(dark_palette())
    assert view._styles.reasoning_bg != old
    doc = view.browser.document()
    body = doc.findBlock(doc_pos(view, "The user wants two_sum"))
    assert body.blockFormat().background().color() == view._styles.reasoning_bg
    assert view._styles.reasoning_bg.lightness() < 100  # a dark tint on a dark base


def test_prefetch_fills_the_markdown_cache(view: TraceView, qtbot: QtBot) -> None:
    from annotator.gui.trace_view import markdown

    unique = samples.ANSWER_MD + "\n\n*prefetch-marker-1*\n"
    trace = Trace(
        uid="p",
        turns=(Turn(role=Role.ASSISTANT, blocks=(Block(kind=BlockKind.TEXT, text=unique),)),),
        meta=TraceMeta(source_format="x"),
    )
    assert markdown.cached_tokens(unique) is None
    view.prefetch(trace)
    qtbot.waitUntil(lambda: markdown.cached_tokens(unique) is not None, timeout=2000)


def markdown_budget() -> int:
    from annotator.gui.trace_view.render import MARKDOWN_BUDGET

    return MARKDOWN_BUDGET


def test_markdown_over_budget_is_upgraded_in_idle_time(view: TraceView, qtbot: QtBot) -> None:
    from annotator.gui.trace_view import markdown

    blocks = []
    for n in range(4):
        body = "\n\n".join(
            f"### Part {n}.{i}\n\nSome **bold** text and `code` number {n}-{i}.\n\n| a | b |\n|---|---|\n| {n} | {i} |"
            for i in range(100)
        )
        assert markdown.markdown_candidate(body)
        assert markdown.cost(body) > markdown_budget() // 2
        blocks.append(Block(kind=BlockKind.TEXT, text=body))
    reasoning = Block(kind=BlockKind.REASONING, text="thinking " * 50)
    trace = Trace(
        uid="budget",
        turns=(Turn(role=Role.ASSISTANT, blocks=(reasoning, *blocks)),),
        meta=TraceMeta(source_format="x"),
    )
    view.set_trace(trace)
    assert view.deferred_markdown >= 1
    assert "### Part 3.0" in plain(view)  # shown verbatim for now
    # the labeler collapses the reasoning, selects and scrolls meanwhile
    view._set_block_collapsed(view._map.blocks[0], True)
    pos = doc_pos(view, "number 1-5.")
    select(view, pos, pos + len("number 1-5"))
    before = view.selected_span()
    assert before is not None
    qtbot.waitUntil(lambda: view.deferred_markdown == 0, timeout=10_000)
    text = plain(view)
    assert "### Part" not in text
    tables = [
        f for f in view.browser.document().rootFrame().childFrames() if isinstance(f, QTextTable)
    ]
    assert len(tables) == 400
    assert view._map.blocks[0].collapsed
    assert not view.browser.document().findBlock(doc_pos(view, "thinking")).isVisible()
    assert view.selected_span() == before


def test_pointing_hand_over_reasoning_headings(view: TraceView, qtbot: QtBot) -> None:
    view.set_trace(samples.rich_trace())
    viewport = view.browser.viewport()

    def at(needle: str) -> QPoint:
        rect = view.browser.cursorRect(view._cursor_at(doc_pos(view, needle) + 2))
        return rect.center()

    qtbot.mouseMove(viewport, at("Reasoning · 398"))
    qtbot.waitUntil(lambda: viewport.cursor().shape() == Qt.CursorShape.PointingHandCursor)
    qtbot.mouseMove(viewport, at("The user wants"))
    qtbot.waitUntil(lambda: viewport.cursor().shape() == Qt.CursorShape.IBeamCursor)


def test_big_tables_and_dense_markdown_stay_cheap(view: TraceView) -> None:
    from annotator.gui.trace_view import markdown

    rows = "".join(f"| {i} | v{i} | w{i} |\n" for i in range(200))
    text = "## Results\n\nIntro *text*.\n\n| n | v | w |\n|---|---|---|\n" + rows + "\nAfter."
    trace = Trace(
        uid="tables",
        turns=(Turn(role=Role.ASSISTANT, blocks=(Block(kind=BlockKind.TEXT, text=text),)),),
        meta=TraceMeta(source_format="x"),
    )
    view.set_trace(trace)
    doc = view.browser.document()
    assert not [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]
    assert "| 150 | v150 | w150 |" in plain(view)  # the table's own lines, monospace
    heading = doc.findBlock(doc_pos(view, "Results"))
    assert heading.blockFormat().headingLevel() == 2  # the rest is still markdown
    pos = doc_pos(view, "v150 | w150")
    select(view, pos, pos + len("v150 | w150"))
    span = view.selected_span()
    assert span is not None
    assert text[span.start : span.end] == "v150 | w150"
    cursor = QTextCursor(doc)
    cursor.setPosition(pos + 1)
    assert cursor.charFormat().fontFixedPitch()
    # thousands of one-line constructs: shown verbatim rather than parsed
    assert not markdown.markdown_candidate("# h\n" * 5000)
    assert not markdown.markdown_candidate("[" * 5000 + "]" * 5000)
    assert markdown.markdown_candidate(samples.ANSWER_MD)


def test_find_on_a_long_trace_waits_for_a_typing_pause(view: TraceView, qtbot: QtBot) -> None:
    from annotator.gui.trace_view.highlight import MAX_FIND_HIGHLIGHTS

    view.set_trace(samples.sized_trace(300_000))
    view.show_find()
    qtbot.keyClicks(view.find_bar.edit, "the")
    assert view.find_matches() == []  # not yet: typing may go on
    qtbot.waitUntil(lambda: len(view.find_matches()) > MAX_FIND_HIGHLIGHTS, timeout=3000)
    total = len(view.find_matches())
    # Painted near the current match (the highlights land a moment after the matches).
    qtbot.waitUntil(
        lambda: len(view.browser.extraSelections()) == MAX_FIND_HIGHLIGHTS + 1, timeout=3000
    )
    assert view.find_bar.count.text() == f"1 of {total:,}"
    qtbot.keyClicks(view.find_bar.edit, " model")
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return)  # Enter searches at once
    assert 0 < len(view.find_matches()) < total
    assert view.current_match() == 0


def test_markdown_selection_with_unplaced_runs_still_maps(view: TraceView) -> None:
    text = (
        "Intro with &amp; entity and *emphasis* here.\n\n- item one\n- item &lt;two&gt; end\n\n"
        "Escaped \\*stars\\* and a hidden &#x202E;override.\n"
    )
    trace = Trace(
        uid="entities",
        turns=(Turn(role=Role.ASSISTANT, blocks=(Block(kind=BlockKind.TEXT, text=text),)),),
        meta=TraceMeta(source_format="x"),
    )
    view.set_trace(trace)
    shown = plain(view)
    assert "Intro with & entity and emphasis here." in shown
    assert "Escaped *stars* and a hidden ⟨U+202E⟩override." in shown  # decoded, still escaped
    assert "\u202e" not in view.browser.document().toRawText()
    # entities and backslash escapes are aligned with their source: exact offsets
    pos = doc_pos(view, "& entity")
    select(view, pos, pos + len("& entity and emph"))
    span = view.selected_span()
    assert span is not None
    assert span.text == "&amp; entity and *emph"
    pos = doc_pos(view, "*stars*")
    select(view, pos + 1, pos + len("*stars*"))
    span = view.selected_span()
    assert span is not None
    assert span.text == "stars\\*"
    pos = doc_pos(view, "item <two> end")
    select(view, pos, pos + len("item <two> end"))
    span = view.selected_span()
    assert span is not None
    assert span.text == "item &lt;two&gt; end"


def test_find_stays_open_across_traces(view: TraceView, qtbot: QtBot) -> None:
    view.set_trace(samples.rich_trace())
    view.show_find()
    qtbot.keyClicks(view.find_bar.edit, "hash map")
    n = len(view.find_matches())
    view.set_trace(samples.rich_trace())  # the next trace: highlights kept, view at its top
    assert len(view.find_matches()) == n
    assert view.current_match() == -1
    assert view.find_bar.count.text() == f"{n} matches"
    assert view.browser.verticalScrollBar().value() == 0
    assert len(view.browser.extraSelections()) == n
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert view.current_match() == n - 1


def test_long_trace_is_written_in_steps_and_everything_waits_for_it(
    view: TraceView, qtbot: QtBot
) -> None:
    trace = samples.sized_trace(1_000_000)
    last_turn, last_block, block = next(
        (t, b, blk) for t, b, blk in reversed(trace.blocks()) if blk.kind is BlockKind.REASONING
    )
    span = EvidenceSpan(turn=last_turn, block=last_block, start=10, end=30, text=block.text[10:30])
    view.set_trace(trace, spans=[span])
    assert not view.rendering_done()
    assert view._map.get(last_turn, last_block) is None  # not written yet
    qtbot.waitUntil(view.rendering_done, timeout=10_000)
    sels = view.browser.extraSelections()
    assert [s.cursor.selectedText() for s in sels] == [block.text[10:30]]  # highlighted once there
    # operations that need the whole trace finish it first
    view.set_trace(trace)
    assert not view.rendering_done()
    assert view.find_text("verify each") == len(
        re.findall("verify each", "\n".join(b.text for _, _, b in trace.blocks()), re.IGNORECASE)
    )
    assert view.rendering_done()
    view.set_trace(trace)
    view.scroll_to_span(span)
    assert view.rendering_done()
    assert plain(view)[view.browser.textCursor().position() :].startswith(span.text)
    view.set_trace(trace)
    view.set_collapsed_reasoning(True)
    assert view.rendering_done()
    assert all(rb.collapsed for rb in view._map.blocks if rb.collapsible)
    view.set_collapsed_reasoning(False)
