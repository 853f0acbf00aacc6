"""Safe markdown: markdown-it-py tokens written into a QTextDocument with QTextCursor.

Never ``setHtml``/``insertHtml``/``setMarkdown``: the parser runs with ``html`` off (raw HTML stays
literal text), links become their text followed by the address as muted inert text (no anchor is
ever created, so nothing can be opened or loaded), images become ``[alt]``.

Source positions: each inline text token is looked up in the block's source from a running position
inside the token's line range; when found, its run maps exactly (:class:`Segment` with an
:class:`OffsetMap`), otherwise (entities, backslash escapes, indentation stripped from nested code)
the run is approximate and selection mapping falls back to searching the selected text near it.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from markdown_it import MarkdownIt
from markdown_it.token import Token
from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QBrush,
    QFont,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
    QTextFrameFormat,
    QTextLength,
    QTextList,
    QTextListFormat,
    QTextTable,
    QTextTableFormat,
)

from annotator.gui.trace_view.styles import Styles, set_margins
from annotator.gui.trace_view.textmap import Segment, align, display_text, needs_escape

MARKDOWN_LIMIT: Final = 50_000
"""Text blocks longer than this are shown as plain text: markdown-it-py parses ~1 ms per KB."""
LINE_LIMIT: Final = 1_000
"""More lines than this: plain text. Parse and write cost follow the number of tokens, which
follows the lines (10,000 one-line headings take 0.4 s to parse and 0.5 s to write)."""
_CHAR_LIMITS: Final = (("[", 1000), ("`", 6000), ("<", 2000), ("|", 6000))
"""Syntax characters that make markdown-it-py slow (nested brackets are quadratic)."""
TABLE_CELL_LIMIT: Final = 250
"""Bigger tables are shown as their source lines in monospace: QTextTables are laid out eagerly
(a 250-row table takes ~150 ms, 4,000 rows 1.2 s)."""

_MD = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_HINT: Final = re.compile(
    r"[*_`#|>\[\]!~\\&<]|^ {0,3}(?:[-+]|\d{1,9}[.)])[ \t]|^ {4}|^ {0,3}[=-]{3,}[ \t]*$", re.M
)
_PLAIN_TOKENS: Final = frozenset({"paragraph_open", "paragraph_close", "inline"})
_PLAIN_INLINE: Final = frozenset({"text", "softbreak"})
_CACHE: OrderedDict[str, list[Token]] = OrderedDict()
_CACHE_TOKENS: Final = 100_000
"""Tokens kept (~400 bytes each): a few hundred typical answers, the current and next traces."""
_cache_size = 0
_HEADING_SCALE: Final = {1: 1.45, 2: 1.3, 3: 1.15, 4: 1.05, 5: 1.0, 6: 1.0}
_BULLETS: Final = (
    QTextListFormat.Style.ListDisc,
    QTextListFormat.Style.ListCircle,
    QTextListFormat.Style.ListSquare,
)


def markdown_candidate(text: str) -> bool:
    """Whether ``text`` is worth parsing as markdown at all.

    Text without markdown syntax, text with characters that must be shown escaped (markdown-it
    would normalise NUL and CR away and break the offset map), very long text and text built to make
    the inline parser quadratic (thousands of brackets) are shown verbatim instead.
    """
    if len(text) > MARKDOWN_LIMIT or "\r" in text or needs_escape(text):
        return False
    if text.count("\n") > LINE_LIMIT or text.count("*") + text.count("_") > 8000:
        return False
    if any(text.count(ch) > limit for ch, limit in _CHAR_LIMITS):
        return False
    return _HINT.search(text) is not None


def cost(text: str) -> int:
    """Rough parse-and-write cost in characters: a line costs like 25 characters of prose."""
    return len(text) + 25 * text.count("\n")


def cached_tokens(text: str) -> list[Token] | None:
    return _CACHE.get(text)


def parse(text: str) -> list[Token]:
    """Tokens for ``text``, from a small LRU cache (prefetching the next trace fills it)."""
    global _cache_size
    tokens = _CACHE.get(text)
    if tokens is not None:
        _CACHE.move_to_end(text)
        return tokens
    tokens = _MD.parse(text)
    _CACHE[text] = tokens
    _cache_size += _weight(tokens)
    while _cache_size > _CACHE_TOKENS and len(_CACHE) > 1:
        _, old = _CACHE.popitem(last=False)
        _cache_size -= _weight(old)
    return tokens


def _weight(tokens: Sequence[Token]) -> int:
    return len(tokens) + sum(len(t.children) for t in tokens if t.children)


def is_trivial(tokens: Sequence[Token]) -> bool:
    """Only paragraphs of plain text: shown verbatim (keeps the author's line breaks exactly)."""
    for tok in tokens:
        if tok.type not in _PLAIN_TOKENS:
            return False
        if tok.children and any(c.type not in _PLAIN_INLINE for c in tok.children):
            return False
    return True


class MarkdownWriter:
    """Writes one text block's tokens at a cursor that sits in an empty, fresh document block."""

    def __init__(
        self,
        cursor: QTextCursor,
        styles: Styles,
        source: str,
        block_format: QTextBlockFormat,
        char_format: QTextCharFormat,
    ) -> None:
        self.c = cursor
        self.st = styles
        self.src = source
        self.base_block = QTextBlockFormat(block_format)
        self.base_char = QTextCharFormat(char_format)
        self.segments: list[Segment] = []
        self._fresh = True
        self._src_pos = 0
        self._line_starts = [0]
        pos = source.find("\n")
        while pos >= 0:
            self._line_starts.append(pos + 1)
            pos = source.find("\n", pos + 1)
        self._line_starts.append(len(source) + 1)
        self._quote = 0
        self._lists: list[list[object]] = []  # [QTextListFormat, QTextList | None, pending item]
        self._heading = 0
        self._code = False
        self._bold = 0
        self._italic = 0
        self._strike = 0
        self._cell_header = False
        self._table: QTextTable | None = None
        self._row = -1
        self._col = -1
        self._hrefs: list[str] = []

    # ---- block structure -------------------------------------------------------------------

    def _block_format(self) -> QTextBlockFormat:
        fmt = QTextBlockFormat(self.base_block)
        fmt.setBottomMargin(6)
        if self._quote:
            fmt.setLeftMargin(fmt.leftMargin() + 18 * self._quote)
        return fmt

    def _new_block(self, fmt: QTextBlockFormat) -> None:
        if self._table is not None or self._fresh:
            self.c.setBlockFormat(fmt)
        else:
            self.c.insertBlock(fmt, self.base_char)
        self._fresh = False
        if self._lists:
            tight = self.c.blockFormat()
            tight.setBottomMargin(2)
            self.c.setBlockFormat(tight)
            entry = self._lists[-1]
            list_fmt, lst, pending = entry
            assert isinstance(list_fmt, QTextListFormat)
            if pending:
                if lst is None:
                    entry[1] = self.c.createList(list_fmt)
                else:
                    assert isinstance(lst, QTextList)
                    lst.add(self.c.block())
                entry[2] = False
            else:
                cont = self.c.blockFormat()
                cont.setIndent(list_fmt.indent())
                self.c.setBlockFormat(cont)

    def _char(self) -> QTextCharFormat:
        fmt = QTextCharFormat(self.base_char)
        if self._quote:
            fmt.setForeground(QBrush(self.st.muted))
        if self._heading:
            fmt.setFontWeight(QFont.Weight.Bold)
            size = self.st.font.pointSizeF()
            if size > 0:
                fmt.setFontPointSize(size * _HEADING_SCALE[self._heading])
        if self._bold or self._cell_header:
            fmt.setFontWeight(QFont.Weight.Bold)
        if self._italic:
            fmt.setFontItalic(True)
        if self._strike:
            fmt.setFontStrikeOut(True)
        return fmt

    def _mono(self, fmt: QTextCharFormat) -> QTextCharFormat:
        fmt.setFontFamilies([self.st.mono.family()])
        fmt.setFontFixedPitch(True)
        fmt.setFontStyleHint(QFont.StyleHint.Monospace)
        fmt.setBackground(QBrush(self.st.code_bg))
        return fmt

    def _muted(self) -> QTextCharFormat:
        fmt = QTextCharFormat(self.base_char)
        fmt.setForeground(QBrush(self.st.muted))
        return fmt

    # ---- text --------------------------------------------------------------------------------

    def _insert(self, text: str, fmt: QTextCharFormat, limit: int) -> None:
        """Insert source text (escaped for display) and record where it came from."""
        if not text:
            return
        limit = max(limit, self._src_pos)
        found = self.src.find(text, self._src_pos, limit)
        if found >= 0:
            shown, omap = display_text(text, split_lines=False)
        else:
            placed = align(text, self.src, self._src_pos, limit)
            if placed is not None:
                found, shown, omap = placed
            else:
                shown = display_text(text, split_lines=False)[0]
        start = self.c.position()
        self.c.insertText(shown, fmt)
        end = self.c.position()
        if found >= 0:
            self.segments.append(Segment(start, end, found, omap))
            self._src_pos = found + omap.src_len
        else:
            self.segments.append(Segment(start, end, self._src_pos, None))

    def _decor(self, text: str, fmt: QTextCharFormat) -> None:
        """Insert text that is not in the source (link addresses, image brackets)."""
        shown, _ = display_text(text, split_lines=False)
        self.c.insertText(shown, fmt)

    def _range(self, tok: Token) -> tuple[int, int]:
        if tok.map is None:
            return self._src_pos, len(self.src)
        first, last = tok.map
        starts = self._line_starts
        return starts[min(first, len(starts) - 1)], min(
            starts[min(last, len(starts) - 1)], len(self.src)
        )

    def _inline(self, tok: Token) -> None:
        lo, hi = self._range(tok)
        self._src_pos = max(self._src_pos, lo)
        for child in tok.children or ():
            kind = child.type
            if kind == "text":
                self._insert(child.content, self._char(), hi)
            elif kind == "code_inline":
                self._insert(child.content, self._mono(self._char()), hi)
            elif kind in ("softbreak", "hardbreak"):
                self.c.insertText("\u2028", self._char())
            elif kind == "strong_open":
                self._bold += 1
            elif kind == "strong_close":
                self._bold -= 1
            elif kind == "em_open":
                self._italic += 1
            elif kind == "em_close":
                self._italic -= 1
            elif kind == "s_open":
                self._strike += 1
            elif kind == "s_close":
                self._strike -= 1
            elif kind == "link_open":
                self._hrefs.append(str(child.attrs.get("href", "")))
            elif kind == "link_close":
                href = self._hrefs.pop() if self._hrefs else ""
                if href and not self.c.block().text().endswith(href):
                    self._decor(f" ⟨{href}⟩", self._muted())
            elif kind == "image":
                fmt = self._muted()
                fmt.setFontItalic(True)
                self._decor(f"[{child.content or 'image'}]", fmt)
            else:
                self._insert(child.content, self._char(), hi)

    def _source_lines(self, tok: Token) -> None:
        """A construct shown as its own source text, monospace (exact offsets)."""
        lo, hi = self._range(tok)
        text = self.src[lo:hi].rstrip("\n")
        fmt = self._block_format()
        fmt.setBottomMargin(0)
        self._new_block(fmt)
        first = self.c.position()
        self._src_pos = max(self._src_pos, lo)
        char = self._mono(QTextCharFormat(self.base_char))
        char.clearBackground()
        self._insert(text, char, hi)
        set_margins(self.c.document(), first, self.c.position(), 0, 6)

    def _code_block(self, tok: Token) -> None:
        fmt = self._block_format()
        fmt.setBackground(QBrush(self.st.code_bg))
        fmt.setLeftMargin(fmt.leftMargin() + 4)
        fmt.setRightMargin(4)
        fmt.setTopMargin(0)
        fmt.setBottomMargin(0)
        self._new_block(fmt)
        first = self.c.position()
        lo, hi = self._range(tok)
        self._src_pos = max(self._src_pos, lo)
        text = tok.content[:-1] if tok.content.endswith("\n") else tok.content
        char = self._mono(QTextCharFormat(self.base_char))
        char.clearBackground()
        self._insert(text, char, hi)
        set_margins(self.c.document(), first, self.c.position(), 2, 8)

    # ---- tables ------------------------------------------------------------------------------

    def _table_open(self, tokens: Sequence[Token], i: int) -> int:
        """Start a QTextTable; returns the index of the last token consumed (the table's own
        tokens too when the table is too big and is shown as its source lines)."""
        rows = cols = 0
        depth = 0
        cells = 0
        end = len(tokens) - 1
        for j in range(i, len(tokens)):
            tok = tokens[j]
            if tok.type == "table_open":
                depth += 1
            elif tok.type == "table_close":
                depth -= 1
                if depth == 0:
                    end = j
                    break
            elif tok.type == "tr_open":
                rows += 1
                cells = 0
            elif tok.type in ("th_open", "td_open"):
                cells += 1
                cols = max(cols, cells)
        if rows * cols > TABLE_CELL_LIMIT:
            self._source_lines(tokens[i])
            return end
        if not self._fresh:
            self.c.insertBlock(self._block_format(), self.base_char)
        fmt = QTextTableFormat()
        fmt.setBorder(1)
        fmt.setBorderStyle(QTextFrameFormat.BorderStyle.BorderStyle_Solid)
        fmt.setBorderBrush(QBrush(self.st.muted))
        fmt.setBorderCollapse(True)
        fmt.setCellPadding(4)
        fmt.setCellSpacing(0)
        fmt.setHeaderRowCount(1)
        fmt.setTopMargin(4)
        fmt.setBottomMargin(6)
        fmt.setLeftMargin(18 * self._quote)
        self._table = self.c.insertTable(max(rows, 1), max(cols, 1), fmt)
        self._row = -1
        return i

    def _table_close(self) -> None:
        table = self._table
        self._table = None
        if table is not None:
            self.c.setPosition(table.lastPosition())
            self.c.movePosition(QTextCursor.MoveOperation.NextBlock)
            self.c.setBlockFormat(self._block_format())
        self._fresh = True

    def _cell_open(self, tok: Token, header: bool) -> None:
        assert self._table is not None
        self._col += 1
        if self._row < self._table.rows() and self._col < self._table.columns():
            cell = self._table.cellAt(self._row, self._col)
            self.c.setPosition(cell.firstPosition())
            style = str(tok.attrs.get("style", ""))
            for word, align in (
                ("right", Qt.AlignmentFlag.AlignRight),
                ("center", Qt.AlignmentFlag.AlignHCenter),
            ):
                if f"text-align:{word}" in style:
                    fmt = self.c.blockFormat()
                    fmt.setAlignment(align)
                    self.c.setBlockFormat(fmt)
        self._cell_header = header

    # ---- driver ------------------------------------------------------------------------------

    def write(self, tokens: Sequence[Token]) -> list[Segment]:
        i = -1
        while i + 1 < len(tokens):
            i += 1
            tok = tokens[i]
            kind = tok.type
            if kind == "inline":
                self._inline(tok)
            elif kind == "paragraph_open":
                if self._table is None:
                    self._new_block(self._block_format())
            elif kind == "heading_open":
                self._heading = int(tok.tag[1:]) if tok.tag[1:].isdigit() else 1
                fmt = self._block_format()
                fmt.setHeadingLevel(self._heading)
                fmt.setTopMargin(8)
                fmt.setBottomMargin(4)
                self._new_block(fmt)
            elif kind == "heading_close":
                self._heading = 0
            elif kind in ("fence", "code_block"):
                self._code_block(tok)
            elif kind == "hr":
                fmt = self._block_format()
                fmt.setProperty(
                    QTextFormat.Property.BlockTrailingHorizontalRulerWidth,
                    QTextLength(QTextLength.Type.PercentageLength, 100),
                )
                self._new_block(fmt)
            elif kind == "blockquote_open":
                self._quote += 1
            elif kind == "blockquote_close":
                self._quote -= 1
            elif kind in ("bullet_list_open", "ordered_list_open"):
                list_fmt = QTextListFormat()
                depth = len(self._lists)
                if kind == "ordered_list_open":
                    list_fmt.setStyle(QTextListFormat.Style.ListDecimal)
                    start = tok.attrs.get("start")
                    if isinstance(start, int | str) and str(start).isdigit():
                        list_fmt.setStart(int(start))
                else:
                    list_fmt.setStyle(_BULLETS[depth % len(_BULLETS)])
                list_fmt.setIndent(depth + 1 + self._quote)
                self._lists.append([list_fmt, None, False])
            elif kind in ("bullet_list_close", "ordered_list_close"):
                if self._lists:
                    self._lists.pop()
                if not self._lists and self._table is None:  # air after a whole (tight) list
                    fmt = self.c.blockFormat()
                    fmt.setBottomMargin(6)
                    self.c.setBlockFormat(fmt)
            elif kind == "list_item_open":
                if self._lists:
                    self._lists[-1][2] = True
            elif kind == "list_item_close":
                if self._lists and self._lists[-1][2]:
                    self._new_block(self._block_format())  # an empty item still shows its bullet
            elif kind == "table_open":
                i = self._table_open(tokens, i)
            elif kind == "table_close":
                self._table_close()
            elif kind == "tr_open":
                self._row += 1
                self._col = -1
            elif kind in ("th_open", "td_open"):
                self._cell_open(tok, kind == "th_open")
            elif kind in ("th_close", "td_close"):
                self._cell_header = False
        return self.segments
