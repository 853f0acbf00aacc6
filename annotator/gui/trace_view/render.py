"""Build the trace document and the map from document positions back to trace blocks.

The document is written with QTextCursor only (no HTML): a header with the trace's metadata, then
each turn under a role heading, then each block. Reasoning gets a tinted, clickable heading
(``▾ Reasoning · 12,345 chars``) and a tinted body that can be hidden (QTextBlock.setVisible, so
collapsing never rebuilds the document or moves positions); redacted reasoning is one labelled
placeholder line; tool calls and results are monospace, JSON re-indented.

Source mapping, which :meth:`RenderMap.selection_to_span` and :meth:`RenderMap.doc_range` rely on:

* Plain-inserted blocks (reasoning, tool JSON, long text, text without markdown) map exactly, through
  an :class:`~annotator.gui.trace_view.textmap.OffsetMap` per run, whatever was escaped, split or
  re-indented for display.
* Markdown-rendered blocks map exactly for every inline text run found in the source (nearly all);
  a selection that starts or ends in a run that could not be placed (entities, backslash escapes)
  is mapped by searching the selected text in the block's source, taking the occurrence nearest to
  the expected position.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from markdown_it.token import Token
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)

from annotator.domain.label import EvidenceSpan
from annotator.domain.trace import Block, BlockKind, Role, Trace
from annotator.gui.trace_view import markdown
from annotator.gui.trace_view.styles import Styles, set_margins
from annotator.gui.trace_view.textmap import Segment, display_text, pretty_json

SLICE: Final = 32_000
"""Characters per insertText call of a long block, so a step can stop inside it."""
MARKDOWN_BUDGET: Final = 48_000
"""Characters of not-yet-parsed markdown rendered per trace; the rest shows as plain text.

