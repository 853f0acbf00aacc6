"""Tags and spans of many labels, read column-wise: the same result as the row-by-row loop for
what the services write, and a hand-back to the loop for anything else."""

from __future__ import annotations

import random

import numpy as np
import orjson
import pytest

from annotator.services.label_choices import parse_columns, parse_rows

TAGS = ["REASONING_ELICIT", "GRADER_ROLE", "BULK_TEMPLATE", "Ünïcode tag", 'quote " tag']
COUNTER = ["DEV_TOOL", "EDU_TUTORING"]


def _services_shaped(rng: random.Random, n: int) -> list[str | None]:
    """Label JSON as the services write it: some keys missing, empty lists, other fields."""
    values: list[str | None] = []
    for _ in range(n):
        data: dict[str, object] = {"verdict": "legitimate", "confidence": rng.randint(1, 3)}
        if rng.random() < 0.8:
            data["tags"] = rng.sample(TAGS, rng.randint(0, 3))
        if rng.random() < 0.5:
            data["counter_tags"] = rng.sample(COUNTER, rng.randint(0, 2))
        if rng.random() < 0.6:
            data["spans"] = [
                {
                    "turn": rng.randint(0, 4),
                    "block": rng.randint(0, 2),
                    "start": (start := rng.randint(0, 5000)),
                    "end": start + rng.randint(1, 300),
                    "text": "line one\nline two",
                }
                for _ in range(rng.randint(0, 3))
            ]
        data["rationale"] = "why\nover two lines"
        values.append(orjson.dumps(data).decode())
    values[7] = None
    values[11] = ""
    return values


def _same(
    left: tuple[np.ndarray, np.ndarray, np.ndarray],
    right: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(left, right, strict=True))


def test_column_wise_equals_the_loop_for_what_the_services_write() -> None:
    rng = random.Random(7)
    jsons = _services_shaped(rng, 5000)
    rows = np.sort(rng.sample(range(20_000), len(jsons))).astype(np.int64)
    vocab_columns = [("tags", "GRADER_ROLE")]
    vocab_rows = list(vocab_columns)

    by_columns = parse_columns(rows, jsons, vocab_columns)
    by_rows = parse_rows(rows.tolist(), jsons, vocab_rows)

    assert by_columns is not None
    assert _same(by_columns, by_rows)
    assert vocab_columns == vocab_rows
    assert vocab_columns[0] == ("tags", "GRADER_ROLE")  # an existing vocabulary keeps its codes
    tag_row, tag_code, spans = by_columns
    assert tag_row.size > 3000 and spans.shape[0] > 3000
    assert np.all(np.diff(tag_row) >= 0) and np.all(np.diff(spans[:, 0]) >= 0)
    k = next(
        i
        for i, value in enumerate(jsons)
        if value
        and len(orjson.loads(value).get("tags", [])) >= 2
        and orjson.loads(value).get("counter_tags")
    )
    data = orjson.loads(jsons[k] or "{}")
    found = [vocab_columns[c] for c in tag_code[tag_row == rows[k]]]
    # Row order, then tags before counter tags, each list in its own order.
    assert found == [("tags", t) for t in data["tags"]] + [
        ("counter_tags", t) for t in data["counter_tags"]
    ]


ODD_VALUES = [
    "[1, 2]",
    '"text"',
    "null",
    "not json",
    '{"tags": "A"}',
    '{"tags": [1]}',
    '{"tags": [true]}',
    '{"tags": [null]}',
    '{"tags": [["A"]]}',
    '{"tags": {"a": 1}}',
    '{"tags": ["A"], "tags": ["B"]}',
    '{"spans": "x"}',
    '{"spans": [1]}',
    '{"spans": [null]}',
    '{"spans": [{"turn": 1, "block": 0, "start": 2}]}',
    '{"spans": [{"turn": "1", "block": 0, "start": 2, "end": 3}]}',
    '{"spans": [{"turn": 1.0, "block": 0, "start": 2, "end": 3}]}',
    '{"spans": [{"turn": 9223372036854775808, "block": 0, "start": 2, "end": 3}]}',
    '{\n  "tags": ["A"]\n}',
    '{"tags": ["A"]}\r',
    '{"tags": ["A"]} {"tags": ["B"]}',
    ' {"tags": ["Z"]}  ',
]


@pytest.mark.parametrize("odd", ODD_VALUES)
def test_a_value_of_another_shape_gives_what_the_loop_gives(odd: str) -> None:
    """Written behind the services' back: either the column-wise reader agrees with the loop,
    or it hands the rows back untouched (and the caller runs the loop)."""
    jsons: list[str | None] = [*_services_shaped(random.Random(1), 20)]
    jsons[13] = odd
    rows = np.arange(len(jsons), dtype=np.int64) * 2
    vocab_columns: list[tuple[str, str]] = []
    vocab_rows: list[tuple[str, str]] = []

    by_columns = parse_columns(rows, jsons, vocab_columns)
    by_rows = parse_rows(rows.tolist(), jsons, vocab_rows)

    if by_columns is None:
        assert vocab_columns == []
    else:
        assert _same(by_columns, by_rows) and vocab_columns == vocab_rows
    # The other rows still count either way.
    assert np.count_nonzero(by_rows[0] != 26) > 10


def test_the_loop_skips_what_is_not_a_span_and_keeps_the_rest() -> None:
    jsons = [
        '{"spans": [{"turn": 1, "block": 0, "start": 2}, {"turn": 0, "block": 1, "start": 4, "end": 9}]}',
        '{"spans": [null, "x", {"turn": "x", "block": 0, "start": 1, "end": 2}]}',
        '{"spans": [{"turn": 2, "block": 0, "start": 1, "end": 99999999999999999999}]}',
        '{"tags": ["A", 7], "counter_tags": ["B"]}',
    ]
    vocab: list[tuple[str, str]] = []

    tag_row, tag_code, spans = parse_rows([10, 11, 12, 13], jsons, vocab)

    assert spans.tolist() == [[10, 0, 1, 4, 9]]
    assert tag_row.tolist() == [13, 13, 13]
    assert [vocab[c] for c in tag_code] == [("tags", "A"), ("tags", "7"), ("counter_tags", "B")]


def test_no_values_give_empty_columns() -> None:
    found = parse_columns(np.zeros(0, np.int64), [], [])
    assert found is not None
    assert [a.shape for a in found] == [(0,), (0,), (0, 5)]
