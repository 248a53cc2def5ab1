"""Weight-name filters: tests of `w.name` that only a Keras 2 variable name can pass.

Keras 2 names a variable `layer_name/kernel:0`; Keras 3's `w.name` is the bare `kernel`
(the layer's path is `w.path`). A filter such as `'conv' in w.name`,
`w.name.startswith('block5')` or `w.name == 'dense/kernel:0'` over a model's weights
selects the intended variables in Keras 2 and silently nothing in Keras 3.

The builder calls `keras2_only_name_tests` on a loop or comprehension that iterates a
weight list; the scan covers only that subtree.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

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


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _is_name_of(node: cst.BaseExpression, var: str) -> bool:
    return (
        isinstance(node, cst.Attribute)
        and node.attr.value == "name"
        and isinstance(node.value, cst.Name)
        and node.value.value == var
    )


class _Finder(cst.CSTVisitor):
    def __init__(self, var: str) -> None:
        self.var = var
        self.found: list[tuple[cst.CSTNode, str]] = []

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            right = target.comparator
            operator = target.operator
            if isinstance(operator, cst.In | cst.NotIn) and _is_name_of(right, self.var):
                literal = _string(left)
                if literal is not None and keras2_only(literal, "in"):
                    self.found.append((node, literal))
            elif isinstance(operator, cst.Equal | cst.NotEqual):
                for name_side, literal_side in ((left, right), (right, left)):
                    literal = _string(literal_side)
                    if (
                        _is_name_of(name_side, self.var)
                        and literal is not None
                        and keras2_only(literal, "==")
                    ):
                        self.found.append((node, literal))
            left = right

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not node.args:
            return
        literal = _string(node.args[0].value)
        if literal is None:
            return
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in ("startswith", "endswith")
            and _is_name_of(func.value, self.var)
        ):
            if keras2_only(literal, func.attr.value):
                self.found.append((node, literal))
            return
        elif (
            isinstance(func, cst.Attribute)
            and func.attr.value in ("match", "search", "fullmatch")
            and len(node.args) >= 2
            and _is_name_of(node.args[1].value, self.var)
            and keras2_only(literal, "startswith" if func.attr.value == "match" else "in")
        ):
            self.found.append((node, literal))


def keras2_only_name_tests(scope: cst.CSTNode, var: str) -> Iterator[tuple[cst.CSTNode, str]]:
    """(test node, literal) for each Keras-2-only test of `<var>.name` inside `scope`."""
    finder = _Finder(var)
    scope.visit(finder)
    yield from finder.found
