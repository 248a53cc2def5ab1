"""The one walk over a module that builds its Keras facts.

It is a small abstract interpreter: names are bound to symbolic values as the
code runs, in order; a call to a function of the same file splices that
function's body in at the call site; branches keep both sides; a loop body is
walked once and replayed by the analyses. What cannot be known stays unknown,
and unknown never makes a rule fire.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst

from kerlint.facts import names
from kerlint.facts.model import (
    BoundMethod,
    Branch,
    Class,
    Event,
    Frame,
    Function,
    Guard,
    Literal_,
    Loop,
    Obj,
    Ref,
    Seq,
    Value,
)

Values = tuple[Value, ...]
Env = dict[str, Values]
NOTHING: Values = ()
MAX_INLINE_DEPTH = 4
# Statements interpreted per file, and times one function is spliced in, before calls are
# treated as unknown (which only ever silences rules): large library files stay cheap.
WORK_BUDGET = 20_000
MAX_INLINES_PER_FUNCTION = 24

# Builtins and helpers that never change a model's trainable state or compile it.
BENIGN_CALLS = {
    "print", "len", "isinstance", "issubclass", "repr", "str", "type", "id", "hasattr",
    "getattr", "list", "tuple", "dict", "set", "sorted", "sum", "any", "all", "enumerate",
    "zip", "range", "min", "max", "vars", "format", "int", "float", "bool", "iter", "next",
    "reversed", "map", "filter", "round", "abs", "super",
}  # fmt: skip


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

    statement: cst.CSTNode
    target: cst.Attribute
    attr: str
    owners: Values
    value: cst.BaseExpression | None
    operator: str = "="
    in_callback: bool = False


@dataclass
class WeightMutation:
    """An in-place change of a weight-list property (`m.trainable_weights.append(v)`)."""

    node: cst.CSTNode
    owners: Values
    attr: str
    how: str


@dataclass
class DiscardedComparison:
    node: cst.CSTNode
    owners: Values
    comparison: cst.Comparison


@dataclass
class WeightsUse:
    """Variables handed to tape.gradient / apply_gradients / apply / minimize."""

    node: cst.Call
    api: str
    lists: tuple[WeightList, ...]


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

    @property
    def timelines(self) -> list[Seq]:
        return [self.main, *self.entries]


def build_facts(module: cst.Module) -> Facts:
    builder = Builder(module)
    builder.run()
    return builder.facts


def is_keras(value: Value) -> bool:
    return isinstance(value, Obj) and value.keras and value.kind in ("model", "layer")


class Builder:
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.facts = Facts()
        self.seq = self.facts.main
        self.module_env: Env = {}
        self.local_depth = 0
        self.ctx: tuple[int, ...] = ()
        self.stack: list[cst.FunctionDef] = []
        self.returns: list[list[Values]] = []
        self.allocated: dict[tuple[int, tuple[int, ...]], Obj] = {}
        self.derived: dict[tuple[int, str], Obj] = {}
        self.inlined: set[cst.FunctionDef] = set()
        self.instantiated: set[cst.ClassDef] = set()
        self.functions: list[tuple[cst.FunctionDef, Env]] = []
        self.classes: list[tuple[Class, Env]] = []
        self.guard: Guard | None = None
        self.loop_vars: list[Obj] = []
        self.in_callback = False
        self.work = 0
        self.splices = itertools.count(1)
        self.inline_counts: dict[int, int] = {}

    # ------------------------------------------------------------------ driving
    def run(self) -> None:
        env: Env = {}
        self.module_env = env
        self.exec_block(self.module.body, env, module_level=True)
        self.analyse_uncalled()

    def analyse_uncalled(self) -> None:
        """Functions and classes the file never calls still get a timeline of their own."""
        for func, env in self.functions:
            if func in self.inlined:
                continue
            self._entry(lambda f=func, e=env: self._standalone_function(f, e))
        for klass, env in self.classes:
            if klass.node in self.instantiated:
                continue
            self._entry(lambda k=klass, e=env: self._standalone_class(k, e))

    def _entry(self, work) -> None:
        saved = self.seq
        self.seq = Seq()
        self.facts.entries.append(self.seq)
        try:
            work()
        finally:
            self.seq = saved

    def _standalone_function(self, func: cst.FunctionDef, env: Env) -> None:
        params = {p.name.value: (self._param_obj(p),) for p in _all_params(func.params)}
        self._run_body(Function(func), params, env)

    def _standalone_class(self, klass: Class, env: Env) -> None:
        if klass.keras_base and klass.keras_base.startswith("keras.callbacks."):
            instance = self._callback_instance(klass, env, args=NOTHING, call=None)
            del instance
            return
        instance = self.new_obj("instance", klass.node, keras=False, cls=None)
        instance.class_def = klass.node
        init = _method(klass.node, "__init__")
        methods = [m for m in _methods(klass.node) if m.name.value != "__init__"]
        for method in methods:
            self._entry(lambda m=method: self._standalone_method(klass, env, init, m))

    def _standalone_method(self, klass: Class, env: Env, init, method) -> None:
        instance = self.new_obj("instance", klass.node, keras=False)
        if klass.keras_base in ("keras.Model", "keras.layers.Layer"):
            instance.kind = "model" if klass.keras_base == "keras.Model" else "layer"
            instance.keras = True
            instance.structure = "subclassed"
            instance.initially_trainable = None
        if init is not None:
            self._call_function(
                Function(init, klass.node), (), {}, env, self_value=instance, bind_unknown=True
            )
        self._call_function(
            Function(method, klass.node), (), {}, env, self_value=instance, bind_unknown=True
        )

    def _param_obj(self, param: cst.Param) -> Obj:
        return self.new_obj("unknown", param, keras=False, trainable=None)

    # ------------------------------------------------------------------ objects
    def new_obj(self, kind, node, *, keras=True, cls=None, trainable=True, **extra) -> Obj:
        key = (id(node), self.ctx, kind)
        found = self.allocated.get(key)  # type: ignore[arg-type]
        if found is not None:
            return found
        obj = Obj(
            kind=kind, node=node, cls=cls, keras=keras, initially_trainable=trainable, **extra
        )
        self.allocated[key] = obj  # type: ignore[index]
        self.facts.objects.append(obj)
        return obj

    def derive(
        self, parent: Obj, selector: str, *, all_layers=False, small=False, node=None
    ) -> Obj:
        key = (parent.id, selector)
        found = self.derived.get(key)
        if found is not None:
            return found
        child = Obj(
            kind="layer",
            node=node,
            keras=parent.keras or self.facts.uses_keras,
            parent=parent,
            selector=selector,
            all_layers=all_layers,
            small_slice=small,
            initially_trainable=parent.initially_trainable,
            structure=None,
        )
        if parent.structure in ("functional",) and selector == ".layers[0]":
            child.cls = "keras.layers.InputLayer"
        self.derived[key] = child
        parent.children.append(child)
        self.facts.objects.append(child)
        return child

    def emit(self, kind, node, **kwargs) -> Event:
        event = Event(kind=kind, node=node, in_callback=self.in_callback, **kwargs)
        self.seq.items.append(event)
        self.facts.events.append(event)
        return event

    # ------------------------------------------------------------------ statements
    def exec_block(self, body: Sequence[cst.CSTNode], env: Env, module_level: bool = False) -> Env:
        for statement in body:
            env = self.exec_statement(statement, env)
            if module_level:
                self.module_env = env
        return env

    def exec_statement(self, node: cst.CSTNode, env: Env) -> Env:
        self.work += 1
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                env = self.exec_small(small, node, env)
            return env
        if isinstance(node, cst.If):
            return self.exec_if(node, env)
        if isinstance(node, cst.For):
            return self.exec_for(node, env)
        if isinstance(node, cst.While):
            self.eval(node.test, env)
            return self._loop(node.body.body, node.orelse, env)
        if isinstance(node, cst.Try | cst.TryStar):
            return self.exec_try(node, env)
        if isinstance(node, cst.With):
            for item in node.items:
                values = self.eval(item.item, env)
                if item.asname is not None:
                    env = self.bind(item.asname.name, values, env)
            return self.exec_block(node.body.body, env)
        if isinstance(node, cst.FunctionDef):
            env = dict(env)
            env[node.name.value] = (Function(node),)
            self.functions.append((node, env))
            return env
        if isinstance(node, cst.ClassDef):
            return self.exec_class(node, env)
        if isinstance(node, cst.Match):
            self.eval(node.subject, env)
            return self._branches([case.body.body for case in node.cases] + [[]], env)
        return env

    def exec_small(self, node: cst.BaseSmallStatement, line: cst.CSTNode, env: Env) -> Env:
        statement = node  # findings point at the statement itself, not its whole line
        if isinstance(node, cst.Import):
            env = dict(env)
            for alias in node.names:
                dotted = _dotted(alias.name)
                if dotted is None:
                    continue
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    env[alias.asname.name.value] = (Ref(dotted),)
                else:
                    root = dotted.split(".")[0]
                    env[root] = (Ref(root),)
                if names.is_keras_family(dotted) or dotted.split(".")[0] == "tensorflow":
                    self.facts.uses_keras = True
            return env
        if isinstance(node, cst.ImportFrom):
            return self.exec_import_from(node, env)
        if isinstance(node, cst.Assign):
            values = self.eval(node.value, env)
            for target in node.targets:
                env = self.assign(target.target, values, node.value, statement, env)
            return env
        if isinstance(node, cst.AnnAssign):
            if node.value is None:
                return env
            values = self.eval(node.value, env)
            return self.assign(node.target, values, node.value, statement, env)
        if isinstance(node, cst.AugAssign):
            values = self.eval(node.value, env)
            op = type(node.operator).__name__
            if isinstance(node.target, cst.Attribute):
                owners = self.eval(node.target.value, env)
                attr = node.target.attr.value
                if attr in names.WEIGHT_LISTS:
                    self.facts.weight_mutations.append(
                        WeightMutation(statement, owners, attr, "+=")
                    )
                self.facts.attribute_writes.append(
                    AttributeWrite(
                        statement, node.target, attr, owners, node.value, op, self.in_callback
                    )
                )
                return env
            if isinstance(node.target, cst.Name):
                env = dict(env)
                env[node.target.value] = env.get(node.target.value, NOTHING) + values
            return env
        if isinstance(node, cst.Expr):
            value = node.value
            if isinstance(value, cst.Comparison) and _is_discarded_trainable_test(value):
                owner = value.left.value  # type: ignore[attr-defined]
                self.facts.discarded_comparisons.append(
                    DiscardedComparison(statement, self.eval(owner, env), value)
                )
            self.eval(value, env)
            return env
        if isinstance(node, cst.Del):
            self._exec_del(node.target, statement, env)
            return env
        if isinstance(node, cst.Return):
            values = self.eval(node.value, env) if node.value is not None else NOTHING
            if self.returns:
                self.returns[-1].append(values)
            self.emit("return", node)
            return env
        if isinstance(node, cst.Raise):
            if node.exc is not None:
                self.eval(node.exc, env)
            self.emit("raise", node)
            return env
        if isinstance(node, cst.Break):
            self.emit("break", node)
            return env
        if isinstance(node, cst.Continue):
            self.emit("continue", node)
            return env
        if isinstance(node, cst.Assert):
            self.eval(node.test, env)
            return env
        return env

    def _exec_del(self, target: cst.BaseExpression, statement: cst.CSTNode, env: Env) -> None:
        if isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self._exec_del(element.value, statement, env)
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Attribute):
            attr = target.value.attr.value
            if attr in names.WEIGHT_LISTS:
                owners = self.eval(target.value.value, env)
                self.facts.weight_mutations.append(WeightMutation(statement, owners, attr, "del"))

    def exec_import_from(self, node: cst.ImportFrom, env: Env) -> Env:
        module = None if node.relative or node.module is None else _dotted(node.module)
        if module and (names.is_keras_family(module) or module.split(".")[0] == "tensorflow"):
            self.facts.uses_keras = True
        if isinstance(node.names, cst.ImportStar):
            return env
        env = dict(env)
        for alias in node.names:
            name = _dotted(alias.name)
            if name is None:
                continue
            local = (
                alias.asname.name.value
                if alias.asname and isinstance(alias.asname.name, cst.Name)
                else name
            )
            if module is None:
                env[local] = NOTHING
            else:
                full = f"{module}.{name}"
                env[local] = (Ref(full),)
                if names.is_keras_family(full):
                    self.facts.uses_keras = True
        return env

    def exec_if(self, node: cst.If, env: Env) -> Env:
        self.eval(node.test, env)
        then_guard, else_guard = self._guards_for(node.test)
        saved_guard = self.guard
        then_seq, else_seq = Seq(), Seq()
        self.guard = then_guard if then_guard is not None else saved_guard
        then_env = self._in_seq(then_seq, lambda: self.exec_block(node.body.body, env))
        self.guard = else_guard if else_guard is not None else saved_guard
        if node.orelse is None:
            else_env = env
        elif isinstance(node.orelse, cst.If):
            else_env = self._in_seq(else_seq, lambda: self.exec_statement(node.orelse, env))
        else:
            else_env = self._in_seq(else_seq, lambda: self.exec_block(node.orelse.body.body, env))
        self.guard = saved_guard
        if then_guard is not None:
            # A test on the loop variable splits the layers, not the paths: both arms run.
            self.seq.items.extend([then_seq, else_seq])
        else:
            self.seq.items.append(Branch([then_seq, else_seq]))
        return _join(then_env, else_env)

    def _guards_for(self, test: cst.BaseExpression) -> tuple[Guard | None, Guard | None]:
        """Inside a loop over layers: does this test pick BatchNormalization layers?"""
        if not self.loop_vars:
            return None, None
        loop_names = {_loop_name(var) for var in self.loop_vars} - {None}
        if not _mentions(test, loop_names):
            return None, None
        negated = False
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            negated = not negated
            test = test.expression
        if _tests_batchnorm(test):
            return ("bn-excluded", "bn-only") if negated else ("bn-only", "bn-excluded")
        return "other", "other"

    def exec_for(self, node: cst.For, env: Env) -> Env:
        iterable = self.eval(node.iter, env)
        loop_values: list[Value] = []
        for value in iterable:
            if isinstance(value, LayerList):
                var = self.derive(
                    value.owner,
                    f"{value.selector}[*]",
                    all_layers=not value.sliced,
                    small=value.small,
                    node=node.iter,
                )
                loop_values.append(var)
            elif isinstance(value, ListValue):
                for item in value.items:
                    loop_values.extend(item)
        env = self._bind_loop_target(node.target, tuple(loop_values), iterable, env)
        pushed = [v for v in loop_values if isinstance(v, Obj) and v.parent is not None]
        names_ = {_target_name(node.target)}
        for var in pushed:
            var.attrs.setdefault("__loop_name__", tuple(Literal_(n) for n in names_ if n))
        self.loop_vars.extend(pushed)
        saved_guard = self.guard
        if pushed:
            self.guard = None
        try:
            return self._loop(node.body.body, node.orelse, env, at_least_once=bool(pushed))
        finally:
            self.guard = saved_guard
            del self.loop_vars[len(self.loop_vars) - len(pushed) :]

    def _bind_loop_target(self, target, loop_values: Values, iterable: Values, env: Env) -> Env:
        """`for layer in ...`, `for i, layer in enumerate(...)`, `for a, b in zip(x, y)`."""
        if not (isinstance(target, cst.Tuple | cst.List) and target.elements):
            return self.bind(target, loop_values, env)
        elements = [e.value for e in target.elements]
        env = self.bind(target, NOTHING, env)
        markers = {v.name for v in iterable if isinstance(v, Ref)}
        if "enumerate" in markers and len(elements) == 2:
            return self.bind(elements[1], loop_values, env)
        if "zip" in markers and len(loop_values) == len(elements):
            for element, value in zip(elements, loop_values, strict=True):
                env = self.bind(element, (value,), env)
        return env

    def _loop(self, body, orelse, env: Env, at_least_once: bool = False) -> Env:
        loop = Loop(Seq(), Seq(), at_least_once)
        body_env = self._in_seq(loop.body, lambda: self.exec_block(body, env))
        joined = _join(env, body_env)
        if orelse is not None:
            joined = self._in_seq(loop.orelse, lambda: self.exec_block(orelse.body.body, joined))
        self.seq.items.append(loop)
        return joined

    def exec_try(self, node, env: Env) -> Env:
        body_seq = Seq()
        body_env = self._in_seq(body_seq, lambda: self.exec_block(node.body.body, env))
        alternatives = [Seq()]
        envs = [body_env]
        if node.orelse is not None:
            envs[0] = self._in_seq(
                alternatives[0], lambda: self.exec_block(node.orelse.body.body, body_env)
            )
        for handler in node.handlers:
            seq = Seq()
            start = _join(env, body_env)
            if handler.name is not None:
                start = self.bind(handler.name.name, NOTHING, start)
            envs.append(
                self._in_seq(seq, lambda h=handler, s=start: self.exec_block(h.body.body, s))
            )
            alternatives.append(seq)
        self.seq.items.append(body_seq)
        self.seq.items.append(Branch(alternatives))
        result = envs[0]
        for other in envs[1:]:
            result = _join(result, other)
        if node.finalbody is not None:
            result = self.exec_block(node.finalbody.body.body, result)
        return result

    def _branches(self, bodies, env: Env) -> Env:
        seqs, envs = [], []
        for body in bodies:
            seq = Seq()
            envs.append(self._in_seq(seq, lambda b=body: self.exec_block(b, env)))
            seqs.append(seq)
        self.seq.items.append(Branch(seqs))
        result = envs[0]
        for other in envs[1:]:
            result = _join(result, other)
        return result

    def _in_seq(self, seq: Seq, work):
        saved = self.seq
        self.seq = seq
        try:
            return work()
        finally:
            self.seq = saved

    def exec_class(self, node: cst.ClassDef, env: Env) -> Env:
        bases: list[str] = []
        for arg in node.bases:
            for value in self.eval(arg.value, env):
                if isinstance(value, Ref):
                    canonical = names.canonical(value.name)
                    if canonical:
                        bases.append(_class_base(canonical))
                    elif names.is_keras_family(value.name):
                        bases.append("keras.Model")
                elif isinstance(value, Class) and value.keras_base:
                    bases.append(value.keras_base)
        klass = Class(node, tuple(bases))
        env = dict(env)
        env[node.name.value] = (klass,)
        self.classes.append((klass, env))
        return env

    # ------------------------------------------------------------------ assignment
    def assign(self, target, values: Values, value_node, statement, env: Env) -> Env:
        if isinstance(target, cst.Name):
            env = dict(env)
            env[target.value] = values
            for value in values:
                if isinstance(value, Obj) and value.label is None:
                    value.label = target.value
            return env
        if isinstance(target, cst.Attribute):
            owners = self.eval(target.value, env)
            attr = target.attr.value
            self.facts.attribute_writes.append(
                AttributeWrite(statement, target, attr, owners, value_node, "=", self.in_callback)
            )
            if attr == "trainable":
                self.trainable_write(owners, value_node, statement, env)
            elif attr in names.WEIGHT_LISTS:
                self.facts.weight_mutations.append(WeightMutation(statement, owners, attr, "="))
            for value in values:
                if isinstance(value, Obj) and value.label is None:
                    value.label = self.module.code_for_node(target)
            for owner in owners:
                if isinstance(owner, Obj):
                    owner.attrs[attr] = values
                    if owner.kind == "model" and owner.structure == "subclassed":
                        for value in values:
                            if (
                                isinstance(value, Obj)
                                and value.kind in ("model", "layer")
                                and value not in owner.children
                            ):
                                owner.children.append(value)
            return env
        if isinstance(target, cst.Tuple | cst.List):
            items: list[Values] | None = None
            if isinstance(value_node, cst.Tuple | cst.List) and len(value_node.elements) == len(
                target.elements
            ):
                items = [self.eval(e.value, env) for e in value_node.elements]
            else:  # `model, base = build()`: a function that returned a tuple
                tuples = [
                    v
                    for v in values
                    if isinstance(v, ListValue) and len(v.items) == len(target.elements)
                ]
                if len(tuples) == 1:
                    items = list(tuples[0].items)
            for index, element in enumerate(target.elements):
                env = self.assign(
                    element.value, items[index] if items else NOTHING, None, statement, env
                )
            return env
        if isinstance(target, cst.Subscript):
            self.eval(target.value, env)
        return env

    def bind(self, target, values: Values, env: Env) -> Env:
        if isinstance(target, cst.Name):
            env = dict(env)
            env[target.value] = values
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                env = self.bind(element.value, NOTHING, env)
        return env

    def trainable_write(self, owners: Values, value_node, statement, env: Env) -> None:
        literal = _bool_literal(value_node)
        bn_split = _not_isinstance_bn(value_node)
        targets = [
            owner
            for owner in owners
            if isinstance(owner, Obj) and owner.kind in ("model", "layer", "unknown")
        ]
        if len(targets) > 1:
            # `model` may be one of several objects here: no object is known to change, so
            # each may now hold either value (a weak update, which never makes a rule fire).
            literal, bn_split = None, False
        for owner in targets:
            if bn_split:
                self.emit("assign", statement, target=owner, value=True, guard="bn-excluded")
                self.emit("assign", statement, target=owner, value=False, guard="bn-only")
                continue
            guard = self.guard if owner in self.loop_vars else None
            self.emit("assign", statement, target=owner, value=literal, guard=guard)

    # ------------------------------------------------------------------ expressions
    def eval(self, node: cst.BaseExpression | None, env: Env) -> Values:
        if node is None:
            return NOTHING
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                return (Literal_({"True": True, "False": False, "None": None}[node.value]),)
            found = env.get(node.value)
            if found is None and self.stack:
                found = self.module_env.get(node.value)
            if found is None and node.value in BENIGN_CALLS:
                return (Ref(node.value),)
            return found or NOTHING
        if isinstance(node, cst.Attribute):
            return self.eval_attribute(node, env)
        if isinstance(node, cst.Call):
            return self.eval_call(node, env)
        if isinstance(node, cst.Subscript):
            return self.eval_subscript(node, env)
        if isinstance(node, cst.Integer | cst.Float | cst.SimpleString):
            try:
                return (Literal_(node.evaluated_value),)
            except Exception:
                return NOTHING
        if isinstance(node, cst.List | cst.Tuple):
            items = tuple(self.eval(e.value, env) for e in node.elements)
            return (ListValue(items),)
        if isinstance(node, cst.BinaryOperation):
            return _tensor_union(self.eval(node.left, env) + self.eval(node.right, env))
        if isinstance(node, cst.UnaryOperation):
            return _tensor_union(self.eval(node.expression, env))
        if isinstance(node, cst.IfExp):
            self.eval(node.test, env)
            return self.eval(node.body, env) + self.eval(node.orelse, env)
        if isinstance(node, cst.Comparison):
            self.eval(node.left, env)
            for target in node.comparisons:
                self.eval(target.comparator, env)
            return NOTHING
        if isinstance(node, cst.BooleanOperation):
            return self.eval(node.left, env) + self.eval(node.right, env)
        if isinstance(node, cst.NamedExpr):
            return self.eval(node.value, env)
        if isinstance(node, cst.Await):
            return self.eval(node.expression, env)
        if isinstance(node, cst.Dict):
            for element in node.elements:
                if isinstance(element, cst.DictElement):
                    self.eval(element.value, env)
            return NOTHING
        return NOTHING

    def eval_attribute(self, node: cst.Attribute, env: Env) -> Values:
        return self.attribute_of(self.eval(node.value, env), node)

    def attribute_of(self, bases: Values, node: cst.Attribute) -> Values:
        attr = node.attr.value
        result: list[Value] = []
        for base in bases:
            if isinstance(base, Ref):
                result.append(Ref(f"{base.name}.{attr}"))
            elif isinstance(base, Obj):
                if attr == "layers" and base.kind in ("model", "layer", "unknown"):
                    if base.keras or self.facts.uses_keras:
                        result.append(LayerList(base))
                elif attr in names.WEIGHT_LISTS and is_keras(base):
                    result.append(WeightList(base, attr))
                elif attr in ("input", "inputs", "output", "outputs") and base.kind in (
                    "model",
                    "layer",
                ):
                    tensor = self.new_obj("tensor", node, cls=None)
                    tensor.sources.add(base)
                    result.append(tensor)
                elif attr in base.attrs:
                    result.extend(base.attrs[attr])
                elif base.class_def is not None:
                    method = _method(base.class_def, attr)
                    if method is not None:
                        result.append(BoundMethod(Function(method, base.class_def), base))
            elif isinstance(base, Class):
                method = _method(base.node, attr)
                if method is not None:
                    result.append(Function(method, base.node))
        return tuple(result)

    def eval_subscript(self, node: cst.Subscript, env: Env) -> Values:
        bases = self.eval(node.value, env)
        result: list[Value] = []
        element = node.slice[0].slice if len(node.slice) == 1 else None
        for base in bases:
            if isinstance(base, LayerList) and element is not None:
                if isinstance(element, cst.Index):
                    index = _int_literal(element.value)
                    selector = f"{base.selector}[{index if index is not None else '?'}]"
                    result.append(self.derive(base.owner, selector, node=node))
                elif isinstance(element, cst.Slice):
                    lower, upper = _int_literal(element.lower), _int_literal(element.upper)
                    text = self.module.code_for_node(element)
                    small = _small_slice(lower, upper, element)
                    result.append(LayerList(base.owner, f"{base.selector}[{text}]", True, small))
            elif (
                isinstance(base, ListValue)
                and element is not None
                and isinstance(element, cst.Index)
            ):
                index = _int_literal(element.value)
                if index is not None and -len(base.items) <= index < len(base.items):
                    result.extend(base.items[index])
            elif isinstance(base, Obj) and base.kind == "tensor":
                result.append(base)
        for element_node in node.slice:
            if isinstance(element_node.slice, cst.Index):
                self.eval(element_node.slice.value, env)
        return tuple(result)

    # ------------------------------------------------------------------ calls
    def eval_call(self, node: cst.Call, env: Env) -> Values:
        owners: Values = NOTHING
        if isinstance(node.func, cst.Attribute):
            owners = self.eval(node.func.value, env)
            callees = self.attribute_of(owners, node.func)
        else:
            callees = self.eval(node.func, env)
        positional: list[Values] = []
        keywords: dict[str, Values] = {}
        for arg in node.args:
            values = self.eval(arg.value, env)
            if arg.keyword is not None:
                keywords[arg.keyword.value] = values
            elif arg.star:
                continue
            else:
                positional.append(values)
        if isinstance(node.func, cst.Attribute):
            method = node.func.attr.value
            handled = self.method_call(node, method, owners, positional, keywords, env)
            if handled is not None:
                return handled
        result: list[Value] = []
        known = False
        for callee in callees:
            if isinstance(callee, Ref):
                known = True
                result.extend(self.call_ref(node, callee, positional, keywords, env))
            elif isinstance(callee, Function):
                known = True
                result.extend(self._call_function(callee, tuple(positional), keywords, env))
            elif isinstance(callee, BoundMethod):
                known = True
                result.extend(
                    self._call_function(
                        callee.function,
                        tuple(positional),
                        keywords,
                        env,
                        self_value=callee.self_value,
                    )
                )
            elif isinstance(callee, Class):
                known = True
                result.extend(self.instantiate(node, callee, positional, keywords, env))
            elif isinstance(callee, Obj) and callee.kind in ("model", "layer"):
                known = True
                result.append(self.call_layer(node, callee, positional, keywords))
        if not known:
            self._havoc(node, positional, keywords)
            tensors = _tensor_union(tuple(v for vs in positional for v in vs))
            return tensors
        return tuple(result)

    def _havoc(self, node: cst.Call, positional: list[Values], keywords: dict[str, Values]) -> None:
        """An unknown callee may freeze or compile what it is given: forget what we knew."""
        for values in [*positional, *keywords.values()]:
            for value in _flatten(values):
                if isinstance(value, Obj) and value.kind in (
                    "model",
                    "layer",
                    "unknown",
                    "instance",
                ):
                    self.emit("havoc", node, target=value)

    def method_call(self, node, method, owners, positional, keywords, env) -> Values | None:
        """Keras model and optimizer methods; None when the call is not one of them."""
        objs = [o for o in owners if isinstance(o, Obj)]
        # Only the property itself (`m.trainable_weights.append`): a list kept in a variable is
        # the program's own copy, and extending it is how extra variables are legitimately added.
        direct = (
            isinstance(node.func.value, cst.Attribute)
            and node.func.value.attr.value in names.WEIGHT_LISTS
        )
        weight_lists = [o for o in owners if isinstance(o, WeightList)] if direct else []
        if weight_lists and method in (
            "append",
            "extend",
            "insert",
            "remove",
            "pop",
            "clear",
            "__iadd__",
        ):
            for wl in weight_lists:
                self.facts.weight_mutations.append(
                    WeightMutation(node, (wl.owner,), wl.attr, method)
                )
            return NOTHING
        if not objs:
            return None
        result: list[Value] = []
        handled = False
        for obj in objs:
            if obj.kind == "model" or (
                obj.kind in ("layer", "unknown") and method in ("compile", *names.TRAIN_METHODS)
            ):
                if method == "compile":
                    handled = True
                    optimizer = _first(
                        keywords.get("optimizer") or (positional[0] if positional else NOTHING)
                    )
                    opt = (
                        optimizer
                        if isinstance(optimizer, Obj) and optimizer.kind == "optimizer"
                        else None
                    )
                    self.emit("compile", node, target=obj, optimizer=opt)
                elif method in names.TRAIN_METHODS:
                    handled = True
                    self.emit("train", node, target=obj, method=method)
                elif method in names.START_METHODS:
                    handled = True
                    self.emit("start", node, target=obj, method=method)
                elif method == "get_layer":
                    handled = True
                    arg = node.args[0].value if node.args else None
                    label = self.module.code_for_node(arg) if arg is not None else "?"
                    result.append(self.derive(obj, f".get_layer({label})", node=node))
                elif method == "add" and positional:
                    handled = True
                    for value in positional[0]:
                        if isinstance(value, Obj) and value.kind in ("model", "layer"):
                            obj.children.append(value)
                elif method in names.BENIGN_METHODS:
                    handled = True
            if obj.kind == "optimizer" and method in ("apply_gradients", "apply", "minimize"):
                handled = True
                self._weights_use(node, f"{method}", positional, keywords)
                self.emit("apply", node, target=obj)
            if obj.kind == "tape" and method == "gradient":
                handled = True
                self._weights_use(node, "gradient", positional, keywords)
                self.emit("gradient", node, target=obj)
        if handled:
            return tuple(result)
        return None

    def _weights_use(self, node, api, positional, keywords) -> None:
        candidates = list(positional[1:2]) + [
            keywords.get(k, NOTHING)
            for k in ("sources", "var_list", "trainable_variables", "variables")
        ]
        if api == "apply_gradients":
            candidates = [*positional[:1], keywords.get("grads_and_vars", NOTHING)]
        lists = tuple(
            value
            for values in candidates
            for value in _flatten(values, through_zip=True)
            if isinstance(value, WeightList)
        )
        if lists:
            self.facts.weights_uses.append(WeightsUse(node, api, lists))

    def call_ref(self, node, ref: Ref, positional, keywords, env) -> Values:
        canonical = names.canonical(ref.name)
        leaf = ref.name.rsplit(".", 1)[-1]
        if canonical is None:
            if ref.name in ("zip", "enumerate", "reversed", "list", "tuple", "sorted", "iter"):
                flat = tuple(v for vs in positional for v in vs)
                if ref.name in ("enumerate", "zip"):
                    return (*flat, Ref(ref.name))  # how the loop target unpacks
                return flat
            if ref.name == "setattr" and len(node.args) >= 3:
                attr = node.args[1].value
                if isinstance(attr, cst.SimpleString) and attr.evaluated_value == "trainable":
                    self.trainable_write(positional[0], node.args[2].value, node, env)
                return NOTHING
            if ref.name.split(".")[0] in names.KERAS_FAMILY_ROOTS:
                if leaf[:1].isupper() or leaf in ("from_preset",):
                    return (self.new_obj("model", node, cls=ref.name, has_bn=None, trainable=True),)
                return NOTHING
            if ref.name == "tensorflow.GradientTape":
                return (self.new_obj("tape", node, keras=False),)
            if ref.name in BENIGN_CALLS or ref.name.split(".")[0] in (
                "numpy",
                "np",
                "math",
                "os",
                "tensorflow",
                "jax",
                "torch",
            ):
                return _tensor_union(tuple(v for vs in positional for v in vs))
            self._havoc(node, positional, keywords)
            return _tensor_union(tuple(v for vs in positional for v in vs))
        if canonical in names.MODEL_CONSTRUCTORS:
            return (self.make_model(node, canonical, positional, keywords),)
        if canonical.startswith("keras.applications."):
            if not leaf[:1].isupper():
                return NOTHING
            model = self.new_obj(
                "model", node, cls=f"keras.applications.{leaf}", structure="functional",
                has_bn=names.application_has_bn(leaf),
            )  # fmt: skip
            return (model,)
        if canonical in names.LOADERS:
            return (self.new_obj("model", node, cls=canonical, has_bn=None, trainable=None),)
        if canonical in names.INPUTS:
            return (self.new_obj("tensor", node, cls=canonical),)
        if canonical.startswith("keras.optimizers.") and leaf[:1].isupper():
            return (self.new_obj("optimizer", node, cls=canonical, keras=False),)
        if canonical.startswith("keras.layers.") and leaf[:1].isupper():
            has_bn = leaf in names.BATCHNORM
            return (self.new_obj("layer", node, cls=f"keras.layers.{leaf}", has_bn=has_bn),)
        if canonical == "keras.callbacks.LambdaCallback":
            for values in keywords.values():
                for value in values:
                    if isinstance(value, Function):
                        self._in_callback(
                            lambda f=value: self._call_function(f, (), {}, env, bind_unknown=True)
                        )
            return (self.new_obj("callback", node, keras=False),)
        if canonical.startswith("keras.") and "." in canonical[6:] and leaf[:1].isupper():
            return (self.new_obj("unknown", node, cls=canonical, keras=False),)
        # keras.ops.*, keras.utils.* ...: Keras's own functions leave trainable alone.
        return _tensor_union(tuple(v for vs in positional for v in vs))

    def make_model(self, node, canonical, positional, keywords) -> Obj:
        structure = "sequential" if canonical == "keras.Sequential" else "functional"
        model = self.new_obj("model", node, cls=canonical, structure=structure, has_bn=None)
        if structure == "sequential":
            layers = keywords.get("layers") or (positional[0] if positional else NOTHING)
            for value in layers:
                if isinstance(value, ListValue):
                    for item in value.items:
                        for obj in item:
                            if (
                                isinstance(obj, Obj)
                                and obj.kind in ("model", "layer")
                                and obj not in model.children
                            ):
                                model.children.append(obj)
        else:
            outputs = keywords.get("outputs") or (positional[1] if len(positional) > 1 else NOTHING)
            for tensor in _flatten(outputs):
                if isinstance(tensor, Obj) and tensor.kind == "tensor":
                    for source in _sources(tensor):
                        if source.kind in ("model", "layer") and source not in model.children:
                            model.children.append(source)
        return model

    def call_layer(self, node: cst.Call, callee: Obj, positional, keywords) -> Obj:
        training = None
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "training":
                literal = _bool_literal(arg.value)
                training = Literal_(literal) if literal is not None else Literal_("unknown")
        self.emit("call", node, target=callee, training=training)
        tensor = self.new_obj("tensor", node)
        tensor.sources.add(callee)
        for values in [*positional, *keywords.values()]:
            for value in _flatten(values):
                if isinstance(value, Obj) and value.kind == "tensor":
                    tensor.sources |= _sources(value)
        return tensor

    def instantiate(self, node, klass: Class, positional, keywords, env) -> Values:
        self.instantiated.add(klass.node)
        base = klass.keras_base
        if base and base.startswith("keras.callbacks."):
            return (
                self._callback_instance(
                    klass, env, args=tuple(positional), call=node, keywords=keywords
                ),
            )
        if base in ("keras.Model", "keras.Sequential", "keras.layers.Layer"):
            kind = "layer" if base == "keras.layers.Layer" else "model"
            obj = self.new_obj(
                kind, node, cls=klass.node.name.value, structure="subclassed", has_bn=None
            )
        else:
            obj = self.new_obj("instance", node, keras=False)
        obj.class_def = klass.node
        init = _method(klass.node, "__init__")
        if init is not None:
            self._call_function(
                Function(init, klass.node), tuple(positional), keywords, env, self_value=obj
            )
        call = _method(klass.node, "call")
        if call is not None and obj.kind == "model":
            obj.calls_training_false = _passes_training_false(call)
        obj.has_train_step = _method(klass.node, "train_step") is not None
        return (obj,)

    def _callback_instance(self, klass: Class, env: Env, *, args, call, keywords=None) -> Obj:
        callback = self.new_obj("callback", call or klass.node, keras=False)
        callback.class_def = klass.node
        model = self.new_obj("model", klass.node, cls="callback.model", has_bn=None, trainable=None)
        callback.attrs["model"] = (model,)
        self.instantiated.add(klass.node)

        def analyse() -> None:
            init = _method(klass.node, "__init__")
            if init is not None:
                self._call_function(
                    Function(init, klass.node),
                    args,
                    keywords or {},
                    env,
                    self_value=callback,
                    bind_unknown=call is None,
                )
            for method in _methods(klass.node):
                if method.name.value.startswith("on_"):
                    self._call_function(
                        Function(method, klass.node),
                        (),
                        {},
                        env,
                        self_value=callback,
                        bind_unknown=True,
                    )

        self._in_callback(analyse)
        return callback

    def _in_callback(self, work) -> None:
        """Callback bodies run during fit: their events go to a timeline of their own."""
        saved_flag, saved_seq = self.in_callback, self.seq
        self.in_callback = True
        self.seq = Seq()
        self.facts.entries.append(self.seq)
        try:
            work()
        finally:
            self.in_callback, self.seq = saved_flag, saved_seq

    def _call_function(
        self, function: Function, positional, keywords, env, self_value=None, bind_unknown=False
    ) -> Values:
        node = function.node
        count = self.inline_counts.get(id(node), 0)
        if (
            node in self.stack
            or len(self.stack) >= MAX_INLINE_DEPTH
            or self.work > WORK_BUDGET
            or count >= MAX_INLINES_PER_FUNCTION
        ):
            self._havoc_values([*positional, *keywords.values()], node)
            self.inlined.add(node)
            return NOTHING
        self.inline_counts[id(node)] = count + 1
        self.inlined.add(node)
        params = _all_params(node.params)
        local: Env = {}
        args = list(positional)
        if self_value is not None and params and (function.owner is not None):
            local[params[0].name.value] = (self_value,)
            params = params[1:]
        for param in params:
            name = param.name.value
            if args and param.star not in ("*", "**"):
                local[name] = args.pop(0)
            elif name in keywords:
                local[name] = keywords[name]
            elif bind_unknown:
                local[name] = (self._param_obj(param),)
            elif param.default is not None:
                local[name] = self.eval(param.default, env) if not self.stack else NOTHING
            else:
                local[name] = NOTHING
        return self._run_body(function, local, env)

    def _havoc_values(self, values_list, node) -> None:
        for values in values_list:
            for value in _flatten(values):
                if isinstance(value, Obj) and value.kind in ("model", "layer"):
                    self.emit("havoc", node, target=value)

    def _run_body(self, function: Function, local: Env, env: Env) -> Values:
        node = function.node
        frame = Frame(Seq())
        self.seq.items.append(frame)
        saved_seq, saved_ctx = self.seq, self.ctx
        saved_loop_vars, saved_guard = self.loop_vars, self.guard
        self.seq = frame.body
        self.ctx = (*self.ctx, next(self.splices))  # each splice makes its own objects
        self.loop_vars, self.guard = [], None
        self.stack.append(node)
        self.returns.append([])
        closure = dict(self.module_env)
        if self.stack[:-1]:
            closure.update({k: v for k, v in env.items() if k not in closure})
        closure.update(local)
        try:
            self.exec_block(
                node.body.body if isinstance(node.body, cst.IndentedBlock) else [node.body], closure
            )
        finally:
            returned = self.returns.pop()
            self.stack.pop()
            self.seq, self.ctx = saved_seq, saved_ctx
            self.loop_vars, self.guard = saved_loop_vars, saved_guard
        return tuple(v for values in returned for v in values)


# ---------------------------------------------------------------------- helpers
def _join(a: Env, b: Env) -> Env:
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


def _dotted(node) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _class_base(canonical: str) -> str:
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


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    result = [*params.posonly_params, *params.params]
    if isinstance(params.star_arg, cst.Param):
        result.append(params.star_arg)
    result.extend(params.kwonly_params)
    if params.star_kwarg is not None:
        result.append(params.star_kwarg)
    return result


def _methods(klass: cst.ClassDef) -> list[cst.FunctionDef]:
    body = klass.body.body if isinstance(klass.body, cst.IndentedBlock) else []
    return [stmt for stmt in body if isinstance(stmt, cst.FunctionDef)]


def _method(klass: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    for method in _methods(klass):
        if method.name.value == name:
            return method
    return None


def _bool_literal(node) -> bool | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


def _int_literal(node) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _int_literal(node.expression)
        return -inner if inner is not None else None
    return None


def _small_slice(lower: int | None, upper: int | None, element: cst.Slice) -> bool:
    """Very few layers (at most two) may well hold no BatchNormalization: don't claim they do."""
    if element.step is not None:
        return False
    if lower is not None and lower < 0 and element.upper is None:
        return -lower <= 2
    if lower is not None and upper is not None and lower >= 0 and upper >= 0:
        return upper - lower <= 2
    return False


