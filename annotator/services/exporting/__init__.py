"""Export labeled datasets: resolve each trace's label, filter, split, write files and a
manifest. See :func:`export_dataset` (writes) and :func:`plan_export` (counts only)."""

from __future__ import annotations

from annotator.services.exporting.filters import ExportError, ExportOptions
from annotator.services.exporting.manifest import MANIFEST_NAME, read_manifest
from annotator.services.exporting.resolve import RESOLVE_STEPS, TIE_POLICIES
from annotator.services.exporting.runner import (
    ExportCancelled,
    ExportedFile,
    ExportPlan,
    ExportProgress,
    ExportSummary,
    export_dataset,
    plan_export,
)
from annotator.services.exporting.splits import parse_ratios

__all__ = [
    "MANIFEST_NAME",
    "RESOLVE_STEPS",
    "TIE_POLICIES",
    "ExportCancelled",
    "ExportError",
    "ExportOptions",
    "ExportPlan",
    "ExportProgress",
    "ExportSummary",
    "ExportedFile",
    "export_dataset",
    "parse_ratios",
    "plan_export",
    "read_manifest",
]
