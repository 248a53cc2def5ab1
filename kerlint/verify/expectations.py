"""Expectations for CI: counts that must match and layers that must be frozen or trainable.

A layer is *trainable* when at least one of its weights will be updated by `fit()` on the
root model, and *frozen* when it has weights and none of them will be. Weightless layers
(InputLayer, Dropout, pooling, ...) have nothing to train, so patterns skip them; a pattern
that matches no layer with weights is a failure too, because it is usually a typo.

Patterns are `fnmatch` patterns (case-sensitive) tried against the layer's name and its path
from the root (`resnet50/conv1_conv`), so `resnet50*` covers a base and all its layers.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

COUNT_KEYS = (
    "trainable_weights",
    "non_trainable_weights",
    "trainable_params",
    "non_trainable_params",
    "weights",
    "params",
)
PATTERN_KEYS = ("frozen", "trainable")


@dataclass
class Expectations:
    """What a target must look like; empty means nothing is checked."""

    counts: dict[str, int] = field(default_factory=dict)
    frozen: list[str] = field(default_factory=list)
    trainable: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.counts or self.frozen or self.trainable)

    @classmethod
    def from_table(cls, table: Any) -> Expectations:
        """From a config table `{trainable_weights = 4, frozen = ["base*"]}`."""
        if not isinstance(table, dict):
            raise ValueError("must be a table")
        unknown = sorted(set(table) - set(COUNT_KEYS) - set(PATTERN_KEYS))
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(unknown)}; known: {', '.join(COUNT_KEYS + PATTERN_KEYS)}"
            )
        counts = {}
        for key in COUNT_KEYS:
            if key in table:
                value = table[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{key} must be a non-negative integer")
                counts[key] = value
        patterns: dict[str, list[str]] = {}
        for key in PATTERN_KEYS:
            value = table.get(key, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                raise ValueError(f"{key} must be a list of layer name patterns")
            patterns[key] = value
        return cls(counts, patterns["frozen"], patterns["trainable"])

    def merged(self, other: Expectations) -> Expectations:
        """These expectations plus `other`'s; `other` wins on the same count."""
        return Expectations(
            {**self.counts, **other.counts},
            [*self.frozen, *(p for p in other.frozen if p not in self.frozen)],
            [*self.trainable, *(p for p in other.trainable if p not in self.trainable)],
        )


def parse_expect_option(text: str) -> tuple[str, int]:
    """`--expect trainable_weights=4` (thousands separators `,` and `_` are fine)."""
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or key not in COUNT_KEYS:
        raise ValueError(
            f"expected NAME=COUNT with NAME one of {', '.join(COUNT_KEYS)}, got {text!r}"
        )
    digits = value.strip().replace(",", "").replace("_", "")
    if not digits.isdigit():
        raise ValueError(f"{key}: {value.strip()!r} is not a non-negative integer")
    return key, int(digits)


@dataclass
class Outcome:
    """One checked expectation, kept whether it passed or not (JSON shows both)."""

    check: str
    expected: Any
    actual: Any
    ok: bool
    detail: str = ""

    def describe(self) -> str:
        text = f"expected {self.check} = {self.expected}, got {self.actual}"
        return f"{text} ({self.detail})" if self.detail else text

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "expected": self.expected,
            "actual": self.actual,
            "ok": self.ok,
            "detail": self.detail,
        }


def match_layers(rows: list[dict[str, Any]], pattern: str) -> list[dict[str, Any]]:
    """Rows whose name or root-relative path matches an fnmatch pattern."""
    return [
        r
        for r in rows
        if fnmatch.fnmatchcase(r["name"], pattern)
        or (r["path"] and fnmatch.fnmatchcase(r["path"], pattern))
    ]


def _names(rows: list[dict[str, Any]], limit: int = 5) -> str:
    names = [r["path"] or r["name"] for r in rows[:limit]]
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(names) + more


def check(model: dict[str, Any], expect: Expectations) -> list[Outcome]:
    """Compare one model report (`analysis` rows and totals) with the expectations."""
    outcomes = []
    totals = model["totals"]
    for key, expected in expect.counts.items():
        actual = totals[key]
        outcomes.append(Outcome(key, expected, actual, actual == expected))
    rows = model["layers"]
    for state, patterns in (("frozen", expect.frozen), ("trainable", expect.trainable)):
        for pattern in patterns:
            matched = [r for r in match_layers(rows, pattern) if r["weights"]]
            label = f"{state} {pattern!r}"
            if not matched:
                outcomes.append(
                    Outcome(
                        label,
                        "layers with weights",
                        "no match",
                        False,
                        "no layer with weights matches",
                    )
                )
                continue
            if state == "frozen":
                wrong = [r for r in matched if r["trainable_weights"]]
            else:
                wrong = [r for r in matched if not r["trainable_weights"]]
            other = "trainable" if state == "frozen" else "frozen"
            actual = (
                f"{len(wrong)} of {len(matched)} {other}"
                if wrong
                else f"all {len(matched)} {state}"
            )
            detail = f"{other}: {_names(wrong)}" if wrong else ""
            outcomes.append(
                Outcome(label, f"all {len(matched)} {state}", actual, not wrong, detail)
            )
    return outcomes
