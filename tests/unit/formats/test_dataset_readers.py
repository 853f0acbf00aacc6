"""Fine-tuning and reasoning dataset readers: ShareGPT, Alpaca, TRL, HF reasoning columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from annotator.domain.trace import BlockKind, Role, Trace, content_uid
from annotator.formats.alpaca import READER as ALPACA
from annotator.formats.base import RecordError, SourceRecord
from annotator.formats.hf_reasoning import READER as HF
from annotator.formats.reading import read_file
from annotator.formats.registry import detect_reader
from annotator.formats.sharegpt import READER as SHAREGPT
from annotator.formats.trl import READER as TRL

BEGIN, END = "<|begin_of_thought|>", "<|end_of_thought|>"
SOLUTION_BEGIN, SOLUTION_END = "<|begin_of_solution|>", "<|end_of_solution|>"


def _record(data: Any, line: int = 1) -> SourceRecord:
    return SourceRecord(data=data, source_file="data.jsonl", line=line, raw=orjson.dumps(data))


def _shape(trace: Trace) -> list[tuple[str, list[str]]]:
    return [(t.role.value, [b.kind.value for b in t.blocks]) for t in trace.turns]


# --- SkyThought eval output (real corpus file) -------------------------------------------------


@pytest.fixture(scope="module")
def skythought(corpus_dir: Path) -> tuple[list[dict[str, Any]], list[Trace]]:
    (path,) = sorted((corpus_dir / "SkyThought").glob("*.jsonl"))
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    traces: list[Trace] = []
    for item in read_file(path):
        assert not isinstance(item, RecordError), item
        traces.extend(item[1])
    return rows, traces


def test_skythought_outputs_open_a_thought_block_and_eleven_are_cut_off(
    skythought: tuple[list[dict[str, Any]], list[Trace]],
) -> None:
    rows, traces = skythought
    assert len(rows) == 30 and len(traces) == 30
    assert all(t.meta.source_format == "hf_reasoning" for t in traces)
    assert all(len(row["code"]) == 1 for row in rows)
    closed_in_file = sum(END in row["code"][0] for row in rows)
    assert closed_in_file == 19
    reasoning = [[b for b in t.turns[-1].blocks if b.kind is BlockKind.REASONING] for t in traces]
    assert all(len(r) == 1 for r in reasoning)  # all 30 open a thought block
    assert sum(r[0].truncated for r in reasoning) == 11
    assert sum(not r[0].truncated for r in reasoning) == 19
    assert sum(t.truncated_count for t in traces) == 11


def test_skythought_turns_solution_text_and_grading(
    skythought: tuple[list[dict[str, Any]], list[Trace]],
) -> None:
    rows, traces = skythought
    for row, trace in zip(rows, traces, strict=True):
        assert [t.role for t in trace.turns] == [Role.USER, Role.ASSISTANT]
        assert trace.prompt == row["question"]
        output = row["code"][0]
        blocks = trace.turns[1].blocks
        assert blocks[0].kind is BlockKind.REASONING
        assert blocks[0].text == output.split(BEGIN, 1)[1].split(END, 1)[0].strip()
        if END in output:
            solution = output.split(END, 1)[1]
            solution = solution.replace(SOLUTION_BEGIN, "").replace(SOLUTION_END, "").strip()
            assert [b.kind for b in blocks[1:]] == [BlockKind.TEXT]
            assert blocks[1].text == solution
        assert trace.meta.extra["gt"] == row["gt"]
        assert trace.meta.extra["pred"] == row["pred"][0]
        assert trace.meta.extra["score"] == row["score"][0]
        assert trace.uid == content_uid(row) + "#0"
        assert trace.original == row
    assert len({t.uid for t in traces}) == 30


# --- ShareGPT ----------------------------------------------------------------------------------


def test_sharegpt_speakers_tools_and_inline_reasoning() -> None:
    data = {
        "id": "conv-42",
        "system": "You are a helpful assistant.",
        "conversations": [
            {"from": "human", "value": "What's the weather in Paris?"},
            {"from": "gpt", "value": "<think>I should call the tool.</think>Let me check."},
            {
                "from": "function_call",
                "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}',
            },
            {"from": "observation", "value": '{"temp": 21}'},
            {"from": "gpt", "value": "<think>It is 21 degrees"},
            {"from": "user", "value": "thanks"},
            {"from": "assistant", "value": "You're welcome."},
        ],
        "tools": '[{"name": "get_weather"}]',
    }
    assert detect_reader(data) is SHAREGPT
    (trace,) = SHAREGPT.read(_record(data, line=9))
    assert trace.uid == "conv-42"
    assert _shape(trace) == [
        ("system", ["text"]),
        ("user", ["text"]),
        ("assistant", ["reasoning", "text"]),
        ("assistant", ["tool_call"]),
        ("tool", ["tool_result"]),
        ("assistant", ["reasoning"]),
        ("user", ["text"]),
        ("assistant", ["text"]),
    ]
    call = trace.turns[3].blocks[0]
    assert call.tool_name == "get_weather"
    assert orjson.loads(call.text) == {"city": "Paris"}
    assert trace.turns[4].blocks[0].text == '{"temp": 21}'
    assert trace.turns[5].blocks[0].truncated
    assert trace.meta.source_format == "sharegpt"
    assert (trace.meta.source_file, trace.meta.source_line) == ("data.jsonl", 9)
    assert trace.original == data


def test_sharegpt_role_content_variant_with_model() -> None:
    data = {
        "conversation_id": "abc123",
        "model": "vicuna-13b",
        "conversation": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi there"},
        ],
    }
    assert detect_reader(data) is SHAREGPT
    (trace,) = SHAREGPT.read(_record(data))
    assert trace.uid == "abc123"
    assert trace.meta.model == "vicuna-13b"
    assert _shape(trace) == [("user", ["text"]), ("assistant", ["text"])]


def test_sharegpt_without_id_gets_a_content_hash_and_bad_speakers_are_record_errors() -> None:
    data = {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}
    (trace,) = SHAREGPT.read(_record(data))
    assert trace.uid == content_uid(data)
    bad = {"conversations": [{"from": "human", "value": 3}]}
    with pytest.raises(RecordError) as info:
        SHAREGPT.read(_record(bad))
    assert info.value.field == "conversations[0].value"


def test_from_value_messages_are_sharegpt_not_openai_chat() -> None:
    data = {"messages": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    assert detect_reader(data) is SHAREGPT


# --- Alpaca ------------------------------------------------------------------------------------


def test_alpaca_instruction_input_history_and_system() -> None:
    data = {
        "instruction": "Translate to French.",
        "input": "Good morning",
        "output": "<think>Simple greeting.</think>Bonjour",
        "system": "You translate.",
        "history": [["Translate 'cat'.", "chat"], ["And 'dog'?", "chien"]],
    }
    assert detect_reader(data) is ALPACA
    (trace,) = ALPACA.read(_record(data))
    assert _shape(trace) == [
        ("system", ["text"]),
        ("user", ["text"]),
        ("assistant", ["text"]),
        ("user", ["text"]),
        ("assistant", ["text"]),
        ("user", ["text"]),
        ("assistant", ["reasoning", "text"]),
    ]
    assert trace.turns[5].blocks[0].text == "Translate to French.\n\nGood morning"
    assert trace.turns[6].blocks[1].text == "Bonjour"
    assert trace.prompt == "Translate 'cat'."
    assert trace.uid == content_uid(data)


def test_alpaca_without_input_and_bad_history() -> None:
    (trace,) = ALPACA.read(_record({"instruction": "Say hi.", "input": "", "output": "hi"}))
    assert trace.turns[0].blocks[0].text == "Say hi."
    with pytest.raises(RecordError) as info:
        ALPACA.read(_record({"instruction": "x", "output": "y", "history": [["only one"]]}))
    assert info.value.field == "history[0]"


# --- TRL ---------------------------------------------------------------------------------------


def test_trl_prompt_completion_strings_and_kto_label() -> None:
    data = {"prompt": "The sky is", "completion": " blue.", "label": True}
    assert detect_reader(data) is TRL
    (trace,) = TRL.read(_record(data))
    assert _shape(trace) == [("user", ["text"]), ("assistant", ["text"])]
    assert trace.meta.extra == {"label": True}


def test_trl_conversational_preference_is_one_trace_with_rejected_kept() -> None:
    rejected = [{"role": "assistant", "content": "It is green."}]
    data = {
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What color is the sky?"},
        ],
        "chosen": [{"role": "assistant", "content": "<think>Rayleigh scattering.</think>Blue."}],
        "rejected": rejected,
    }
    assert detect_reader(data) is TRL
    (trace,) = TRL.read(_record(data))
    assert _shape(trace) == [
        ("system", ["text"]),
        ("user", ["text"]),
        ("assistant", ["reasoning", "text"]),
    ]
    assert trace.turns[2].blocks[1].text == "Blue."
    assert trace.meta.extra == {"rejected": rejected}
    assert trace.meta.source_format == "trl"


def test_trl_implicit_prompt_preference() -> None:
    chosen = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    rejected = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]
    data = {"chosen": chosen, "rejected": rejected}
    assert detect_reader(data) is TRL
    (trace,) = TRL.read(_record(data))
    assert [t.text_of() for t in trace.turns] == ["2+2?", "4"]
    assert trace.meta.extra["rejected"] == rejected


def test_trl_bad_completion_type_is_a_record_error() -> None:
    with pytest.raises(RecordError) as info:
        TRL.read(_record({"prompt": "x", "completion": 5}))
    assert info.value.field == "completion"


# --- HF reasoning columns ----------------------------------------------------------------------


def test_problem_with_generations_gives_one_trace_per_generation() -> None:
    data = {
        "uuid": "u-1",
        "problem": "Find x if 2x = 6.",
        "solution": "x = 3",
        "answer": "3",
        "generations": ["<think>Divide by 2.</think>x = 3", "<think>Hmm, 2x=6 so x"],
        "correctness_math_verify": [True, False],
    }
    assert detect_reader(data) is HF
    traces = HF.read(_record(data))
    assert [t.uid for t in traces] == ["u-1#0", "u-1#1"]
    assert [_shape(t) for t in traces] == [
        [("user", ["text"]), ("assistant", ["reasoning", "text"])],
        [("user", ["text"]), ("assistant", ["reasoning"])],
    ]
    assert traces[1].truncated_count == 1
    assert [t.meta.extra["correctness_math_verify"] for t in traces] == [True, False]
    assert all(t.meta.extra["answer"] == "3" for t in traces)
    assert [t.meta.extra["output_index"] for t in traces] == [0, 1]


def test_problem_with_solution_only() -> None:
    data = {"problem": "What is 3*3?", "solution": "<think>3 threes</think>9"}
    assert detect_reader(data) is HF
    (trace,) = HF.read(_record(data))
    assert _shape(trace) == [("user", ["text"]), ("assistant", ["reasoning", "text"])]
    assert trace.uid == content_uid(data)


def test_s1k_thinking_trajectories_and_attempt() -> None:
    data = {
        "question": "Is 91 prime?",
        "thinking_trajectories": ["91 = 7 * 13.", "So it is composite."],
        "attempt": "No, 91 = 7 x 13.",
    }
    assert detect_reader(data) is HF
    (trace,) = HF.read(_record(data))
    assert _shape(trace) == [("user", ["text"]), ("assistant", ["reasoning", "reasoning", "text"])]
    assert trace.turns[1].blocks[2].text == "No, 91 = 7 x 13."
    assert trace.uid == content_uid(data)


def test_s1k_per_model_pairs_give_one_trace_each() -> None:
    data = {
        "question": "q",
        "gemini_thinking_trajectory": "gemini thinks",
        "gemini_attempt": "gemini answers",
        "deepseek_thinking_trajectory": "deepseek thinks",
        "deepseek_attempt": "deepseek answers",
    }
    traces = HF.read(_record(data))
    base = content_uid(data)
    assert [t.uid for t in traces] == [f"{base}#gemini", f"{base}#deepseek"]
    assert [t.meta.extra["generator"] for t in traces] == ["gemini", "deepseek"]
    assert [t.turns[1].text_of(BlockKind.REASONING) for t in traces] == [
        "gemini thinks",
        "deepseek thinks",
    ]


def test_hf_columns_from_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {"problem": f"p{i}", "generations": [f"<think>t{i}</think>a{i}", None]} for i in range(3)
    ]
    path = tmp_path / "openr1.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    traces = [t for item in read_file(path) if not isinstance(item, RecordError) for t in item[1]]
    assert len(traces) == 3  # the null generation is skipped
    assert [t.meta.source_line for t in traces] == [1, 2, 3]
    assert [t.turns[1].text_of(BlockKind.TEXT) for t in traces] == ["a0", "a1", "a2"]


def test_sharegpt_messages_with_system_is_not_anthropic() -> None:
    from annotator.formats.base import SourceRecord
    from annotator.formats.registry import detect_reader

    data = {
        "system": "You are helpful.",
        "messages": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}],
    }
    reader = detect_reader(data)
    assert reader.name == "sharegpt"
    (trace,) = reader.read(SourceRecord(data=data, source_file="x.jsonl", line=1))
    assert [t.role.value for t in trace.turns] == ["system", "user", "assistant"]


def test_dataset_records_keep_account_session_and_time() -> None:
    from annotator.formats.base import SourceRecord
    from annotator.formats.registry import detect_reader

    for data in (
        {
            "conversations": [{"from": "human", "value": "q"}],
            "user": "acct-1",
            "session_id": "s-1",
            "created": 1767225600,
        },
        {
            "instruction": "q",
            "output": "a",
            "metadata": {"user_id": "acct-1", "session_id": "s-1"},
            "created_at": "2026-01-01T00:00:00Z",
        },
    ):
        (trace,) = detect_reader(data).read(SourceRecord(data=data, source_file="x", line=1))
        assert (trace.meta.account_id, trace.meta.session_id) == ("acct-1", "s-1")
        assert (
            trace.meta.created_at is not None
            and trace.meta.created_at.isoformat() == "2026-01-01T00:00:00+00:00"
        )
