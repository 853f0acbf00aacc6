"""Export writers: pure functions and streaming files, no database (see annotator.services
.exporting for the use case that feeds them)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from annotator.formats.writers.base import RecordWriter
from annotator.formats.writers.csv_writer import CsvWriter
from annotator.formats.writers.jsonl import JsonlWriter
from annotator.formats.writers.parquet import ParquetWriter

FORMATS = ("jsonl", "csv", "parquet", "hf")
SUFFIXES = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet", "hf": ".parquet"}


def open_writer(format: str, path: Path, schema: pa.Schema) -> RecordWriter:
    """A writer for one data file (``hf`` data files are Parquet)."""
    if format == "jsonl":
        return JsonlWriter(path)
    if format == "csv":
        return CsvWriter(path, schema)
    if format in ("parquet", "hf"):
        return ParquetWriter(path, schema)
    raise ValueError(f"unknown export format {format!r}; known formats: {', '.join(FORMATS)}")
