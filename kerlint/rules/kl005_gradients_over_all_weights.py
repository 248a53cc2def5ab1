"""KL005: gradients or updates over `model.weights`, which holds frozen variables too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from kerlint.facts import FileFacts, is_keras
from kerlint.facts.names import ALL_WEIGHT_LISTS
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule

TRAINABLE_NAME = {"weights": "trainable_weights", "variables": "trainable_variables"}


def check(facts: FileFacts) -> Iterator[Finding]:
    for use in facts.facts.weights_uses:
        bad = [wl for wl in use.lists if wl.attr in ALL_WEIGHT_LISTS and is_keras(wl.owner)]
        if not bad:
            continue
        attrs = sorted({wl.attr for wl in bad})
        replacements = tuple(_rename_all(use.node, attrs))
        yield Finding(
            use.node,
            f"`{use.api}` is given `.{attrs[0]}`, which also holds frozen and non-trainable "
            "variables (BatchNormalization moving statistics among them): the optimizer will "
            "update them (silently on TensorFlow and JAX). Use "
            f"`.{TRAINABLE_NAME[attrs[0]]}` for both the gradients and the update.",
            fix=FixSpec(f"Use `.{TRAINABLE_NAME[attrs[0]]}`", replacements, "safe")
            if replacements
            else None,
        )


def _rename_all(call: cst.Call, attrs: list[str]) -> Iterator[Replacement]:
    """The `.weights` attributes written inside the call itself (not through a variable)."""
    found: list[cst.Attribute] = []

    class Visitor(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            if node.attr.value in attrs:
                found.append(node)

    for arg in call.args:
        arg.visit(Visitor())
    for node in found:
        yield Replacement(node.attr, cst.Name(TRAINABLE_NAME[node.attr.value]))


RULE = Rule(
    code="KL005",
    name="gradients-over-all-weights",
    summary="gradients or optimizer updates over `.weights` / `.variables`",
    check=check,
    requires=("gradient", "apply", "minimize"),
    requires_pattern=re.compile(r"\.\s*(?:weights|variables)\b"),
    fix="safe",
)
