"""KL102: a crossentropy that expects probabilities, on a head that outputs logits or relu."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.heads import NON_PROBABILITY, CompileFacts, LossSpec
from kerlint.facts.syntax import string_literal
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    REQUIRES,
    TRAINS,
    head_text,
    local_fix,
    loss_class,
    model_name,
    trained_compiles,
    with_keyword,
)


def check(facts: FileFacts) -> Iterator[Finding]:
    for compiled in trained_compiles(facts):
        head, loss = compiled.head, compiled.loss
        if head is None or loss is None or not loss.crossentropy or loss.node is None:
            continue
        if loss.from_logits is not False or head.activation not in NON_PROBABILITY:
            continue
        if head.activation != "linear" and loss.kind == "binary":
            continue  # relu or tanh into binary crossentropy: clipped, measured harmless
        wanted = "sigmoid" if loss.kind == "binary" else "softmax"
        if head.activation == "linear":
            what = "logits (no activation)"
            advice = (
                f'Pass `from_logits=True` to the loss, or add `activation="{wanted}"` to the '
                "last layer."
            )
        else:
            what = f"{head.activation} values, not probabilities"
            advice = f'Use `activation="{wanted}"` on the last layer.'
        fix = _fix(facts, compiled, loss) if head.activation == "linear" else None
        yield Finding(
            loss.node,
            f"`{facts.code(loss.node)}` expects probabilities, but the head of "
            f"`{model_name(facts, compiled)}`, {head_text(facts, head)}, outputs {what}: Keras "
            "clips and renormalises them, the loss means nothing and accuracy stays near "
            f"chance (4 classes: 27% vs 86%), silently on every backend. {advice}",
            fix=local_fix(facts, fix),
        )


def _fix(facts: FileFacts, compiled: CompileFacts, loss: LossSpec) -> FixSpec | None:
    assert loss.node is not None and loss.kind is not None
    if loss.call is not None:
        new = with_keyword(facts, loss.call, "from_logits", "True")
        if new is None:
            return None
        replacement = Replacement(loss.call, new)
    elif isinstance(loss.node, ast.Attribute | ast.Name) or string_literal(loss.node) is not None:
        _, spelled = loss_class(facts, loss.kind, loss.focal)
        if spelled is None:
            return None
        replacement = Replacement(loss.node, f"{spelled}(from_logits=True)")
    else:
        return None
    return FixSpec(
        "Tell the loss its input is logits (`from_logits=True`)", (replacement,), "unsafe"
    )


RULE = Rule(
    code="KL102",
    name="crossentropy-on-non-probability-output",
    summary="a crossentropy expecting probabilities on a head with no softmax or sigmoid",
    check=check,
    requires=REQUIRES,
    family=FAMILY,
    requires_pattern=TRAINS,
    fix="unsafe",
)
