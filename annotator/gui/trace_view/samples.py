"""Sample traces for the trace view's tests, benchmark and screenshots (no I/O, deterministic)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson

from annotator.domain.trace import Block, BlockKind, Role, Trace, TraceMeta, Turn

ANSWER_MD = """## Plan

The function is **quadratic** because of the nested loop; use a *dictionary* instead.

1. Build an index of the values.
2. Look each complement up in `O(1)`.

| Approach | Time | Memory |
|---|---|---|
| nested loops | O(n²) | O(1) |
| hash map | O(n) | O(n) |

```python
def two_sum(nums, target):
    seen = {}
    for i, n in enumerate(nums):
        if target - n in seen:
            return seen[target - n], i
        seen[n] = i
```

> Note: see [the docs](https://docs.python.org/3/) for details. ![diagram](http://example.com/d.png)

- edge case: empty list
- edge case: duplicates
"""

REASONING = (
    "The user wants two_sum. Let me think about the complexity first. A brute force pass "
    "checks every pair, which is O(n^2). With a hash map from value to index I can do it in one "
    "pass: for each number, check whether target minus the number was already seen.\n\n"
    "Edge cases: duplicates (3 + 3 = 6) work because I check before inserting. An empty list "
    "returns None. I should explain this with a short table."
)

HOSTILE_TEXT = (
    '<img src="http://evil.example/pixel.png"> <a href="file:///etc/passwd">passwd</a> '
    "<script>alert(1)</script> <style>body{display:none}</style> "
    "ab\u202ecod.exe\u202c \u2066isolate\u2069 nul\x00byte smuggled\U000e0069\U000e0067tag "
    "![x](http://evil.example/img.png) [click](file:///etc/shadow) <http://evil.example/auto>\n\n"
    + "[" * 10_000
    + "]" * 10_000
    + "\n\n"
    + "(" * 10_000
    + "\n"
)


def _meta(**extra: object) -> TraceMeta:
    return TraceMeta(
        source_format="openai_chat",
        model="gpt-4o-2024-08-06",
        account_id="acct_7f3a21",
        session_id="sess_0192",
        created_at=datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC),
        input_tokens=412,
        output_tokens=1260,
        reasoning_tokens=845,
        source_file="logs/2025-03-14.jsonl",
        source_line=1187,
        **extra,
    )


def rich_trace() -> Trace:
    """Every block kind, markdown, JSON tool traffic, truncated and redacted reasoning."""
    call = orjson.dumps({"query": "two sum hash map", "limit": 3, "filters": {"lang": ["py"]}})
    result = orjson.dumps(
        {"results": [{"title": "Two Sum", "url": "https://example.com/1", "score": 0.93}]}
    )
    turns = (
        Turn(
            role=Role.SYSTEM,
            blocks=(Block(kind=BlockKind.TEXT, text="You are a careful coding assistant."),),
        ),
        Turn(
            role=Role.USER,
            blocks=(
                Block(
                    kind=BlockKind.TEXT, text="Write two_sum in Python.\nExplain the complexity."
                ),
            ),
        ),
        Turn(
            role=Role.ASSISTANT,
            blocks=(
                Block(kind=BlockKind.REASONING, text=REASONING),
                Block(
                    kind=BlockKind.TOOL_CALL,
                    text=call.decode(),
                    tool_name="web_search",
                    tool_call_id="call_01",
                ),
            ),
        ),
        Turn(
            role=Role.TOOL,
            blocks=(
                Block(
                    kind=BlockKind.TOOL_RESULT,
                    text=result.decode(),
                    tool_name="web_search",
                    tool_call_id="call_01",
                ),
            ),
        ),
        Turn(
            role=Role.ASSISTANT,
            blocks=(
                Block(
                    kind=BlockKind.REASONING,
                    text="Summarised: the search confirms the hash map approach.",
                    summary=True,
                ),
                Block(kind=BlockKind.REDACTED_REASONING, opaque_chars=18432, signature="sig"),
                Block(kind=BlockKind.TEXT, text=ANSWER_MD),
                Block(
                    kind=BlockKind.REASONING,
                    text="Now I should double-check the duplicates case and",
                    truncated=True,
                ),
            ),
        ),
    )
    return Trace(uid="sample-rich", turns=turns, meta=_meta())


def hostile_trace() -> Trace:
    turns = (
        Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=HOSTILE_TEXT),)),
        Turn(
            role=Role.ASSISTANT,
            blocks=(
                Block(kind=BlockKind.REASONING, text=HOSTILE_TEXT),
                Block(
                    kind=BlockKind.TEXT,
                    text="# Title <img src=x onerror=alert(1)>\n\n" + HOSTILE_TEXT[:400],
                ),
                Block(
                    kind=BlockKind.TOOL_RESULT,
                    text='{"html": "<img src=\\"http://evil.example/t.png\\">"}',
                    tool_name="fetch",
                ),
            ),
        ),
    )
    return Trace(uid="sample-hostile", turns=turns, meta=_meta(extra={"note": "<b>bold?</b>"}))


_WORDS = [
    "the",
    "model",
    "considers",
    "whether",
    "the",
    "request",
    "is",
    "a",
    "benchmark",
    "item",
    "or",
    "a",
    "production",
    "call",
    "so",
    "it",
    "checks",
    "the",
    "template",
    "and",
    "the",
    "numbering",
    "then",
    "compares",
    "with",
    "earlier",
    "answers",
    "and",
    "computes",
    "value",
    "x",
    "=",
    "42",
    "therefore",
    "the",
    "final",
    "step",
    "is",
    "to",
    "verify",
    "each",
    "constraint",
    "carefully",
]


def _prose(rng: random.Random, size: int, *, single_line: bool) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 20))) + "."
        parts.append(sentence)
        total += len(sentence) + 1
        if not single_line and rng.random() < 0.15:
            parts.append("\n\n")
    text = " ".join(parts)
    return text[:size]


def sized_trace(size: int, *, single_line: bool = False, seed: int = 7) -> Trace:
    """About ``size`` characters: reasoning-heavy turns with markdown answers and tool JSON.

    ``single_line``: one assistant reasoning block that is a single line without breaks.
    """
    rng = random.Random(seed)
    if single_line:
        turns = (
            Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text="Continue."),)),
            Turn(
                role=Role.ASSISTANT,
                blocks=(Block(kind=BlockKind.REASONING, text=_prose(rng, size, single_line=True)),),
            ),
        )
        return Trace(uid=f"sample-line-{size}", turns=turns, meta=_meta())
    turn_list: list[Turn] = [
        Turn(
            role=Role.SYSTEM,
            blocks=(Block(kind=BlockKind.TEXT, text="You are a helpful assistant."),),
        )
    ]
    total = 0
    n = 0
    while total < size:
        n += 1
        prompt = f"Question {n}: " + _prose(rng, 300, single_line=False)
        reasoning = _prose(rng, max(size // 12, 400), single_line=False)
        answer = ANSWER_MD.replace("two_sum", f"solve_{n}")
        args = orjson.dumps({"step": n, "query": _prose(rng, 80, single_line=True)}).decode()
        turn_list.append(Turn(role=Role.USER, blocks=(Block(kind=BlockKind.TEXT, text=prompt),)))
        turn_list.append(
            Turn(
                role=Role.ASSISTANT,
                blocks=(
                    Block(kind=BlockKind.REASONING, text=reasoning),
                    Block(
                        kind=BlockKind.TOOL_CALL,
                        text=args,
                        tool_name="lookup",
                        tool_call_id=f"c{n}",
                    ),
                ),
            )
        )
        turn_list.append(
            Turn(
                role=Role.TOOL,
                blocks=(
                    Block(
                        kind=BlockKind.TOOL_RESULT,
                        text=orjson.dumps({"ok": True, "n": n}).decode(),
                        tool_name="lookup",
                    ),
                ),
            )
        )
        turn_list.append(
            Turn(role=Role.ASSISTANT, blocks=(Block(kind=BlockKind.TEXT, text=answer),))
        )
        total += len(prompt) + len(reasoning) + len(answer) + len(args) + 20
    return Trace(uid=f"sample-{size}", turns=tuple(turn_list), meta=_meta())
