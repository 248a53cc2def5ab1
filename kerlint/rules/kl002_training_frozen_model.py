"""KL002: a model is trained while its own `trainable` is False, so nothing learns."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.rules._helpers import called_on, method_of, places
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    if facts.analysis.overflow:
        return  # some paths were dropped: "on every path" can no longer be claimed
    reported: set[tuple[int, frozenset]] = set()
    for train in facts.events("train"):
        model = train.target
        states = facts.states_before(train)
        if not states or train.in_callback:
            continue
        flags = [facts.flag(state, model) for state in states]
        if not all(
            flag.value is False and flag.origin is not None and flag.origin.kind == "assign"
            for flag in flags
        ):
            continue
        origins = [flag.origin for flag in flags]
        key = (model.id, frozenset(origins))
        if key in reported:
            continue  # one report per freeze: the first training call that meets it
        reported.add(key)
        name = called_on(facts, train)
        yield Finding(
            train.node,
            f"`{name}.{method_of(train)}` trains `{name}` while its `trainable` is False (set at "
            f"{places(facts, origins)}), so `{name}.trainable_weights` is empty and nothing "
            "learns: Keras 3 reads the flag when training runs, not at `compile()`. Set "
            f"`{name}.trainable = True` before training it (for a GAN, back to False before "
            "training the combined model).",
        )


RULE = Rule(
    code="KL002",
    name="training-frozen-model",
    summary="a model is trained while its `trainable` is False",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
)
