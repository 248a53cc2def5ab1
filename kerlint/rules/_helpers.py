"""Small pieces several rules share: naming objects and calls in messages."""

from __future__ import annotations

import libcst as cst

from kerlint.facts import FileFacts
from kerlint.facts.model import Event, Obj


def called_on(facts: FileFacts, event: Event) -> str:
    """`model` for `model.fit(...)`: how the code names the object a method is called on."""
    node = event.node
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return facts.code(node.func.value)
    return event.target.describe() if event.target else "the model"


def method_of(event: Event) -> str:
    node = event.node
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value
    return event.method or "fit"


def assigned_target(facts: FileFacts, event: Event) -> str:
    """`base.trainable = True` as the code wrote it (first line only)."""
    node = event.node
    if isinstance(node, cst.Assign):
        return facts.code(node).splitlines()[0]
    return facts.code(node).splitlines()[0]


def short_class(obj: Obj) -> str | None:
    return obj.cls.rsplit(".", 1)[-1] if obj.cls else None


def lines(facts: FileFacts, events) -> str:
    numbers = sorted({facts.line(event.node) for event in events})
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    return "lines " + ", ".join(str(n) for n in numbers)
