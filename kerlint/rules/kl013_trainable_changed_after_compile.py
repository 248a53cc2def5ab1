"""KL013: `trainable` changed between `compile()` and the first training call (Keras 2).

Keras 2 stores every layer's flag at `compile()` and restores that state for each `fit` /
`train_on_batch`, so `compile(); base.trainable = True; fit()` never fine-tunes the base,
and a sub-model frozen after the enclosing model's compile is still updated by it. Keras 3
reads the flags when training first runs: there the same code does what it says, so the
rule is silent for Keras 3 and, in the upgrade view, says that the trained set changes.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import Deviation, FileFacts
from kerlint.facts.model import Event
from kerlint.rules._helpers import assigned_target, called_on, method_of
from kerlint.rules._modes import UPGRADE
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    mode = facts.mode
    if mode.keras3:
        return
    best: dict[int, tuple[Event, Deviation]] = {}
    for train in facts.events("train"):
        if train.in_callback:
            continue
        for deviation in facts.compile_deviations(train):
            if not deviation.before_start:
                continue  # after training ran: KL001's
            origin = deviation.now.origin
            assert origin is not None
            # Prefer the report that shows the harm: a part of a larger model over the
            # model itself (the GAN frozen after `gan.compile` trains through `gan`).
            held = best.get(origin.id)
            if held is None or (
                held[1].part is held[0].target and deviation.part is not train.target
            ):
                best[origin.id] = (train, deviation)
    for train, deviation in best.values():
        origin = deviation.now.origin
        assert origin is not None
        yield Finding(origin.node, _message(facts, train, deviation, origin))


def _message(facts: FileFacts, train: Event, deviation: Deviation, origin: Event) -> str:
    name = called_on(facts, train)
    compiled = deviation.at_compile.event
    part = deviation.part
    now = deviation.now.value
    if part is train.target:
        effect = (
            f"`{name}` is still trained as it was compiled"
            if now is False
            else f"`{name}` still trains nothing it had frozen"
        )
    elif now is False:
        effect = f"`{name}` still updates `{part.describe()}`"
    else:
        effect = f"`{part.describe()}` stays frozen in `{name}`"
    message = (
        f"`{assigned_target(facts, origin)}` comes after `{name}.compile` at "
        f"{facts.at(compiled.node)} and before `{name}.{method_of(train)}` at "
        f"{facts.at(train.node)}: Keras 2 trains with the flags captured by `compile()`, so "
        f"{effect} (silently; `summary()` shows the new flags). Change `trainable` before "
        f"`{name}.compile(...)`, or compile again after the change."
    )
    if facts.mode.unknown:
        return "Ignored in Keras 2 (honoured in Keras 3): " + message
    if facts.mode.upgrade_view:
        message += (
            " " + UPGRADE + "Keras 3 honours the change, so a different set of weights trains."
        )
    return message


RULE = Rule(
    code="KL013",
    name="trainable-changed-after-compile",
    summary="`trainable` changed after `compile()` and before training: Keras 2 ignores it",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
)
