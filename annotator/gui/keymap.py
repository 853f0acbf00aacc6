"""Every key binding of the workstation: defaults, the labeler's overrides, conflict refusal.

Bindings are stored as Qt portable text (``"J; Down"``: several sequences separated by ``"; "``)
so that ``settings.json`` stays readable. Tag keys are derived from the schema: the first free
letter of the tag's words, then of its name, then any free letter, never one a global action uses.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from annotator.domain.schema import LabelSchema

SEPARATOR = "; "


@dataclass(frozen=True)
class ActionSpec:
    name: str
    title: str
    group: str
    defaults: tuple[str, ...]


GLOBAL_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "submit", "Submit and go to the next", "Labeling", ("Return", "Enter", "Ctrl+Return")
    ),
    ActionSpec("skip", "Skip", "Labeling", ("S",)),
    ActionSpec("flag", "Flag for the lead (with a comment)", "Labeling", ("F",)),
    ActionSpec("span", "Mark the selection as an evidence span", "Labeling", ("E",)),
    ActionSpec("undo", "Undo the last submit", "Labeling", ("Ctrl+Z",)),
    ActionSpec("accept_suggestion", "Accept the suggestion (verdict and tags)", "Labeling", ("Y",)),
    ActionSpec("next", "Next trace", "Navigation", ("J", "Down")),
    ActionSpec("prev", "Previous trace", "Navigation", ("K", "Up")),
    ActionSpec("search", "Search the queue", "Navigation", ("Ctrl+Shift+F",)),
    ActionSpec("find", "Find in trace", "Navigation", ("Ctrl+F",)),
    ActionSpec("cheatsheet", "Show the key cheat sheet", "Help", ("?", "F1")),
)


def schema_actions(schema: LabelSchema) -> tuple[ActionSpec, ...]:
    """Verdicts on 1-9, confidence on Ctrl+digits, one letter per tag."""
    specs: list[ActionSpec] = []
    for i, verdict in enumerate(schema.verdicts[:9], start=1):
        specs.append(ActionSpec(f"verdict:{verdict.value}", verdict.title, "Verdict", (str(i),)))
    conf = schema.confidence
    for level in range(conf.min, conf.max + 1):
        keys = (f"Ctrl+{level}",) if 0 <= level <= 9 else ()
        desc = conf.descriptions.get(str(level), "")
        title = f"Confidence {level}" + (f" - {desc}" if desc else "")
        specs.append(ActionSpec(f"confidence:{level}", title, "Confidence", keys))
    specs.append(ActionSpec("confidence:none", "No confidence", "Confidence", ("Ctrl+0",)))
    taken = {k for spec in GLOBAL_ACTIONS for k in spec.defaults if len(k) == 1}
    taken |= {k for spec in specs for k in spec.defaults}
    tags = [("Evidence", t.name) for t in schema.evidence_tags]
    tags += [("Counter-evidence", t.name) for t in schema.counter_tags]
    for group, name in tags:
        key = _free_letter(name, taken)
        taken.add(key)
        specs.append(ActionSpec(f"tag:{name}", name, group, (key,) if key else ()))
    return tuple(specs)


def _free_letter(name: str, taken: set[str]) -> str:
    words = [w for w in name.upper().split("_") if w]
    candidates = [w[0] for w in words] + [c for c in name.upper() if c.isalpha()]
    candidates += list(string.ascii_uppercase)
    candidates += [f"Shift+{c}" for c in string.ascii_uppercase]
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    return ""


def split_keys(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(SEPARATOR) if part.strip())


def join_keys(keys: Iterable[str]) -> str:
    return SEPARATOR.join(keys)


class KeyConflict(ValueError):
    """A key sequence that another action already uses."""


class Keymap:
    """The effective bindings: defaults overlaid with the labeler's overrides."""

    def __init__(
        self, specs: Iterable[ActionSpec], overrides: Mapping[str, str] | None = None
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self._keys: dict[str, tuple[str, ...]] = {n: s.defaults for n, s in self.specs.items()}
        overrides = dict(overrides or {})
        for name, text in overrides.items():
            if name in self._keys:
                self._keys[name] = split_keys(text)
        # An override saved under another schema may collide with a derived default: the
        # override wins and the default loses that key, so no key ever fires two actions.
        overridden = {k for n in overrides if n in self._keys for k in self._keys[n]}
        for name in self._keys:
            if name not in overrides:
                self._keys[name] = tuple(k for k in self._keys[name] if k not in overridden)

    def keys(self, name: str) -> tuple[str, ...]:
        return self._keys.get(name, ())

    def owner(self, key: str) -> str | None:
        for name, keys in self._keys.items():
            if key in keys:
                return name
        return None

    def assign(self, name: str, keys: Iterable[str]) -> None:
        """Bind ``keys`` to ``name``; refuse (KeyConflict) a key another action holds."""
        wanted = tuple(k for k in keys if k)
        for key in wanted:
            holder = self.owner(key)
            if holder is not None and holder != name:
                title = self.specs[holder].title
                raise KeyConflict(f"{key} is already used by “{title}”. Change that one first.")
        self._keys[name] = wanted

    def overrides(self) -> dict[str, str]:
        """Only what differs from the defaults, as stored in the settings."""
        return {
            name: join_keys(keys)
            for name, keys in self._keys.items()
            if keys != self.specs[name].defaults
        }

    def rows(self) -> list[tuple[ActionSpec, tuple[str, ...]]]:
        return [(spec, self._keys[name]) for name, spec in self.specs.items()]
