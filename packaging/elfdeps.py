"""Just enough ELF reading (and one in-place edit) to trim the Linux bundle safely, in pure Python
so the spec and the build script need no binutils or patchelf.

- :func:`needed`: the ``DT_NEEDED`` entries of a shared object (what the loader must find).
- :func:`dynamic_symbols`: the names it exports and the names it needs from others.
- :func:`remove_needed`: drop ``DT_NEEDED`` entries in place. pyarrow's wheel links every
  extension against every Arrow library (Substrait, Dataset, Acero) even where no symbol of them
  is used; with the entry gone those 7 MB need not ship. The caller proves first, with
  :func:`dynamic_symbols`, that no symbol the file needs comes from a removed library.

Only 32/64-bit little-endian ELF (Linux x86-64/aarch64); anything else reads as "not ELF"."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_PT_LOAD, _PT_DYNAMIC = 1, 2
_DT_NULL, _DT_NEEDED, _DT_STRTAB = 0, 1, 5
_SHT_DYNSYM = 11
_SHN_UNDEF = 0
_STB_GLOBAL, _STB_WEAK = 1, 2


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(6)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and head[4] in (1, 2) and head[5] == 1


@dataclass(frozen=True)
class _Layout:
    wide: bool
    dyn_offset: int
    dyn_size: int
    entries: list[tuple[int, int]]
    strtab_offset: int


def _layout(data: bytes) -> _Layout | None:
    """Where the dynamic section is and what it holds; None for a file without one."""
    wide = data[4] == 2
    if wide:
        phoff = struct.unpack_from("<Q", data, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    else:
        phoff = struct.unpack_from("<I", data, 0x1C)[0]
        phentsize, phnum = struct.unpack_from("<HH", data, 0x2A)
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        at = phoff + i * phentsize
        if wide:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(
                "<IIQQQQ", data, at
            )
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<IIIII", data, at)
        if p_type == _PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == _PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return None
    entry = "<qQ" if wide else "<iI"
    size = struct.calcsize(entry)
    entries = [
        struct.unpack_from(entry, data, dynamic[0] + k * size) for k in range(dynamic[1] // size)
    ]
    strtab_vaddr = next((v for tag, v in entries if tag == _DT_STRTAB), None)
    if strtab_vaddr is None:
        return None
    strtab_offset = next(
        (off + strtab_vaddr - va for va, off, sz in loads if va <= strtab_vaddr < va + sz), None
    )
    if strtab_offset is None:
        return None
    return _Layout(wide, dynamic[0], dynamic[1], entries, strtab_offset)


def _cstr(data: bytes, at: int) -> str:
    return data[at : data.index(b"\0", at)].decode("utf-8", "replace")


def needed(path: Path) -> list[str]:
    """The libraries ``path`` names in ``DT_NEEDED``, in order ([] if it is not a dynamic ELF)."""
    if not is_elf(path):
        return []
    data = path.read_bytes()
    layout = _layout(data)
    if layout is None:
        return []
    out = []
    for tag, value in layout.entries:
        if tag == _DT_NULL:
            break
        if tag == _DT_NEEDED:
            out.append(_cstr(data, layout.strtab_offset + value))
    return out


def dynamic_symbols(path: Path) -> tuple[set[str], set[str]]:
    """(exported, imported) names of the dynamic symbol table: global or weak symbols defined
    in the file, and the undefined ones the loader must find elsewhere."""
    data = path.read_bytes()
    wide = data[4] == 2
    if wide:
        shoff = struct.unpack_from("<Q", data, 0x28)[0]
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        section, symbol = "<IIQQQQIIQQ", "<IBBHQQ"
    else:
        shoff = struct.unpack_from("<I", data, 0x20)[0]
        shentsize, shnum = struct.unpack_from("<HH", data, 0x2E)
        section, symbol = "<IIIIIIIIII", "<IIIBBH"
    headers = [struct.unpack_from(section, data, shoff + i * shentsize) for i in range(shnum)]
    exported: set[str] = set()
    imported: set[str] = set()
    for sh in headers:
        if sh[1] != _SHT_DYNSYM:
            continue
        offset, size, link, entsize = sh[4], sh[5], sh[6], sh[9]
        strtab = headers[link][4]
        for k in range(1, size // entsize):
            fields = struct.unpack_from(symbol, data, offset + k * entsize)
            if wide:
                name_at, info, shndx = fields[0], fields[1], fields[3]
            else:
                name_at, info, shndx = fields[0], fields[3], fields[5]
            name = _cstr(data, strtab + name_at)
            if not name:
                continue
            if shndx == _SHN_UNDEF:
                imported.add(name)
            elif info >> 4 in (_STB_GLOBAL, _STB_WEAK):
                exported.add(name)
    return exported, imported


def remove_needed(path: Path, names: set[str]) -> list[str]:
    """Remove the ``DT_NEEDED`` entries naming one of ``names`` from ``path`` in place (the later
    entries move up, the freed slots become ``DT_NULL``: no offset in the file changes).
    Returns the names removed."""
    data = bytearray(path.read_bytes())
    layout = _layout(bytes(data))
    if layout is None:
        return []
    kept: list[tuple[int, int]] = []
    removed: list[str] = []
    for tag, value in layout.entries:
        if tag == _DT_NEEDED and _cstr(bytes(data), layout.strtab_offset + value) in names:
            removed.append(_cstr(bytes(data), layout.strtab_offset + value))
            continue
        kept.append((tag, value))
    if not removed:
        return []
    entry = "<qQ" if layout.wide else "<iI"
    size = struct.calcsize(entry)
    kept += [(_DT_NULL, 0)] * (len(layout.entries) - len(kept))
    for k, (tag, value) in enumerate(kept):
        struct.pack_into(entry, data, layout.dyn_offset + k * size, tag, value)
    path.write_bytes(bytes(data))
    return removed


def symbol_extent(path: Path, name: str) -> tuple[int, int] | None:
    """(file offset, size) of the data of the defined dynamic symbol ``name``, or None."""
    data = path.read_bytes()
    if data[4] != 2:
        return None  # 64-bit only: the one use is Qt's ICU data library on x86-64/aarch64
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sh in headers:
        if sh[1] != _SHT_DYNSYM:
            continue
        offset, size, link, entsize = sh[4], sh[5], sh[6], sh[9]
        strtab = headers[link][4]
        for k in range(1, size // entsize):
            name_at, _info, _other, shndx, value, sym_size = struct.unpack_from(
                "<IBBHQQ", data, offset + k * entsize
            )
            if (
                shndx != _SHN_UNDEF
                and shndx < len(headers)
                and _cstr(data, strtab + name_at) == name
            ):
                section = headers[shndx]
                return value - section[3] + section[4], sym_size
    return None
