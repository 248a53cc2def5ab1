"""KL003: an unfreeze also unfreezes BatchNormalization layers that training then overwrites."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Obj
from kerlint.rules._helpers import assigned_target, called_on, short_class
from kerlint.rules.base import Finding, Rule


def bn_holders(facts: FileFacts, model: Obj) -> list[Obj]:
    """Models inside `model` (and itself) whose BN layers follow the outer training mode.

    A subclassed model is left out with everything under it: its own `call()` decides
    the training mode (and may pass `training=False`, which Keras 3 honours there).
    """
    found: list[Obj] = []
    stack, seen = [model], set()
    while stack:
        current = stack.pop()
        if current.id in seen or current.structure == "subclassed":
            continue
        seen.add(current.id)
        if current.kind == "model" and facts.contains_bn(current):
            found.append(current)
        stack.extend(child for child in current.children if child.parent is None)
    return found


def check(facts: FileFacts) -> Iterator[Finding]:
    for train in facts.events("train"):
        model = train.target
        if model.structure not in ("functional", "sequential") or train.in_callback:
            continue
        holders = bn_holders(facts, model)
        for state in facts.states_before(train):
            for holder in holders:
                flag = facts.flag(state, holder, "bn")
                origin = flag.origin
                if not (flag.value is True and flag.prev is False and origin is not None):
                    continue
                if origin.kind != "assign" or origin.in_callback:
                    continue
                yield Finding(origin.node, _message(facts, origin, holder, train))


def _message(facts: FileFacts, origin, holder: Obj, train) -> str:
    kind = short_class(holder)
    name = f"`{holder.describe()}`" + (f" ({kind})" if kind and kind != holder.describe() else "")
    calls = [
        e
        for e in facts.events("call")
        if e.target is holder and e.training is not None and e.training.value is False
    ]
    although = (
        f" (the `training=False` at line {facts.line(calls[0].node)} does not prevent this in a "
        "functional model in Keras 3)"
        if calls
        else ""
    )
    return (
        f"`{assigned_target(facts, origin)}` unfreezes the BatchNormalization layers of "
        f"{name}, and `{called_on(facts, train)}.fit` at line {facts.line(train.node)} trains "
        "them: they switch to batch statistics and overwrite the pretrained moving mean and "
        f"variance{although}. Keep them frozen after unfreezing: `for layer in "
        f"{holder.describe()}.layers: "
        "if isinstance(layer, keras.layers.BatchNormalization): layer.trainable = False`."
    )


RULE = Rule(
    code="KL003",
    name="batchnorm-unfrozen",
    summary="unfreezing also unfreezes BatchNormalization layers that training then overwrites",
    check=check,
    requires=("trainable",),
    fix="unsafe",
)
