"""KL012 (opt-in): a layer unfrozen inside a sub-model that stays frozen."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.rules._helpers import assigned_target, called_on
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    for train in facts.events("train"):
        model = train.target
        submodels = [p for p in facts.graph.parts(model) if p is not model and p.kind == "model"]
        for state in facts.states_before(train):
            for sub in submodels:
                if facts.flag(state, sub).value is not False:
                    continue
                for part in facts.graph.parts(sub):
                    if part is sub:
                        continue
                    flag = facts.flag(state, part)
                    origin = flag.origin
                    if flag.value is True and origin is not None and origin.target is part:
                        yield Finding(
                            origin.node,
                            f"`{assigned_target(facts, origin)}` unfreezes a layer of "
                            f"`{sub.describe()}`, whose own `trainable` stays False: Keras 3 "
                            f"trains it through `{called_on(facts, train)}` ("
                            f"{facts.at(train.node)}) but `trainable_weights` of the sub-model "
                            "reports nothing, a `.keras` reload flips its flag, and tf.keras 2 "
                            "would not train it. Set the sub-model trainable, then freeze the "
                            "layers to keep frozen.",
                        )


RULE = Rule(
    code="KL012",
    name="unfreeze-under-frozen-submodel",
    summary="a layer unfrozen under a sub-model whose `trainable` is False",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
    default=False,
)
