"""The thinned ICU data library (packaging/icudata.py): which data items stay, and that Qt, run
from the venv with the thinned library first on the library path, gives exactly the full data's
results for English (collation, case mapping, time zone names and ids, codecs) and still works,
falling back to root/English data, for other locales."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import PySide6
import pytest

REPO = Path(__file__).resolve().parents[2]
ICU_DATA = next((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"), None)


def load_icudata() -> ModuleType:
    sys.path.insert(0, str(REPO / "packaging"))  # icudata imports elfdeps as the spec does
    try:
        spec = importlib.util.spec_from_file_location("icudata", REPO / "packaging" / "icudata.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["icudata"] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO / "packaging"))


icudata = load_icudata()


@pytest.mark.parametrize(
    ("item", "kept"),
    [
        ("en.res", True),
        ("en_GB.res", True),
        ("root.res", True),
        ("pool.res", True),
        ("res_index.res", True),
        ("de.res", False),
        ("zh_Hant_TW.res", False),
        ("coll/ucadata.icu", True),
        ("coll/root.res", True),
        ("coll/en.res", True),
        ("coll/de.res", False),
        ("coll/de_.res", False),  # an alias bundle: must go with coll/de.res (icupkg checks)
        ("zone/en.res", True),
        ("zone/ja.res", False),
        ("zone/tzdbNames.res", True),
        ("zoneinfo64.res", True),
        ("metaZones.res", True),
        ("supplementalData.res", True),
        ("cnvalias.icu", True),
        ("ibm-943_P15A-2003.cnv", True),
        ("nfkc.nrm", True),
        ("brkitr/cjdict.dict", False),
        ("lang/en.res", False),
        ("curr/en.res", False),
        ("unit/en.res", False),
        ("translit/root.res", False),
    ],
)
def test_which_items_stay(item: str, kept: bool) -> None:
    assert icudata.keep(item) is kept


PROBE = """
import json
from PySide6.QtCore import QCollator, QLocale, QStringConverter, QStringDecoder, QTimeZone
words = ["peach", "Péché", "péché", "pêche", "apple", "Zebra", "zebra", "éclair", "Ängel",
         "angel", "Öl", "ol", "Straße", "strasse", "10", "9", "_x"]
out = {}
for loc in ["en_US", "en_GB", "de_DE", "sv_SE", "ja_JP"]:
    col = QCollator(QLocale(loc))
    out[f"sort {loc}"] = sorted(words, key=col.sortKey)
    out[f"cmp {loc}"] = [col.compare(a, b) for a, b in zip(words, words[1:])]
    col.setNumericMode(True)
    out[f"numeric {loc}"] = col.compare("9", "10")
for loc in ["en_US", "tr_TR", "de_DE"]:
    out[f"upper {loc}"] = QLocale(loc).toUpper("istanbul straße ǆ")
    out[f"lower {loc}"] = QLocale(loc).toLower("İSTANBUL ΣΑΣ")
T = QTimeZone.TimeType
for zone in [b"Europe/Berlin", b"America/New_York", b"Asia/Kolkata", b"UTC"]:
    tz = QTimeZone(zone)
    for loc in ["en_US", "de_DE"]:
        out[f"tz {zone.decode()} {loc}"] = [
            tz.displayName(kind, QTimeZone.NameType.LongName, QLocale(loc))
            for kind in (T.StandardTime, T.DaylightTime)
        ] + [tz.displayName(T.GenericTime, QTimeZone.NameType.ShortName, QLocale(loc))]
out["tz ids"] = len(QTimeZone.availableTimeZoneIds())
out["codecs"] = sorted(QStringConverter.availableCodecs())
for name in ["Shift_JIS", "windows-1251", "GB18030", "ISO-8859-15", "Big5", "EUC-KR"]:
    decoder = QStringDecoder(name)
    out[f"codec {name}"] = [decoder.isValid(), decoder.name()]
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
"""


def run_probe(library_dir: Path | None) -> dict[str, object]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    if library_dir is not None:
        env["LD_LIBRARY_PATH"] = str(library_dir)  # searched before Qt's RUNPATH ($ORIGIN)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


@pytest.mark.skipif(
    ICU_DATA is None
    or not sys.platform.startswith("linux")
    or shutil.which("icupkg") is None
    or (shutil.which("cc") or shutil.which("gcc")) is None,
    reason="needs Linux, Qt's libicudata, icupkg (icu-devtools) and a C compiler",
)
def test_thinned_data_gives_english_results_unchanged(tmp_path: Path) -> None:
    assert ICU_DATA is not None
    result = icudata.shrink(ICU_DATA, tmp_path / ICU_DATA.name)
    assert not isinstance(result, str), result
    assert result.after < 12e6 < 25e6 < result.before, result
    assert (tmp_path / ICU_DATA.name).stat().st_size == result.after

    full, thin = run_probe(None), run_probe(tmp_path)
    assert full.keys() == thin.keys()
    english = [k for k in full if " de_" not in k and " sv_" not in k and " ja_" not in k]
    assert len(english) > 15
    assert {k: thin[k] for k in english} == {k: full[k] for k in english}
    assert full["codecs"] == thin["codecs"] and len(full["codecs"]) > 100  # type: ignore[arg-type]
    assert all(thin[f"codec {n}"][0] for n in ("Shift_JIS", "GB18030", "Big5"))  # type: ignore[index]
    # Other locales still work, on root collation and English zone names: what is given up.
    assert sorted(thin["sort sv_SE"]) == sorted(full["sort sv_SE"])  # type: ignore[type-var]
    assert thin["sort sv_SE"] == thin["sort en_US"] != full["sort sv_SE"]
    assert thin["tz Europe/Berlin de_DE"][0] == "Central European Standard Time"  # type: ignore[index]
    assert full["tz Europe/Berlin de_DE"][0] != thin["tz Europe/Berlin de_DE"][0]  # type: ignore[index]


def test_shrink_says_why_it_cannot(tmp_path: Path) -> None:
    other = tmp_path / "libfoo.so.1"
    other.write_bytes(b"\x7fELF")
    assert "not an ICU data library" in icudata.shrink(other, tmp_path / "out.so")
