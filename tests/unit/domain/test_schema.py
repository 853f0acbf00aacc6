"""The label schema: the default ships and loads; broken files name the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.domain.schema import SchemaError, TagLevel, load_schema
from annotator.resources import default_schema


def test_default_schema_matches_label_schema_doc() -> None:
    schema = default_schema()
    assert schema.verdict_values == (
        "legitimate",
        "suspected_distillation",
        "other_policy_issue",
        "cannot_determine",
    )
    trace_level = [t.name for t in schema.evidence_tags if t.level is TagLevel.TRACE]
    group_level = [t.name for t in schema.evidence_tags if t.level is TagLevel.GROUP]
    assert trace_level == [
        "REASONING_ELICIT",
        "DATASET_FORMAT",
        "GRADER_ROLE",
        "SAFETY_BOUNDARY_HARVEST",
        "FOREIGN_IDENTITY",
        "SYNTHETIC_AGENT_HARNESS",
    ]
    assert group_level == [
        "TEMPLATE_AT_SCALE",
        "CAPABILITY_SWEEP",
        "AUTOMATION_TIMING",
        "ACCOUNT_COORDINATION",
        "ACCESS_OBFUSCATION",
    ]
    assert sorted(schema.counter_tag_names) == sorted(
        [
            "EVAL_RUN",
            "PRODUCT_INTEGRATION",
            "PERMITTED_TRAINING",
            "EDU_TUTORING",
            "DEV_TOOL",
            "DISCLOSED_RESEARCH",
        ]
    )
    assert schema.confidence.optional_for == ("cannot_determine",)
    assert (schema.confidence.min, schema.confidence.max) == (1, 3)
    assert any("nationality" in rule for rule in schema.rules)


def test_every_tag_has_a_definition() -> None:
    schema = default_schema()
    for tag in (*schema.evidence_tags, *schema.counter_tags):
        assert tag.description.strip(), tag.name


def test_json_schema_round_trip(tmp_path: Path) -> None:
    schema = default_schema()
    path = tmp_path / "s.json"
    path.write_text(schema.model_dump_json())
    assert load_schema(path) == schema


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            'name = "x"\n[[verdicts]]\nvalue = "a"\ntitle = "A"\n',
            "verdicts: Tuple should have at least 2 items",
        ),
        (
            'name = "x"\n[[verdicts]]\nvalue = "a"\ntitle = "A"\n[[verdicts]]\nvalue = "a"\ntitle = "B"\n',
            "duplicate verdict 'a'",
        ),
        (
            'name = "x"\nrationale_required_for = ["zzz"]\n[[verdicts]]\nvalue = "a"\ntitle = "A"\n'
            '[[verdicts]]\nvalue = "b"\ntitle = "B"\n',
            "rationale_required_for names unknown verdicts: zzz",
        ),
        ('name = "x"\nverdicts = 3\n', "verdicts"),
        ("name = [", "not valid TOML"),
        ('name = "x"\ncolour = "red"\n[[verdicts]]\nvalue = "a"\ntitle = "A"\n', "colour"),
    ],
)
def test_bad_schema_names_file_and_field(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(SchemaError) as err:
        load_schema(path)
    message = str(err.value)
    assert str(path) in message
    assert expected in message


def test_missing_file_and_non_object_json(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="cannot read schema"):
        load_schema(tmp_path / "nope.toml")
    path = tmp_path / "list.json"
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(SchemaError, match="top level"):
        load_schema(path)
