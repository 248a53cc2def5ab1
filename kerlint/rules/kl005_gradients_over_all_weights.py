"""KL005: gradients or updates over `model.weights`, which holds frozen variables too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kerlint.facts import FileFacts, is_keras
from kerlint.facts.names import ALL_WEIGHT_LISTS
from kerlint.fixgen import scope_of, weight_lists_in
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule

if TYPE_CHECKING:
    import libcst as cst

TRAINABLE_NAME = {"weights": "trainable_weights", "variables": "trainable_variables"}


def check(facts: FileFacts) -> Iterator[Finding]:
    found = []
    for use in facts.facts.weights_uses:
        bad = [wl for wl in use.lists if wl.attr in ALL_WEIGHT_LISTS and is_keras(wl.owner)]
        if bad:
            found.append((use, sorted({wl.attr for wl in bad})))
    fixes = _safe_fixes(facts, found) if found else {}
    for use, attrs in found:
        yield Finding(
            use.node,
            f"`{use.api}` is given `.{attrs[0]}`, which also holds frozen and non-trainable "
            "variables (BatchNormalization moving statistics among them): the optimizer will "
            "update them (silently on TensorFlow and JAX). Use "
            f"`.{TRAINABLE_NAME[attrs[0]]}` for both the gradients and the update.",
            fix=fixes.get(id(use.node)),
        )


def _safe_fixes(facts: FileFacts, found: list) -> dict[int, FixSpec]:
    """The fix of each use, by its call: only where it is safe.

    Gradients are paired with variables by position (`zip(grads, model.weights)`): renaming
    the list in `tape.gradient` but not in the `zip` pairs each gradient with the wrong
    variable. So in each scope (function or module) every `.weights` / `.variables` read
    must be one the fix renames, written in one of the reported calls; then each reported
    call there carries the same fix, all of the renames at once.
    """
    import libcst as cst

    by_scope: dict[int, tuple[object, list]] = {}
    for use, attrs in found:
        call = facts.cst(use.node)
        if call is None:
            return {}
        scope = scope_of(facts, call)
        by_scope.setdefault(id(scope), (scope, []))[1].append((use, call, attrs))
    fixes: dict[int, FixSpec] = {}
    for scope, uses in by_scope.values():
        renamed: list[cst.Attribute] = []
        covered: set[int] = set()
        for _, call, attrs in uses:  # a call nested in another is found in both
            for node in _weight_lists_in_call(call, attrs):
                if id(node) not in covered:
                    covered.add(id(node))
                    renamed.append(node)
        reads = weight_lists_in(facts, scope)  # type: ignore[arg-type]
        if not renamed or any(id(node) not in covered for node in reads):
            continue
        first = uses[0][2][0]
        replacements = tuple(
            Replacement(node.attr, cst.Name(TRAINABLE_NAME[node.attr.value])) for node in renamed
        )
        spec = FixSpec(f"Use `.{TRAINABLE_NAME[first]}`", replacements, "safe")
        for use, _, _ in uses:
            fixes[id(use.node)] = spec
    return fixes


def _weight_lists_in_call(call: cst.Call, attrs: list[str]) -> list[cst.Attribute]:
    """The `.weights` attributes written inside the call itself (not through a variable)."""
    import libcst as cst

    found: list[cst.Attribute] = []

    class Visitor(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            if node.attr.value in attrs:
                found.append(node)

    for arg in call.args:
        arg.visit(Visitor())
    return found


RULE = Rule(
    code="KL005",
    name="gradients-over-all-weights",
    summary="gradients or optimizer updates over `.weights` / `.variables`",
    check=check,
    requires=("gradient", "apply", "minimize"),
    requires_pattern=re.compile(r"\.\s*(?:weights|variables)\b"),
    fix="safe",
)