markdown-it-py parses about 1 ms per KB, so this keeps a cold 1 MB trace under the 300 ms target;
:meth:`TraceView.prefetch` parses the next trace ahead so cached blocks do not count."""

MAX_MARKED: Final = 5000
"""Escaped characters per block drawn in the warning style (the rest are still escaped)."""
ROLE_TITLES: Final = {
    Role.SYSTEM: "System",
    Role.USER: "User",
    Role.ASSISTANT: "Assistant",
    Role.TOOL: "Tool",
}
EXPANDED: Final = "▾"
COLLAPSED: Final = "▸"
TRUNCATED_NOTE: Final = "cut off: no closing tag"


def redacted_text(block: Block) -> str:
    return (
        f"Redacted reasoning — {block.opaque_chars:,} characters of encrypted data, not shown"
        if block.opaque_chars
        else "Redacted reasoning — encrypted data, not shown"
    )


def reasoning_title(block: Block) -> str:
    title = "Reasoning summary" if block.summary else "Reasoning"
    parts = [f"{title} · {len(block.text):,} chars"]
    if block.truncated:
        parts.append(TRUNCATED_NOTE)
    return " · ".join(parts)


@dataclass
class RenderedBlock:
    """Where one trace block sits in the document."""

    turn: int
    index: int
    block: Block
    start: int
    end: int = 0
    body_start: int = 0
    body_end: int = 0
    heading: tuple[int, int] | None = None
    """Clickable heading range (reasoning): a click toggles the body."""
    segments: list[Segment] = field(default_factory=list)
    collapsible: bool = False
    collapsed: bool = False
    markdown: bool = False

    @property
    def source(self) -> str:
        return self.block.text

    def segment_at(self, pos: int) -> Segment | None:
        for seg in self.segments:
            if seg.start <= pos < seg.end:
                return seg
        return None

    def exact_start(self, pos: int) -> int | None:
        """Source offset of a selection starting at ``pos`` (first run at or after it)."""
        for seg in self.segments:
            if pos < seg.end:
                if seg.omap is None:
                    return None
                return seg.to_src(max(pos, seg.start))
        return None

    def exact_end(self, pos: int) -> int | None:
        """Source offset of a selection ending (exclusive) at ``pos`` (last run before it)."""
        for seg in reversed(self.segments):
            if pos > seg.start:
                if seg.omap is None:
                    return None
                return seg.to_src(min(pos, seg.end), end=True)
        return None


class RenderMap:
    """Document positions -> trace blocks and source offsets (and back)."""

    def __init__(self, blocks: list[RenderedBlock]) -> None:
        self.blocks = blocks
        self._starts = [b.start for b in blocks]
        self._by_key = {(b.turn, b.index): b for b in blocks}

    def add(self, rb: RenderedBlock) -> None:
        """Append a block written after all the others."""
        self.blocks.append(rb)
        self._starts.append(rb.start)
        self._by_key[(rb.turn, rb.index)] = rb

    def block_at(self, pos: int) -> RenderedBlock | None:
        i = bisect_right(self._starts, pos) - 1
        if i >= 0 and pos < self.blocks[i].end:
            return self.blocks[i]
        return None

    def get(self, turn: int, index: int) -> RenderedBlock | None:
        return self._by_key.get((turn, index))

    def heading_at(self, pos: int) -> RenderedBlock | None:
        rb = self.block_at(pos)
        if rb is not None and rb.heading is not None and rb.heading[0] <= pos <= rb.heading[1]:
            return rb
        return None

    def selection_to_span(self, start: int, end: int, selected: str) -> EvidenceSpan | None:
        """The evidence span for document selection ``[start, end)``; None if it crosses blocks."""
        if end <= start:
            return None
        rb = self.block_at(start)
        last = self.block_at(end - 1)
        if rb is None or last is not rb or not rb.segments:
            return None
        src = rb.source
        s = rb.exact_start(start)
        e = rb.exact_end(end)
        if s is None or e is None:
            found = _search_near(src, _normalise(selected), rb, start, end)
            if found is None:
                found = _nearest_exact(rb, start, end)
            if found is None:
                return None
            s, e = found
        if e <= s:
            return None
        return EvidenceSpan(turn=rb.turn, block=rb.index, start=s, end=e, text=src[s:e])

    def position_of(self, turn: int, index: int, src: int) -> int | None:
        """Document position showing source offset ``src`` of a block (exact runs only)."""
        rb = self.get(turn, index)
        if rb is None:
            return None
        for seg in rb.segments:
            if seg.omap is not None and seg.src_start <= src < seg.src_end():
                return seg.to_doc(src)
        return None

    def doc_range(self, span: EvidenceSpan) -> tuple[int, int] | None:
        """Document range showing ``span`` (None if its block is not shown)."""
        rb = self.get(span.turn, span.block)
        if rb is None or not rb.segments:
            return None
        start = end = None
        for seg in rb.segments:
            if seg.omap is None:
                continue
            if start is None and span.start < seg.src_end():
                start = seg.to_doc(max(span.start, seg.src_start))
            if span.end > seg.src_start:
                end = seg.to_doc(min(span.end, seg.src_end()), end=True)
        if start is not None and end is not None and end > start:
            return start, end
        return _find_rendered(rb, span)


def _normalise(selected: str) -> str:
    return selected.replace("\u2029", "\n").replace("\u2028", "\n")


def _search_near(
    src: str, needle: str, rb: RenderedBlock, start: int, end: int
) -> tuple[int, int] | None:
    """Find ``needle`` in the block source, nearest to where the selection's runs point."""
    hint = 0
    for seg in rb.segments:
        if seg.end > start:
            hint = seg.src_start
            break
    candidates = [needle, needle.strip()]
    for cand in candidates:
        if not cand:
            continue
        best = None
        pos = src.find(cand)
        while pos >= 0:
            if best is None or abs(pos - hint) < abs(best - hint):
                best = pos
            if pos > hint:
                break
            pos = src.find(cand, pos + 1)
        if best is not None:
            return best, best + len(cand)
    return None


def _nearest_exact(rb: RenderedBlock, start: int, end: int) -> tuple[int, int] | None:
    """The source range between the first and last exactly placed runs inside the selection."""
    inside = [
        seg for seg in rb.segments if seg.omap is not None and seg.end > start and seg.start < end
    ]
    if not inside:
        return None
    s = inside[0].to_src(max(start, inside[0].start))
    e = inside[-1].to_src(min(end, inside[-1].end), end=True)
    return (s, e) if e > s else None


def _find_rendered(rb: RenderedBlock, span: EvidenceSpan) -> tuple[int, int] | None:
    """Approximate: the run whose source hint is nearest the span start."""
    best: Segment | None = None
    for seg in rb.segments:
        if seg.src_start <= span.start:
            best = seg
    if best is None:
        best = rb.segments[0]
    last = best
    for seg in rb.segments:
        if seg.start >= best.start and seg.src_start < span.end:
            last = seg
    return best.start, max(last.end, best.start + 1)


