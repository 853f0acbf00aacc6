"""Colors and fonts of the trace view, derived from the widget palette.

Every tint is the palette's base color blended with a hue at low strength, and every foreground is
the palette's text color (or a blend of it), so light and dark themes both stay readable; nothing is
hard-coded white or black.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette, QTextCursor, QTextDocument

from annotator.domain.trace import Role


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved towards ``b`` by ``t`` (0..1)."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


_ROLE_HUES = {
    Role.SYSTEM: QColor(128, 128, 128),
    Role.USER: QColor(40, 120, 230),
    Role.ASSISTANT: QColor(20, 160, 90),
    Role.TOOL: QColor(215, 125, 20),
}
_AMBER = QColor(255, 190, 0)
_CYAN = QColor(0, 170, 255)


@dataclass(frozen=True)
class Styles:
    base: QColor
    text: QColor
    muted: QColor
    warning: QColor
    reasoning_bg: QColor
    reasoning_head_bg: QColor
    code_bg: QColor
    tool_bg: QColor
    redacted_bg: QColor
    header_bg: QColor
    span_bg: QColor
    find_bg: QColor
    current_bg: QColor
    current_fg: QColor
    roles: dict[Role, QColor]
    font: QFont
    mono: QFont

    @classmethod
    def from_palette(cls, palette: QPalette, font: QFont) -> Styles:
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        dark = base.lightness() < text.lightness()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(max(font.pointSizeF() - 0.5, 6.0) if font.pointSizeF() > 0 else 9.0)
        return cls(
            base=base,
            text=text,
            muted=blend(text, base, 0.4),
            warning=blend(text, QColor(230, 80, 30), 0.75),
            reasoning_bg=blend(base, highlight, 0.10 if not dark else 0.16),
            reasoning_head_bg=blend(base, highlight, 0.22 if not dark else 0.30),
            code_bg=blend(base, text, 0.06 if not dark else 0.09),
            tool_bg=blend(base, _ROLE_HUES[Role.TOOL], 0.07 if not dark else 0.12),
            redacted_bg=blend(base, text, 0.10),
            header_bg=blend(base, text, 0.04 if not dark else 0.07),
            span_bg=blend(base, _AMBER, 0.45 if not dark else 0.40),
            find_bg=blend(base, _CYAN, 0.35 if not dark else 0.40),
            current_bg=palette.color(QPalette.ColorRole.Highlight),
            current_fg=palette.color(QPalette.ColorRole.HighlightedText),
            roles={
                role: blend(text, hue, 0.75 if not dark else 0.55)
                for role, hue in _ROLE_HUES.items()
            },
            font=QFont(font),
            mono=mono,
        )


def set_margins(doc: QTextDocument, start: int, end: int, top: float, bottom: float) -> None:
    """Margins for a multi-line run: insertText copies the block format to every line."""
    first = doc.findBlock(start)
    last = doc.findBlock(end)
    if top and first.isValid():
        cursor = QTextCursor(first)
        fmt = first.blockFormat()
        fmt.setTopMargin(top)
        cursor.setBlockFormat(fmt)
    if bottom and last.isValid():
        cursor = QTextCursor(last)
        fmt = last.blockFormat()
        fmt.setBottomMargin(bottom)
        cursor.setBlockFormat(fmt)
