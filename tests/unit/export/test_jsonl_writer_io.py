"""The JSONL writer writes and hashes blocks on a helper thread: the digest must be the file's,
a failed block must surface in the caller, and an abort must leave nothing behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from annotator.formats.writers import jsonl
from annotator.formats.writers.jsonl import JsonlWriter


def test_digest_is_the_files_across_many_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "FLUSH_BYTES", 64)  # many blocks in flight one after another
    path = tmp_path / "data.jsonl"
    writer = JsonlWriter(path)
    for i in range(500):
        writer.write({"i": i, "text": "x" * (i % 37)})
    writer.commit()
    data = path.read_bytes()
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
    assert data.count(b"\n") == 500 == writer.rows
    assert data.splitlines()[7] == b'{"i":7,"text":"xxxxxxx"}'


def test_a_failed_block_surfaces_and_abort_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "FLUSH_BYTES", 16)
    path = tmp_path / "data.jsonl"
    writer = JsonlWriter(path)

    def full_disk(block: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer._file, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        for i in range(100):
            writer.write({"i": i, "pad": "y" * 20})
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    assert writer.sha256 is None


def test_a_record_with_non_string_keys_is_still_written(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    writer = JsonlWriter(path)
    writer.write({"b": {2: "two", 1: "one"}, "a": 1})
    writer.write({"b": {"k": [1]}, "a": 2})
    writer.commit()
    assert path.read_bytes() == b'{"a":1,"b":{"1":"one","2":"two"}}\n{"a":2,"b":{"k":[1]}}\n'
