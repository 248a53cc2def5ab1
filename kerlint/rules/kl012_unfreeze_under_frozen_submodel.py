"""KL012: a layer unfrozen inside a sub-model that stays frozen.

Keras 2 does not train the layer (the outer model collects trainable weights through the
frozen sub-model: a silent bug, default on there); Keras 3 trains it, but the sub-model's
own `trainable_weights` reports nothing and a reload flips its flag (opt-in there).
"""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.rules._helpers import assigned_target, called_on
from kerlint.rules._modes import UPGRADE, by_mode
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    cases = list(_cases(facts))
    upgrade = (
        " " + UPGRADE + "the layer starts training (more parameters, different results), and "
        "a `.h5` reload of that state fails with a shape mismatch."
        if facts.mode.upgrade_view
        else ""
    )
    yield from by_mode(
        facts,
        (Finding(node, keras3) for node, keras3, _ in cases),
        (Finding(node, keras2 + upgrade) for node, _, keras2 in cases),
    )


def _cases(facts: FileFacts) -> Iterator[tuple]:
    """(assignment node, Keras 3 message, Keras 2 message) per unfreeze under a frozen parent."""
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
                        assignment = assigned_target(facts, origin)
                        yield (
                            origin.node,
                            f"`{assignment}` unfreezes a layer of "
                            f"`{sub.describe()}`, whose own `trainable` stays False: Keras 3 "
                            f"trains it through `{called_on(facts, train)}` ("
                            f"{facts.at(train.node)}) but `trainable_weights` of the sub-model "
                            "reports nothing, a `.keras` reload flips its flag, and tf.keras 2 "
                            "would not train it. Set the sub-model trainable, then freeze the "
                            "layers to keep frozen.",
                            f"`{assignment}` has no effect in Keras 2 while "
                            f"`{sub.describe()}.trainable` is False: "
                            f"`{called_on(facts, train)}` ({facts.at(train.node)}) does not "
                            "train the layer, silently (and after a save and reload it does). "
                            f"Set `{sub.describe()}.trainable = True`, then freeze the layers "
                            "to keep frozen.",
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
