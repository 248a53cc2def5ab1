"""Keras facts of one file: built once, read by every rule.

`FileFacts` bundles CPython's tree of the file, what the builder learned (objects,
events, timelines, attribute writes) and, computed on first use, the flow states
before every event. Nodes carry their own positions. LibCST's tree of the file, which
keeps every character and so can be edited, is built only for the fixes of a file with
findings (`cst`, `module`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from kerlint.facts.builder import Resolver, build_facts, is_keras
from kerlint.facts.mode import DEFAULT_MODE, KerasMode
from kerlint.facts.model import Event, Obj
from kerlint.facts.positions import Position, SourceText, Span
from kerlint.facts.records import Facts, ForeignSite, LayerList, WeightList
from kerlint.facts.states import Analysis, Flag, ObjectGraph, Snapshot, State, keys_of

if TYPE_CHECKING:
    import libcst as cst

__all__ = ["FileFacts", "KerasMode", "LayerList", "WeightList", "is_keras"]


@dataclass(frozen=True)
class Deviation:
    """A part's flag at a training call that differs from its model's compile-time flag."""

    state: State
    key: tuple[int, str]
    part: Obj
    now: Flag
    at_compile: Snapshot

    @property
    def before_start(self) -> bool:
        """Set before the model first started after its compile (else: after training ran)."""
        start = self.state.start_of(self.at_compile.event.target)  # type: ignore[arg-type]
        if start is None:
            return True
        flag = start.flag(self.key)
        return flag is not None and flag.origin is self.now.origin


class FileFacts:
    def __init__(
        self,
        tree: ast.Module,
        text: str,
        to_cell: Callable[[int], tuple[int | None, int]] | None = None,
        mode: KerasMode = DEFAULT_MODE,
        resolve: Resolver | None = None,
        package: str | None = None,
        display: str | None = None,
        parse_cst: Callable[[str], cst.Module | None] | None = None,
    ) -> None:
        """`parse_cst`: LibCST's tree of `text`, or None where no fix can be placed."""
        self.tree = tree
        self.mode = mode
        self.text = text
        self.source = SourceText(text)
        self._to_cell = to_cell
        self._parse_cst = parse_cst
        self.facts: Facts = build_facts(tree, resolve, package, self.source.segment)
        # Named in messages with its lines once they may also name another module's.
        self.display = display
        # Set when a message names a place in another module (the engine reads and resets it
        # per finding: a finding that names none reads "line 12", not "line 12 of x.py").
        self.named_elsewhere = False
        self.elsewhere: set[int] = set()  # ids of the findings whose message did

    # -- what the builder saw
    @property
    def uses_keras(self) -> bool:
        return self.facts.uses_keras

    def events(self, *kinds: str) -> Iterator[Event]:
        for event in self.facts.events:
            if not kinds or event.kind in kinds:
                yield event

    @cached_property
    def graph(self) -> ObjectGraph:
        return ObjectGraph(self.facts.objects)

    # -- the flow analysis, run once on first use
    @cached_property
    def analysis(self) -> Analysis:
        analysis = Analysis(self.graph)
        for timeline in self.facts.timelines:
            analysis.run(timeline)
        return analysis

    def states_before(self, event: Event) -> set[State]:
        return self.analysis.before.get(event, set())

    def flag(self, state: State, obj: Obj, tag: str = "") -> Flag:
        return state.flag((obj.id, tag), obj.initially_trainable)

    def compile_deviations(self, train: Event) -> Iterator[Deviation]:
        """Parts whose flag differs from the one `train`'s model was compiled with.

        Keras 2 trains with the compile-time flags, so each is a change `fit` ignores. Left
        out: unknown values, changes not made by an assignment (or made in a callback, KL011),
        and a flag that equals the one another model holding the part was compiled with:
        the change was meant for that model (the GAN idiom freezes the discriminator for the
        combined model's compile, and toggles it back for its own training).
        """
        model = train.target
        if model is None:
            return
        for state in self.states_before(train):
            snapshot = state.compiled_snapshot(model)
            if snapshot is None:
                continue
            for key, part in self.keys_of(model):
                then = snapshot.flag(key)
                now = state.flag(key, part.initially_trainable)
                origin = now.origin
                if then is None or then.value is None or now.value is None:
                    continue
                if now.value == then.value or origin is None:
                    continue
                if origin.kind != "assign" or origin.in_callback:
                    continue
                if self._meant_for_another_model(state, model, part, key, now.value):
                    continue
                yield Deviation(state, key, part, now, snapshot)

    def _meant_for_another_model(
        self, state: State, model: Obj, part: Obj, key, value: bool
    ) -> bool:
        for other, snapshot in state.compiled_flags.items():
            if other == model.id:
                continue
            flag = snapshot.flag(key)
            if flag is not None and flag.value == value:
                return True
        return False

    def keys_of(self, model: Obj):
        return keys_of(model, self.graph)

    def contains_bn(self, obj: Obj) -> bool | None:
        return self.graph.contains_bn(obj)

    # -- positions, resolved only when something is reported
    @cached_property
    def _own(self) -> set[int]:
        return {id(node) for node in ast.walk(self.tree)}

    def is_here(self, node) -> bool:
        """Is `node` part of this file (not of a module spliced in)?"""
        if isinstance(node, ast.AST):
            origins = self.facts.origins
            if not origins:
                return True  # no other module was reached: every node is this file's
            if all(hasattr(origin, "holds") for origin in origins):
                return not any(origin.holds(node) for origin in origins)  # type: ignore[attr-defined]
            return id(node) in self._own
        return node in self._cst_positions

    def range_of(self, node) -> Span:
        """The span of a node of this file: of CPython's tree, or of LibCST's (fixes)."""
        if isinstance(node, ast.AST):
            return self.source.span(node)
        found = self._cst_positions[node]
        return Span(
            Position(found.start.line, found.start.column),
            Position(found.end.line, found.end.column),
        )

    def line(self, node) -> int:
        if node is None:
            return 0
        if not isinstance(node, ast.AST):  # of LibCST's tree (fixes)
            found = self._cst_positions.get(node)
            return found.start.line if found is not None else 0
        return getattr(node, "lineno", 0)

    def site_of(self, node: ast.AST) -> ForeignSite | None:
        """For a node of another project module: the innermost function of it spliced in
        here holding the node (its origin places the node; its call is where this file
        led there). None for a node of this file."""
        if self.is_here(node):
            return None
        best: tuple[int, ForeignSite] | None = None
        for site in self.facts.foreign_sites.values():
            if not site.origin.holds(node):  # type: ignore[attr-defined]
                continue
            function = site.function
            if _point(function) <= _point(node) and _end(node) <= _end(function):
                size = (function.end_lineno or function.lineno) - function.lineno
                if best is None or size < best[0]:
                    best = (size, site)
        return best[1] if best is not None else None

    def at(self, node: ast.AST | None) -> str:
        """`line 12`, or `cell 3, line 4` in a notebook: how messages name another place."""
        if node is not None and not self.is_here(node):
            site = self.site_of(node)
            if site is not None:
                origin = site.origin
                self.named_elsewhere = True
                return f"line {self.line(node)} of {origin.display}"  # type: ignore[attr-defined]
        row = self.line(node)
        here = f" of {self.display}" if self.display and self.facts.foreign_sites else ""
        if self._to_cell is not None:
            cell, cell_row = self._to_cell(row)
            if cell is not None:
                return f"cell {cell}, line {cell_row}{here}"
        return f"line {row}{here}"

    def code(self, node) -> str:
        """The code of a node as written (of LibCST's tree too, for fixes)."""
        if not isinstance(node, ast.AST):
            assert self.module is not None
            return self.module.code_for_node(node).strip()
        written = None
        if self.is_here(node):
            written = self.source.segment(node)
        else:
            site = self.site_of(node)
            if site is not None:
                written = site.origin.source.segment(node)  # type: ignore[attr-defined]
        return (written if written is not None else ast.unparse(node)).strip()

    def parents(self, node: ast.AST) -> Iterator[ast.AST]:
        """The nodes of this file's tree that hold `node`, innermost first."""
        current = self._parents.get(id(node))
        while current is not None:
            yield current
            current = self._parents.get(id(current))

    def scope_of(self, node: ast.AST) -> ast.AST | None:
        """The function, lambda or class whose names `node` sees; None at module level."""
        for parent in self.parents(node):
            if isinstance(parent, _SCOPES):
                return parent
        return None

    @cached_property
    def _parents(self) -> dict[int, ast.AST]:
        found: dict[int, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                found[id(child)] = parent
        return found

    # -- LibCST's tree, for fixes
    @cached_property
    def module(self) -> cst.Module | None:
        """LibCST's tree of the file; None when it cannot be had (no fix is offered)."""
        if self._parse_cst is None:
            return None
        return self._parse_cst(self.text)

    @cached_property
    def _cst_positions(self):
        if self.module is None:
            return {}
        from libcst.metadata import MetadataWrapper, PositionProvider

        return MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)

    @cached_property
    def _cst_by_span(self) -> dict[tuple[int, int, int, int], list]:
        found: dict[tuple[int, int, int, int], list] = {}
        for node, where in self._cst_positions.items():
            key = (where.start.line, where.start.column, where.end.line, where.end.column)
            found.setdefault(key, []).append(node)
        return found

    def cst(self, node: ast.AST | None, *types: type) -> cst.CSTNode | None:
        """The node of LibCST's tree written where `node` of CPython's is (of one of
        `types`, by default the kind that matches), to build a fix from; None when there is
        none (another module's node, a file LibCST cannot read)."""
        if node is None or not self.is_here(node):
            return None
        span = self.range_of(node)
        key = (span.start.line, span.start.column, span.end.line, span.end.column)
        candidates = self._cst_by_span.get(key, ())
        wanted = types or _matching(node)
        for candidate in candidates:
            if not wanted or isinstance(candidate, wanted):
                return candidate
        return None


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _matching(node: ast.AST) -> tuple[type, ...]:
    import libcst as cst

    kinds: dict[type, tuple[type, ...]] = {
        ast.Call: (cst.Call,),
        ast.Attribute: (cst.Attribute,),
        ast.Name: (cst.Name,),
        ast.Assign: (cst.Assign,),
        ast.AugAssign: (cst.AugAssign,),
        ast.AnnAssign: (cst.AnnAssign,),
        ast.Expr: (cst.Expr,),
        ast.List: (cst.List,),
        ast.Tuple: (cst.Tuple,),
        ast.Subscript: (cst.Subscript,),
        ast.Compare: (cst.Comparison,),
        ast.keyword: (cst.Arg,),
        ast.BinOp: (cst.BinaryOperation,),
        ast.UnaryOp: (cst.UnaryOperation,),
        ast.Constant: (
            cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float, cst.Imaginary,
            cst.Name, cst.Ellipsis,
        ),
    }  # fmt: skip
    return kinds.get(type(node), ())


def _end(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0


def _point(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
