"""KL105: categorical crossentropy on a head with one output unit."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.syntax import string_literal
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    REQUIRES,
    TRAINS,
    head_text,
    local_fix,
    model_name,
    trained_compiles,
)


def check(facts: FileFacts) -> Iterator[Finding]:
    for compiled in trained_compiles(facts):
        head, loss = compiled.head, compiled.loss
        if head is None or loss is None or loss.node is None:
            continue
        if head.units != 1 or loss.kind != "categorical":
            continue
        fix = None
        node = loss.node
        if string_literal(node) == "categorical_crossentropy" and head.activation == "sigmoid":
            quote = facts.code(node)[-1]
            fix = FixSpec(
                "Use binary crossentropy",
                (Replacement(node, f"{quote}binary_crossentropy{quote}"),),
                "unsafe",
            )
        yield Finding(
            node,
            f"`{facts.code(node)}` on the one output unit of `{model_name(facts, compiled)}` "
            f"({head_text(facts, head)}): categorical crossentropy normalises over the units, "
            "so with one unit the loss is always 0 and, on torch, no weight ever moves "
            "(accuracy at chance; Keras only prints a SyntaxWarning during fit). For two "
            'classes use `"binary_crossentropy"` with `activation="sigmoid"`, or one unit per '
            "class with softmax.",
            fix=local_fix(facts, fix),
        )


RULE = Rule(
    code="KL105",
    name="single-unit-categorical-crossentropy",
    summary="categorical crossentropy on a one-unit output",
    check=check,
    requires=REQUIRES,
    family=FAMILY,
    requires_pattern=TRAINS,
    fix="unsafe",
)
