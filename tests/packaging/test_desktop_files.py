"""The Linux desktop integration files agree with each other and with the icons."""

from __future__ import annotations

import configparser
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "packaging" / "linux"
ICONS = REPO / "resources" / "icons"
METAINFO = LINUX / "io.github.trace_annotator.TraceAnnotator.metainfo.xml"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(LINUX / "trace-annotator.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_names_an_existing_icon_and_command() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Icon"] == "trace-annotator"
    assert entry["Exec"].split()[0] == "trace-annotator"
    assert entry["Categories"].endswith(";")
    # X11 window class: Qt uses the application name run_gui sets ("Trace Annotator").
    assert entry["StartupWMClass"] == "Trace Annotator"
    for size in SIZES:
        icon = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{entry['Icon']}.png"
        assert png_size(icon) == (size, size)
    assert (ICONS / f"{entry['Icon']}.svg").is_file()
    # The installer rewrites Exec to the bundle path and copies exactly these files.
    installer = (LINUX / "install.sh").read_text(encoding="utf-8")
    assert "trace-annotator.desktop" in installer and METAINFO.name in installer.replace(
        "$ID", "io.github.trace_annotator.TraceAnnotator"
    )


def test_metainfo_points_at_the_desktop_entry() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == METAINFO.name.removesuffix(".metainfo.xml")
    assert root.findtext("project_license") == "Apache-2.0"
    launchable = root.find("launchable")
    assert launchable is not None and launchable.text == "trace-annotator.desktop"
    from annotator import __version__

    releases = [r.get("version") for r in root.iter("release")]
    assert __version__ in releases


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli not installed")
def test_metainfo_passes_appstream_validation() -> None:
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_windows_icon_holds_the_sizes() -> None:
    data = (ICONS / "trace-annotator.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1) and count >= 5
    widths = {data[6 + 16 * i] or 256 for i in range(count)}
    assert {16, 32, 48, 256} <= widths


def test_licence_is_the_apache_text() -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
