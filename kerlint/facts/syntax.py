"""Questions asked of the syntax tree alone: names, literals, parameters, guard tests."""

from __future__ import annotations

import libcst as cst

from kerlint.facts import names


def dotted_name(node) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def absolute_import(package: str | None, level: int, module: str | None) -> str | None:
    """`from ..x import y` in package `a.b.c` imports `a.b.x`: the absolute module, or None."""
    if level == 0:
        return module
    if package is None:
        return None
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None


def all_params(params: cst.Parameters) -> list[cst.Param]:
    result = [*params.posonly_params, *params.params]
    if isinstance(params.star_arg, cst.Param):
        result.append(params.star_arg)
    result.extend(params.kwonly_params)
    if params.star_kwarg is not None:
        result.append(params.star_kwarg)
    return result


def class_methods(klass: cst.ClassDef) -> list[cst.FunctionDef]:
    body = klass.body.body if isinstance(klass.body, cst.IndentedBlock) else []
    return [stmt for stmt in body if isinstance(stmt, cst.FunctionDef)]


def find_method(klass: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    for method in class_methods(klass):
        if method.name.value == name:
            return method
    return None


def bool_literal(node) -> bool | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


def truth_literal(node) -> bool | None:
    """What `trainable = <literal>` sets: Keras's setter stores `bool(value)`, so `0` and
    `None` freeze and `1` unfreezes (KL008 still reports the literal). A string stays
    unknown here: `"False"` is True to Keras but plainly meant False, and KL008 says so."""
    if isinstance(node, cst.Name) and node.value == "None":
        return False
    value = int_literal(node)
    if value is not None:
        return bool(value)
    return bool_literal(node)


def int_literal(node) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = int_literal(node.expression)
        return -inner if inner is not None else None
    return None


def small_slice(lower: int | None, upper: int | None, element: cst.Slice) -> bool:
    """Very few layers (at most two) may well hold no BatchNormalization: don't claim they do."""
    if element.step is not None:
        return False
    if lower is not None and lower < 0 and element.upper is None:
        return -lower <= 2
    if lower is not None and upper is not None and lower >= 0 and upper >= 0:
        return upper - lower <= 2
    return False


def mentions(node: cst.CSTNode, wanted: set[str]) -> bool:
    if isinstance(node, cst.Name):
        return node.value in wanted
    return any(mentions(child, wanted) for child in node.children)


def target_name(target) -> str | None:
    if isinstance(target, cst.Name):
        return target.value
    if isinstance(target, cst.Tuple | cst.List) and len(target.elements) == 2:
        second = target.elements[1].value
        if isinstance(second, cst.Name):
            return second.value
    return None


def tests_batchnorm(test: cst.BaseExpression) -> bool:
    """`isinstance(l, BatchNormalization)` (or a tuple holding it), or a class-name test."""
    if (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Name)
        and test.func.value == "isinstance"
        and len(test.args) == 2
    ):
        return names_batchnorm(test.args[1].value)
    if isinstance(test, cst.Comparison):
        return names_batchnorm(test) or any(
            isinstance(c.comparator, cst.SimpleString) and "BatchNorm" in c.comparator.value
            for c in test.comparisons
        )
    return False


def names_batchnorm(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.Name | cst.Attribute):
        leaf = node.value if isinstance(node, cst.Name) else node.attr.value
        if leaf in names.BATCHNORM:
            return True
    if isinstance(node, cst.SimpleString):
        return "BatchNorm" in node.value
    return any(names_batchnorm(child) for child in node.children)


def not_isinstance_bn(node) -> bool:
    """`layer.trainable = not isinstance(layer, BatchNormalization)`: True for all but BN."""
    return (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Not)
        and tests_batchnorm(node.expression)
    )


def is_discarded_trainable_test(node: cst.Comparison) -> bool:
    return (
        isinstance(node.left, cst.Attribute)
        and node.left.attr.value == "trainable"
        and len(node.comparisons) == 1
        and isinstance(node.comparisons[0].operator, cst.Equal | cst.NotEqual | cst.Is | cst.IsNot)
    )


def passes_training_false(call: cst.FunctionDef) -> bool:
    """Does a subclassed model's call() pass training=False to what it calls?"""
    found = False

    class Visitor(cst.CSTVisitor):
        def visit_Arg(self, node: cst.Arg) -> None:
            nonlocal found
            if (
                node.keyword is not None
                and node.keyword.value == "training"
                and bool_literal(node.value) is False
            ):
                found = True

    call.visit(Visitor())
    return found
