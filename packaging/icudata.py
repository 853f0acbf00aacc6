"""Rebuild Qt's ICU data library (``libicudata.so.NN``, 32 MB of CLDR data for every locale) with
only what Qt reaches in an English-only app: about 8 MB.

Qt 6 calls ICU for four things only (the ``*_NN`` symbols libQt6Core imports; nothing else in
the bundle imports ICU): collation (``ucol_*``), case mapping (``u_strToUpper/Lower``: the
tables are in libicuuc, not in the data), time zone ids and display names (``ucal_*``), and
codecs (``ucnv_*``). So the data keeps: every converter table and alias (``*.cnv``,
``cnvalias.icu``), the normalisation and property tables, all non-locale resources
(``zoneinfo64``, ``metaZones``, ``timezoneTypes``, ``supplementalData``, ``likelySubtags``...),
and the root and English locale bundles in the top level, ``coll/`` and ``zone/``. Left out:
other languages' locale bundles (ICU falls back to root: a German collator sorts by the
root order, a time zone's display name in Japanese comes out in the root form), and the
trees no Qt call reads (``brkitr`` break dictionaries, ``lang``, ``region``, ``curr``, ``unit``,
``rbnf``, ``translit``).

How: the data package is the ``icudtNN_dat`` symbol of the library; ``icupkg`` (ICU's own tool,
Debian package icu-devtools) removes the items, and a C compiler links the result back into a
library with the same soname and symbol. Without ``icupkg`` or ``cc`` the build keeps the full
data (:func:`shrink` returns None and says why)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import elfdeps

DROPPED_TREES = frozenset({"brkitr", "lang", "region", "curr", "unit", "rbnf", "translit"})
LOCALE_TREES = frozenset({"", "coll", "zone"})
"""Where locale bundles are thinned to root and English (top level = the main locale data)."""
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]*)*\.res$")
_STRUCTURAL = frozenset({"root.res", "pool.res", "res_index.res"})


def keep(item: str) -> bool:
    """Whether the package item ``item`` (``coll/de.res``, ``cnvalias.icu``...) stays."""
    tree, _, name = item.rpartition("/")
    if tree in DROPPED_TREES:
        return False
    if tree in LOCALE_TREES and _LOCALE.match(name) and name not in _STRUCTURAL:
        return name == "en.res" or name.startswith("en_")
    return True


@dataclass(frozen=True)
class Shrunk:
    before: int
    after: int
    items_kept: int
    items_dropped: int


def _symbol_name(library: Path) -> str | None:
    """``icudt73_dat`` for ``libicudata.so.73``."""
    match = re.match(r"libicudata\.so\.(\d+)", library.name)
    return f"icudt{match.group(1)}_dat" if match else None


def shrink(library: Path, target: Path) -> Shrunk | str:
    """Write the thinned ``library`` to ``target``; a reason string if it cannot be done here."""
    icupkg, cc = shutil.which("icupkg"), shutil.which("cc") or shutil.which("gcc")
    symbol = _symbol_name(library)
    if symbol is None:
        return f"{library.name} is not an ICU data library"
    if icupkg is None or cc is None:
        return "icupkg (icu-devtools) or a C compiler is missing"
    extent = elfdeps.symbol_extent(library, symbol)
    if extent is None:
        return f"{library.name} has no {symbol}"
    offset, size = extent
    package = symbol.removesuffix("_dat") + "l"  # little-endian package name, icudt73l
    with tempfile.TemporaryDirectory(prefix="icudata-") as tmp_name:
        tmp = Path(tmp_name)
        full = tmp / "full" / f"{package}.dat"
        full.parent.mkdir()
        with library.open("rb") as fh:
            fh.seek(offset)
            full.write_bytes(fh.read(size))
        items = subprocess.run(
            [icupkg, "-l", str(full)], check=True, capture_output=True, text=True
        ).stdout.split()
        dropped = [item for item in items if not keep(item)]
        remove_list = tmp / "remove.txt"
        remove_list.write_text("\n".join(dropped) + "\n", encoding="utf-8")
        thin = tmp / f"{package}.dat"
        subprocess.run(
            [icupkg, "-r", str(remove_list), str(full), str(thin)], check=True, capture_output=True
        )
        left = subprocess.run(
            [icupkg, "-l", str(thin)], check=True, capture_output=True, text=True
        ).stdout.split()
        if sorted(left) != sorted(i for i in items if keep(i)):
            raise RuntimeError(
                f"icupkg kept {len(left)} items, expected {len(items) - len(dropped)}"
            )
        source = tmp / "icudata.S"
        source.write_text(
            "\n".join(
                [
                    '\t.section .rodata,"a"',
                    f"\t.globl {symbol}",
                    f"\t.type {symbol}, @object",
                    "\t.balign 16",
                    f"{symbol}:",
                    f'\t.incbin "{thin}"',
                    f"\t.size {symbol}, . - {symbol}",
                    '\t.section .note.GNU-stack,"",@progbits',
                    "",
                ]
            ),
            encoding="utf-8",
        )
        built = tmp / library.name
        subprocess.run(
            [
                cc,
                "-shared",
                "-nostdlib",
                f"-Wl,-soname,{library.name}",
                "-Wl,-z,noexecstack",
                "-o",
                str(built),
                str(source),
            ],
            check=True,
            capture_output=True,
        )
        extent = elfdeps.symbol_extent(built, symbol)
        if extent is None or extent[1] != thin.stat().st_size:
            raise RuntimeError(f"the rebuilt {library.name} does not export {symbol} whole")
        with built.open("rb") as fh:
            fh.seek(extent[0])
            if fh.read(64) != thin.read_bytes()[:64]:
                raise RuntimeError(f"{symbol} in the rebuilt library is not the thinned package")
        before = library.stat().st_size
        shutil.copyfile(built, target)
    return Shrunk(before, target.stat().st_size, len(items) - len(dropped), len(dropped))
