"""Files that appear under their final name only when complete.

Data is written to a hidden temporary file in the same directory and renamed over the final name
on :meth:`AtomicFile.commit`; Ctrl+C, a full disk or any exception before that removes the
temporary file, so a reader never sees half an export under the real name.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import BinaryIO


def temp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.part-{os.getpid()}")


class AtomicFile:
    """A binary file written to ``.NAME.part-PID`` and renamed to ``NAME`` on commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temp = temp_path_for(path)
        self.file: BinaryIO = open(self.temp, "wb")  # noqa: SIM115 - closed in commit/abort
        self.done = False

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        """Flush to disk and move into place (atomic on the same filesystem)."""
        if self.done:
            return
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.temp, self.path)
        except BaseException:
            self.abort()
            raise
        self.done = True

    def abort(self) -> None:
        """Drop the temporary file; the final name is left as it was."""
        if self.done:
            return
        self.done = True
        self.file.close()
        self.temp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_atomic(path: Path, data: bytes) -> None:
    with AtomicFile(path) as f:
        f.write(data)
