"""What a built model will really train, and the runtime checks that confirm lint rules.

Runs only inside the child process (see `child.py`): it touches live keras objects. The
result is plain JSON-able data, so the parent never needs keras.

"What trains" is taken from the root model, because that is what `fit()` uses: the outer
model collects `[v for v in self.weights if v.trainable]` over all nested variables (and
nothing at all when the root itself is frozen). A layer's own `trainable_weights` can
disagree (a child unfrozen under a frozen base reports through the base as 0), so both
are recorded.
"""

from __future__ import annotations

import inspect
import linecache
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kerlint.verify.heads import Head, read_head, with_compile
from kerlint.verify.heads import check as check_head

# Training-like calls that fix the set of trained variables ("started", CATALOG.md).
START_KINDS = frozenset({"fit", "train_on_batch", "evaluate", "test_on_batch"})
TRAIN_KINDS = frozenset({"fit", "train_on_batch"})


@dataclass(frozen=True)
class Site:
    """A place in user code: where a factory is defined or a `.trainable` was assigned."""

    file: str
    line: int

    @property
    def column(self) -> int:
        """The column of the statement's first character, as a linter would report it."""
        if not self.file.endswith(".py"):
            return 1
        text = linecache.getline(self.file, self.line)
        stripped = text.lstrip()
        return len(text) - len(stripped) + 1 if stripped else 1


@dataclass
class Assignment:
    """A `.trainable = value` written in user code (not keras' own propagation)."""

    seq: int
    layer: Any
    value: bool
    site: Site


@dataclass
class ModelEvent:
    """A `compile()` or a (skipped) training/evaluation call, with the trainable set then."""

    seq: int
    model: Any
    kind: str
    site: Site | None
    trainable_ids: frozenset[int] | None  # None: the model was not built yet
    trainable_count: int
    weight_count: int
    loss: Any = None  # compile(): its loss and metrics arguments, as given
    metrics: Any = None


