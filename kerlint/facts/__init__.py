"""Keras facts of one file: built once, read by every rule.

`FileFacts` bundles the parsed module, what the builder learned (objects,
events, timelines, attribute writes) and, computed on first use, the flow
states before every event and the line/column of any node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from kerlint.facts.builder import Resolver, build_facts, is_keras
from kerlint.facts.mode import DEFAULT_MODE, KerasMode
from kerlint.facts.model import Event, Obj
from kerlint.facts.records import Facts, ForeignSite, LayerList, WeightList
from kerlint.facts.states import Analysis, Flag, ObjectGraph, Snapshot, State, keys_of

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
        module: cst.Module,
        text: str,
        to_cell: Callable[[int], tuple[int | None, int]] | None = None,
        mode: KerasMode = DEFAULT_MODE,
        resolve: Resolver | None = None,
        package: str | None = None,
        display: str | None = None,
    ) -> None:
        self.module = module
        self.mode = mode
        self.text = text
        self._to_cell = to_cell
        self.facts: Facts = build_facts(module, resolve, package)
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
    def _positions(self):
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        return wrapper.resolve(PositionProvider)

    def range_of(self, node: cst.CSTNode) -> CodeRange:
        return self._positions[node]

    def line(self, node: cst.CSTNode | None) -> int:
        if node is None:
            return 0
        try:
            return self._positions[node].start.line
        except KeyError:
            site = self.site_of(node)
            return site.origin.line(node) if site is not None else 0  # type: ignore[attr-defined]

    def site_of(self, node: cst.CSTNode) -> ForeignSite | None:
        """For a node of another project module: the innermost function of it spliced in
        here holding the node (its origin places the node; its call is where this file
        led there). None for a node of this file."""
        if node in self._positions:
            return None
        best: tuple[int, ForeignSite] | None = None
        for site in self.facts.foreign_sites.values():
            positions = site.origin.positions  # type: ignore[attr-defined]
            inner, outer = positions.get(node), positions.get(site.function)
            if inner is None or outer is None:
                continue
            if _point(outer.start) <= _point(inner.start) and _point(inner.end) <= _point(
                outer.end
            ):
                size = outer.end.line - outer.start.line
                if best is None or size < best[0]:
                    best = (size, site)
        return best[1] if best is not None else None

    def at(self, node: cst.CSTNode | None) -> str:
        """`line 12`, or `cell 3, line 4` in a notebook: how messages name another place."""
        if node is not None and node not in self._positions:
            site = self.site_of(node)
            if site is not None:
                origin = site.origin
                self.named_elsewhere = True
                return f"line {origin.line(node)} of {origin.display}"  # type: ignore[attr-defined]
        row = self.line(node)
        here = f" of {self.display}" if self.display and self.facts.foreign_sites else ""
        if self._to_cell is not None:
            cell, cell_row = self._to_cell(row)
            if cell is not None:
                return f"cell {cell}, line {cell_row}{here}"
        return f"line {row}{here}"

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node).strip()


def _point(position) -> tuple[int, int]:
    return position.line, position.column
