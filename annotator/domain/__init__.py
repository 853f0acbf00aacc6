"""Pure domain model: pydantic types and rules, no I/O, no Qt, no database."""

from annotator.domain.label import EvidenceSpan, Label, LabelStatus, validate_label
from annotator.domain.schema import LabelSchema, TagDef, VerdictDef, load_schema
from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn

__all__ = [
    "Block",
    "BlockKind",
    "EvidenceSpan",
    "Label",
    "LabelSchema",
    "LabelStatus",
    "Role",
    "TagDef",
    "Trace",
    "TraceMeta",
    "Turn",
    "VerdictDef",
    "load_schema",
    "validate_label",
]
