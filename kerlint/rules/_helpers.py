"""Small pieces several rules share: naming objects and calls in messages."""

from __future__ import annotations

import ast

from kerlint.facts import FileFacts, names
from kerlint.facts.model import Event, Obj

# Layers that own no variables, besides those of the freeze rules' table: `Lambda` wraps a
# function (Keras does not track variables it makes).
_NO_VARIABLES = names.WEIGHTLESS_LAYERS | {"Lambda"}


def called_on(facts: FileFacts, event: Event) -> str:
    """`model` for `model.fit(...)`: how the code names the object a method is called on."""
    node = event.node
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return facts.code(node.func.value)
    return event.target.describe() if event.target else "the model"


def method_of(event: Event) -> str:
    node = event.node
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr
    return event.method or "fit"


def assigned_target(facts: FileFacts, event: Event) -> str:
    """`base.trainable = True` as the code wrote it (first line only)."""
    return facts.code(event.node).splitlines()[0]


def short_class(obj: Obj) -> str | None:
    return obj.cls.rsplit(".", 1)[-1] if obj.cls else None


def places(facts: FileFacts, events) -> str:
    """`line 12`, `lines 12, 15`, or cells in a notebook: the other places a message names."""
    found = sorted({(facts.line(event.node), facts.at(event.node)) for event in events})
    if len(found) == 1:
        return found[0][1]
    if all(text.startswith("line ") and " of " not in text for _, text in found):
        return "lines " + ", ".join(str(row) for row, _ in found)
    return "; ".join(text for _, text in found)


def made_in_the_call(compile_: Event, optimizer: Obj) -> bool:
    """`compile(optimizer=keras.optimizers.Adam(...))`: each run of the call makes a new one,
    so it is never reused nor shared."""
    call = compile_.node
    return isinstance(call, ast.Call) and any(
        given is optimizer.node for given in [*call.args, *(k.value for k in call.keywords)]
    )


def layers_with_variables(model: Obj, depth: int = 0) -> frozenset[int] | None:
    """The layers (object ids) that own `model`'s variables, through nested models, when
    every part is known: a Sequential list or a functional graph of Keras layers. None
    when any part is not (a subclassed model, an application, a layer of unknown class)."""
    if model.structure not in ("functional", "sequential") or not model.children or depth > 8:
        return None
    found: set[int] = set()
    for child in model.children:
        if child.kind == "model":
            inner = layers_with_variables(child, depth + 1)
            if inner is None:
                return None
            found |= inner
        elif not child.cls or not child.cls.startswith("keras.layers."):
            return None
        elif not owns_no_variables(child):
            found.add(child.id)
    return frozenset(found)


def owns_no_variables(obj: Obj) -> bool:
    """A Keras layer of a class that never owns variables (`Dropout`, `Activation`, ...)."""
    return obj.kind == "layer" and (obj.cls or "").rsplit(".", 1)[-1] in _NO_VARIABLES
