"""VCR cassettes (YAML recordings of HTTP calls, as pydantic-ai and vcrpy write them).

Each interaction becomes one ``{request, response, uri}`` record, the pair shape the API-log
readers already recognise, so a recorded Anthropic, OpenAI or DeepSeek call imports like a log line.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml

from annotator.formats.base import RecordError, SourceRecord

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""The safe loader (no arbitrary objects), libyaml's C version where PyYAML was built with it."""


def _decode(raw: Any) -> Any:
    """A recorded body as JSON where it parses, else as text (bytes are gunzipped if needed)."""
    if isinstance(raw, dict) and "string" in raw and len(raw) <= 2:  # vcrpy: {string: ...}
        raw = raw["string"]
    if isinstance(raw, bytes):
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error):
                return None
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw or None
    return raw


def _body(message: Any) -> Any:
    if not isinstance(message, dict):
        return None
    if "parsed_body" in message:
        return message["parsed_body"]
    return _decode(message.get("body"))


def interaction_record(interaction: Any) -> dict[str, Any]:
    """One recorded HTTP exchange as a ``{request, response, uri, method, status}`` record."""
    if not isinstance(interaction, dict):
        raise RecordError("a cassette interaction must be a mapping")
    request = interaction.get("request")
    response = interaction.get("response")
    record: dict[str, Any] = {"request": _body(request), "response": _body(response)}
    if isinstance(request, dict):
        for key in ("uri", "method"):
            if isinstance(request.get(key), str):
                record[key] = request[key]
    status = response.get("status") if isinstance(response, dict) else None
    if isinstance(status, dict) and isinstance(status.get("code"), int):
        record["status"] = status["code"]
    return record


def iter_cassette_records(path: Path) -> Iterator[SourceRecord]:
    """Yield one SourceRecord per interaction (``line`` = 1-based interaction index).

    Raises RecordError for a file that is not a cassette; a malformed interaction is yielded as
    a record whose request/response are None so the reader reports it with its index."""
    try:
        with path.open("rb") as handle:
            document = yaml.load(handle, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise RecordError(f"not valid YAML: {exc}", source_file=str(path)) from None
    interactions = document.get("interactions") if isinstance(document, dict) else None
    if not isinstance(interactions, list):
        raise RecordError("not a VCR cassette (no interactions list)", source_file=str(path))
    for index, interaction in enumerate(interactions, start=1):
        try:
            data: Any = interaction_record(interaction)
        except RecordError:
            data = interaction
        yield SourceRecord(data=data, source_file=str(path), line=index)
