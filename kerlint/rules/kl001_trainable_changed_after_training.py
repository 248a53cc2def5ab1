"""KL001: a part of a model changes `trainable` after training started, with no new compile."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Event
from kerlint.fixgen import ancestors, fresh_optimizer, scope_of, simple_reference
from kerlint.rules._helpers import assigned_target, called_on, method_of
from kerlint.rules._modes import by_mode
from kerlint.rules.base import TRAINABLE_WRITE, Finding, FixSpec, Replacement, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    yield from by_mode(facts, _keras3(facts), _keras2(facts), portable=_portable)


def _keras2(facts: FileFacts) -> Iterator[Finding]:
    """Keras 2: a change after training started that the compile-time state overrides."""
    for train in facts.events("train"):
        if train.in_callback:
            continue
        for deviation in facts.compile_deviations(train):
            start = deviation.state.start_of(train.target)  # type: ignore[arg-type]
            if deviation.before_start or start is None:
                continue  # before training ran: KL013's
            origin = deviation.now.origin
            assert origin is not None
            name = called_on(facts, train)
            compiled = deviation.at_compile.event
            yield Finding(
                origin.node,
                f"`{assigned_target(facts, origin)}` changes what `{name}` trains after it "
                f"started at {facts.at(start.event.node)} (compiled at "
                f"{facts.at(compiled.node)}, trained again at {facts.at(train.node)} by "
                f"`{method_of(train)}`) without a new `compile()`: Keras 2 trains with the flags "
                "captured by `compile()`, so `fit` ignores this change, in graph and eager mode "
                f"alike. Call `{name}.compile(...)` again after changing `trainable` (with a new "
                "optimizer after an unfreeze).",
                fix=_recompile(facts, origin, train, compiled),
            )


def _portable(keras3: Finding | None, keras2: Finding | None) -> Finding:
    finding = keras3 or keras2
    assert finding is not None
    return Finding(
        finding.node,
        finding.message.replace(
            "Keras fixed the trained variables when training first ran",
            "Keras 3 fixed the trained variables when training first ran (Keras 2 at `compile()`)",
        ),
        finding.fix,
    )


def _keras3(facts: FileFacts) -> Iterator[Finding]:
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
                since = f"compiled at {facts.at(compiled.node)}, " if compiled is not None else ""
                yield Finding(
                    origin.node,
                    f"`{assigned_target(facts, origin)}` changes what `{name}` trains after it "
                    f"started at {facts.at(start.event.node)} ({since}trained again at "
                    f"{facts.at(train.node)} by `{method_of(train)}`) without a new `compile()`: "
                    "Keras fixed the trained variables when training first ran, so TensorFlow "
                    "silently keeps the old set, PyTorch raises 'Unknown variable' and JAX raises "
                    f"and loses the weights. Call `{name}.compile(...)` again, with a new "
                    "optimizer, after changing `trainable`.",
                    fix=_recompile(facts, origin, train, compiled),
                )


def _recompile(
    facts: FileFacts, origin: Event, train: Event, compiled: Event | None
) -> FixSpec | None:
    """After the change, the model's last `compile(...)` again, with a new optimizer.

    Only when that call can be written again as it was: in the same function as the change
    and the training call, on the same name, its optimizer a string (compile makes a new one),
    absent, or a visible `keras.optimizers.X(...)` call, written again to make a new one.
    A change made inside a loop over layers gets the compile after the loop.
    """
    import libcst as cst

    call = facts.cst(compiled.node) if compiled is not None else None
    anchor = facts.cst(origin.node)
    training = facts.cst(train.node)
    if not isinstance(call, cst.Call) or anchor is None or training is None:
        return None
    if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "compile"):
        return None
    written = compiled.node.func.value  # type: ignore[union-attr]  # CPython's node of it
    if not simple_reference(written) or facts.code(written) != called_on(facts, train):
        return None
    if origin.target is not None and "[*]" in (origin.target.selector or ""):
        anchor = next((n for n in ancestors(facts, anchor) if isinstance(n, cst.For)), None)
        if anchor is None:
            return None
    scope = scope_of(facts, anchor)
    if scope_of(facts, call) is not scope or scope_of(facts, training) is not scope:
        return None
    args = list(call.args)
    for index, arg in enumerate(args):
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword != "optimizer" and not (keyword is None and index == 0 and not arg.star):
            continue
        if isinstance(arg.value, cst.SimpleString | cst.ConcatenatedString):
            break
        fresh = fresh_optimizer(facts, compiled.optimizer, anchor)  # type: ignore[union-attr]
        if fresh is None:
            return None
        args[index] = arg.with_changes(value=fresh)
        break
    statement = cst.SimpleStatementLine(body=[cst.Expr(call.with_changes(args=args))])
    return FixSpec(
        f"Compile `{facts.code(written)}` again, with a new optimizer",
        (Replacement(anchor, statement, insert_after=True),),
        "unsafe",
    )


RULE = Rule(
    code="KL001",
    name="trainable-changed-after-training",
    summary="`trainable` changed after training started, without a new `compile()`",
    check=check,
    requires=("trainable",),
    requires_pattern=TRAINABLE_WRITE,
    fix="unsafe",
)
