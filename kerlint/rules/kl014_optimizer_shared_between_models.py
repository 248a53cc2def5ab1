"""KL014: one optimizer object given to the `compile()` of two models that are both trained.

A Keras optimizer builds its slots for the variables of the first model it trains; the
second model's variables are unknown to it: `ValueError: Unknown variable` on torch and JAX
(Keras 3), `KeyError: 'The optimizer cannot recognize variable ...'` with the Keras 2
optimizers of TensorFlow >= 2.11. Keras 2's `optimizers.legacy.*` classes accept it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Event, Obj
from kerlint.rules._helpers import called_on, made_in_the_call
from kerlint.rules._modes import by_mode
from kerlint.rules.base import Finding, Rule

SHARED_OPTIMIZER = re.compile(r"(?:optimizer\s*=\s*|\.compile\(\s*)[A-Za-z_][\w.]*\s*[,)]")


def check(facts: FileFacts) -> Iterator[Finding]:
    findings = list(_shared(facts))
    yield from by_mode(
        facts,
        (finding for finding, _ in findings),
        # Keras 2: only where its optimizers are bound to their variables (TF >= 2.11) and
        # the shared one is not a legacy optimizer.
        (
            finding
            for finding, legacy in findings
            if not legacy and facts.mode.keras2_optimizers_raise
        ),
        upgrade=lambda f: Finding(
            f.node,
            "Works in Keras 2 with a legacy optimizer; after the upgrade to Keras 3 "
            "`optimizers.legacy` is gone and a shared optimizer raises 'Unknown variable' on "
            "torch and JAX. Give each model its own optimizer.",
        ),
    )


def _is_legacy(optimizer: Obj) -> bool:
    return ".legacy." in (optimizer.cls or "")


def _shared(facts: FileFacts) -> Iterator[tuple[Finding, bool]]:
    trained = {e.target.id for e in facts.events("train") if e.target is not None}
    first_use: dict[int, Event] = {}
    for compile_ in facts.events("compile"):
        optimizer, model = compile_.optimizer, compile_.target
        if optimizer is None or model is None or model.id not in trained:
            continue
        if made_in_the_call(compile_, optimizer):
            continue  # a new optimizer each time the call runs: never shared
        earlier = first_use.setdefault(optimizer.id, compile_)
        if earlier.target is model or earlier.node is compile_.node:
            continue  # the same model, or one call reached with either of two models
        assert earlier.target is not None
        name, other = called_on(facts, compile_), called_on(facts, earlier)
        yield (
            Finding(
                compile_.node,
                f"`{name}.compile` is given the optimizer object `{other}.compile` got at "
                f"{facts.at(earlier.node)}, and both models are trained: an optimizer only "
                "accepts the variables it was first built with, so the second model's first "
                "step raises 'Unknown variable' (torch, JAX) or KeyError (Keras 2 on TensorFlow "
                ">= 2.11). Give each model its own optimizer instance.",
            ),
            _is_legacy(optimizer),
        )


RULE = Rule(
    code="KL014",
    name="optimizer-shared-between-models",
    summary="one optimizer object compiled into two trained models",
    check=check,
    requires=("compile",),
    # An optimizer shared by two compiles is passed by name (`compile(opt, ...)`,
    # `optimizer=opt`): a file that only passes strings or fresh calls cannot share one.
    requires_pattern=SHARED_OPTIMIZER,
)
