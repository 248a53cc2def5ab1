"""Questions asked of the syntax tree alone: names, literals, parameters, guard tests.

The facts are built from CPython's own tree (`ast`): it is what the interpreter runs,
it is built about ten times faster than LibCST's, and it carries line and column.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from kerlint.facts import names

FUNCTION_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
# `try` and, from Python 3.11 on, `try` with `except*`.
TRY_STATEMENTS: tuple[type, ...] = tuple(
    getattr(ast, name) for name in ("Try", "TryStar") if hasattr(ast, name)
)
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, eq=False)
class Param:
    """One parameter of a function, with its default (the `ast.arguments` lists, zipped)."""

    name: str
    node: ast.arg
    default: ast.expr | None = None
    star: str = ""  # "*" or "**" for *args and **kwargs


def dotted_name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
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


def all_params(func: FunctionNode | ast.Lambda) -> list[Param]:
    """The parameters in order: positional, *args, keyword-only, **kwargs."""
    arguments = func.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults.extend(arguments.defaults)
    result = [Param(a.arg, a, d) for a, d in zip(positional, defaults, strict=True)]
    if arguments.vararg is not None:
        result.append(Param(arguments.vararg.arg, arguments.vararg, None, "*"))
    result.extend(
        Param(a.arg, a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    )
    if arguments.kwarg is not None:
        result.append(Param(arguments.kwarg.arg, arguments.kwarg, None, "**"))
    return result


def class_methods(klass: ast.ClassDef) -> list[FunctionNode]:
    return [stmt for stmt in klass.body if isinstance(stmt, FUNCTION_DEFS)]


def find_method(klass: ast.ClassDef, name: str) -> FunctionNode | None:
    for method in class_methods(klass):
        if method.name == name:
            return method
    return None


def string_literal(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def bool_literal(node) -> bool | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def is_none(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def truth_literal(node) -> bool | None:
    """What `trainable = <literal>` sets: Keras's setter stores `bool(value)`, so `0` and
    `None` freeze and `1` unfreezes (KL008 still reports the literal). A string stays
    unknown here: `"False"` is True to Keras but plainly meant False, and KL008 says so."""
    if is_none(node):
        return False
    value = int_literal(node)
    if value is not None:
        return bool(value)
    return bool_literal(node)


def int_literal(node) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_literal(node.operand)
        return -inner if inner is not None else None
    return None


def runs_repeatedly(loop: ast.For | ast.AsyncFor) -> bool:
    """Whether a `for` loop is written to run its body more than once: not over a literal
    of at most one item or `range(1)`, and without a `break`, `return` or `raise` that
    ends every first iteration. (What it iterates is otherwise not known: a loop over
    folds, configurations or learning rates.)"""
    iterable = loop.iter
    if isinstance(iterable, ast.Constant):
        return False
    if isinstance(iterable, ast.List | ast.Tuple | ast.Set) and (
        len(iterable.elts) <= 1 or any(isinstance(e, ast.Starred) for e in iterable.elts)
    ):
        return False
    if (
        isinstance(iterable, ast.Call)
        and isinstance(iterable.func, ast.Name)
        and iterable.func.id == "range"
        and not iterable.keywords
        and 1 <= len(iterable.args) <= 3
    ):
        bounds = [int_literal(argument) for argument in iterable.args]
        known = None not in bounds and (len(bounds) < 3 or bounds[2] != 0)
        if known and len(range(*bounds)[:2]) <= 1:  # type: ignore[arg-type]  (a slice: big ints)
            return False
    return not any(
        isinstance(statement, ast.Break | ast.Return | ast.Raise) for statement in loop.body
    )


def small_slice(lower: int | None, upper: int | None, element: ast.Slice) -> bool:
    """Very few layers (at most two) may well hold no BatchNormalization: don't claim they do."""
    if element.step is not None:
        return False
    if lower is not None and lower < 0 and element.upper is None:
        return -lower <= 2
    if lower is not None and upper is not None and lower >= 0 and upper >= 0:
        return upper - lower <= 2
    return False


def mentions(node: ast.AST, wanted: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in wanted for n in ast.walk(node))


def target_name(target) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Tuple | ast.List) and len(target.elts) == 2:
        second = target.elts[1]
        if isinstance(second, ast.Name):
            return second.id
    return None


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    """The `name=` argument of a call, if it has one."""
    for given in call.keywords:
        if given.arg == name:
            return given
    return None


def has_star(call: ast.Call) -> bool:
    """`f(*args)` or `f(**kwargs)`: which parameter gets what is unknown."""
    return any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    )


def tests_batchnorm(test: ast.expr) -> bool:
    """`isinstance(l, BatchNormalization)` (or a tuple holding it), or a class-name test."""
    if (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Name)
        and test.func.id == "isinstance"
        and len(test.args) == 2
        and not test.keywords
    ):
        return names_batchnorm(test.args[1])
    if isinstance(test, ast.Compare):
        return names_batchnorm(test) or any(
            "BatchNorm" in (string_literal(c) or "") for c in test.comparators
        )
    return False


def names_batchnorm(node: ast.AST) -> bool:
    for part in ast.walk(node):
        if isinstance(part, ast.Name) and part.id in names.BATCHNORM:
            return True
        if isinstance(part, ast.Attribute) and part.attr in names.BATCHNORM:
            return True
        if "BatchNorm" in (string_literal(part) or ""):
            return True
    return False


def not_isinstance_bn(node) -> bool:
    """`layer.trainable = not isinstance(layer, BatchNormalization)`: True for all but BN."""
    return (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.Not)
        and tests_batchnorm(node.operand)
    )


def is_discarded_trainable_test(node: ast.Compare) -> bool:
    return (
        isinstance(node.left, ast.Attribute)
        and node.left.attr == "trainable"
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq | ast.NotEq | ast.Is | ast.IsNot)
    )


def passes_training_false(call: FunctionNode) -> bool:
    """Does a subclassed model's call() pass training=False to what it calls?"""
    return any(
        isinstance(node, ast.keyword)
        and node.arg == "training"
        and bool_literal(node.value) is False
        for node in ast.walk(call)
    )
