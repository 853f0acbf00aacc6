"""Light and dark themes: Fusion with explicit palettes, so both look the same on every platform
and stay readable; ``system`` follows the desktop's colour scheme (and its later changes)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")

_STYLE = """
QLabel#keyBadge {{ color: {badge}; }}
QLabel#problems {{
    color: {error_text}; background: {error_bg}; border: 1px solid {error_border};
    border-radius: 4px; padding: 6px;
}}
QLabel#traceHeader {{ color: {muted}; padding: 2px 4px; }}
QLabel#labelStatus {{ color: {muted}; }}
QGroupBox {{ font-weight: bold; margin-top: 1.2em; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 6px; padding: 0 3px; }}
QGroupBox QCheckBox, QGroupBox QRadioButton {{ font-weight: normal; }}
QStatusBar QLabel {{ padding: 0 8px; }}
"""


def _palette(dark: bool) -> QPalette:
    p = QPalette()
    if dark:
        colours = {
            QPalette.ColorRole.Window: "#26282b",
            QPalette.ColorRole.WindowText: "#e6e6e6",
            QPalette.ColorRole.Base: "#1d1f21",
            QPalette.ColorRole.AlternateBase: "#2a2d31",
            QPalette.ColorRole.ToolTipBase: "#33363a",
            QPalette.ColorRole.ToolTipText: "#f0f0f0",
            QPalette.ColorRole.PlaceholderText: "#8c8f94",
            QPalette.ColorRole.Text: "#e6e6e6",
            QPalette.ColorRole.Button: "#303338",
            QPalette.ColorRole.ButtonText: "#e6e6e6",
            QPalette.ColorRole.BrightText: "#ff6b6b",
            QPalette.ColorRole.Link: "#6cb2ff",
            QPalette.ColorRole.Highlight: "#2f6fb3",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.Mid: "#45484d",
            QPalette.ColorRole.Dark: "#18191b",
            QPalette.ColorRole.Light: "#3a3d42",
            QPalette.ColorRole.Midlight: "#34373b",
            QPalette.ColorRole.Shadow: "#000000",
        }
        disabled = "#7a7d82"
    else:
        colours = {
            QPalette.ColorRole.Window: "#f3f3f3",
            QPalette.ColorRole.WindowText: "#1e1e1e",
            QPalette.ColorRole.Base: "#ffffff",
            QPalette.ColorRole.AlternateBase: "#f5f7fa",
            QPalette.ColorRole.ToolTipBase: "#ffffe8",
            QPalette.ColorRole.ToolTipText: "#1e1e1e",
            QPalette.ColorRole.PlaceholderText: "#80868b",
            QPalette.ColorRole.Text: "#1e1e1e",
            QPalette.ColorRole.Button: "#e9e9e9",
            QPalette.ColorRole.ButtonText: "#1e1e1e",
            QPalette.ColorRole.BrightText: "#c62828",
            QPalette.ColorRole.Link: "#1a5fb4",
            QPalette.ColorRole.Highlight: "#1a66c7",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.Mid: "#c0c0c0",
            QPalette.ColorRole.Dark: "#a0a0a0",
            QPalette.ColorRole.Light: "#ffffff",
            QPalette.ColorRole.Midlight: "#e3e3e3",
            QPalette.ColorRole.Shadow: "#767676",
        }
        disabled = "#9a9a9a"
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return p


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return bool(hints.colorScheme() == Qt.ColorScheme.Dark)


def is_dark(theme: str) -> bool:
    if theme == "dark":
        return True
    if theme == "light":
        return False
    return system_is_dark()


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply ``theme`` (system, light, dark); returns whether the result is dark."""
    dark = is_dark(theme if theme in THEMES else "system")
    app.setStyle("Fusion")
    app.setPalette(_palette(dark))
    colours = (
        {
            "badge": "#9ab4d6",
            "muted": "#a4a7ab",
            "error_text": "#ffd7d4",
            "error_bg": "#4a2424",
            "error_border": "#a04040",
        }
        if dark
        else {
            "badge": "#3d5a80",
            "muted": "#5f6368",
            "error_text": "#8b1a10",
            "error_bg": "#fdecea",
            "error_border": "#e0a39c",
        }
    )
    app.setStyleSheet(_STYLE.format(**colours))
    return dark
