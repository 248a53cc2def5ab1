"""KL101: a softmax or sigmoid head trained with a crossentropy told `from_logits=True`."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.heads import PROBABILITY
from kerlint.rules._modes import by_mode
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    REQUIRES,
    TRAINS,
    head_text,
    local_fix,
    model_name,
    trained_compiles,
    without_arg,
)


def check(facts: FileFacts) -> Iterator[Finding]:
    # Keras 2 runs on TensorFlow, which warns and computes the loss on the logits: nothing
    # to report there, except in the upgrade view.
    yield from by_mode(facts, _keras3(facts), ())


def _keras3(facts: FileFacts) -> Iterator[Finding]:
    for compiled in trained_compiles(facts):
        head, loss = compiled.head, compiled.loss
        if head is None or loss is None or not loss.crossentropy:
            continue
        if loss.from_logits is not True or loss.logits_arg is None or loss.call is None:
            continue
        if head.activation not in PROBABILITY:
            continue
        kept = without_arg(facts, loss.call, loss.logits_arg)
        fix = (
            FixSpec("Remove `from_logits=True`", (Replacement(loss.call, kept),), "unsafe")
            if kept is not None
            else None
        )
        yield Finding(
            loss.logits_arg,
            f"The head of `{model_name(facts, compiled)}`, {head_text(facts, head)}, ends in "
            f"{head.activation}, so it outputs probabilities, but the loss is told "
            f"`from_logits=True` and applies {head.activation} again: the loss cannot fall "
            "below a floor and learning stalls (10 classes: 31% vs 89% accuracy) on torch "
            "and JAX, silently; TensorFlow warns and quietly uses the pre-activation logits, "
            "so the same code trains differently per backend. Remove `from_logits=True`, or "
            "drop the activation and keep it.",
            fix=local_fix(facts, fix),
        )


RULE = Rule(
    code="KL101",
    name="probability-output-from-logits",
    summary="a softmax or sigmoid output trained with a crossentropy told `from_logits=True`",
    check=check,
    requires=REQUIRES,
    family=FAMILY,
    requires_pattern=TRAINS,
    fix="unsafe",
)
