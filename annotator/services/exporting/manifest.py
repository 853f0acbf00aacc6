"""The manifest beside every export: options, schema version, counts, the sha256 of every file,
and the high-water marks that ``--since`` compares against.

The manifest is the only file that holds the export time; the data files hold none, so the same
database and options give byte-identical data files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from annotator.formats.writers.atomic import write_atomic
from annotator.services.exporting.filters import ExportError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class HighWater:
    """How far the database had got when an export read it. Ids only grow, so they are safe
    against clock skew; ``label_updated_at`` also catches label rows written without an event."""

    label_event_id: int = 0
    adjudication_id: int = 0
    label_updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label_event_id": self.label_event_id,
            "adjudication_id": self.adjudication_id,
            "label_updated_at": (
                self.label_updated_at.isoformat() if self.label_updated_at else None
            ),
        }


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    data = orjson.dumps(
        manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    )
    write_atomic(path, data + b"\n")


def read_manifest(path: Path) -> dict[str, Any]:
    """A manifest written by an earlier export (a file or the export folder holding one)."""
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ExportError(f"{path}: cannot read manifest: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ExportError(f"{path}: not a manifest (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
        raise ExportError(f"{path}: not an export manifest of this app")
    return data


def high_water_of(manifest: dict[str, Any], source: Path) -> HighWater:
    marks = manifest.get("high_water")
    if not isinstance(marks, dict):
        raise ExportError(f"{source}: the manifest has no high-water marks")
    try:
        updated = marks.get("label_updated_at")
        return HighWater(
            label_event_id=int(marks.get("label_event_id") or 0),
            adjudication_id=int(marks.get("adjudication_id") or 0),
            label_updated_at=datetime.fromisoformat(updated) if updated else None,
        )
    except (TypeError, ValueError) as exc:
        raise ExportError(f"{source}: bad high-water marks: {exc}") from None
