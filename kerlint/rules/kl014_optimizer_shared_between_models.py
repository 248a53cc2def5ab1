"""KL014: one optimizer object given to the `compile()` of two models that are both trained.

A Keras optimizer builds its slots for the variables of the first model it trains; the
second model's variables are unknown to it: `ValueError: Unknown variable` on TensorFlow and
torch (Keras 3; JAX raises on other shapes and silently reuses the state on equal ones),
`KeyError: 'The optimizer cannot recognize variable ...'` with the Keras 2 optimizers of
TensorFlow >= 2.11. Keras 2's `optimizers.legacy.*` classes accept it. A model made anew in
each iteration of a loop, with one optimizer made before the loop, is a second model too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Event, Obj
from kerlint.rules._helpers import called_on, layers_with_variables, made_in_the_call
from kerlint.rules._modes import by_mode
from kerlint.rules.base import Finding, Rule

# Measured with Keras 3.15.1 (TensorFlow 2.21, torch 2.13, JAX 0.10) and tf_keras 2.21.
CONSEQUENCE = (
    "raises 'Unknown variable' on TensorFlow and torch (on JAX it raises, or, where the "
    "shapes match, silently applies the other model's optimizer state) and a KeyError in "
    "Keras 2 on TensorFlow >= 2.11"
)
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
    trainings: dict[int, list[Event]] = {}
    for event in facts.events("train"):
        if event.target is not None:
            trainings.setdefault(event.target.id, []).append(event)
    first_use: dict[int, Event] = {}
    for compile_ in facts.events("compile"):
        optimizer, model = compile_.optimizer, compile_.target
        if optimizer is None or model is None or model.id not in trainings:
            continue
        if made_in_the_call(compile_, optimizer):
            continue  # a new optimizer each time the call runs: never shared
        loop = _new_model_each_iteration(compile_, model, optimizer, trainings[model.id])
        if loop is not None:
            name = called_on(facts, compile_)
            yield (
                Finding(
                    compile_.node,
                    f"`{name}.compile` is given the optimizer object made at "
                    f"{facts.at(optimizer.node)}, outside the loop at {facts.at(loop)} that "
                    f"makes a new `{name}` and trains it on each iteration: an optimizer only "
                    "accepts the variables it was first built with, so the second iteration's "
                    f"first step {CONSEQUENCE}. Make the optimizer inside the loop, one per "
                    "model.",
                ),
                _is_legacy(optimizer),
            )
            continue
        earlier = first_use.setdefault(optimizer.id, compile_)
        if earlier.target is model or earlier.node is compile_.node:
            continue  # the same model, or one call reached with either of two models
        assert earlier.target is not None
        if _same_variables(earlier.target, model):
            continue  # two heads without variables on one body: nothing new to the optimizer
        name, other = called_on(facts, compile_), called_on(facts, earlier)
        yield (
            Finding(
                compile_.node,
                f"`{name}.compile` is given the optimizer object `{other}.compile` got at "
                f"{facts.at(earlier.node)}, and both models are trained: an optimizer only "
                "accepts the variables it was first built with, so the second model's first "
                f"step {CONSEQUENCE}. Give each model its own optimizer instance.",
            ),
            _is_legacy(optimizer),
        )


def _same_variables(one: Obj, other: Obj) -> bool:
    """Two models made of the same layers with variables (one graph read out through
    different weightless heads): whichever trains first, the other brings no variable the
    optimizer does not know (measured: trains on every backend)."""
    mine = layers_with_variables(one)
    return mine is not None and mine == layers_with_variables(other)


def _new_model_each_iteration(
    compile_: Event, model: Obj, optimizer: Obj, trainings: list[Event]
) -> ast.For | ast.AsyncFor | None:
    """The loop that runs this compile more than once, each time for a model it made anew
    and trains in the same iteration, with an optimizer made before it: a second model."""
    if optimizer.node is None:
        return None
    for loop in compile_.repeats:
        if (
            loop in model.repeats
            and loop not in optimizer.repeats
            and any(loop in training.repeats for training in trainings)
        ):
            return loop
    return None


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
