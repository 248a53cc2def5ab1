"""KL006: compile again with the optimizer object that already trained another variable set."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from kerlint.facts import FileFacts
from kerlint.facts.model import Event
from kerlint.fixgen import fresh_optimizer
from kerlint.rules._helpers import called_on
from kerlint.rules.base import TRAINABLE_WRITE, Finding, FixSpec, Replacement, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    for compile_ in facts.events("compile"):
        optimizer, model = compile_.optimizer, compile_.target
        if optimizer is None:
            continue
        for state in facts.states_before(compile_):
            built = state.built_for(optimizer, model)
            if built is None:
                continue
            changed = [
                flag.origin
                for key, obj in facts.keys_of(model)
                if (then := built.value(key)) not in ("absent", None)
                and (flag := state.flag(key, obj.initially_trainable)).value is not None
                and flag.value != then
                and flag.origin is not None
            ]
            if not changed:
                continue
            name = called_on(facts, compile_)
            optimizer_code = _optimizer_code(facts, compile_.node)
            yield Finding(
                compile_.node,
                f"`{name}.compile` reuses the optimizer `{optimizer_code}`, which was built for "
                f"the variables `{name}` trained at {facts.at(built.event.node)}; "
                f"`trainable` changed since ({facts.at(changed[0].node)}). A Keras "
                "optimizer only accepts the variables it was built with: 'Unknown variable' on "
                "TensorFlow and PyTorch, a broken model on JAX. Pass a new optimizer instance.",
                fix=_new_optimizer(facts, compile_),
            )
            break


def _new_optimizer(facts: FileFacts, compile_: Event) -> FixSpec | None:
    """Pass a new instance: the visible `keras.optimizers.X(...)` call, written again."""
    call = compile_.node
    if not isinstance(call, cst.Call):
        return None
    for index, arg in enumerate(call.args):
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword == "optimizer" or (keyword is None and index == 0 and not arg.star):
            fresh = fresh_optimizer(facts, compile_.optimizer, call)
            if fresh is None or fresh is arg.value:
                return None
            return FixSpec(
                f"Pass a new `{facts.code(fresh.func)}` instance",
                (Replacement(arg.value, fresh),),
                "unsafe",
            )
    return None


def _optimizer_code(facts: FileFacts, call: cst.CSTNode) -> str:
    if isinstance(call, cst.Call):
        for index, arg in enumerate(call.args):
            if (arg.keyword is not None and arg.keyword.value == "optimizer") or (
                arg.keyword is None and index == 0
            ):
                return facts.code(arg.value)
    return "optimizer"


RULE = Rule(
    code="KL006",
    name="optimizer-reused-after-trainable-change",
    summary="the same optimizer object reused in `compile()` after a trainable change",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
    fix="unsafe",
)