def _flatten(values: Iterable, through_zip: bool = False) -> Iterable:
    for value in values:
        if isinstance(value, ListValue):
            for item in value.items:
                yield from _flatten(item, through_zip)
        else:
            yield value


def _first(values: Values) -> Value | None:
    return values[0] if len(values) == 1 else None


def _sources(tensor: Obj) -> set[Obj]:
    return set(tensor.sources)


def _tensor_union(values: Values) -> Values:
    tensors = [v for v in values if isinstance(v, Obj) and v.kind == "tensor"]
    if not tensors:
        return NOTHING
    if len(tensors) == 1:
        return (tensors[0],)
    merged = Obj(kind="tensor", node=None)
    for tensor in tensors:
        merged.sources |= tensor.sources
    return (merged,)


def _mentions(node: cst.CSTNode, wanted: set[str]) -> bool:
    if isinstance(node, cst.Name):
        return node.value in wanted
    return any(_mentions(child, wanted) for child in node.children)


def _loop_name(var: Obj) -> str | None:
    names_ = var.attrs.get("__loop_name__", ())
    for value in names_:
        if isinstance(value, Literal_):
            return str(value.value)
    return None


def _target_name(target) -> str | None:
    if isinstance(target, cst.Name):
        return target.value
    if isinstance(target, cst.Tuple | cst.List) and len(target.elements) == 2:
        second = target.elements[1].value
        if isinstance(second, cst.Name):
            return second.value
    return None


