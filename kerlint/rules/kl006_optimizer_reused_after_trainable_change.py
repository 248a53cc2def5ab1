"""KL006: compile again with the optimizer object that already trained another variable set."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Event
from kerlint.facts.syntax import keyword
from kerlint.fixgen import fresh_optimizer
from kerlint.rules._helpers import called_on, made_in_the_call
from kerlint.rules._modes import by_mode
from kerlint.rules.base import TRAINABLE_WRITE, Finding, FixSpec, Replacement, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    findings = list(_reuses(facts))
    yield from by_mode(
        facts,
        (finding for finding, _ in findings),
        (
            finding
            for finding, keras2_breaks in findings
            if keras2_breaks and facts.mode.keras2_optimizers_raise
        ),
        upgrade=lambda f: Finding(
            f.node,
            "Works in Keras 2 (after a freeze, or with a legacy optimizer); after the upgrade "
            "to Keras 3 it does not: " + f.message,
            f.fix,
        ),
    )


def _reuses(facts: FileFacts) -> Iterator[tuple[Finding, bool]]:
    """Each reuse, and whether Keras 2 breaks too: only after an unfreeze, and only with the
    TensorFlow >= 2.11 optimizers (`optimizers.legacy.*` accept the new variables)."""
    for compile_ in facts.events("compile"):
        optimizer, model = compile_.optimizer, compile_.target
        if optimizer is None or made_in_the_call(compile_, optimizer):
            continue
        for state in facts.states_before(compile_):
            built = state.built_for(optimizer, model)
            if built is None:
                continue
            differences = [
                (then, flag)
                for key, obj in facts.keys_of(model)
                if (then := built.value(key)) not in ("absent", None)
                and (flag := state.flag(key, obj.initially_trainable)).value is not None
                and flag.value != then
                and flag.origin is not None
            ]
            if not differences:
                continue
            changed = [flag.origin for _, flag in differences]
            unfrozen = any(then is False and flag.value is True for then, flag in differences)
            legacy = ".legacy." in (optimizer.cls or "")
            name = called_on(facts, compile_)
            optimizer_code = _optimizer_code(facts, compile_.node)
            yield (
                Finding(
                    compile_.node,
                    f"`{name}.compile` reuses the optimizer `{optimizer_code}`, which was built for "
                    f"the variables `{name}` trained at {facts.at(built.event.node)}; "
                    f"`trainable` changed since ({facts.at(changed[0].node)}). A Keras "
                    "optimizer only accepts the variables it was built with: 'Unknown variable' on "
                    "TensorFlow and PyTorch, a broken model on JAX. Pass a new optimizer instance.",
                    fix=_new_optimizer(facts, compile_),
                ),
                unfrozen and not legacy,
            )
            break


def _new_optimizer(facts: FileFacts, compile_: Event) -> FixSpec | None:
    """Pass a new instance: the visible `keras.optimizers.X(...)` call, written again."""
    import libcst as cst

    call = facts.cst(compile_.node)
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


def _optimizer_code(facts: FileFacts, call: ast.AST) -> str:
    if isinstance(call, ast.Call):
        given = keyword(call, "optimizer")
        if given is not None:
            return facts.code(given.value)
        if call.args and not isinstance(call.args[0], ast.Starred):
            return facts.code(call.args[0])
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
