"""KL002: a model is trained while its own `trainable` is False, so nothing learns.

Keras 3 reads the flag when training runs; Keras 2 reads the flags it stored at the
model's last `compile()`. So the Keras 2 GAN idiom (`disc.compile(); disc.trainable =
False; gan.compile()`, then `disc.train_on_batch`) trains the discriminator in Keras 2 and
never in Keras 3, and a model frozen *before* its compile never trains in either.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Event, Obj
from kerlint.rules._helpers import called_on, method_of, owns_no_variables, places
from kerlint.rules._modes import UPGRADE, by_mode
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    if facts.analysis.overflow:
        return  # some paths were dropped: "on every path" can no longer be claimed
    yield from by_mode(
        facts,
        _keras3(facts),
        _keras2(facts),
        upgrade=lambda f: Finding(f.node, _upgrade_message(f.message)),
        portable=_portable,
    )


def _training_calls(facts: FileFacts) -> Iterator[Event]:
    for train in facts.events("train"):
        if facts.states_before(train) and not train.in_callback:
            yield train


def _frozen_by_assignment(flags) -> bool:
    return all(
        flag is not None
        and flag.value is False
        and flag.origin is not None
        and flag.origin.kind == "assign"
        for flag in flags
    )


def _keras3(facts: FileFacts) -> Iterator[Finding]:
    """Trained while the flag is False on every path: every training call is reported."""
    for train in _training_calls(facts):
        model = train.target
        flags = [facts.flag(state, model) for state in facts.states_before(train)]
        name = called_on(facts, train)
        if _frozen_by_assignment(flags):
            yield Finding(
                train.node,
                f"`{name}.{method_of(train)}` trains `{name}` while its `trainable` is False "
                f"(set at {places(facts, [f.origin for f in flags])}), so "
                f"`{name}.trainable_weights` is empty and nothing learns: Keras 3 reads the "
                f"flag when training runs, not at `compile()`. Set `{name}.trainable = True` "
                "before training it (for a GAN, back to False before training the combined "
                "model).",
            )
            continue
        parts = _parts_with_variables(facts, model)
        frozen = [
            [facts.flag(state, part) for state in facts.states_before(train)] for part in parts
        ]
        if parts and all(_frozen_by_assignment(part_flags) for part_flags in frozen):
            origins = [flag.origin for part_flags in frozen for flag in part_flags]
            yield Finding(
                train.node,
                f"`{name}.{method_of(train)}` trains `{name}`, whose every layer is frozen "
                f"({_names(parts)} set False at {places(facts, origins)}), so "
                f"`{name}.trainable_weights` is empty and nothing learns: Keras 3 reads the "
                "flags when training runs, not at `compile()`. Set them to True before "
                f"training `{name}` (for a GAN, back to False before training the combined "
                "model).",
            )


def _parts_with_variables(facts: FileFacts, model: Obj) -> list[Obj]:
    """The entries of a Sequential whose layers are all known (`Sequential([disc])`, `add`)
    that own variables, when none of them or their parts is ever set to anything but False
    (an unfrozen child would train)."""
    order = model.layer_order
    if not order:
        return []
    parts = [part for part in order if not owns_no_variables(part)]
    inside = {obj.id for part in parts for obj in facts.graph.parts(part)}
    for event in facts.events("assign"):
        if event.target is not None and event.target.id in inside and event.value is not False:
            return []
    return parts


def _names(parts: list[Obj]) -> str:
    return ", ".join(f"`{part.describe()}`" for part in parts)


def _keras2(facts: FileFacts) -> Iterator[Finding]:
    """Compiled while frozen and still frozen: Keras 2 trains the compile-time state.

    `compile(); m.trainable = False; fit()` trains everything in Keras 2 (KL013), and
    `freeze; compile(); unfreeze; fit()` trains nothing but is KL013's too: the change after
    the compile is the mistake there.
    """
    for train in _training_calls(facts):
        model = train.target
        key = (model.id, "")
        states = facts.states_before(train)
        snapshots = [state.compiled_snapshot(model) for state in states]
        if any(snapshot is None for snapshot in snapshots):
            continue  # compiled where kerlint cannot see: its state then is unknown
        at_compile = [snapshot.flag(key) for snapshot in snapshots if snapshot]
        now = [facts.flag(state, model) for state in states]
        name = called_on(facts, train)
        frozen = "its `trainable` was False (set at {}): Keras 2"
        unfreeze = f"`{name}.trainable = True`"
        if not (_frozen_by_assignment(at_compile) and _frozen_by_assignment(now)):
            # Every layer frozen at the compile and still: Keras 2 trains nothing either.
            parts = _parts_with_variables(facts, model)
            if not parts or not all(
                _frozen_by_assignment([s.flag((part.id, "")) for s in snapshots if s])
                and _frozen_by_assignment([facts.flag(state, part) for state in states])
                for part in parts
            ):
                continue
            at_compile = [s.flag((part.id, "")) for part in parts for s in snapshots if s]
            frozen = f"its every layer was frozen ({_names(parts)} set False at {{}}): Keras 2"
            unfreeze = "them trainable"
        compiles = [snapshot.event for snapshot in snapshots if snapshot]
        origins = places(facts, [f.origin for f in at_compile if f])
        yield Finding(
            train.node,
            f"`{name}.{method_of(train)}` trains `{name}`, which was compiled at "
            f"{places(facts, compiles)} while {frozen.replace('{}', origins, 1)} fixes the "
            "trainable state at `compile()`, so training updates nothing, without a warning. "
            f"Set {unfreeze} before `{name}.compile(...)` (for a GAN: compile "
            "the discriminator while it is trainable, then freeze it and compile the combined "
            "model).",
        )


def _upgrade_message(keras3_message: str) -> str:
    return (
        "Keras 2 trains this model with the flags captured by its own `compile()`, where it "
        "was trainable. "
        + UPGRADE
        + keras3_message
        + " Portable: keep the compile order and also set the flag before each training "
        "call (`True` before the model's own step, `False` before the combined model's)."
    )


def _portable(keras3: Finding | None, keras2: Finding | None) -> Finding:
    assert keras3 is not None  # frozen at compile and still frozen is frozen now
    if keras2 is not None:
        return Finding(
            keras3.node, keras3.message + " Keras 2 trains nothing either: " + keras2.message
        )
    return Finding(
        keras3.node,
        "Trains nothing in Keras 3 (fine in Keras 2 only if the freeze came after this "
        "model's `compile()`, the GAN idiom): "
        + keras3.message
        + " Portable: set the flag before each training call (`True` before the model's own "
        "step, `False` before the combined model's).",
    )


RULE = Rule(
    code="KL002",
    name="training-frozen-model",
    summary="a model is trained while its `trainable` is False",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
)
