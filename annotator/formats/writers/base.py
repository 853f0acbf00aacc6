"""What every data-file writer offers: write records, then commit (rename into place) or abort."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class RecordWriter(Protocol):
    path: Path
    rows: int

    def write(self, record: dict[str, Any]) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...
