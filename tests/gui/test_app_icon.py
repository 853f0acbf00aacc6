"""The window icon carries every rendered size."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize

from annotator.gui.app_icon import app_icon


def test_icon_has_all_sizes(qtbot: Any) -> None:
    icon = app_icon()
    assert not icon.isNull()
    sizes = {(s.width(), s.height()) for s in icon.availableSizes()}
    assert {(16, 16), (32, 32), (48, 48), (256, 256), (512, 512)} <= sizes
    assert icon.pixmap(QSize(64, 64)).width() == 64
