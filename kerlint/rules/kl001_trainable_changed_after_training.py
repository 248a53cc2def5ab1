"""KL001: a part of a model changes `trainable` after training started, with no new compile."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.rules._helpers import assigned_target, called_on, method_of
from kerlint.rules.base import Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    for train in facts.events("train"):
        model = train.target
        for state in facts.states_before(train):
            start = state.start_of(model)
            if start is None:
                continue
            for key, obj in facts.keys_of(model):
                then = start.value(key)
                if then == "absent" or then is None:
                    continue
                flag = state.flag(key, obj.initially_trainable)
                origin = flag.origin
                if flag.value is None or flag.value == then or origin is None:
                    continue
                if origin.kind != "assign" or origin.in_callback:
                    continue
                name = called_on(facts, train)
                compiled = state.compile_of(model)
                since = (
                    f"compiled at line {facts.line(compiled.node)}, "
                    if compiled is not None
                    else ""
                )
                yield Finding(
                    origin.node,
                    f"`{assigned_target(facts, origin)}` changes what `{name}` trains after it "
                    f"started at line {facts.line(start.event.node)} ({since}trained again at line "
                    f"{facts.line(train.node)} by `{method_of(train)}`) without a new `compile()`: "
                    "Keras fixed the trained variables when training first ran, so TensorFlow "
                    "silently keeps the old set, PyTorch raises 'Unknown variable' and JAX raises "
                    f"and loses the weights. Call `{name}.compile(...)` again, with a new "
                    "optimizer, after changing `trainable`.",
                )


RULE = Rule(
    code="KL001",
    name="trainable-changed-after-training",
    summary="`trainable` changed after training started, without a new `compile()`",
    check=check,
    requires=("trainable",),
    fix="unsafe",
)
