"""What the unsafe fixes need to write code a module can run: its own spelling of Keras
names, names it does not use yet, the scope a node is in, and fresh optimizers.

A fix is only offered when the code it writes means the same thing at the place it is
written; every helper here answers None when it cannot be sure, and the rule then
reports without a fix.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kerlint.facts import FileFacts
from kerlint.facts.model import Obj
from kerlint.facts.names import ALL_WEIGHT_LISTS, canonical

if TYPE_CHECKING:
    import libcst as cst

    _Scope = cst.FunctionDef | cst.Lambda | cst.ClassDef | None


@dataclass
class _Names:
    """What the module names, from CPython's tree: for spelling Keras names and picking
    new ones (needed by messages too, so never from LibCST's tree)."""

    names: set[str] = field(default_factory=set)  # every name the module mentions
    rebound: set[str] = field(default_factory=set)  # names assigned or taken as parameters
    imports: list[tuple[str, str]] = field(default_factory=list)  # (bound name, qualified)


_BINDING_CONTEXTS = (ast.Store, ast.Del)
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
# Nodes that bind the name they hold (`def f`, `except E as e`, `case [*rest]`).
_DEFINES = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler, ast.MatchAs,
    ast.MatchStar,
)  # fmt: skip


def _names(facts: FileFacts) -> _Names:
    found = getattr(facts, "_fixgen_names", None)
    if found is None:
        found = _Names()
        _collect_names(facts.tree, found, nested=False)
        facts._fixgen_names = found  # type: ignore[attr-defined]
    return found


def _collect_names(node: ast.AST, found: _Names, nested: bool) -> None:
    """One walk: every name, the rebound ones, and the imports at module level (only those
    name things everywhere in the module)."""
    todo = [(node, nested)]
    while todo:
        current, inside = todo.pop()
        if isinstance(current, ast.Name):
            found.names.add(current.id)
            if isinstance(current.ctx, _BINDING_CONTEXTS):
                found.rebound.add(current.id)
        elif isinstance(current, ast.Attribute):
            found.names.add(current.attr)
        elif isinstance(current, ast.arg):
            found.names.add(current.arg)
            found.rebound.add(current.arg)
        elif isinstance(current, ast.keyword) and current.arg:
            found.names.add(current.arg)
        elif isinstance(current, _DEFINES) and getattr(current, "name", None):
            found.names.add(current.name)  # type: ignore[attr-defined]
            found.rebound.add(current.name)  # type: ignore[attr-defined]
        elif isinstance(current, ast.Import | ast.ImportFrom):
            _imports(current, found, inside)
        for child in ast.iter_child_nodes(current):
            todo.append((child, inside or isinstance(current, _NESTED)))


def _imports(node: ast.Import | ast.ImportFrom, found: _Names, nested: bool) -> None:
    for alias in node.names:
        found.names.update(alias.name.split("."))
        if alias.asname:
            found.names.add(alias.asname)
    if nested:
        return
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname is not None:
                found.imports.append((alias.asname, alias.name))
            else:
                root = alias.name.split(".")[0]
                found.imports.append((root, root))
        return
    if node.level or node.module is None:
        return
    for alias in node.names:
        if alias.name != "*":
            found.imports.append((alias.asname or alias.name, f"{node.module}.{alias.name}"))


@dataclass
class _ModuleIndex:
    """One walk over LibCST's tree, made only when a fix that rewrites code is built."""

    parents: dict[int, cst.CSTNode] = field(default_factory=dict)
    # Every `x.weights` / `x.variables` read (KL005's fix must cover each in its scope).
    weight_lists: list[cst.Attribute] = field(default_factory=list)


@functools.cache
def _indexer() -> type:
    """The visitor that indexes LibCST's tree (LibCST is imported only here)."""
    import libcst as cst

    class _Indexer(cst.CSTVisitor):
        def __init__(self, index: _ModuleIndex) -> None:
            self.index = index
            self.stack: list[cst.CSTNode] = []

        def on_visit(self, node: cst.CSTNode) -> bool:
            if self.stack:
                self.index.parents[id(node)] = self.stack[-1]
            self.stack.append(node)
            if isinstance(node, cst.Attribute) and node.attr.value in ALL_WEIGHT_LISTS:
                self.index.weight_lists.append(node)
            return True

        def on_leave(self, original_node: cst.CSTNode) -> None:
            self.stack.pop()

    return _Indexer


def _index(facts: FileFacts) -> _ModuleIndex:
    index = getattr(facts, "_fixgen_index", None)
    if index is None:
        index = _ModuleIndex()
        if facts.module is not None:  # else no fix is built, and no spelling is known
            facts.module.visit(_indexer()(index))
        facts._fixgen_index = index  # type: ignore[attr-defined]
    return index


