"""The trace view on real traces from the shared corpus: every block renders and maps back."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pytest
from PySide6.QtGui import QTextCursor
from pytestqt.qtbot import QtBot

from annotator.domain.trace import BlockKind, Trace
from annotator.formats.reading import read_file
from annotator.gui.trace_view import TraceView

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]

PER_FILE = 4


def corpus_traces(corpus_dir: Path) -> Iterator[tuple[str, Trace]]:
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
        traces: list[Trace] = []
        for item in read_file(path):
            if isinstance(item, tuple):
                traces.extend(item[1])
            if len(traces) >= PER_FILE:
                break
        for trace in islice(traces, PER_FILE):
            yield path.name, trace


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[TraceView]:
    widget = TraceView()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget


def test_corpus_traces_render_and_map_back(view: TraceView, corpus_dir: Path) -> None:
    seen_files: set[str] = set()
    kinds: set[BlockKind] = set()
    for name, trace in corpus_traces(corpus_dir):
        seen_files.add(name)
        view.set_trace(trace)
        text = view.browser.document().toPlainText()
        for rb in view._map.blocks:
            block = rb.block
            kinds.add(block.kind)
            if block.kind is BlockKind.REDACTED_REASONING or not block.text.strip():
                continue
            # select the whole body as a labeler would, and map it back to the source
            cursor = QTextCursor(view.browser.document())
            cursor.setPosition(rb.segments[0].start)
            cursor.setPosition(rb.segments[-1].end, QTextCursor.MoveMode.KeepAnchor)
            view.browser.setTextCursor(cursor)
            span = view.selected_span()
            assert span is not None, (name, rb.turn, rb.index)
            assert (span.turn, span.block) == (rb.turn, rb.index)
            assert block.text[span.start : span.end] == span.text
            if not rb.markdown:
                assert span.text == block.text, (name, rb.turn, rb.index)
                assert (span.start, span.end) == (0, len(block.text))
        assert view.browser.resource_requests == []
        assert trace.meta.source_format in text
    assert len(seen_files) >= 4
    assert {BlockKind.TEXT, BlockKind.REASONING} <= kinds
