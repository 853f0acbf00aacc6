"""Where the shipped resources and migrations live: inside the wheel, or in the source tree."""

from __future__ import annotations

import sys
from pathlib import Path

from annotator.domain.schema import LabelSchema, load_schema

_PACKAGE = Path(__file__).resolve().parent


def _locate(packaged: str, source: str) -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    candidates = [_PACKAGE / packaged, _PACKAGE.parent / source]
    if frozen:
        candidates.insert(0, Path(frozen) / "annotator" / packaged)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"cannot find the {source}/ folder (looked in {', '.join(map(str, candidates))})"
    )


def resources_dir() -> Path:
    return _locate("_resources", "resources")


def migrations_dir() -> Path:
    return _locate("_migrations", "migrations")


def default_schema_path() -> Path:
    return resources_dir() / "schemas" / "default.toml"


def default_schema() -> LabelSchema:
    return load_schema(default_schema_path())


def default_guidelines() -> str:
    return (resources_dir() / "guidelines.md").read_text(encoding="utf-8")


def demo_dir() -> Path:
    return resources_dir() / "demo"