def ancestors(facts: FileFacts, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    parents = _index(facts).parents
    current = parents.get(id(node))
    while current is not None:
        yield current
        current = parents.get(id(current))


def weight_lists_in(facts: FileFacts, scope: _Scope) -> list[cst.Attribute]:
    """The `.weights` / `.variables` reads whose scope (function, lambda, class or module)
    is `scope`."""
    return [node for node in _index(facts).weight_lists if scope_of(facts, node) is scope]


def scope_of(facts: FileFacts, node: cst.CSTNode) -> _Scope:
    """The function, lambda or class whose names `node` sees; None at module level."""
    import libcst as cst

    for parent in ancestors(facts, node):
        if isinstance(parent, cst.FunctionDef | cst.Lambda | cst.ClassDef):
            return parent
    return None


def keras_name(facts: FileFacts, wanted: str) -> str | None:
    """How this module can write the Keras name `wanted` (`keras.layers.BatchNormalization`).

    From its module-level imports: `BatchNormalization`, `layers.BatchNormalization`,
    `keras.layers.BatchNormalization`, `tf.keras.layers.BatchNormalization`, ...; the
    shortest spelling whose first name is never rebound. None when the module cannot.
    """
    index = _names(facts)
    found: list[str] = []
    for bound, qualified in index.imports:
        if bound in index.rebound:
            continue
        candidates = [(qualified, bound)]
        if qualified in ("tensorflow", "tf"):
            candidates.append((f"{qualified}.keras", f"{bound}.keras"))
        for qual, spelled in candidates:
            name = canonical(qual)
            if name is None:
                continue
            if name == wanted:
                found.append(spelled)
            elif wanted.startswith(name + "."):
                found.append(spelled + wanted[len(name) :])
    return min(found, key=lambda s: (s.count("."), len(s))) if found else None


def fresh_name(facts: FileFacts, preferred: str) -> str:
    """`preferred`, or a variant of it the module does not use anywhere."""
    used = _names(facts).names
    for candidate in (preferred, f"{preferred}_", f"_{preferred}"):
        if candidate not in used:
            return candidate
    number = 2
    while f"{preferred}{number}" in used:
        number += 1
    return f"{preferred}{number}"


def fresh_optimizer(facts: FileFacts, optimizer: Obj | None, at: cst.CSTNode) -> cst.Call | None:
    """The visible `keras.optimizers.X(...)` call that made `optimizer`, to be written again
    at `at`: a new instance of the same class with the same arguments.

    Only when the constructor is in the same function as `at` or at module level, so that
    the names its arguments use are also seen at `at`. A literal `opt.learning_rate = 1e-5`
    made before `at` is carried into the new call; any other change of the optimizer's
    attributes, or one made after `at` (it would reach the old object only), means no fix.
    """
    import libcst as cst

    call = facts.cst(optimizer.node) if optimizer is not None else None
    if optimizer is None or not isinstance(call, cst.Call):
        return None
    if not (optimizer.cls or "").startswith("keras.optimizers."):
        return None
    made_in = scope_of(facts, call)
    if made_in is not None and made_in is not scope_of(facts, at):
        return None
    if any(arg.star for arg in call.args):
        return None
    learning_rate: cst.BaseExpression | None = None
    writes = [w for w in facts.facts.attribute_writes if optimizer in w.owners]
    for write in sorted(writes, key=lambda w: facts.line(w.statement)):
        if (
            write.attr not in ("learning_rate", "lr")
            or write.operator != "="
            or not _number(write.value)
            or facts.line(write.statement) >= facts.line(at)
        ):
            return None
        learning_rate = facts.cst(write.value)
        if learning_rate is None:
            return None
    if learning_rate is None:
        return call
    kept = [
        arg
        for index, arg in enumerate(call.args)
        if not (arg.keyword is None and index == 0)
        and not (arg.keyword is not None and arg.keyword.value in ("learning_rate", "lr"))
    ]
    equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    first = cst.Arg(value=learning_rate, keyword=cst.Name("learning_rate"), equal=equal)
    if kept:
        first = first.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[first, *kept])


def _number(node: ast.AST | None) -> bool:
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def simple_reference(node: ast.AST) -> bool:
    """An expression that names an object without doing anything: safe to write again."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return simple_reference(node.value)
    if isinstance(node, ast.Subscript):
        index = node.slice
        if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
            index = index.operand
        return (
            simple_reference(node.value)
            and isinstance(index, ast.Constant)
            and type(index.value) in (int, str)
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return (
            node.func.attr == "get_layer"
            and simple_reference(node.func.value)
            and all(
                isinstance(arg, ast.Constant) and type(arg.value) in (int, str)
                for arg in [*node.args, *(k.value for k in node.keywords)]
            )
        )
    return False
