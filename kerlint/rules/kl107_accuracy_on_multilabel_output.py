"""KL107: `"accuracy"` on a multi-label sigmoid head: Keras 3 picks categorical accuracy."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.syntax import string_literal
from kerlint.rules.base import Finding, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    REQUIRES,
    TRAINS,
    model_name,
    trained_compiles,
)


def check(facts: FileFacts) -> Iterator[Finding]:
    # The same in Keras 3 and in tf.keras 2.x: both resolve "accuracy" by shape (measured with
    # tf_keras 2.21; only the standalone Keras <= 2.3 chose binary accuracy for this loss).
    for compiled in trained_compiles(facts):
        head, loss = compiled.head, compiled.loss
        if head is None or loss is None or compiled.metrics is None:
            continue
        if head.activation != "sigmoid" or loss.kind != "binary":
            continue
        if head.units is None or head.units < 3:
            continue  # two sigmoid units with one-hot labels: categorical accuracy is right
        for metric in compiled.metrics:
            node = metric.node
            if string_literal(node) is None or metric.name not in ("accuracy", "acc"):
                continue
            yield Finding(
                node,
                f"`{facts.code(node)}` on the {head.units} sigmoid outputs of "
                f"`{model_name(facts, compiled)}` trained with binary crossentropy: Keras "
                "picks `CategoricalAccuracy` by the output's shape, which compares the argmax "
                "of the outputs with the argmax of the labels, so for multi-hot labels the "
                "number reported is not per-label accuracy (0.71 vs 0.92). If your labels are "
                'multi-hot, use `keras.metrics.BinaryAccuracy(name="accuracy")`.',
            )


RULE = Rule(
    code="KL107",
    name="accuracy-on-multilabel-output",
    summary='`"accuracy"` on a multi-label sigmoid output trained with binary crossentropy',
    check=check,
    requires=REQUIRES,
    family=FAMILY,
    requires_pattern=TRAINS,
)
