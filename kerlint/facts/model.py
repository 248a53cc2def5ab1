"""The vocabulary of Keras facts: symbolic objects, events and the ordered timeline.

An `Obj` is an allocation site (one per place that makes a model, a layer, an
optimizer, ...); an `Event` is something the code does to objects; a `Timeline`
is the events in program order with the branches, loops and exits kept, so
analyses can follow every path.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import Literal

ObjKind = Literal[
    "model", "layer", "optimizer", "tensor", "tape", "callback", "instance", "unknown"
]
Structure = Literal["functional", "sequential", "subclassed"]
Guard = Literal["bn-excluded", "bn-only", "other"]

_ids = itertools.count(1)


@dataclass(eq=False)
class Obj:
    """A symbolic object: what kerlint knows of one thing the program makes."""

    kind: ObjKind
    node: ast.AST | None
    cls: str | None = None  # canonical class, e.g. keras.applications.ResNet50
    keras: bool = True  # known to be a Keras object
    structure: Structure | None = None
    has_bn: bool | None = None
    initially_trainable: bool | None = True
    # Parts reached through another object: model.layers[i], get_layer(...), loop variables.
    parent: Obj | None = None
    selector: str | None = None
    all_layers: bool = False  # a loop variable over every layer of `parent`
    small_slice: bool = False  # a loop over very few layers: may not reach BatchNormalization
    children: list[Obj] = field(default_factory=list)
    sources: set[Obj] = field(default_factory=set)  # tensors: the layers that made them
    attrs: dict[str, tuple[Value, ...]] = field(default_factory=dict)  # user-class instances
    class_def: ast.ClassDef | None = None
    calls_training_false: bool = False  # a subclassed model whose call() passes training=False
    has_train_step: bool = False
    label: str | None = None  # the first name the code gave it, for messages
    escaped: bool = False  # given to a call kerlint cannot follow: its attributes may change
    # A Sequential's layers in `model.layers` order, while every one is known (None then).
    layer_order: list[Obj] | None = None
    # The `for` loops that run more than once around where it is made, outermost first: one
    # allocation site, but a new object each iteration.
    repeats: tuple[ast.For | ast.AsyncFor, ...] = ()
    id: int = field(default_factory=lambda: next(_ids))

    def __hash__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"Obj#{self.id}({self.kind}, {self.cls or self.selector})"

    def adopt(self, value: object) -> None:
        """Record a model or layer as a part of this one (once)."""
        if (
            isinstance(value, Obj)
            and value.kind in ("model", "layer")
            and value not in self.children
        ):
            self.children.append(value)

    def describe(self) -> str:
        """A short human name: `base`, `model.layers[0]`."""
        if self.parent is not None and self.selector:
            return f"{self.parent.describe()}{self.selector}"
        return (
            self.label or self.selector or (self.cls.rsplit(".", 1)[-1] if self.cls else self.kind)
        )


@dataclass(frozen=True)
class Ref:
    """A module, class or function reached through imports (a qualified name)."""

    name: str


@dataclass(frozen=True)
class Literal_:
    """A constant the code wrote literally: True, False, None, a number or a string."""

    value: object


@dataclass(frozen=True)
class Function:
    """A function or method defined in this file (its summary is its body, spliced in)."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    owner: ast.ClassDef | None = None


@dataclass(frozen=True)
class BoundMethod:
    function: Function
    self_value: Obj


@dataclass(frozen=True)
class Class:
    node: ast.ClassDef
    bases: tuple[str, ...]  # canonical names of resolved Keras bases
    # The project's own base classes (of this file or another module): inherited methods.
    parents: tuple[Class, ...] = field(default=(), compare=False, repr=False)

    @property
    def keras_base(self) -> str | None:
        """The most telling Keras base: a model, then a layer, then a callback."""
        for wanted in ("keras.Model", "keras.layers.Layer"):
            if wanted in self.bases:
                return wanted
        for base in self.bases:
            if base.startswith("keras.callbacks."):
                return base
        return self.bases[0] if self.bases else None


Value = Obj | Ref | Literal_ | Function | BoundMethod | Class

EventKind = Literal[
    "compile", "train", "start", "assign", "call", "gradient", "apply", "havoc", "return", "raise",
    "break", "continue",
]  # fmt: skip


@dataclass(eq=False)
class Event:
    """One thing the code does, at one node, to one or more objects."""

    kind: EventKind
    node: ast.AST
    target: Obj | None = None  # the model compiled/trained, the object assigned, ...
    value: bool | None = None  # assign: the literal value, None when not a literal
    optimizer: Obj | None = None  # compile: the optimizer object, None when fresh or unknown
    guard: Guard | None = None  # assign in a loop body: how the layers were filtered
    method: str | None = None  # train/start: fit, train_on_batch, ...
    in_callback: bool = False
    training: Literal_ | None = None  # call: the training= argument
    repeats: tuple[ast.For | ast.AsyncFor, ...] = ()  # the loops that run it more than once
    id: int = field(default_factory=lambda: next(_ids))

    def __hash__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"Event#{self.id}({self.kind}, {self.target}, {self.value})"


@dataclass
class Seq:
    items: list[Event | Branch | Loop | Seq] = field(default_factory=list)


@dataclass
class Branch:
    alternatives: list[Seq]


@dataclass
class Loop:
    body: Seq
    orelse: Seq = field(default_factory=Seq)
    # A loop over a model's layers runs at least once: no path skips its body.
    runs_at_least_once: bool = False


@dataclass
class Frame:
    """A function body spliced in at a call site: its returns end there."""

    body: Seq


TimelineNode = Event | Branch | Loop | Seq | Frame
