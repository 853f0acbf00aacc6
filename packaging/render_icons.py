"""Render resources/icons/trace-annotator.svg to the PNG sizes desktops ask for.

The PNGs are committed (so the .desktop entry and the window icon work from a checkout), and
``build_bundle.py`` re-renders them so the SVG stays the one source. Also writes a Windows .ico
and, where Qt can, nothing else: macOS .icns needs ``iconutil`` (see README.md).

    .venv/bin/python packaging/render_icons.py [--check]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ICONS = REPO / "resources" / "icons"
SVG = ICONS / "trace-annotator.svg"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def png_path(size: int) -> Path:
    return ICONS / "hicolor" / f"{size}x{size}" / "apps" / "trace-annotator.png"


def render(check: bool = False) -> list[Path]:
    """Write (or with ``check`` only compare the size of) every PNG; returns the paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SVG}")
    written: list[Path] = []
    ico_images: list[bytes] = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = png_path(size)
        if check:
            stored = QImage(str(target))
            if stored.isNull() or stored.width() != size or stored.height() != size:
                raise SystemExit(f"missing or wrong icon: {target}")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not image.save(str(target)):
                raise SystemExit(f"cannot write {target}")
        written.append(target)
        if size in ICO_SIZES:
            data = QByteArray()
            buffer = QBuffer(data)
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            image.save(buffer, "PNG")  # type: ignore[call-overload]
            buffer.close()
            ico_images.append(bytes(data.data()))
    if not check:
        ico = ICONS / "trace-annotator.ico"
        ico.write_bytes(_ico(ico_images))
        written.append(ico)
    del app
    return written


def _ico(pngs: list[bytes]) -> bytes:
    """A Windows icon file holding PNG images (supported since Vista)."""
    import struct

    header = struct.pack("<HHH", 0, 1, len(pngs))
    entries = b""
    offset = 6 + 16 * len(pngs)
    for data in pngs:
        width = int.from_bytes(data[16:20], "big")
        height = int.from_bytes(data[20:24], "big")
        entries += struct.pack(
            "<BBBBHHII", width % 256, height % 256, 0, 0, 1, 32, len(data), offset
        )
        offset += len(data)
    return header + entries + b"".join(pngs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    args = parser.parse_args()
    for path in render(check=args.check):
        print(path.relative_to(REPO))


if __name__ == "__main__":
    main()
