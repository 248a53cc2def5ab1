"""KL015: a part frozen for a model's `compile()` and unfrozen after it, then trained through it.

The Keras 2 GAN recipe `set_trainable(disc, False); gan.compile(); set_trainable(disc, True)`
relies on `compile()` capturing the flags: Keras 2 trains `gan` with the discriminator frozen
whatever the flag says later. Keras 3 reads the flags when training runs, so `gan`'s step
also updates the discriminator: the generator's adversary moves with it.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Event, Obj
from kerlint.rules._helpers import assigned_target, called_on, method_of
from kerlint.rules._modes import by_mode
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    yield from by_mode(
        facts,
        _keras3(facts),
        (),
        portable=lambda k3, _: Finding(
            k3.node, k3.message + " (Keras 2 keeps the compile-time state: correct there.)"
        ),
    )


def _compiled_models(facts: FileFacts) -> set[int]:
    return {e.target.id for e in facts.events("compile") if e.target is not None}


def _keras3(facts: FileFacts) -> Iterator[Finding]:
    own_compiles = _compiled_models(facts)
    for train in facts.events("train"):
        model = train.target
        if model is None or train.in_callback:
            continue
        for state in facts.states_before(train):
            snapshot = state.compiled_snapshot(model)
            if snapshot is None:
                continue
            for key, part in facts.keys_of(model):
                if part is model or key[1] or not _trained_on_its_own(part, own_compiles):
                    continue
                then, now = snapshot.flag(key), state.flag(key, part.initially_trainable)
                if then is None or not _assigned(then.origin) or not _assigned(now.origin):
                    continue
                if then.value is False and now.value is True and now.origin is not then.origin:
                    yield _finding(facts, train, snapshot.event, part, now.origin)


def _trained_on_its_own(part: Obj, own_compiles: set[int]) -> bool:
    """A sub-model with a `compile()` of its own: the discriminator of a GAN."""
    return part.kind == "model" and part.id in own_compiles


def _assigned(origin: Event | None) -> bool:
    return origin is not None and origin.kind == "assign" and not origin.in_callback


def _finding(facts: FileFacts, train: Event, compiled: Event, part: Obj, origin) -> Finding:
    name = called_on(facts, train)
    return Finding(
        origin.node,
        f"`{assigned_target(facts, origin)}` makes `{part.describe()}` trainable again after "
        f"`{name}.compile` at {facts.at(compiled.node)}, and `{name}.{method_of(train)}` at "
        f"{facts.at(train.node)} runs while it is: Keras 3 reads `trainable` when training "
        f"runs, not at `compile()`, so `{name}`'s step also updates `{part.describe()}`. Set "
        f"`{part.describe()}.trainable = False` before each `{name}` step and `True` before "
        f"`{part.describe()}`'s own.",
    )


RULE = Rule(
    code="KL015",
    name="trainable-toggled-around-compile",
    summary="a part frozen only for `compile()` and trainable again when the model trains",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
)