def _tests_batchnorm(test: cst.BaseExpression) -> bool:
    """`isinstance(l, BatchNormalization)` (or a tuple holding it), or a class-name test."""
    if (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Name)
        and test.func.value == "isinstance"
        and len(test.args) == 2
    ):
        return _names_batchnorm(test.args[1].value)
    if isinstance(test, cst.Comparison):
        return _names_batchnorm(test) or any(
            isinstance(c.comparator, cst.SimpleString) and "BatchNorm" in c.comparator.value
            for c in test.comparisons
        )
    return False


def _names_batchnorm(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.Name | cst.Attribute):
        leaf = node.value if isinstance(node, cst.Name) else node.attr.value
        if leaf in names.BATCHNORM:
            return True
    if isinstance(node, cst.SimpleString):
        return "BatchNorm" in node.value
    return any(_names_batchnorm(child) for child in node.children)


def _not_isinstance_bn(node) -> bool:
    """`layer.trainable = not isinstance(layer, BatchNormalization)`: True for all but BN."""
    return (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Not)
        and _tests_batchnorm(node.expression)
    )


def _is_discarded_trainable_test(node: cst.Comparison) -> bool:
    return (
        isinstance(node.left, cst.Attribute)
        and node.left.attr.value == "trainable"
        and len(node.comparisons) == 1
        and isinstance(node.comparisons[0].operator, cst.Equal | cst.NotEqual | cst.Is | cst.IsNot)
    )


def _passes_training_false(call: cst.FunctionDef) -> bool:
    """Does a subclassed model's call() pass training=False to what it calls?"""
    found = False

    class Visitor(cst.CSTVisitor):
        def visit_Arg(self, node: cst.Arg) -> None:
            nonlocal found
            if (
                node.keyword is not None
                and node.keyword.value == "training"
                and _bool_literal(node.value) is False
            ):
                found = True

    call.visit(Visitor())
    return found
