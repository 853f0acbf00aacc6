"""The application icon for windows and the task bar, from the PNG sizes rendered from
resources/icons/trace-annotator.svg (PNG needs no image-format plugin)."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from annotator.resources import resources_dir


def app_icon() -> QIcon:
    icon = QIcon()
    root = resources_dir() / "icons" / "hicolor"
    for png in sorted(root.glob("*/apps/trace-annotator.png")):
        icon.addFile(str(png))
    return icon
