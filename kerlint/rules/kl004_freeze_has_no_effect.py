"""KL004: freezing a layer that owns no weights freezes nothing."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.names import WEIGHTLESS_LAYERS
from kerlint.rules._helpers import assigned_target, short_class
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    for event in facts.events("assign"):
        target = event.target
        if event.value is not False or event.guard is not None or not target.keras:
            continue
        parent = target.parent
        if parent is not None and target.selector == ".layers[0]":
            if parent.structure == "functional" and parent.cls not in (None, "callback.model"):
                yield Finding(
                    event.node,
                    f"`{assigned_target(facts, event)}` freezes the InputLayer: `layers[0]` of a "
                    "functional model has no weights, so every layer still trains. Freeze "
                    "`layers[1]` or a layer looked up with `get_layer(name)`.",
                )
            continue
        leaf = short_class(target)
        if parent is None and target.kind == "layer" and leaf in WEIGHTLESS_LAYERS:
            yield Finding(
                event.node,
                f"`{assigned_target(facts, event)}` freezes a `{leaf}` layer, which has no "
                "weights: nothing is frozen. Freeze the layer that holds the weights you mean.",
            )


RULE = Rule(
    code="KL004",
    name="freeze-has-no-effect",
    summary="`trainable = False` on a layer with no weights",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
)