@dataclass
class Recording:
    """Everything the hooks saw while one target was being built."""

    assignments: list[Assignment] = field(default_factory=list)
    events: list[ModelEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Node:
    """One row of the layer tree; `path` is relative to the root (the root's path is "")."""

    layer: Any
    path: str
    depth: int
    parent: Node | None
    is_model: bool
    index: int  # position in the parent's `.layers`
    children: list[Node] = field(default_factory=list)

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def subtree(self) -> Iterator[Node]:
        """This node and all below it, depth first in layer order (iterative: any depth)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _size(variable: Any) -> int:
    return math.prod(int(d) for d in variable.shape)


def _training_default(layer: Any) -> Any:
    """The default of `training` in the layer's `call()` signature (None when absent)."""
    try:
        parameter = inspect.signature(layer.call).parameters.get("training")
    except (TypeError, ValueError):
        return None
    return None if parameter is None else parameter.default


def _all_layers(layer: Any) -> list[Any]:
    """The layer and every layer tracked below it (what `trainable` propagates to)."""
    return layer._flatten_layers(include_self=True, recursive=True)


def build_tree(root: Any, keras: Any) -> Node:
    """Walk nested models (not the sublayers of custom layers, which show as one row)."""

    top = Node(root, "", 0, None, isinstance(root, keras.Model), 0)
    stack = [top]
    while stack:  # iterative: a model nested thousands deep must not exhaust the stack
        node = stack.pop()
        if not node.is_model:
            continue
        for i, child in enumerate(node.layer.layers):
            child_path = f"{node.path}/{child.name}" if node.path else child.name
            sub = Node(child, child_path, node.depth + 1, node, isinstance(child, keras.Model), i)
            node.children.append(sub)
            stack.append(sub)
    return top


class Analysis:
    """The layer table, totals and runtime findings of one built model."""

    def __init__(self, root: Any, keras: Any, recording: Recording, def_site: Site | None) -> None:
        self.root = root
        self.keras = keras
        self.recording = recording
        self.def_site = def_site
        self.tree = build_tree(root, keras)
        self.trained_ids = {id(v) for v in root.trainable_weights}
        self.bn_class = keras.layers.BatchNormalization
        self.training_false = self._calls_with_training_false()
        # tf_keras: Keras 2 semantics (the compile fixes what trains; training=False protects BN).
        self.keras2 = getattr(keras, "__name__", "keras") == "tf_keras"

    # -- facts -------------------------------------------------------------------------

    def trains(self, layer: Any) -> list[Any]:
        """The layer's weights that `fit()` on the root will update."""
        return [w for w in layer.weights if id(w) in self.trained_ids]

    def is_bn(self, layer: Any) -> bool:
        return isinstance(layer, self.bn_class)

    def bn_trains(self, layer: Any) -> bool:
        """A BN layer uses batch statistics in fit iff its own flag is True (and fit runs)."""
        return self.is_bn(layer) and bool(layer.trainable) and bool(self.trained_ids)

    def _calls_with_training_false(self) -> dict[int, list[str]]:
        """Layers that a functional graph in the tree calls with `training=False`.

        Keras records each call's keyword arguments on the graph's nodes
        (`Node.arguments.kwargs`), and `fit()` overrides that `training=False` with the
        outer `training=True` (`functional.py::operation_fn`). Maps id(layer) to the
        paths of the graphs that make such a call. A layer whose `call()` defaults to
        `training=False` (Dropout) records False when called plainly: not counted.
        """
        found: dict[int, list[str]] = {}
        for node in self.tree.subtree():
            by_depth = getattr(node.layer, "_nodes_by_depth", None)
            if not node.is_model or not by_depth:
                continue
            for graph_nodes in by_depth.values():
                for graph_node in graph_nodes:
                    arguments = getattr(graph_node, "arguments", None)
                    kwargs = getattr(arguments, "kwargs", None)
                    if kwargs is None:  # tf_keras records them as `call_kwargs`
                        kwargs = getattr(graph_node, "call_kwargs", None)
                    kwargs = kwargs if isinstance(kwargs, dict) else {}
                    op = getattr(graph_node, "operation", None) or getattr(
                        graph_node, "layer", None
                    )
                    if op is None:
                        continue
                    if kwargs.get("training") is False and _training_default(op) is not False:
                        found.setdefault(id(op), []).append(node.path or node.layer.name)
        return found

    def last_assignment(
        self, layers: Iterable[Any], value: bool | None = None, after: int = -1
    ) -> Assignment | None:
        ids = {id(layer) for layer in layers}
        best = None
        for a in self.recording.assignments:
            if id(a.layer) in ids and a.seq > after and (value is None or a.value is value):
                best = a
        return best

    def first_assignment(
        self, layers: Iterable[Any], after: int, before: float
    ) -> Assignment | None:
        ids = {id(layer) for layer in layers}
        for a in self.recording.assignments:
            if id(a.layer) in ids and after < a.seq < before:
                return a
        return None

    # -- report ------------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for node in self.tree.subtree():
            layer = node.layer
            weights = layer.weights
            trains = self.trains(layer)
            trained = {id(w) for w in trains}
            row: dict[str, Any] = {
                "path": node.path,
                "name": layer.name,
                "class": type(layer).__name__,
                "depth": node.depth,
                "is_model": node.is_model,
                "trainable": bool(layer.trainable),
                "weights": len(weights),
                "trainable_weights": len(trains),
                "non_trainable_weights": len(weights) - len(trains),
                "keras_trainable_weights": len(layer.trainable_weights),
                "params": sum(_size(w) for w in weights),
                "trainable_params": sum(_size(w) for w in trains),
                "non_trainable_params": sum(_size(w) for w in weights if id(w) not in trained),
                "batchnorm": None,
                "called_with_training_false": self.training_false.get(id(layer), []),
            }
            if self.is_bn(layer):
                row["batchnorm"] = {"inference_mode": not layer.trainable}
            out.append(row)
        return out

    def totals(self) -> dict[str, int]:
        weights = self.root.weights
        trainable = self.root.trainable_weights
        non_trainable = self.root.non_trainable_weights
        return {
            "weights": len(weights),
            "trainable_weights": len(trainable),
            "non_trainable_weights": len(non_trainable),
            "params": sum(_size(w) for w in weights),
            "trainable_params": sum(_size(w) for w in trainable),
            "non_trainable_params": sum(_size(w) for w in non_trainable),
        }

    # -- findings ----------------------------------------------------------------------

    def _finding(
        self,
        code: str,
        message: str,
        site: Site | None,
        counts: dict[str, int],
        subject: Any,
        layers: Iterable[str] = (),
    ) -> dict[str, Any]:
        site = site or self.def_site
        return {
            "code": code,
            "subject": subject.name,
            "message": message,
            "file": site.file if site else None,
            "line": site.line if site else 1,
            "column": site.column if site else 1,
            "counts": counts,
            "layers": list(layers),
        }

    def findings(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        out += self.check_kl002()
        out += self.check_kl003()
        out += self.check_kl012()
        out += self.check_kl004()
        out += self.check_kl001_keras2() if self.keras2 else self.check_kl001()
        out += self.check_heads()
        return out

    def head(self) -> Head | None:
        """The root's head and its last compile's loss and metrics (None: not readable)."""
        compiles = [
            e for e in self.recording.events if e.model is self.root and e.kind == "compile"
        ]
        try:
            head = read_head(self.root)
        except Exception:  # an unusual graph: the head rules stay silent
            return None
        if head is not None and compiles:
            with_compile(head, compiles[-1].loss, compiles[-1].metrics)
        return head

    def check_heads(self) -> list[dict[str, Any]]:
        """KL101-KL107 on the compiled root model (CATALOG.md, model-definition rules)."""
        compiles = [
            e for e in self.recording.events if e.model is self.root and e.kind == "compile"
        ]
        head = self.head()
        if head is None or not compiles:
            return []
        return [
            self._finding(code, message, compiles[-1].site, {"units": head.units or 0}, self.root)
            for code, message in check_head(head, self.keras2)
        ]

    def _models_in_tree(self) -> dict[int, Node]:
        return {id(n.layer): n for n in self.tree.subtree() if n.is_model}

    def compiled_state(self, event: ModelEvent) -> ModelEvent:
        """Keras 2: what a training call trains is fixed by the model's last compile() before it."""
        compiles = [
            e
            for e in self.recording.events
            if e.model is event.model and e.kind == "compile" and e.seq < event.seq
        ]
        return compiles[-1] if compiles else event

    def check_kl002(self) -> list[dict[str, Any]]:
        """Trained while nothing was trainable, or built with no trainable weight at all."""
        out = []
        models = self._models_in_tree()
        seen: set[tuple[int, Site | None]] = set()
        for e in self.recording.events:
            if e.kind not in TRAIN_KINDS or id(e.model) not in models:
                continue
            if e.trainable_ids is None or not e.weight_count:
                continue
            effective = self.compiled_state(e) if self.keras2 else e
            if effective.trainable_ids is None or effective.trainable_count:
                continue
            if (id(e.model), e.site) in seen:
                continue
            seen.add((id(e.model), e.site))
            name = e.model.name
            out.append(
                self._finding(
                    "KL002",
                    (
                        f"`{name}` is trained by {e.kind}() while it has no trainable weights "
                        f"(0 of {e.weight_count}), so nothing learns; set `{name}.trainable = True` "
                        "before training it (in a GAN, toggle it around each model's own training call)."
                        if not self.keras2
                        else f"`{name}` was frozen when it was compiled (0 of {e.weight_count} weights "
                        f"trainable), and Keras 2 trains what compile() saw: {e.kind}() updates nothing. "
                        f"Set `{name}.trainable = True` before `{name}.compile()`."
                    ),
                    e.site,
                    {"trainable_weights": 0, "weights": e.weight_count},
                    e.model,
                    [models[id(e.model)].path],
                )
            )
        weights = len(self.root.weights)
        if weights and not self.trained_ids and not any(id(self.root) == k for k, _ in seen):
            frozen_by = self.last_assignment([self.root], value=False)
            out.append(
                self._finding(
                    "KL002",
                    f"the model `{self.root.name}` has no trainable weights (0 of {weights}): "
                    "fit() would update nothing. Unfreeze the layers to train "
                    "(`model.trainable = True`, then freeze the ones to keep).",
                    frozen_by.site if frozen_by else None,
                    {"trainable_weights": 0, "non_trainable_weights": weights, "weights": weights},
                    self.root,
                )
            )
        return out

    def protected_bn(self, node: Node) -> bool:
        """Keras 2 only: a BN layer (or a model holding it) called with training=False stays
        in inference mode (keras2/RESULTS.md, KL003 rows); Keras 3 ignores that call."""
        if not self.keras2:
            return False
        return any(id(n.layer) in self.training_false for n in (node, *node.ancestors()))

    def check_kl003(self) -> list[dict[str, Any]]:
        """Trainable BN where the user expects inference mode: the fine-tuning signature."""
        out = []
        if not self.trained_ids:
            return out
        for node in self.tree.subtree():
            if not node.is_model:
                continue
            reasons = []
            scope: list[Node] = []
            graphs = self.training_false.get(id(node.layer), [])
            if graphs and node.parent is not None and not self.keras2:
                subtree_bn = [n for n in node.subtree() if self.bn_trains(n.layer)]
                if subtree_bn:
                    scope = subtree_bn
                    reasons.append(
                        f"the functional graph calls `{node.layer.name}` with training=False, "
                        "which Keras 3 overrides with training=True during fit()"
                    )
            direct = [c for c in node.children if not c.is_model and c.layer.weights]
            frozen = [c for c in direct if not self.trains(c.layer)]
            direct_bn = [c for c in direct if self.bn_trains(c.layer) and not self.protected_bn(c)]
            if frozen and direct_bn:
                reasons.append(
                    f"{len(frozen)} other layers of `{node.layer.name}` are frozen "
                    "(the fine-tuning signature)"
                )
                scope = list({id(n): n for n in [*scope, *direct_bn]}.values())
            if not reasons:
                continue
            all_bn = [n for n in node.subtree() if self.is_bn(n.layer)]
            ancestors = {id(a.layer): a.layer for n in scope for a in n.ancestors()}
            made_trainable = self.last_assignment(
                [n.layer for n in scope] + list(ancestors.values()), value=True
            )
            out.append(
                self._finding(
                    "KL003",
                    f"{_count(len(scope), 'BatchNormalization layer')} in `{node.layer.name}` will train: "
                    f"{'; '.join(reasons)}. During fit() they use batch statistics and "
                    "overwrite their moving mean/variance; set `trainable = False` on the "
                    "BatchNormalization layers to keep them in inference mode.",
                    made_trainable.site if made_trainable else None,
                    {
                        "trainable_batchnorm": len(scope),
                        "batchnorm": len(all_bn),
                        "frozen_layers": len(frozen),
                    },
                    node.layer,
                    [n.path for n in scope],
                )
            )
        return out

    def check_kl012(self) -> list[dict[str, Any]]:
        """Layers that train although the sub-model holding them says `trainable=False`."""
        out = []
        if not self.trained_ids:
            return out

        def visit(node: Node) -> None:
            for child in node.children:
                if child.is_model and not child.layer.trainable:
                    report(child)
                else:
                    visit(child)

        def report(sub: Node) -> None:
            under = [
                n
                for n in sub.subtree()
                if n is not sub and n.layer.trainable and not n.is_model and self.trains(n.layer)
            ]
            if not under:
                return
            trained = sum(len(self.trains(n.layer)) for n in under)
            first = min(
                (
                    a
                    for a in self.recording.assignments
                    if a.value and any(a.layer is n.layer for n in under)
                ),
                key=lambda a: a.seq,
                default=None,
            )
            names = ", ".join(f"`{n.path}`" for n in under[:3]) + (
                ", ..." if len(under) > 3 else ""
            )
            out.append(
                self._finding(
                    "KL012",
                    f"{_count(len(under), 'layer')} {'is' if len(under) == 1 else 'are'} trainable under `{sub.layer.name}`, whose "
                    f"trainable is False ({names}): the outer model trains {'its' if len(under) == 1 else 'their'} {trained} "
                    f"weights while `{sub.layer.name}.trainable_weights` reports "
                    f"{len(sub.layer.trainable_weights)}, a .keras reload sets "
                    f"`{sub.layer.name}.trainable` back to True, and Keras 2 would not train {'it' if len(under) == 1 else 'them'}. "
                    f"Prefer `{sub.layer.name}.trainable = True`, then freeze the layers to keep.",
                    first.site if first else None,
                    {
                        "trainable_layers_under_frozen": len(under),
                        "trained_weights": trained,
                        "keras_reported_trainable_weights": len(sub.layer.trainable_weights),
                    },
                    sub.layer,
                    [n.path for n in under],
                )
            )

        visit(self.tree)
        return out

    def check_kl004(self) -> list[dict[str, Any]]:
        """A weightless layer frozen under a trainable parent: the freeze does nothing."""
        out = []
        for node in self.tree.subtree():
            if not node.is_model or not node.layer.trainable:
                continue
            hits: dict[Site | None, list[Node]] = {}
            frozen_weighted_sibling = any(
                c.layer.weights and not c.layer.trainable for c in node.children
            )
            for child in node.children:
                layer = child.layer
                if child.is_model or layer.weights or layer.trainable:
                    continue
                froze = self.last_assignment([layer])
                site = froze.site if froze and froze.value is False else None
                if site is not None:
                    incidental = any(
                        a.site == site and not a.value and a.layer.weights
                        for a in self.recording.assignments
                    )
                else:
                    incidental = frozen_weighted_sibling
                if not incidental:
                    hits.setdefault(site, []).append(child)
            for site, nodes in hits.items():
                described = []
                for n in nodes:
                    what = f"`{n.layer.name}` ({type(n.layer).__name__})"
                    if n.index == 0 and hasattr(node.layer, "_nodes_by_depth"):
                        what += f", layers[0] of the functional model `{node.layer.name}`,"
                    described.append(what)
                out.append(
                    self._finding(
                        "KL004",
                        f"{' and '.join(described)} {'has' if len(nodes) == 1 else 'have'} no weights: setting trainable = False "
                        f"on it freezes nothing, and every layer of `{node.layer.name}` still "
                        "trains. Freeze the layer you meant (e.g. layers[1], or one looked up by name).",
                        site,
                        {"weightless_frozen_layers": len(nodes)},
                        node.layer,
                        [n.path for n in nodes],
                    )
                )
        return out

    def check_kl001_keras2(self) -> list[dict[str, Any]]:
        """Keras 2: a training call whose trainable set differs from the one at the model's
        last compile() (Keras 2 trains the compiled set and ignores the change), unless the
        change came before the compile of an enclosing model (the GAN idiom)."""
        out = []
        events = self.recording.events
        for model_id, node in self._models_in_tree().items():
            for call in events:
                if id(call.model) != model_id or call.kind not in TRAIN_KINDS:
                    continue
                compiled = self.compiled_state(call)
                if compiled is call or None in (compiled.trainable_ids, call.trainable_ids):
                    continue
                if compiled.trainable_ids == call.trainable_ids:
                    continue
                assert compiled.trainable_ids is not None and call.trainable_ids is not None
                changed = compiled.trainable_ids ^ call.trainable_ids
                owners = [
                    layer
                    for layer in _all_layers(node.layer)
                    if any(id(w) in changed for w in layer.weights)
                ]
                changed_at = self.first_assignment(owners, compiled.seq, call.seq)
                after = changed_at.seq if changed_at is not None else compiled.seq
                if any(
                    e.kind == "compile"
                    and e.model is not node.layer
                    and after < e.seq < call.seq
                    and any(sub is node.layer for sub in _all_layers(e.model))
                    for e in events
                ):
                    continue  # the GAN idiom: frozen for the enclosing model's compile
                gained = len(call.trainable_ids - compiled.trainable_ids)
                lost = len(compiled.trainable_ids - call.trainable_ids)
                name = node.layer.name
                out.append(
                    self._finding(
                        "KL001",
                        f"`{name}` was compiled with {compiled.trainable_count} trainable weights and "
                        f"is trained by {call.kind}() with {call.trainable_count} ({gained} unfrozen, "
                        f"{lost} frozen since) and no compile() in between: Keras 2 trains the set "
                        "compile() saw and ignores the change. Call compile() again after changing "
                        "trainable.",
                        changed_at.site if changed_at else call.site,
                        {
                            "trainable_weights_at_compile": compiled.trainable_count,
                            "trainable_weights_now": call.trainable_count,
                            "unfrozen": gained,
                            "frozen": lost,
                        },
                        node.layer,
                        [node.path],
                    )
                )
                break  # one finding per model
        return out

    def check_kl001(self) -> list[dict[str, Any]]:
        """The trainable set when the model started after its last compile, versus later."""
        out = []
        models = self._models_in_tree()
        events = self.recording.events
        for model_id, node in models.items():
            compiles = [e for e in events if id(e.model) == model_id and e.kind == "compile"]
            if not compiles:
                continue
            compiled = compiles[-1]
            starts = [
                e
                for e in events
                if id(e.model) == model_id and e.kind in START_KINDS and e.seq > compiled.seq
            ]
            baseline = starts[0] if starts else compiled
            if baseline.trainable_ids is None:
                continue
            later = next(
                (
                    s
                    for s in starts[1:]
                    if s.trainable_ids is not None and s.trainable_ids != baseline.trainable_ids
                ),
                None,
            )
            if later is None and starts and node is not self.tree:
                # A trained sub-model left in another state (a GAN's discriminator frozen
                # after its own train_on_batch) is fine if the code toggles it back before
                # training it again, which only the static rule can see.
                continue
            now_ids = frozenset(id(v) for v in node.layer.trainable_weights)
            after_ids = later.trainable_ids if later is not None else now_ids
            assert after_ids is not None
            if after_ids == baseline.trainable_ids:
                continue
            changed = after_ids ^ baseline.trainable_ids
            # The assignment to blame: the first one after the baseline on a layer that owns
            # a weight whose state changed (the layer itself or an ancestor, like `base`).
            owners = [
                layer
                for layer in _all_layers(node.layer)
                if any(id(w) in changed for w in layer.weights)
            ]
            changed_at = self.first_assignment(
                owners, baseline.seq, later.seq if later is not None else math.inf
            )
            gained = len(after_ids - baseline.trainable_ids)
            lost = len(baseline.trainable_ids - after_ids)
            name = node.layer.name
            before, after = baseline.trainable_count, len(after_ids)
            delta = " and ".join(
                part
                for part in (
                    f"{gained} unfrozen" if gained else "",
                    f"{lost} frozen" if lost else "",
                )
                if part
            )
            if later is not None:
                message = (
                    f"`{name}` started with {before} trainable weights after its last compile() "
                    f"and is trained again by {later.kind}() with {after} ({delta}) and no "
                    "compile() in between: TensorFlow keeps training the old set, PyTorch raises "
                    "'Unknown variable' on unfreeze, JAX raises and loses the weights. Call "
                    "compile() again, with a new optimizer, after changing trainable."
                )
            elif starts:
                message = (
                    f"`{name}` ran {baseline.kind}() with {before} trainable weights after its "
                    f"last compile() and now has {after} ({delta}): training it again without a "
                    "new compile() ignores the change (TensorFlow) or raises (PyTorch, JAX). "
                    "Call compile() again, with a new optimizer, after changing trainable."
                )
            else:
                message = (
                    f"`{name}` was compiled with {before} trainable weights and now has {after} "
                    f"({delta}): Keras 3 honours the change only because nothing has trained "
                    "since compile(), and Keras 2 trains the compiled set. Call compile() after "
                    "the last trainable change."
                )
            out.append(
                self._finding(
                    "KL001",
                    message,
                    changed_at.site if changed_at else None,
                    {
                        "trainable_weights_at_start": baseline.trainable_count,
                        "trainable_weights_now": len(after_ids),
                        "unfrozen": gained,
                        "frozen": lost,
                    },
                    node.layer,
                    [node.path],
                )
            )
        return out
