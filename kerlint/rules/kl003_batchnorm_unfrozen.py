"""KL003: an unfreeze also unfreezes BatchNormalization layers that training then overwrites."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kerlint.facts import FileFacts, names
from kerlint.facts.model import Event, Obj
from kerlint.fixgen import fresh_name, keras_name, simple_reference
from kerlint.rules._helpers import assigned_target, called_on, method_of, short_class
from kerlint.rules._modes import UPGRADE, by_mode
from kerlint.rules.base import TRAINABLE_WRITE, Finding, FixSpec, Replacement, Rule


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
        # The trained model itself counts only when it comes pretrained: a model built here
        # and trained on its own (a GAN's discriminator toggled around its step) has no
        # pretrained statistics to overwrite; a base inside the trained model may.
        holds = current is not model or _pretrained(current)
        if holds and current.kind == "model" and facts.contains_bn(current):
            found.append(current)
        stack.extend(child for child in current.children if child.parent is None)
    return found


def _pretrained(model: Obj) -> bool:
    """A keras.applications model or one loaded from a file: its weights may be pretrained."""
    cls = model.cls or ""
    return (
        cls.startswith("keras.applications.")
        or cls in names.LOADERS
        or cls.split(".")[0] in names.KERAS_FAMILY_ROOTS
    )


def check(facts: FileFacts) -> Iterator[Finding]:
    findings = list(_findings(facts))
    yield from by_mode(
        facts,
        (finding for finding, _ in findings),
        (finding for finding, protected in findings if not protected),
        upgrade=_upgrade,
        portable=_portable,
    )


def _protected_calls(facts: FileFacts, holder: Obj) -> list[Event]:
    """Calls of `holder` with a literal `training=False`: Keras 2 keeps BN in inference there."""
    return [
        e
        for e in facts.events("call")
        if e.target is holder and e.training is not None and e.training.value is False
    ]


def _upgrade(finding: Finding) -> Finding:
    return Finding(
        finding.node,
        "Correct in Keras 2, where `training=False` keeps BatchNormalization in inference "
        "mode. " + UPGRADE + finding.message,
        finding.fix,
    )


def _portable(keras3: Finding | None, keras2: Finding | None) -> Finding:
    assert keras3 is not None  # Keras 2's findings are a subset of Keras 3's
    if keras2 is not None:
        return keras3
    return Finding(
        keras3.node,
        "Keras 2 keeps BatchNormalization in inference mode under `training=False`, Keras 3 "
        "does not: " + keras3.message,
        keras3.fix,
    )


def _findings(facts: FileFacts) -> Iterator[tuple[Finding, bool]]:
    """Each unfreeze with its finding, and whether a `training=False` call protects it in Keras 2."""
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
                finding = Finding(
                    origin.node,
                    _message(facts, origin, holder, train),
                    fix=_refreeze_bn(facts, origin, holder),
                )
                yield finding, bool(_protected_calls(facts, holder))


def _message(facts: FileFacts, origin, holder: Obj, train) -> str:
    kind = short_class(holder)
    name = f"`{holder.describe()}`" + (f" ({kind})" if kind and kind != holder.describe() else "")
    calls = _protected_calls(facts, holder)
    although = (
        f" (the `training=False` at {facts.at(calls[0].node)} does not prevent this in a "
        "functional model in Keras 3)"
        if calls
        else ""
    )
    return (
        f"`{assigned_target(facts, origin)}` unfreezes the BatchNormalization layers of "
        f"{name}, and `{called_on(facts, train)}.{method_of(train)}` at {facts.at(train.node)} trains "
        "them: they switch to batch statistics and overwrite the pretrained moving mean and "
        f"variance{although}. Keep them frozen after unfreezing: `for layer in "
        f"{holder.describe()}.layers: "
        "if isinstance(layer, keras.layers.BatchNormalization): layer.trainable = False`."
    )


def _refreeze_bn(facts: FileFacts, origin: Event, holder: Obj) -> FixSpec | None:
    """Right after the unfreeze, set the BatchNormalization layers back to frozen.

    `base.trainable = True` (the base itself holds the BN layers): a loop over
    `base.layers`. `layer.trainable = True` in a loop over the layers: an `isinstance`
    test on the same loop variable, in the same loop. Nothing when the BN layers sit in
    a model nested inside the one unfrozen (`.layers` does not reach them) or when the
    module has no name for BatchNormalization.
    """
    node = origin.node
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return None
    target = node.targets[0]
    if not isinstance(target, ast.Attribute) or not simple_reference(target.value):
        return None
    batchnorm = keras_name(facts, "keras.layers.BatchNormalization")
    if batchnorm is None:
        return None
    owner = facts.code(target.value)
    unfrozen = origin.target
    if unfrozen is holder and not any(
        child.kind == "model" for child in holder.children if child.parent is None
    ):
        layer = fresh_name(facts, "layer")
        code = (
            f"for {layer} in {owner}.layers:\n"
            f"    if isinstance({layer}, {batchnorm}):\n"
            f"        {layer}.trainable = False\n"
        )
    elif (
        unfrozen is not None
        and unfrozen.parent is holder
        and "[*]" in (unfrozen.selector or "")
        and isinstance(target.value, ast.Name)
    ):
        code = f"if isinstance({owner}, {batchnorm}):\n    {owner}.trainable = False\n"
    else:
        return None
    return FixSpec(
        "Freeze the BatchNormalization layers again after unfreezing",
        (Replacement(node, code, insert_after=True),),
        "unsafe",
    )


RULE = Rule(
    code="KL003",
    name="batchnorm-unfrozen",
    summary="unfreezing also unfreezes BatchNormalization layers that training then overwrites",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
    fix="unsafe",
)
