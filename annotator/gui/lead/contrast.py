"""Check boxes are filled with the Base colour; on a dark palette Base is darker than the
window, so empty boxes vanish (as the label panel found). Give those widgets a lighter Base on
dark palettes, and the window's own Base on light ones (re-run on every palette change)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QWidget


def tune_base(widgets: Iterable[QWidget], reference: QPalette) -> None:
    base = reference.color(QPalette.ColorRole.Base)
    text = reference.color(QPalette.ColorRole.Text)
    lifted = reference.color(QPalette.ColorRole.Window).lighter(160)
    wanted = lifted if base.lightness() < text.lightness() else base
    for widget in widgets:
        palette = QPalette(widget.palette())
        palette.setColor(QPalette.ColorRole.Base, wanted)
        widget.setPalette(palette)
