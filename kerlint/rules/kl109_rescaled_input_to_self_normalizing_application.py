"""KL109: `Rescaling(1/255)` in front of an application that rescales its input itself."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Obj
from kerlint.facts.syntax import has_star
from kerlint.rules.base import Finding, FixSpec, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    MISSING,
    REQUIRES,
    TRAINS,
    keyword_literal,
    local_fix,
    pretrained,
    removal,
    trained_models,
)

SELF_NORMALIZING = ("EfficientNet", "ConvNeXt", "MobileNetV3")


def check(facts: FileFacts) -> Iterator[Finding]:
    trained = trained_models(facts)
    reported: set[int] = set()
    for app, rescalings in _feeds(facts):
        if app.id not in trained or not _rescales_itself(app):
            continue
        leaf = app.cls.rsplit(".", 1)[-1]  # type: ignore[union-attr]
        for layer in rescalings:
            if id(layer.node) in reported or not _divides_by_255(layer.node):
                continue
            reported.add(id(layer.node))
            edit = removal(facts, layer.node)  # type: ignore[arg-type]
            yield Finding(
                layer.node,  # type: ignore[arg-type]
                f"`{facts.code(layer.node)}` scales the images to [0, 1] before {leaf} "  # type: ignore[arg-type]
                f"({facts.at(app.node)}), which expects 0..255 pixels and rescales them "
                "itself: with its ImageNet weights the input loses 255x its contrast and "
                "training stalls, silently. Remove the Rescaling layer"
                f"{' (or build the model with include_preprocessing=False)' if 'EfficientNetB' not in leaf else ''}.",
                fix=local_fix(facts, FixSpec("Remove the Rescaling layer", edit, "unsafe"))
                if edit
                else None,
            )


def _feeds(facts: FileFacts) -> Iterator[tuple[Obj, list[Obj]]]:
    """(application, the Rescaling layers whose output flows into it)."""
    heads = facts.facts.heads
    for model in list(heads.slots):
        layers = heads.sequential_layers(model)
        if not layers:
            continue
        for index, layer in enumerate(layers):
            if _is_application(layer):
                yield layer, [r for r in layers[:index] if _is_rescaling(r)]
    for producer in heads.producers.values():
        if producer.layer is not None and _is_application(producer.layer):
            found = [
                part
                for tensor in producer.inputs
                for source in tensor.sources
                for part in facts.graph.parts(source)
                if _is_rescaling(part)
            ]
            yield producer.layer, found


def _is_application(obj: Obj) -> bool:
    return bool(
        obj.kind == "model"
        and obj.cls
        and obj.cls.startswith("keras.applications.")
        and obj.cls.rsplit(".", 1)[-1].startswith(SELF_NORMALIZING)
    )


def _is_rescaling(obj: Obj) -> bool:
    return obj.kind == "layer" and obj.cls == "keras.layers.Rescaling" and obj.parent is None


def _rescales_itself(app: Obj) -> bool:
    if not pretrained(app.node):
        return False
    return keyword_literal(app.node, "include_preprocessing") in (MISSING, True)


def _divides_by_255(node: ast.AST | None) -> bool:
    if not isinstance(node, ast.Call) or len(node.args) > 1:
        return False
    if not (node.args or node.keywords) or has_star(node):
        return False
    scale = node.args[0] if node.args else None
    for given in node.keywords:
        if given.arg == "scale":
            scale = given.value
        elif given.arg == "offset" and _number(given.value) != 0:
            return False
    value = _number(scale)
    return value is not None and abs(value - 1 / 255) < 1e-5


def _number(node: ast.AST | None) -> float | None:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        top, bottom = _number(node.left), _number(node.right)
        if top is not None and bottom:
            return top / bottom
    return None


RULE = Rule(
    code="KL109",
    name="rescaled-input-to-self-normalizing-application",
    summary="`Rescaling(1/255)` before EfficientNet, ConvNeXt or MobileNetV3 (they rescale)",
    check=check,
    requires=REQUIRES,
    requires_pattern=TRAINS,
    family=FAMILY,
    fix="unsafe",
)
