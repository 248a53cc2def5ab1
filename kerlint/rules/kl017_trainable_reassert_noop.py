"""KL017 (opt-in): re-asserting a model's `trainable` to reset its children is a no-op on
Keras 3 with TensorFlow.

`base.trainable = True` while `base` is already trainable, after some of its layers were
frozen, unfreezes them in Keras 2 and on torch and JAX; with Keras 3's TensorFlow backend the
setter sees no change and the children keep their flags.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.rules._helpers import assigned_target
from kerlint.rules._modes import by_mode
from kerlint.rules.base import TRAINABLE_WRITE, Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    yield from by_mode(facts, _keras3(facts), ())


def _keras3(facts: FileFacts) -> Iterator[Finding]:
    for event in facts.events("assign"):
        target, value = event.target, event.value
        if target is None or value is None or event.in_callback or event.guard is not None:
            continue
        if target.kind != "model":
            continue
        states = facts.states_before(event)
        if not states:
            continue
        children = [part for part in facts.graph.parts(target) if part is not target]
        reset: list[str] = []
        for state in states:
            if facts.flag(state, target).value is not value:
                break
            differing = [
                child
                for child in children
                if (flag := facts.flag(state, child)).value is (not value)
                and flag.origin is not None
                and flag.origin.kind == "assign"
            ]
            if not differing:
                break
            reset = [child.describe() for child in differing]
        else:
            flag_text = "True" if value else "False"
            yield Finding(
                event.node,
                f"`{assigned_target(facts, event)}` re-asserts a value `{target.describe()}` "
                f"already has, to reset `{reset[0]}`"
                + (f" and {len(reset) - 1} more" if len(reset) > 1 else "")
                + ": with Keras 3 on TensorFlow the setter sees no change and the layers keep "
                "their own flags (Keras 2, torch and JAX propagate it). Set the layers "
                f"explicitly: `for layer in {target.describe()}.layers: layer.trainable = "
                f"{flag_text}`.",
            )


RULE = Rule(
    code="KL017",
    name="trainable-reassert-noop",
    summary="re-asserting a model's `trainable` does not reset its layers on Keras 3 + TF",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
    default=False,
)
