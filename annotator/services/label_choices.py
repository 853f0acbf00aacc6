"""The tags and evidence spans inside many ``labels.label_json`` values, parsed column-wise.

Why: a first read of a million labels spent about two seconds in a Python loop that parsed
each row's JSON and walked its tags and spans. Here the rows are joined into one
newline-delimited document that pyarrow's JSON reader parses in C++ (on its own threads, with
the GIL released) into list columns, and the codes come from numpy: about a tenth of the time.

The loop stays the definition of what a label's choices are (:func:`parse_rows`). The reader
takes only the shape the services write; :func:`parse_columns` returns None for anything else
(a value that is not one JSON object on one line, a tag that is not text, a span field missing
or not an integer), and the caller then uses the loop for those rows, so both paths always
give the same result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pa_json

IntArray = np.ndarray[Any, np.dtype[np.int64]]

TAG_KEYS = ("tags", "counter_tags")
SPAN_FIELDS = ("turn", "block", "start", "end")
_SCHEMA = pa.schema(
    [
        *((key, pa.list_(pa.string())) for key in TAG_KEYS),
        ("spans", pa.list_(pa.struct([(name, pa.int64()) for name in SPAN_FIELDS]))),
    ]
)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_BLOCK = 1 << 22
"""Bytes per block of the JSON reader, parsed in parallel (a longer value fails the read and
the rows go to the loop)."""


def parse_rows(
    rows: Sequence[int], jsons: Sequence[str | bytes | None], vocab: list[tuple[str, str]]
) -> tuple[IntArray, IntArray, IntArray]:
    """``(tag_row, tag_code, spans)`` of the labels ``jsons`` (one per entry of ``rows``):
    every chosen tag as its row and its code in ``vocab`` (extended in place, new pairs
    sorted), every span as ``(row, turn, block, start, end)``. Values that are not a JSON
    object contribute nothing; so do tags or spans that are not lists."""
    tag_rows: list[int] = []
    tags: list[tuple[str, str]] = []
    spans: list[tuple[int, ...]] = []
    loads = orjson.loads
    for row, label_json in zip(rows, jsons, strict=True):
        try:
            data = loads(label_json or "{}")
        except orjson.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        for key in TAG_KEYS:
            chosen = data.get(key)
            if chosen and isinstance(chosen, list):
                for tag in chosen:
                    tag_rows.append(row)
                    tags.append((key, str(tag)))
        found = data.get("spans")
        if found and isinstance(found, list):
            for span in found:
                try:
                    fields = tuple(int(span[name]) for name in SPAN_FIELDS)
                except (KeyError, TypeError, ValueError):
                    continue  # not a span: written behind the services' back
                if all(_INT64_MIN <= value <= _INT64_MAX for value in fields):
                    spans.append((row, *fields))
    codes = _codes(tags, vocab)
    return (
        np.asarray(tag_rows, dtype=np.int64),
        codes,
        np.asarray(spans, dtype=np.int64).reshape(-1, 5),
    )


def extend_vocab(vocab: list[Any], values: Iterable[Any]) -> dict[Any, int]:
    """Append the ``values`` not yet in ``vocab`` (sorted, so the order does not depend on
    the order rows came in) and return every value's code."""
    for value in sorted(set(values) - set(vocab)):
        vocab.append(value)
    return {v: i for i, v in enumerate(vocab)}


def _codes(values: Sequence[tuple[str, str]], vocab: list[tuple[str, str]]) -> IntArray:
    index = extend_vocab(vocab, values)
    return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))


def parse_columns(
    rows: IntArray, jsons: Sequence[str | None], vocab: list[tuple[str, str]]
) -> tuple[IntArray, IntArray, IntArray] | None:
    """What :func:`parse_rows` gives for the same input, or None when the values are not all
    in the shape the services write (then nothing is added to ``vocab``)."""
    if not jsons:
        return parse_rows([], [], vocab)
    texts = [value or "{}" for value in jsons]
    return parse_document(rows, "\n".join(texts).encode(), vocab)


def parse_document(
    rows: IntArray, document: bytes, vocab: list[tuple[str, str]]
) -> tuple[IntArray, IntArray, IntArray] | None:
    """:func:`parse_columns` of values already joined by newlines (UTF-8), one per entry of
    ``rows`` (the database can join them: :mod:`annotator.services.label_table`)."""
    if not rows.size:
        return parse_rows([], [], vocab)
    if document.count(b"\n") != rows.size - 1 or b"\r" in document:
        return None  # a value spanning lines would shift every row after it
    try:
        table = pa_json.read_json(
            pa.BufferReader(document),
            read_options=pa_json.ReadOptions(block_size=_BLOCK),
            parse_options=pa_json.ParseOptions(
                explicit_schema=_SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
    except pa.ArrowException:  # any shape the reader cannot take: the loop decides
        return None
    if table.num_rows != rows.size:
        return None
    tag_parts: list[tuple[IntArray, pa.Array, str]] = []
    for key in TAG_KEYS:
        column = table.column(key).combine_chunks()
        values = column.flatten()
        if values.null_count:
            return None  # str(None) is "None" for the loop: leave such rows to it
        tag_parts.append((_numbers(column.value_parent_indices()), values, key))
    spans = table.column("spans").combine_chunks()
    flat = spans.flatten()
    if flat.null_count or any(flat.field(name).null_count for name in SPAN_FIELDS):
        return None
    span_parents = _numbers(spans.value_parent_indices())
    span_cols = [span_parents] + [_numbers(flat.field(name)) for name in SPAN_FIELDS]
    tag_row, tag_code = _tag_codes(tag_parts, vocab)
    span_array = np.column_stack(span_cols) if span_parents.size else np.zeros((0, 5), np.int64)
    span_array[:, 0] = rows[span_array[:, 0]]
    return rows[tag_row], tag_code, span_array


def _numbers(array: pa.Array) -> IntArray:
    """An integer array without nulls as int64 numpy, read from its data buffer.
    (``Array.to_numpy`` imports pandas on its first call: 0.2 s.)"""
    width = array.type.bit_width // 8
    dtype = {4: np.int32, 8: np.int64}[width]
    data = array.buffers()[1]
    if data is None:
        return np.zeros(0, np.int64)
    values = np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * width)
    return values.astype(np.int64)


def _tag_codes(
    parts: list[tuple[IntArray, pa.Array, str]], vocab: list[tuple[str, str]]
) -> tuple[IntArray, IntArray]:
    """Rows (positions in the parsed values) and ``vocab`` codes of every tag, in row order
    and, within a row, ``tags`` before ``counter_tags``, each in its list's order."""
    found: list[tuple[str, str]] = []
    encoded: list[tuple[IntArray, IntArray, list[tuple[str, str]]]] = []
    for parents, values, key in parts:
        dictionary = values.dictionary_encode()
        names = [(key, str(tag)) for tag in dictionary.dictionary.to_pylist()]
        found.extend(names)
        local = _numbers(dictionary.indices)
        encoded.append((parents, local, names))
    index = extend_vocab(vocab, found)
    rows = [parents for parents, _, _ in encoded]
    codes = [
        np.asarray([index[name] for name in names], dtype=np.int64)[local]
        if names
        else np.zeros(0, np.int64)
        for _, local, names in encoded
    ]
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    code = np.concatenate(codes) if codes else np.zeros(0, np.int64)
    order = np.argsort(row, kind="stable")
    return row[order], code[order]
