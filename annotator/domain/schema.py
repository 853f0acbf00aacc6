"""The label schema: what a labeler may answer, loaded from TOML or JSON and validated."""

from __future__ import annotations

import json
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class TagLevel(StrEnum):
    TRACE = "trace"
    GROUP = "group"


class VerdictDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str = ""


class TagDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    description: str = ""
    level: TagLevel = TagLevel.TRACE


class ConfidenceDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min: int = 1
    max: int = 3
    descriptions: dict[str, str] = Field(default_factory=dict)
    optional_for: tuple[str, ...] = ()
    """Verdicts for which confidence may be left empty (e.g. ``cannot_determine``)."""

    @model_validator(mode="after")
    def _range(self) -> ConfidenceDef:
        if self.min > self.max:
            raise ValueError(f"confidence min ({self.min}) is greater than max ({self.max})")
        return self


class LabelSchema(BaseModel):
    """A project's schema. ``version`` is recorded with every label made under it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int = Field(default=1, ge=1)
    verdicts: tuple[VerdictDef, ...] = Field(min_length=2)
    confidence: ConfidenceDef = ConfidenceDef()
    evidence_tags: tuple[TagDef, ...] = ()
    counter_tags: tuple[TagDef, ...] = ()
    rules: tuple[str, ...] = ()
    rationale_required_for: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> LabelSchema:
        values = [v.value for v in self.verdicts]
        _no_duplicates("verdict", values)
        tags = [t.name for t in (*self.evidence_tags, *self.counter_tags)]
        _no_duplicates("tag", tags)
        for field, names in (
            ("confidence.optional_for", self.confidence.optional_for),
            ("rationale_required_for", self.rationale_required_for),
        ):
            unknown = sorted(set(names) - set(values))
            if unknown:
                raise ValueError(f"{field} names unknown verdicts: {', '.join(unknown)}")
        return self

    @property
    def verdict_values(self) -> tuple[str, ...]:
        return tuple(v.value for v in self.verdicts)

    @property
    def tag_names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.evidence_tags)

    @property
    def counter_tag_names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.counter_tags)

    def verdict(self, value: str) -> VerdictDef:
        for v in self.verdicts:
            if v.value == value:
                return v
        raise KeyError(value)


class SchemaError(ValueError):
    """A schema file that cannot be used; the message names the file and the field."""


def _no_duplicates(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} {name!r}")
        seen.add(name)


def parse_schema(data: dict[str, Any], *, source: str = "<schema>") -> LabelSchema:
    try:
        return LabelSchema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SchemaError(f"{source}: invalid label schema: {problems}") from None


def load_schema(path: Path) -> LabelSchema:
    """Load a schema from a ``.toml`` or ``.json`` file, with errors that name file and field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read schema: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(
            f"{path}: not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise SchemaError(f"{path}: a schema must be a table/object at the top level")
    return parse_schema(data, source=str(path))