def body_blocks(doc: QTextDocument, rb: RenderedBlock) -> Iterator[QTextBlock]:
    block = doc.findBlock(rb.body_start)
    while block.isValid() and block.position() < rb.end:
        yield block
        block = block.next()


class DocumentBuilder:
    """Writes a trace into an empty QTextDocument; :meth:`build` returns the position map."""

    def __init__(
        self,
        doc: QTextDocument,
        styles: Styles,
        *,
        collapsed: bool,
        overrides: dict[tuple[int, int], bool] | None = None,
        markdown_budget: int = MARKDOWN_BUDGET,
    ) -> None:
        self.doc = doc
        self.st = styles
        self.collapsed = collapsed
        self.overrides = overrides or {}
        """Per-block collapse state (turn, block) that wins over ``collapsed``."""
        self.c = QTextCursor(doc)
        self._first = True
        self.markdown_budget = markdown_budget
        self.deferred: list[str] = []
        """Markdown texts shown plain because the budget ran out (parse them, then rebuild)."""
        self.map = RenderMap([])
        """Blocks written so far (all of them once :meth:`resume` returns True)."""
        self.written = 0
        self.quota = 1 << 62
        self._steps: Iterator[None] | None = None

    # ---- formats -----------------------------------------------------------------------------

    def _char(
        self,
        color: QColor | None = None,
        *,
        bold: bool = False,
        italic: bool = False,
        scale: float = 1.0,
        mono: bool = False,
    ) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setForeground(QBrush(color if color is not None else self.st.text))
        if bold:
            fmt.setFontWeight(QFont.Weight.Bold)
        if italic:
            fmt.setFontItalic(True)
        size = self.st.font.pointSizeF()
        if scale != 1.0 and size > 0:
            fmt.setFontPointSize(size * scale)
        if mono:
            fmt.setFontFamilies([self.st.mono.family()])
            fmt.setFontFixedPitch(True)
            fmt.setFontStyleHint(QFont.StyleHint.Monospace)
            if self.st.mono.pointSizeF() > 0:
                fmt.setFontPointSize(self.st.mono.pointSizeF())
        return fmt

    def _block_fmt(
        self, bg: QColor | None = None, *, top: float = 0, bottom: float = 0, indent: float = 0
    ) -> QTextBlockFormat:
        fmt = QTextBlockFormat()
        if bg is not None:
            fmt.setBackground(QBrush(bg))
        fmt.setTopMargin(top)
        fmt.setBottomMargin(bottom)
        fmt.setLeftMargin(indent)
        return fmt

    def _block(self, fmt: QTextBlockFormat, char: QTextCharFormat) -> None:
        if self._first:
            self.c.setBlockFormat(fmt)
            self.c.setBlockCharFormat(char)
            self._first = False
        else:
            self.c.insertBlock(fmt, char)

    def _line(self, fmt: QTextBlockFormat, parts: list[tuple[str, QTextCharFormat]]) -> None:
        self._block(fmt, parts[0][1] if parts else QTextCharFormat())
        for text, char in parts:
            self.c.insertText(display_text(text, split_lines=False)[0], char)

    # ---- header ------------------------------------------------------------------------------

    def header(self, trace: Trace) -> None:
        meta = trace.meta
        label = self._char(self.st.muted)
        value = self._char()
        fmt = self._block_fmt(self.st.header_bg, bottom=0)
        fmt.setLeftMargin(0)
        title = [(meta.model or "unknown model", self._char(bold=True, scale=1.2))]
        title.append((f"   {meta.source_format}", self._char(self.st.muted)))
        self._line(self._block_fmt(self.st.header_bg), title)

        def pairs(items: list[tuple[str, str | None]]) -> list[tuple[str, QTextCharFormat]]:
            out: list[tuple[str, QTextCharFormat]] = []
            for name, val in items:
                if val is None or val == "":
                    continue
                if out:
                    out.append(("     ", value))
                out.append((f"{name} ", label))
                out.append((val, value))
            return out

        when = meta.created_at.isoformat(sep=" ", timespec="seconds") if meta.created_at else None
        row1 = pairs([("Account", meta.account_id), ("Session", meta.session_id), ("Time", when)])
        if row1:
            self._line(fmt, row1)

        def num(n: int | None) -> str:
            return "–" if n is None else f"{n:,}"

        tokens = f"in {num(meta.input_tokens)} · out {num(meta.output_tokens)} · reasoning {num(meta.reasoning_tokens)}"
        source = meta.source_file
        if source and meta.source_line is not None:
            source = f"{source}:{meta.source_line}"
        counts = (meta.input_tokens, meta.output_tokens, meta.reasoning_tokens)
        has_counts = any(n is not None for n in counts)
        row2 = pairs([("Tokens", tokens if has_counts else None), ("Source", source)])
        if row2:
            self._line(fmt, row2)
        self._line(
            self._block_fmt(self.st.header_bg, bottom=6),
            pairs([("Trace", trace.uid)]),
        )

    # ---- turns and blocks ---------------------------------------------------------------------

    def turn_heading(self, index: int, role: Role, name: str | None) -> None:
        color = self.st.roles[role]
        title = ROLE_TITLES[role]
        if name:
            title = f"{title} · {name}"
        self._line(
            self._block_fmt(top=14, bottom=4),
            [
                (title, self._char(color, bold=True, scale=1.15)),
                (f"   #{index + 1}", self._char(self.st.muted, scale=0.9)),
            ],
        )

    def _plain_body(
        self, rb: RenderedBlock, fmt: QTextBlockFormat, char: QTextCharFormat, pretty: bool = False
    ) -> Iterator[None]:
        """Insert a block's display text in slices, yielding when the step's quota is used."""
        text = rb.block.text
        shown_map = pretty_json(text) if pretty else None
        shown, omap = shown_map if shown_map is not None else display_text(text)
        top, bottom = fmt.topMargin(), fmt.bottomMargin()
        fmt = QTextBlockFormat(fmt)
        fmt.setTopMargin(0)
        fmt.setBottomMargin(0)
        self._block(fmt, char)
        rb.body_start = self.c.position()
        pos = 0
        while pos < len(shown):
            piece = shown[pos : pos + SLICE]
            self.c.insertText(piece, char)
            pos += len(piece)
            self.written += len(piece)
            if pos < len(shown) and self.written >= self.quota:
                yield
        rb.segments.append(Segment(rb.body_start, self.c.position(), 0, omap))
        set_margins(self.doc, rb.body_start, self.c.position(), top, bottom)
        if omap.markers:
            self._mark(rb.body_start, omap.markers)

    def _mark(self, base: int, markers: list[tuple[int, int]]) -> None:
        """Make escaped characters stand out: they are what a hostile trace hides."""
        fmt = QTextCharFormat()
        fmt.setForeground(QBrush(self.st.warning))
        fmt.setBackground(QBrush(self.st.code_bg))
        cursor = QTextCursor(self.doc)
        for offset, length in markers[:MAX_MARKED]:
            cursor.setPosition(base + offset)
            cursor.setPosition(base + offset + length, QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(fmt)

    def _markdown_body(self, rb: RenderedBlock, tokens: list[Token]) -> None:
        fmt = self._block_fmt(bottom=0)
        char = self._char()
        self._block(fmt, char)
        rb.body_start = self.c.position()
        writer = markdown.MarkdownWriter(self.c, self.st, rb.block.text, fmt, char)
        rb.segments.extend(writer.write(tokens))
        rb.markdown = True
        self.written += len(rb.block.text)
        if rb.index > 0:  # air between a tinted reasoning/tool block and the answer
            set_margins(self.doc, rb.body_start, rb.body_start, 6, 0)

    def text_block(self, rb: RenderedBlock) -> Iterator[None]:
        text = rb.block.text
        tokens = None
        if markdown.markdown_candidate(text):
            tokens = markdown.cached_tokens(text)
            if tokens is None and markdown.cost(text) <= self.markdown_budget:
                self.markdown_budget -= markdown.cost(text)
                tokens = markdown.parse(text)
            elif tokens is None:
                self.deferred.append(text)
        if tokens is not None and not markdown.is_trivial(tokens):
            self._markdown_body(rb, tokens)
        else:
            top = 6 if rb.index > 0 else 0
            yield from self._plain_body(rb, self._block_fmt(top=top, bottom=4), self._char())

    def reasoning_block(self, rb: RenderedBlock) -> Iterator[None]:
        block = rb.block
        head = self._block_fmt(self.st.reasoning_head_bg, top=4)
        head.setLeftMargin(0)
        self._block(head, self._char())
        hstart = self.c.position()
        collapsed = self.overrides.get((rb.turn, rb.index), self.collapsed)
        arrow = COLLAPSED if collapsed else EXPANDED
        self.c.insertText(f"{arrow} ", self._char(self.st.muted, bold=True))
        title = "Reasoning summary" if block.summary else "Reasoning"
        self.c.insertText(title, self._char(bold=True))
        self.c.insertText(f" · {len(block.text):,} chars", self._char(self.st.muted))
        if block.truncated:
            self.c.insertText(f" · {TRUNCATED_NOTE}", self._char(self.st.warning, bold=True))
        rb.heading = (hstart, self.c.position())
        body = self._block_fmt(self.st.reasoning_bg, bottom=0)
        yield from self._plain_body(rb, body, self._char())
        if block.truncated:
            note = self._block_fmt(self.st.reasoning_bg, bottom=4)
            self._line(
                note,
                [
                    (
                        f"⚠ {TRUNCATED_NOTE} (the reasoning ends here)",
                        self._char(self.st.warning, italic=True),
                    )
                ],
            )
        rb.collapsible = True
        rb.collapsed = collapsed

    def redacted_block(self, rb: RenderedBlock) -> None:
        self._line(
            self._block_fmt(self.st.redacted_bg, top=4, bottom=4),
            [(redacted_text(rb.block), self._char(self.st.muted, italic=True))],
        )
        rb.body_start = self.c.position()

    def tool_block(self, rb: RenderedBlock) -> Iterator[None]:
        block = rb.block
        kind = "Tool call" if block.kind is BlockKind.TOOL_CALL else "Tool result"
        parts = [(kind, self._char(self.st.roles[Role.TOOL], bold=True))]
        if block.tool_name:
            parts.append((f" · {block.tool_name}", self._char(bold=True)))
        if block.tool_call_id:
            parts.append((f" · {block.tool_call_id}", self._char(self.st.muted)))
        self._line(self._block_fmt(self.st.tool_bg, top=4), parts)
        body = self._block_fmt(self.st.tool_bg, bottom=4)
        yield from self._plain_body(rb, body, self._char(mono=True), pretty=True)

    def build(self, trace: Trace) -> RenderMap:
        """Write the whole trace at once."""
        self.start(trace, 1 << 62)
        while not self.resume(1 << 62):
            pass
        return self.map

    def start(self, trace: Trace, quota: int) -> bool:
        """Write the header and about ``quota`` characters of the trace; True if that was all."""
        self._steps = self._run(trace)
        return self.resume(quota)

    def resume(self, quota: int) -> bool:
        """Write about ``quota`` more characters; True once the whole trace is written."""
        if self._steps is None:
            return True
        self.written = 0
        self.quota = quota
        try:
            next(self._steps)
        except StopIteration:
            self._steps = None
            return True
        return False

    def _run(self, trace: Trace) -> Iterator[None]:
        self.header(trace)
        for t, turn in enumerate(trace.turns):
            name = turn.name
            if turn.role is Role.TOOL and not name:
                name = next((b.tool_name for b in turn.blocks if b.tool_name), None)
            self.turn_heading(t, turn.role, name)
            for b, block in enumerate(turn.blocks):
                if block.kind is BlockKind.TEXT and not block.text:
                    continue
                rb = RenderedBlock(t, b, block, start=self.c.position() + 1)
                if block.kind is BlockKind.TEXT:
                    yield from self.text_block(rb)
                elif block.kind is BlockKind.REASONING:
                    yield from self.reasoning_block(rb)
                elif block.kind is BlockKind.REDACTED_REASONING:
                    self.redacted_block(rb)
                else:
                    yield from self.tool_block(rb)
                rb.end = self.c.position() + 1
                rb.body_end = rb.end
                if rb.collapsed:
                    for qb in body_blocks(self.doc, rb):
                        qb.setVisible(False)
                    self.doc.markContentsDirty(rb.start, rb.end - rb.start)
                self.map.add(rb)
                if self.written >= self.quota:
                    yield


def set_collapsed(doc: QTextDocument, rb: RenderedBlock, collapsed: bool) -> None:
    """Hide or show a reasoning body and flip its heading's arrow (same length: no shift)."""
    if not rb.collapsible or rb.heading is None:
        return
    rb.collapsed = collapsed
    for qb in body_blocks(doc, rb):
        qb.setVisible(not collapsed)
    cursor = QTextCursor(doc)
    cursor.setPosition(rb.heading[0])
    cursor.movePosition(QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor)
    fmt = cursor.charFormat()
    cursor.insertText(COLLAPSED if collapsed else EXPANDED, fmt)
    doc.markContentsDirty(rb.start, rb.end - rb.start)
