"""KL011: `trainable` changed inside a Callback, that is while `fit` runs."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts, is_keras
from kerlint.rules._helpers import assigned_target
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    seen: set[int] = set()
    for event in facts.events("assign"):
        if not event.in_callback or not is_keras(event.target) or id(event.node) in seen:
            continue
        seen.add(id(event.node))
        yield Finding(
            event.node,
            f"`{assigned_target(facts, event)}` runs inside a Callback, while `fit` is running: "
            + (
                "Keras 2 ignores the change for the rest of this `fit` in graph mode (later fits "
                "keep the compile-time state) and an unfreeze crashes in eager mode. "
                if facts.mode.keras2
                else "the running fit keeps the variables it started with (TensorFlow silently "
                "ignores the change; PyTorch and JAX raise). "
            )
            + "Stop training, change `trainable`, `compile()` with a new optimizer, then call "
            "`fit` again (with `initial_epoch`).",
        )


RULE = Rule(
    code="KL011",
    name="trainable-changed-during-fit",
    summary="`trainable` assigned inside a keras Callback",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
)
