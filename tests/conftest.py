"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The real trace files in ../shared/corpus/raw (read in place, never copied)."""
    for candidate in (REPO.parent / "shared" / "corpus" / "raw", Path("/work/shared/corpus/raw")):
        if candidate.is_dir():
            return candidate
    pytest.fail("the shared corpus (../shared/corpus/raw) is missing beside the checkout")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated ANNOTATOR_HOME so no test touches the user's real data."""
    root = tmp_path / "home"
    root.mkdir()
    monkeypatch.setenv("ANNOTATOR_HOME", str(root))
    monkeypatch.delenv("ANNOTATOR_DB", raising=False)
    yield root
