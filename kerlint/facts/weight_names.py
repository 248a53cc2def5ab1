"""Weight-name filters: tests of `w.name` that only a Keras 2 variable name can pass.

Keras 2 names a variable `layer_name/kernel:0`; Keras 3's `w.name` is the bare `kernel`
(the layer's path is `w.path`). A filter such as `'conv' in w.name`,
`w.name.startswith('block5')` or `w.name == 'dense/kernel:0'` over a model's weights
selects the intended variables in Keras 2 and silently nothing in Keras 3.

The builder calls `keras2_only_name_tests` on a loop or comprehension that iterates a
weight list; the scan covers only that subtree.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kerlint.facts.syntax import string_literal

# Bare variable names Keras 3 layers create: a literal these could contain may match in both.
KERAS3_VARIABLE_NAMES = (
    "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "embeddings",
    "recurrent_kernel", "depthwise_kernel", "pointwise_kernel", "alpha", "scale", "offset",
    "seed_generator_state", "iteration", "learning_rate", "count", "mean", "variance",
    "query", "key", "value", "lora_kernel_a", "lora_kernel_b",
)  # fmt: skip


def keras2_only(literal: str, how: str) -> bool:
    """Whether a test of a Keras 3 bare name against `literal` can never pass."""
    if "/" in literal or ":" in literal:
        return True
    if not literal:
        return False
    if how == "==":
        return literal not in KERAS3_VARIABLE_NAMES
    if how == "endswith":
        return not any(name.endswith(literal) for name in KERAS3_VARIABLE_NAMES)
    if how == "startswith":
        return not any(name.startswith(literal) for name in KERAS3_VARIABLE_NAMES)
    return not any(literal in name for name in KERAS3_VARIABLE_NAMES)  # `in`, re.search


def _string(node: ast.AST) -> str | None:
    return string_literal(node)


def _is_name_of(node: ast.AST, var: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "name"
        and isinstance(node.value, ast.Name)
        and node.value.id == var
    )


def _comparison_tests(node: ast.Compare, var: str) -> Iterator[tuple[ast.AST, str]]:
    left = node.left
    for operator, right in zip(node.ops, node.comparators, strict=True):
        if isinstance(operator, ast.In | ast.NotIn) and _is_name_of(right, var):
            literal = _string(left)
            if literal is not None and keras2_only(literal, "in"):
                yield node, literal
        elif isinstance(operator, ast.Eq | ast.NotEq):
            for name_side, literal_side in ((left, right), (right, left)):
                literal = _string(literal_side)
                if (
                    _is_name_of(name_side, var)
                    and literal is not None
                    and keras2_only(literal, "==")
                ):
                    yield node, literal
        left = right


def _call_tests(node: ast.Call, var: str) -> Iterator[tuple[ast.AST, str]]:
    func = node.func
    if not node.args or not isinstance(func, ast.Attribute):
        return
    literal = _string(node.args[0])
    if literal is None:
        return
    if func.attr in ("startswith", "endswith") and _is_name_of(func.value, var):
        if keras2_only(literal, func.attr):
            yield node, literal
    elif (
        func.attr in ("match", "search", "fullmatch")
        and len(node.args) >= 2
        and _is_name_of(node.args[1], var)
        and keras2_only(literal, "startswith" if func.attr == "match" else "in")
    ):
        yield node, literal


def keras2_only_name_tests(
    scope: ast.AST | list[ast.stmt], var: str
) -> Iterator[tuple[ast.AST, str]]:
    """(test node, literal) for each Keras-2-only test of `<var>.name` inside `scope` (a
    node, or a block of statements), in the order of the source."""
    found: list[tuple[ast.AST, str]] = []
    roots = scope if isinstance(scope, list) else [scope]
    for node in (part for root in roots for part in ast.walk(root)):
        if isinstance(node, ast.Compare):
            found.extend(_comparison_tests(node, var))
        elif isinstance(node, ast.Call):
            found.extend(_call_tests(node, var))
    found.sort(key=lambda item: (item[0].lineno, item[0].col_offset))  # type: ignore[attr-defined]
    yield from found
