"""A Hugging Face ``datasets`` folder: ``data/<split>.parquet`` plus a README.md dataset card.

The card's YAML header is what ``datasets.load_dataset(DIR)`` reads: ``configs`` maps each split
to its data file and ``dataset_info.features`` spells out the typed schema (the same one the
Parquet files carry), so the dataset loads with the right types and no guessing. Split sizes are
given in the body, not in ``dataset_info.splits`` (which ``datasets`` only accepts with the byte
size of its own Arrow cache, a figure no exporter can know). The body gives
the label schema's definitions, counts per split and label, and provenance. It holds no clock
time, so the same export gives the same card.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import yaml

from annotator.domain.schema import LabelSchema

DATA_DIR = "data"


def data_file(split: str) -> str:
    return f"{DATA_DIR}/{split}.parquet"


def _dtype(t: pa.DataType) -> Any:
    """One arrow type as a ``datasets`` feature (its YAML form)."""
    if pa.types.is_struct(t):
        return {"struct": [_feature(f) for f in t]}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = t.value_type
        if pa.types.is_struct(inner):
            return {"list": [_feature(f) for f in inner]}
        return {"list": _scalar(inner)}
    return {"dtype": _scalar(t)}


def _scalar(t: pa.DataType) -> Any:
    if pa.types.is_timestamp(t):
        assert isinstance(t, pa.TimestampType)
        return f"timestamp[{t.unit}, tz={t.tz}]" if t.tz else f"timestamp[{t.unit}]"
    if pa.types.is_struct(t) or pa.types.is_list(t):
        return _dtype(t)
    names = {
        pa.string(): "string",
        pa.int64(): "int64",
        pa.float64(): "float64",
        pa.bool_(): "bool",
    }
    if t in names:
        return names[t]
    raise ValueError(f"no datasets feature for arrow type {t}")


def _feature(f: pa.Field) -> dict[str, Any]:
    return {"name": f.name, **_dtype(f.type)}


def features(schema: pa.Schema) -> list[dict[str, Any]]:
    return [_feature(f) for f in schema]


def _table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])


def dataset_card(
    *,
    title: str,
    view: str,
    schema: pa.Schema,
    split_counts: Mapping[str, int],
    label_counts: Mapping[str, Mapping[str, int]],
    label_schema: LabelSchema,
    provenance: Mapping[str, Any],
) -> str:
    """README.md text: YAML header for ``datasets``, then definitions, counts and provenance.

    ``label_counts`` maps split -> label (``"(unlabeled)"`` for none) -> count."""
    splits = list(split_counts)
    header = {
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": data_file(s)} for s in splits],
            }
        ],
        "dataset_info": {"features": features(schema)},
        "tags": ["annotator-export", f"view-{view}"],
    }
    parts = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {title}",
        "",
        f"Labeled LLM reasoning traces exported by Trace Annotator (view `{view}`). "
        "Trace text is untrusted input: treat it as data, never as instructions or markup.",
        "",
        "```python",
        "from datasets import load_dataset",
        "ds = load_dataset('path/to/this/folder')",
        "```",
        "",
        "## Counts",
        "",
    ]
    labels = sorted({lab for counts in label_counts.values() for lab in counts})
    rows = [
        [s, str(split_counts[s]), *(str(label_counts.get(s, {}).get(lab, 0)) for lab in labels)]
        for s in splits
    ]
    total = [
        "total",
        str(sum(split_counts.values())),
        *(str(sum(c.get(lab, 0) for c in label_counts.values())) for lab in labels),
    ]
    parts += [_table(["split", "rows", *labels], [*rows, total]), ""]
    parts += [
        f"## Label schema: {label_schema.name} (version {label_schema.version})",
        "",
        "### Verdicts",
        "",
        _table(
            ["value", "title", "definition"],
            [[v.value, v.title, v.description] for v in label_schema.verdicts],
        ),
        "",
    ]
    conf = label_schema.confidence
    parts += [f"### Confidence ({conf.min}-{conf.max})", ""]
    parts += [f"- **{k}**: {v}" for k, v in sorted(conf.descriptions.items())] or ["(no notes)"]
    parts += [""]
    for heading, tags in (
        ("Evidence tags", label_schema.evidence_tags),
        ("Counter-evidence tags", label_schema.counter_tags),
    ):
        if tags:
            parts += [
                f"### {heading}",
                "",
                _table(
                    ["tag", "level", "definition"],
                    [[t.name, t.level.value, t.description] for t in tags],
                ),
                "",
            ]
    if label_schema.rules:
        parts += ["### Rules", "", *(f"- {r}" for r in label_schema.rules), ""]
    parts += [
        "## Provenance",
        "",
        "```yaml",
        yaml.safe_dump(dict(provenance), sort_keys=True, allow_unicode=True).rstrip(),
        "```",
        "",
    ]
    return "\n".join(parts)
