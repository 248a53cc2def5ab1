"""KL106: softmax over a single output unit, which is always 1.0."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.heads import Activation
from kerlint.facts.syntax import string_literal
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    REQUIRES,
    TRAINS,
    local_fix,
    model_name,
    trained_compiles,
)


def check(facts: FileFacts) -> Iterator[Finding]:
    seen: set[int] = set()
    for compiled in trained_compiles(facts):
        head = compiled.head
        if head is None or head.units != 1:
            continue
        for activation in head.activations:
            if activation.name != "softmax" or id(activation.node) in seen:
                continue
            seen.add(id(activation.node))
            yield Finding(
                activation.node,
                f"softmax over the one output unit of `{model_name(facts, compiled)}` always "
                "returns 1.0: every prediction is the positive class and, on torch, no weight "
                "moves (on TensorFlow the loss even falls while predictions stay 1.0); Keras "
                'only warns during fit. Use `activation="sigmoid"` for one unit.',
                fix=local_fix(facts, _fix(facts, activation)),
            )
            break


def _fix(facts: FileFacts, activation: Activation) -> FixSpec | None:
    node = activation.node
    if activation.how == "layer" and isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    if string_literal(node) == "softmax":
        quote = facts.code(node)[-1]
        return FixSpec("Use sigmoid", (Replacement(node, f"{quote}sigmoid{quote}"),), "unsafe")
    return None


RULE = Rule(
    code="KL106",
    name="softmax-over-one-unit",
    summary="softmax over a one-unit output (always 1.0)",
    check=check,
    requires=REQUIRES,
    family=FAMILY,
    requires_pattern=TRAINS,
    fix="unsafe",
)
