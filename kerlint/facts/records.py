"""The builder's records and the abstract values it binds names to.

Besides the objects and events of `model.py`, the walk records what the syntactic rules
read (attribute writes, weight-list mutations, discarded comparisons, the variables given
to gradient APIs), and binds names to a few value shapes of its own (a model's `.layers`,
its weight lists, a literal list or tuple).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kerlint.facts import names
from kerlint.facts.keras_exports import EXPORTS
from kerlint.facts.model import Class, Event, Function, Obj, Ref, Seq, Value

if TYPE_CHECKING:
    from kerlint.facts.heads import HeadFacts

Values = tuple[Value, ...]
Env = dict[str, Values]
NOTHING: Values = ()


@dataclass(frozen=True)
class LayerList:
    """`owner.layers`, maybe sliced: indexing gives a layer, iterating a loop variable."""

    owner: Obj
    selector: str = ".layers"
    sliced: bool = False
    small: bool = False


@dataclass(frozen=True)
class WeightList:
    """`owner.weights` and friends: which list, of which object."""

    owner: Obj
    attr: str


@dataclass(frozen=True)
class ListValue:
    items: tuple[Values, ...]


@dataclass
class AttributeWrite:
    """`x.attr = value` (or `+=`): the statement, what `x` may be, and the value written."""

    statement: ast.AST
    target: ast.Attribute
    attr: str
    owners: Values
    value: ast.expr | None
    operator: str = "="
    in_callback: bool = False


@dataclass
class WeightMutation:
    """An in-place change of a weight-list property (`m.trainable_weights.append(v)`)."""

    node: ast.AST
    owners: Values
    attr: str
    how: str


@dataclass
class DiscardedComparison:
    node: ast.AST
    owners: Values
    comparison: ast.Compare


@dataclass
class WeightsUse:
    """Variables handed to tape.gradient / apply_gradients / apply / minimize."""

    node: ast.Call
    api: str
    lists: tuple[WeightList, ...]


@dataclass(frozen=True, eq=False)
class Imported:
    """A function or class of another project module, with the globals its body reads.

    `origin` is the module it was defined in (the project package's record of it; the facts
    only hand it back, to place findings and name places in that module).
    """

    value: Function | Class
    globals: Env = field(repr=False)
    origin: object = field(repr=False)


@dataclass
class ForeignSite:
    """A function of another module spliced in, and the call in this file that led there."""

    function: ast.AST
    call: ast.AST
    origin: object


@dataclass
class WeightNameFilter:
    """A test of `w.name` over a weight list that only a Keras 2 name can pass (KL016)."""

    node: ast.AST
    literal: str
    weights: WeightList


@dataclass
class Facts:
    """What one walk learned: objects, the timelines, and the syntactic findings' inputs."""

    uses_keras: bool = False
    objects: list[Obj] = field(default_factory=list)
    main: Seq = field(default_factory=Seq)
    entries: list[Seq] = field(default_factory=list)  # uncalled functions, classes
    events: list[Event] = field(default_factory=list)
    attribute_writes: list[AttributeWrite] = field(default_factory=list)
    weight_mutations: list[WeightMutation] = field(default_factory=list)
    discarded_comparisons: list[DiscardedComparison] = field(default_factory=list)
    weights_uses: list[WeightsUse] = field(default_factory=list)
    weight_name_filters: list[WeightNameFilter] = field(default_factory=list)
    # Functions of other project modules spliced in, by id of their node (first call wins).
    foreign_sites: dict[int, ForeignSite] = field(default_factory=dict)
    # The other modules whose definitions were reached (their `origin`s): none, and every
    # node the facts hold is this file's.
    origins: list[object] = field(default_factory=list)
    heads: HeadFacts = field(default_factory=lambda: _head_facts())

    @property
    def timelines(self) -> list[Seq]:
        return [self.main, *self.entries]


def _head_facts() -> HeadFacts:
    from kerlint.facts.heads import HeadFacts  # heads reads the records: imported late

    return HeadFacts()


def bind_import(alias: ast.alias, env: Env) -> str:
    """`import a.b as c` binds `c` to a.b; `import a.b` binds `a`. The dotted name."""
    dotted = alias.name
    if alias.asname is not None:
        env[alias.asname] = (Ref(dotted),)
    else:
        root = dotted.split(".")[0]
        env[root] = (Ref(root),)
    return dotted


# The key (no Python name) under which an environment keeps the modules it imported with `*`,
# in order: a name none of its statements binds may be bound by one of them.
STAR_IMPORTS = "*"
_BUILTINS = frozenset(dir(builtins))


class Unbound:
    """The answer "this module does not bind the name" (None means: not known)."""


UNBOUND = Unbound()
# What a project module binds a name to, for a star import of it: (module, name) -> answer.
ProjectStar = Callable[[str, str], "Value | Unbound | None"]


def bind_star_import(module: str, env: Env) -> None:
    env[STAR_IMPORTS] = (*env.get(STAR_IMPORTS, ()), Ref(module))


def bound_by_stars(name: str, stars: Values, project: ProjectStar | None) -> Value | Unbound | None:
    """What `name` is after `from m import *` lines, the last that binds it winning: a Keras
    module binds what its table of exports says, a project module what its globals say;
    any other module may bind anything, so behind it the name is not known."""
    if name in _BUILTINS:
        return None
    for star in reversed(stars):
        if not isinstance(star, Ref):
            return None
        keras_module = names.canonical(star.name)
        if keras_module is not None:
            if keras_module.startswith("keras.layers."):  # Keras 2's `keras.layers.core`, ...
                keras_module = "keras.layers"
            exported = EXPORTS.get(keras_module)
            if exported is None:
                return None
            if name in exported:
                return Ref(f"{star.name}.{name}")
            continue
        found = project(star.name, name) if project is not None else None
        if found is not UNBOUND:
            return found
    return UNBOUND


def join(a: Env, b: Env) -> Env:
    if a is b:
        return a
    joined = dict(a)
    for key, values in b.items():
        mine = joined.get(key)
        if mine is None:
            joined[key] = values
        elif mine is not values:
            joined[key] = mine + tuple(v for v in values if v not in mine)
    return joined


def class_base(canonical: str) -> str:
    if canonical in (
        "keras.Model",
        "keras.models.Model",
        "keras.Sequential",
        "keras.trainers.Trainer",
    ):
        return "keras.Model"
    if canonical.startswith("keras.callbacks."):
        return canonical
    if canonical.startswith("keras.layers.") or canonical == "keras.Layer":
        return "keras.layers.Layer"
    return canonical


def flatten(values: Iterable) -> Iterable:
    for value in values:
        if isinstance(value, ListValue):
            for item in value.items:
                yield from flatten(item)
        else:
            yield value


def first(values: Values) -> Value | None:
    return values[0] if len(values) == 1 else None


def sources(tensor: Obj) -> set[Obj]:
    return set(tensor.sources)


def tensor_union(values: Values) -> Values:
    tensors = [v for v in values if isinstance(v, Obj) and v.kind == "tensor"]
    if not tensors:
        return NOTHING
    # Always a new tensor, even from one: an op applied to a layer's output is no longer
    # that layer's output (the heads of models are read from which layer made a tensor).
    merged = Obj(kind="tensor", node=None)
    for tensor in tensors:
        merged.sources |= tensor.sources
    return (merged,)
