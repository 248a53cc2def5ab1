"""The one walk over a module that builds its Keras facts.

It is a small abstract interpreter: names are bound to symbolic values as the
code runs, in order; a call to a function of the same file splices that
function's body in at the call site; branches keep both sides; a loop body is
walked once and replayed by the analyses. What cannot be known stays unknown,
and unknown never makes a rule fire.

Keras's own API (constructors, `compile`/`fit`, optimizers, callbacks) is taught in
`keras_api.py`; the values and records the walk produces are in `records.py`.

Across files: a name imported from another module of the project is a `Ref` to its
qualified name. `build_facts(module, resolve=...)` takes a resolver that turns such a
name into a `Function` of another parsed module, or an `Imported` function or class with
the globals of its module (`kerlint.project` supplies one); the call is spliced in exactly
like a call within the file, its body reading its own module's globals. The syntactic
records (attribute writes, weight-list uses) of another module's code are that module's
own findings and are not kept; its events are, with the call in this file that led there
(`Facts.foreign_sites`), so that a finding there can be placed.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable, Sequence

from kerlint.facts import names
from kerlint.facts.keras_api import BENIGN_CALLS, KerasApi
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
from kerlint.facts.records import (
    NOTHING,
    STAR_IMPORTS,
    AttributeWrite,
    DiscardedComparison,
    Env,
    Facts,
    ForeignSite,
    Imported,
    LayerList,
    ListValue,
    Unbound,
    Values,
    WeightList,
    WeightMutation,
    WeightNameFilter,
    bind_import,
    bind_star_import,
    bound_by_stars,
    class_base,
    flatten,
    join,
    tensor_union,
)
from kerlint.facts.syntax import (
    TRY_STATEMENTS,
    FunctionNode,
    Param,
    absolute_import,
    all_params,
    class_methods,
    dotted_name,
    find_method,
    int_literal,
    is_discarded_trainable_test,
    mentions,
    not_isinstance_bn,
    runs_repeatedly,
    small_slice,
    target_name,
    tests_batchnorm,
    truth_literal,
)
from kerlint.facts.weight_names import keras2_only_name_tests

# Turns the qualified name of a function imported from the project into its definition.
Resolver = Callable[[str], Function | Imported | None]
MAX_INLINE_DEPTH = 4
# Statements interpreted per file, and times one function is spliced in, before calls are
# treated as unknown (which only ever silences rules): large library files stay cheap.
WORK_BUDGET = 20_000
MAX_INLINES_PER_FUNCTION = 24


def build_facts(
    module: ast.Module,
    resolve: Resolver | None = None,
    package: str | None = None,
    code_of: Callable[[ast.AST], str] | None = None,
) -> Facts:
    """`package`: what the module's relative imports are relative to (None: unknown).
    `code_of`: the source text of a node (for labels in messages; else `ast.unparse`)."""
    builder = Builder(module, resolve, package, code_of)
    builder.run()
    return builder.facts


def surely_true(test: ast.expr, values: Values) -> bool:
    """A test of a name or attribute that can only hold Keras models, layers or optimizers
    (truthy objects: they define neither `__bool__` nor `__len__`)."""
    return (
        isinstance(test, ast.Name | ast.Attribute)
        and bool(values)
        and all(isinstance(v, Obj) and v.kind in ("model", "layer", "optimizer") for v in values)
    )


def is_keras(value: Value) -> bool:
    return isinstance(value, Obj) and value.keras and value.kind in ("model", "layer")


class Builder(KerasApi):
    def __init__(
        self,
        module: ast.Module,
        resolve: Resolver | None = None,
        package: str | None = None,
        code_of: Callable[[ast.AST], str] | None = None,
    ) -> None:
        self.module = module
        self._code_of = code_of
        self.resolve = resolve
        self.package = package
        # Definitions of other project modules, by id of their node; the call in this file
        # through which the walk is in another module's code, and the call being made.
        self.foreign: dict[int, Imported] = {}
        self.adopted_globals: set[int] = set()
        self.home_site: ast.AST | None = None
        self.origin: object = None  # the module whose code runs, while it is another's
        self.current_call: ast.AST | None = None
        self.class_of: dict[int, Class] = {}  # by id of the ClassDef: for inherited methods
        self.facts = Facts()
        self.seq = self.facts.main
        self.module_env: Env = {}
        self.local_depth = 0
        self.ctx: tuple[int, ...] = ()
        self.stack: list[FunctionNode] = []
        self.returns: list[list[Values]] = []
        self.allocated: dict[tuple[int, tuple[int, ...]], Obj] = {}
        self.derived: dict[tuple[int, str], Obj] = {}
        self.inlined: set[FunctionNode] = set()
        self.instantiated: set[ast.ClassDef] = set()
        self.functions: list[tuple[FunctionNode, Env]] = []
        self.classes: list[tuple[Class, Env]] = []
        self.guard: Guard | None = None
        self.loop_vars: list[Obj] = []
        # The names the enclosing loops over layers bind (a loop variable object is shared by
        # every loop over the same layers, so the names belong to the loop, not the object).
        self.loop_names: list[str] = []
        self.in_callback = False
        self.repeating: list[ast.For | ast.AsyncFor] = []  # the repeating loops around
        self.star_bindings: dict[tuple[str, Values], Values] = {}
        self.conditional = 0  # how many branches and loop bodies are around
        self.returned = False  # a `return` ran on every path of the function so far
        self.looping = 0  # how many loop bodies are around
        self.standalone = False  # analysing a function or class the file never calls
        self.work = 0
        self.splices = itertools.count(1)
        self.inline_counts: dict[int, int] = {}

    # ------------------------------------------------------------------ driving
    def run(self) -> None:
        env: Env = {}
        self.module_env = env
        self.exec_block(self.module.body, env, module_level=True)
        self.analyse_uncalled()
        origins = [found.origin for found in self.foreign.values()]
        origins += [site.origin for site in self.facts.foreign_sites.values()]
        self.facts.origins = list({id(origin): origin for origin in origins}.values())

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
        saved, saved_standalone = self.seq, self.standalone
        self.seq = Seq()
        self.standalone = True
        self.facts.entries.append(self.seq)
        try:
            work()
        finally:
            self.seq, self.standalone = saved, saved_standalone

    def _standalone_function(self, func: FunctionNode, env: Env) -> None:
        params = {p.name: (self._param_obj(p),) for p in all_params(func)}
        self._run_body(Function(func), params, env)

    def _standalone_class(self, klass: Class, env: Env) -> None:
        if klass.keras_base and klass.keras_base.startswith("keras.callbacks."):
            instance = self._callback_instance(klass, env, args=NOTHING, call=None)
            del instance
            return
        instance = self.new_obj("instance", klass.node, keras=False, cls=None)
        instance.class_def = klass.node
        init = self.find_method(klass.node, "__init__")
        methods = [m for m in class_methods(klass.node) if m.name != "__init__"]
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
                Function(*init), (), {}, env, self_value=instance, bind_unknown=True
            )
        self._call_function(
            Function(method, klass.node), (), {}, env, self_value=instance, bind_unknown=True
        )

    def _param_obj(self, param: Param) -> Obj:
        return self.new_obj("unknown", param.node, keras=False, trainable=None)

    def code_of(self, node: ast.AST) -> str:
        """The code of a node, as written where it can be (labels and selectors)."""
        if self.home_site is None:
            quote = self._code_of
        else:  # another module's code: its own text, if the node is that module's
            holds = getattr(self.origin, "holds", None)
            held = holds is not None and holds(node)
            quote = self.origin.source.segment if held else None  # type: ignore[attr-defined]
        found = quote(node) if quote is not None else None
        return found if found else ast.unparse(node)

    # ------------------------------------------------------------------ objects
    def new_obj(self, kind, node, *, keras=True, cls=None, trainable=True, **extra) -> Obj:
        key = (id(node), self.ctx, kind)
        found = self.allocated.get(key)  # type: ignore[arg-type]
        if found is not None:
            return found
        obj = Obj(
            kind=kind, node=node, cls=cls, keras=keras, initially_trainable=trainable, **extra
        )
        if self.repeating:
            obj.repeats = tuple(self.repeating)
        self.allocated[key] = obj  # type: ignore[index]
        self.facts.objects.append(obj)
        return obj

    def layer_at(
        self, owner: Obj, selector: str, index: int | None, node: ast.AST | None = None
    ) -> Obj:
        """`owner.layers[index]`: the very layer of a Sequential whose entries are all
        known, else a part of `owner` named by its selector."""
        order = owner.layer_order if selector == ".layers" else None
        if order is not None and index is not None and -len(order) <= index < len(order):
            return order[index]
        return self.derive(owner, f"{selector}[{index if index is not None else '?'}]", node=node)

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
        if self.repeating:
            event.repeats = tuple(self.repeating)
        self.seq.items.append(event)
        self.facts.events.append(event)
        return event

    # ------------------------------------------------------------------ statements
    def exec_block(self, body: Sequence[ast.stmt], env: Env, module_level: bool = False) -> Env:
        """Run statements in order. The block owns `env` and updates it in place; whoever
        needs the environment before the block (a branch, a loop) passes a copy."""
        for statement in body:
            env = self.exec_statement(statement, env)
            if module_level:
                self.module_env = env
            if self.returned:  # what follows a `return` in this block never runs
                break
        return env

    def exec_statement(self, node: ast.stmt, env: Env) -> Env:
        self.work += 1
        kind = type(node)
        if kind is ast.Expr:
            value = node.value  # type: ignore[attr-defined]
            if isinstance(value, ast.Compare) and is_discarded_trainable_test(value):
                owner = value.left.value  # type: ignore[attr-defined]
                self.facts.discarded_comparisons.append(
                    DiscardedComparison(node, self.eval(owner, env), value)
                )
            self.eval(value, env)
            return env
        if kind is ast.Assign:
            values = self.eval(node.value, env)  # type: ignore[attr-defined]
            for target in node.targets:  # type: ignore[attr-defined]
                env = self.assign(target, values, node.value, node, env)  # type: ignore[attr-defined]
            return env
        if kind is ast.If:
            return self.exec_if(node, env)  # type: ignore[arg-type]
        if kind is ast.For or kind is ast.AsyncFor:
            return self.exec_for(node, env)  # type: ignore[arg-type]
        if kind is ast.While:
            self.eval(node.test, env)  # type: ignore[attr-defined]
            return self._loop(node.body, node.orelse, env)  # type: ignore[attr-defined]
        if kind in TRY_STATEMENTS:
            return self.exec_try(node, env)
        if kind is ast.With or kind is ast.AsyncWith:
            for item in node.items:  # type: ignore[attr-defined]
                values = self.eval(item.context_expr, env)
                if item.optional_vars is not None:
                    env = self.bind(item.optional_vars, values, env)
            return self.exec_block(node.body, env)  # type: ignore[attr-defined]
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
            env[node.name] = (Function(node),)  # type: ignore[attr-defined, arg-type]
            self.functions.append((node, env))  # type: ignore[arg-type]
            return env
        if kind is ast.ClassDef:
            return self.exec_class(node, env)  # type: ignore[arg-type]
        if kind is ast.Match:
            self.eval(node.subject, env)  # type: ignore[attr-defined]
            return self._branches([case.body for case in node.cases] + [[]], env)  # type: ignore[attr-defined]
        return self.exec_simple(node, env)

    def exec_simple(self, node: ast.stmt, env: Env) -> Env:
        """The statements without a body; findings point at the statement itself."""
        statement = node
        if isinstance(node, ast.Import):
            for alias in node.names:
                dotted = bind_import(alias, env)
                if names.is_keras_family(dotted) or dotted.split(".")[0] == "tensorflow":
                    self.facts.uses_keras = True
            return env
        if isinstance(node, ast.ImportFrom):
            return self.exec_import_from(node, env)
        if isinstance(node, ast.AnnAssign):
            if node.value is None:
                return env
            values = self.eval(node.value, env)
            return self.assign(node.target, values, node.value, statement, env)
        if isinstance(node, ast.AugAssign):
            values = self.eval(node.value, env)
            op = type(node.op).__name__
            if isinstance(node.target, ast.Attribute):
                owners = self.eval(node.target.value, env)
                attr = node.target.attr
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
            if isinstance(node.target, ast.Name):
                env[node.target.id] = env.get(node.target.id, NOTHING) + values
            return env
        if isinstance(node, ast.Delete):
            for target in node.targets:
                self._exec_del(target, statement, env)
            return env
        if isinstance(node, ast.Return):
            values = self.eval(node.value, env) if node.value is not None else NOTHING
            if self.returns:
                self.returns[-1].append(values)
                self.returned = True
            self.emit("return", node)
            return env
        if isinstance(node, ast.Raise):
            if node.exc is not None:
                self.eval(node.exc, env)
            self.emit("raise", node)
            return env
        if isinstance(node, ast.Break):
            self.emit("break", node)
            return env
        if isinstance(node, ast.Continue):
            self.emit("continue", node)
            return env
        if isinstance(node, ast.Assert):
            self.eval(node.test, env)
            return env
        return env

    def _exec_del(self, target: ast.expr, statement: ast.stmt, env: Env) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._exec_del(element, statement, env)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute):
            attr = target.value.attr
            if attr in names.WEIGHT_LISTS:
                owners = self.eval(target.value.value, env)
                self.facts.weight_mutations.append(WeightMutation(statement, owners, attr, "del"))

    def exec_import_from(self, node: ast.ImportFrom, env: Env) -> Env:
        module = None if node.level or node.module is None else node.module
        if node.level and self.package is not None:
            module = absolute_import(self.package, node.level, node.module)
        if module and (names.is_keras_family(module) or module.split(".")[0] == "tensorflow"):
            self.facts.uses_keras = True
        if node.names and node.names[0].name == "*":
            # `from utils import *` of a project module: its public functions and classes;
            # of Keras (or anything else): looked up when a name is not bound otherwise.
            exported = getattr(self.resolve, "exported", None)
            if module and exported is not None:
                for name in exported(module):
                    env[name] = (Ref(f"{module}.{name}"),)
            if module:
                bind_star_import(module, env)
            return env
        for alias in node.names:
            name = alias.name
            local = alias.asname or name
            if module is None:
                env[local] = NOTHING
            else:
                full = f"{module}.{name}"
                env[local] = (Ref(full),)
                if names.is_keras_family(full):
                    self.facts.uses_keras = True
        return env

    def through_stars(self, name: str, stars: Values) -> Values:
        """A name no statement binds, read through the module's star imports (remembered:
        the same few names are asked for again and again)."""
        key = (name, stars)
        found = self.star_bindings.get(key)
        if found is None:
            project = getattr(self.resolve, "star_binding", None)
            value = bound_by_stars(name, stars, project)
            found = (value,) if value is not None and not isinstance(value, Unbound) else NOTHING
            self.star_bindings[key] = found
        return found

    def surely_false(self, test: ast.expr, values: Values, env: Env) -> bool:
        """A test of a name, or of an attribute of objects no unknown code was given, that
        holds only falsy constants (`self.disc = None`). Not inside a loop, a callback or a
        function analysed on its own: a later run may see what an earlier one set."""
        if self.in_callback or self.standalone:
            return False  # Keras runs a callback, `call` or `train_step` again and again
        if not (isinstance(test, ast.Name | ast.Attribute) and values):
            return False
        if not all(isinstance(v, Literal_) and v.value in (None, False) for v in values):
            return False
        if isinstance(test, ast.Attribute):
            owners = self.eval(test.value, env)
            return bool(owners) and all(isinstance(o, Obj) and not o.escaped for o in owners)
        return True

    def exec_if(self, node: ast.If, env: Env) -> Env:
        tested = self.eval(node.test, env)
        then_guard, else_guard = self._guards_for(node.test)
        if then_guard is None and surely_true(node.test, tested):
            # `if self.disc: return self.disc` once it holds a model: only that arm runs.
            return self.exec_block(node.body, env)
        if then_guard is None and not self.looping and self.surely_false(node.test, tested, env):
            # The same test before `self.disc` was set (`None` in `__init__`).
            return self.exec_block(node.orelse, env)
        saved_guard = self.guard
        then_seq, else_seq = Seq(), Seq()
        self.guard = narrow(saved_guard, then_guard)
        then_env = self._in_seq(then_seq, lambda: self.exec_block(node.body, dict(env)))
        self.guard = narrow(saved_guard, else_guard)
        if not node.orelse:
            else_env = env
        else:
            else_env = self._in_seq(else_seq, lambda: self.exec_block(node.orelse, env))
        self.guard = saved_guard
        if then_guard is not None:
            # A test on the loop variable splits the layers, not the paths: both arms run.
            self.seq.items.extend([then_seq, else_seq])
            if not node.orelse and skips_iteration(node.body):
                # `if isinstance(layer, BN): continue`: the rest of the body sees the others.
                self.guard = narrow(saved_guard, else_guard)
        else:
            self.seq.items.append(Branch([then_seq, else_seq]))
        return join(then_env, else_env)

    def _guards_for(self, test: ast.expr) -> tuple[Guard | None, Guard | None]:
        """Inside a loop over layers: does this test pick BatchNormalization layers?"""
        if not self.loop_vars:
            return None, None
        if not mentions(test, set(self.loop_names)):
            return None, None
        return bn_guards(test)

    def exec_for(self, node: ast.For | ast.AsyncFor, env: Env) -> Env:
        iterable = self.eval(node.iter, env)
        self._weight_name_filters(iterable, node.target, node.body)
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
        name = target_name(node.target) if pushed else None
        self.loop_vars.extend(pushed)
        if name is not None:
            self.loop_names.append(name)
        saved_guard = self.guard
        if pushed:
            self.guard = None
        repeating = runs_repeatedly(node)
        if repeating:
            self.repeating.append(node)
        try:
            return self._loop(node.body, node.orelse, env, at_least_once=bool(pushed))
        finally:
            if repeating:
                self.repeating.pop()
            self.guard = saved_guard
            del self.loop_vars[len(self.loop_vars) - len(pushed) :]
            if name is not None:
                self.loop_names.pop()

    def _bind_loop_target(self, target, loop_values: Values, iterable: Values, env: Env) -> Env:
        """`for layer in ...`, `for i, layer in enumerate(...)`, `for a, b in zip(x, y)`."""
        if not (isinstance(target, ast.Tuple | ast.List) and target.elts):
            return self.bind(target, loop_values, env)
        elements = [e.value if isinstance(e, ast.Starred) else e for e in target.elts]
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
        self.looping += 1
        try:
            body_env = self._in_seq(loop.body, lambda: self.exec_block(body, dict(env)))
        finally:
            self.looping -= 1
        joined = join(env, body_env)
        if orelse:
            joined = self._in_seq(loop.orelse, lambda: self.exec_block(orelse, joined))
        self.seq.items.append(loop)
        return joined

    def exec_try(self, node, env: Env) -> Env:
        body_seq = Seq()
        body_env = self._in_seq(body_seq, lambda: self.exec_block(node.body, dict(env)))
        alternatives = [Seq()]
        envs = [body_env]
        if node.orelse:
            envs[0] = self._in_seq(
                alternatives[0], lambda: self.exec_block(node.orelse, dict(body_env))
            )
        for handler in node.handlers:
            seq = Seq()
            start = join(env, body_env)
            if handler.name is not None:
                start = dict(start)
                start[handler.name] = NOTHING
            envs.append(self._in_seq(seq, lambda h=handler, s=start: self.exec_block(h.body, s)))
            alternatives.append(seq)
        self.seq.items.append(body_seq)
        self.seq.items.append(Branch(alternatives))
        result = envs[0]
        for other in envs[1:]:
            result = join(result, other)
        if node.finalbody:
            result = self.exec_block(node.finalbody, result)
        return result

    def _branches(self, bodies, env: Env) -> Env:
        seqs, envs = [], []
        for body in bodies:
            seq = Seq()
            envs.append(self._in_seq(seq, lambda b=body: self.exec_block(b, dict(env))))
            seqs.append(seq)
        self.seq.items.append(Branch(seqs))
        result = envs[0]
        for other in envs[1:]:
            result = join(result, other)
        return result

    def _in_seq(self, seq: Seq, work):
        """Run a branch, a loop body or a handler: code that runs on some paths only."""
        saved = self.seq
        self.seq = seq
        self.conditional += 1
        try:
            return work()
        finally:
            self.seq = saved
            self.conditional -= 1
            self.returned = False  # a `return` on some paths: the others go on

    def exec_class(self, node: ast.ClassDef, env: Env) -> Env:
        bases: list[str] = []
        parents: list[Class] = []
        for base_node in node.bases:
            for value in self.eval(base_node, env):
                if isinstance(value, Ref):
                    canonical = names.canonical(value.name)
                    if canonical:
                        bases.append(class_base(canonical))
                    elif names.is_keras_family(value.name):
                        bases.append("keras.Model")
                    else:
                        base = self.imported_class(value.name)
                        if base is not None:
                            parents.append(base)
                            if base.keras_base:
                                bases.append(base.keras_base)
                elif isinstance(value, Class):
                    parents.append(value)
                    if value.keras_base:
                        bases.append(value.keras_base)
        klass = Class(node, tuple(bases), tuple(parents))
        self._know_class(klass)
        env[node.name] = (klass,)
        self.classes.append((klass, env))
        return env

    # ------------------------------------------------------------------ assignment
    def assign(self, target, values: Values, value_node, statement, env: Env) -> Env:
        if isinstance(target, ast.Name):
            env[target.id] = values
            for value in values:
                if isinstance(value, Obj) and value.label is None:
                    value.label = target.id
            return env
        if isinstance(target, ast.Attribute):
            owners = self.eval(target.value, env)
            attr = target.attr
            self.facts.attribute_writes.append(
                AttributeWrite(statement, target, attr, owners, value_node, "=", self.in_callback)
            )
            if attr == "trainable":
                self.trainable_write(owners, value_node, statement, env)
            elif attr in names.WEIGHT_LISTS:
                self.facts.weight_mutations.append(WeightMutation(statement, owners, attr, "="))
            for value in values:
                if isinstance(value, Obj) and value.label is None:
                    value.label = self.code_of(target)
            for owner in owners:
                if isinstance(owner, Obj):
                    owner.attrs[attr] = values
                    if owner.kind == "model" and owner.structure == "subclassed":
                        for value in values:
                            owner.adopt(value)
            return env
        if isinstance(target, ast.Tuple | ast.List):
            items = self.unpack(target.elts, values)
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Starred):
                    element = element.value
                env = self.assign(element, items[index] if items else NOTHING, None, statement, env)
            return env
        if isinstance(target, ast.Subscript):
            self.eval(target.value, env)
        return env

    def unpack(self, elements: Sequence[ast.expr], values: Values) -> list[Values] | None:
        """What each target of `a, b = ...` / `first, *rest, last = ...` gets: the items of
        a literal or returned tuple, or the layers of `m.layers`; None when unknown."""
        count = len(elements)
        stars = [i for i, e in enumerate(elements) if isinstance(e, ast.Starred)]
        if len(stars) > 1:
            return None
        star = stars[0] if stars else None
        after = count - star - 1 if star is not None else 0
        candidates = [v for v in values if isinstance(v, ListValue | LayerList)]
        if len(candidates) != 1:
            return None
        value = candidates[0]
        if isinstance(value, ListValue):
            items = value.items
            if (star is None and len(items) != count) or len(items) < count - (star is not None):
                return None
            if star is None:
                return list(items)
            rest = items[star : len(items) - after]
            middle: Values = (ListValue(rest),)
            return [*items[:star], middle, *items[len(items) - after :]]
        owner, selector = value.owner, value.selector
        if star is None:
            return [(self.layer_at(owner, selector, i),) for i in range(count)]
        head = [(self.layer_at(owner, selector, i),) for i in range(star)]
        tail = [(self.layer_at(owner, selector, i - after),) for i in range(after)]
        bounds = f"{star or ''}:{-after if after else ''}"
        middle = (LayerList(owner, f"{selector}[{bounds}]", True, False),)
        return [*head, middle, *tail]

    def bind(self, target, values: Values, env: Env) -> Env:
        if isinstance(target, ast.Name):
            env[target.id] = values
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                env = self.bind(element, NOTHING, env)
        elif isinstance(target, ast.Starred):
            env = self.bind(target.value, NOTHING, env)
        return env

    def trainable_write(self, owners: Values, value_node, statement, env: Env) -> None:
        literal = truth_literal(value_node)
        if literal is None and isinstance(value_node, ast.Name):
            # `m.trainable = value` in `set_trainable(m, value)`: what this call passed.
            bound = env.get(value_node.id, NOTHING)
            if (
                len(bound) == 1
                and isinstance(bound[0], Literal_)
                and isinstance(bound[0].value, bool)
            ):
                literal = bound[0].value
        bn_split = not_isinstance_bn(value_node)
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
    def eval(self, node: ast.expr | None, env: Env) -> Values:
        if node is None:
            return NOTHING
        kind = type(node)
        if kind is ast.Name:
            name = node.id  # type: ignore[attr-defined]
            found = env.get(name)
            if found is None and self.stack:
                found = self.module_env.get(name)
            if found is None and name in BENIGN_CALLS:
                return (Ref(name),)
            if found is None:
                stars = env.get(STAR_IMPORTS) or self.module_env.get(STAR_IMPORTS)
                if stars:
                    return self.through_stars(name, stars)
            return found or NOTHING
        if kind is ast.Attribute:
            return self.attribute_of(self.eval(node.value, env), node)  # type: ignore[attr-defined, arg-type]
        if kind is ast.Call:
            return self.eval_call(node, env)  # type: ignore[arg-type]
        if kind is ast.Constant:
            return (Literal_(node.value),)  # type: ignore[attr-defined]
        if kind is ast.Subscript:
            return self.eval_subscript(node, env)  # type: ignore[arg-type]
        if kind is ast.List or kind is ast.Tuple:
            items = tuple(self.eval(e, env) for e in node.elts)  # type: ignore[attr-defined]
            return (ListValue(items),)
        if kind is ast.BinOp:
            return tensor_union(self.eval(node.left, env) + self.eval(node.right, env))  # type: ignore[attr-defined]
        if kind is ast.UnaryOp:
            return tensor_union(self.eval(node.operand, env))  # type: ignore[attr-defined]
        if kind is ast.IfExp:
            self.eval(node.test, env)  # type: ignore[attr-defined]
            return self.eval(node.body, env) + self.eval(node.orelse, env)  # type: ignore[attr-defined]
        if kind is ast.Compare:
            self.eval(node.left, env)  # type: ignore[attr-defined]
            for comparator in node.comparators:  # type: ignore[attr-defined]
                self.eval(comparator, env)
            return NOTHING
        if kind is ast.BoolOp:
            return tuple(v for operand in node.values for v in self.eval(operand, env))  # type: ignore[attr-defined]
        if kind is ast.NamedExpr or kind is ast.Await or kind is ast.Starred:
            return self.eval(node.value, env)  # type: ignore[attr-defined]
        if kind is ast.Dict:
            for key, value in zip(node.keys, node.values, strict=True):  # type: ignore[attr-defined]
                if key is not None:  # `**spread` is not evaluated
                    self.eval(value, env)
            return NOTHING
        if kind is ast.ListComp or kind is ast.GeneratorExp or kind is ast.SetComp:
            clause = node.generators[0]  # type: ignore[attr-defined]
            if dotted_name(clause.iter) is not None:  # a plain `m.weights`: no side effects
                self._weight_name_filters(self.eval(clause.iter, env), clause.target, node)
            return NOTHING
        return NOTHING

    def _weight_name_filters(
        self, iterable: Values, target, scope: ast.AST | list[ast.stmt]
    ) -> None:
        """Record `w.name` tests that only Keras 2 names pass, where `w` runs over weights."""
        if not isinstance(target, ast.Name):
            return
        for value in iterable:
            if isinstance(value, WeightList):
                for test, literal in keras2_only_name_tests(scope, target.id):
                    self.facts.weight_name_filters.append(WeightNameFilter(test, literal, value))
                return

    def attribute_of(self, bases: Values, node: ast.Attribute) -> Values:
        attr = node.attr
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
                elif attr == "optimizer" and base.kind == "model" and base.keras:
                    # Never compiled here (`self.optimizer` in a train_step): some optimizer.
                    result.append(self.new_obj("optimizer", node, keras=False))
                elif base.class_def is not None:
                    method = self.find_method(base.class_def, attr)
                    if method is not None:
                        result.append(BoundMethod(Function(*method), base))
            elif isinstance(base, Class):
                method = self.find_method(base.node, attr)
                if method is not None:
                    result.append(Function(*method))
        return tuple(result)

    def eval_subscript(self, node: ast.Subscript, env: Env) -> Values:
        bases = self.eval(node.value, env)
        result: list[Value] = []
        element = node.slice
        for base in bases:
            if isinstance(base, LayerList):
                if isinstance(element, ast.Slice):
                    lower, upper = int_literal(element.lower), int_literal(element.upper)
                    text = self.code_of(element)
                    small = small_slice(lower, upper, element)
                    result.append(LayerList(base.owner, f"{base.selector}[{text}]", True, small))
                elif not isinstance(element, ast.Tuple):
                    index = int_literal(element)
                    result.append(self.layer_at(base.owner, base.selector, index, node))
            elif isinstance(base, ListValue) and not isinstance(element, ast.Slice | ast.Tuple):
                index = int_literal(element)
                if index is not None and -len(base.items) <= index < len(base.items):
                    result.extend(base.items[index])
            elif isinstance(base, Obj) and base.kind == "tensor":
                result.extend(tensor_union((base,)))  # a slice is a new tensor
        for part in element.elts if isinstance(element, ast.Tuple) else (element,):
            if not isinstance(part, ast.Slice):
                self.eval(part, env)
        return tuple(result)

    # ------------------------------------------------------------------ calls
    def eval_call(self, node: ast.Call, env: Env) -> Values:
        owners: Values = NOTHING
        func = node.func
        is_method = type(func) is ast.Attribute
        if is_method:
            owners = self.eval(func.value, env)  # type: ignore[attr-defined]
            callees = self.attribute_of(owners, func)  # type: ignore[arg-type]
        else:
            callees = self.eval(func, env)
        positional: list[Values] = []
        keywords: dict[str, Values] = {}
        for arg in node.args:
            if type(arg) is ast.Starred:
                self.eval(arg.value, env)  # type: ignore[attr-defined]
            else:
                positional.append(self.eval(arg, env))
        for given in node.keywords:
            values = self.eval(given.value, env)
            if given.arg is not None:
                keywords[given.arg] = values
        self.current_call = node
        if is_method:
            method = func.attr  # type: ignore[attr-defined]
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
            tensors = tensor_union(tuple(v for vs in positional for v in vs))
            return tensors
        return tuple(result)

    def _havoc(self, node: ast.Call, positional: list[Values], keywords: dict[str, Values]) -> None:
        """An unknown callee may freeze or compile what it is given: forget what we knew."""
        for values in [*positional, *keywords.values()]:
            for value in flatten(values):
                if isinstance(value, Obj) and value.kind in (
                    "model",
                    "layer",
                    "unknown",
                    "instance",
                ):
                    self.emit("havoc", node, target=value)
                    value.layer_order = None
                    value.escaped = True

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
        params = all_params(node)
        local: Env = {}
        args = list(positional)
        if self_value is not None and params and (function.owner is not None):
            local[params[0].name] = (self_value,)
            params = params[1:]
        for param in params:
            name = param.name
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
            for value in flatten(values):
                if isinstance(value, Obj) and value.kind in ("model", "layer"):
                    self.emit("havoc", node, target=value)
                    value.layer_order = None
                    value.escaped = True

    # ------------------------------------------------------------------ other modules
    def imported(self, qualified: str) -> Imported | Function | None:
        """The project definition a name imported from another module stands for, if any."""
        if self.resolve is None:
            return None
        found = self.resolve(qualified)
        if isinstance(found, Imported):
            self.foreign[id(found.value.node)] = found
            self._adopt_globals(found)
        return found

    def _know_class(self, klass: Class) -> None:
        """Remember a class and its project bases, to find the methods it inherits."""
        todo = [klass]
        while todo:
            current = todo.pop()
            if id(current.node) in self.class_of:
                continue
            self.class_of[id(current.node)] = current
            todo.extend(current.parents)

    def imported_class(self, qualified: str) -> Class | None:
        found = self.imported(qualified)
        if isinstance(found, Imported) and isinstance(found.value, Class):
            return found.value
        return None

    def _adopt_globals(self, imported: Imported) -> None:
        """Every function and class of that module belongs to it (its helpers, its methods)."""
        if id(imported.globals) in self.adopted_globals:
            return
        self.adopted_globals.add(id(imported.globals))
        for values in imported.globals.values():
            for value in values:
                if isinstance(value, Function | Class) and id(value.node) not in self.foreign:
                    self.foreign[id(value.node)] = Imported(
                        value, imported.globals, imported.origin
                    )
                if isinstance(value, Class):
                    self._know_class(value)

    def find_method(
        self, klass: ast.ClassDef, name: str
    ) -> tuple[FunctionNode, ast.ClassDef] | None:
        """The method `name` of a class, its own or inherited from a project base class (of
        this file or another module), with the class that defines it."""
        todo, seen = [klass], set()
        while todo and len(seen) < 16:
            current = todo.pop(0)
            if id(current) in seen:
                continue
            seen.add(id(current))
            method = find_method(current, name)
            if method is not None:
                return method, current
            known = self.class_of.get(id(current))
            if known is not None:
                todo.extend(parent.node for parent in known.parents)
        return None

    def _foreign_of(self, function: Function) -> Imported | None:
        found = self.foreign.get(id(function.node))
        if found is None and function.owner is not None:
            found = self.foreign.get(id(function.owner))
        if found is None and function.owner is not None:
            # A method inherited from a class of a module this file never named.
            definition_of = getattr(self.resolve, "definition_of", None)
            if definition_of is not None:
                found = definition_of(function.owner)
                if found is not None:
                    self.foreign[id(function.owner)] = found
        return found

    def _run_body(self, function: Function, local: Env, env: Env) -> Values:
        imported = self._foreign_of(function) if self.foreign or self.class_of else None
        if imported is None:
            return self._run_body_here(function, local, env)
        saved_globals, saved_site, saved_origin = self.module_env, self.home_site, self.origin
        crossing = saved_site is None
        if crossing:
            self.home_site = self.current_call or function.node
            marks = self._record_lengths()
        if self.home_site is not None and id(function.node) not in self.facts.foreign_sites:
            self.facts.foreign_sites[id(function.node)] = ForeignSite(
                function.node, self.home_site, imported.origin
            )
        self.module_env, self.origin = imported.globals, imported.origin
        try:
            return self._run_body_here(function, local, env)
        finally:
            self.module_env, self.home_site, self.origin = saved_globals, saved_site, saved_origin
            if crossing:
                self._truncate_records(marks)

    def _record_lengths(self) -> tuple[int, ...]:
        facts = self.facts
        return (
            len(facts.attribute_writes),
            len(facts.weight_mutations),
            len(facts.discarded_comparisons),
            len(facts.weights_uses),
        )

    def _truncate_records(self, marks: tuple[int, ...]) -> None:
        """Another module's syntactic findings are its own: found when it is checked."""
        facts = self.facts
        del facts.attribute_writes[marks[0] :]
        del facts.weight_mutations[marks[1] :]
        del facts.discarded_comparisons[marks[2] :]
        del facts.weights_uses[marks[3] :]

    def _run_body_here(self, function: Function, local: Env, env: Env) -> Values:
        node = function.node
        frame = Frame(Seq())
        self.seq.items.append(frame)
        saved_seq, saved_ctx = self.seq, self.ctx
        saved_loops = self.loop_vars, self.loop_names, self.guard
        self.seq = frame.body
        self.ctx = (*self.ctx, next(self.splices))  # each splice makes its own objects
        self.loop_vars, self.loop_names, self.guard = [], [], None
        self.stack.append(node)
        self.returns.append([])
        closure = dict(self.module_env)
        if self.stack[:-1]:
            closure.update({k: v for k, v in env.items() if k not in closure})
        closure.update(local)
        try:
            self.exec_block(node.body, closure)
        finally:
            self.returned = False
            returned = self.returns.pop()
            self.stack.pop()
            self.seq, self.ctx = saved_seq, saved_ctx
            self.loop_vars, self.loop_names, self.guard = saved_loops
        return tuple(v for values in returned for v in values)


def bn_guards(test: ast.expr) -> tuple[Guard, Guard]:
    """Which layers each arm of `if test:` sees, in a loop over layers: the BatchNormalization
    ones, the others, or some of either. A BN exclusion holds wherever it stands in the test:
    `flag and not isinstance(layer, BN)` excludes BN in its body, `isinstance(layer, BN) or
    flag` in its else."""
    negated = False
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        negated = not negated
        test = test.operand
    if isinstance(test, ast.BoolOp):
        parts = [bn_guards(value) for value in test.values]
        if isinstance(test.op, ast.And):
            # All hold in the body: any side's restriction does; the else is mixed.
            then = next((g for g, _ in parts if g != "other"), "other")
            guards: tuple[Guard, Guard] = (then, "other")
        else:
            # None holds in the else: any side's negation does; the body is mixed.
            orelse = next((g for _, g in parts if g != "other"), "other")
            guards = ("other", orelse)
        return (guards[1], guards[0]) if negated else guards
    if tests_batchnorm(test):
        return ("bn-excluded", "bn-only") if negated else ("bn-only", "bn-excluded")
    return "other", "other"


def narrow(outer: Guard | None, inner: Guard | None) -> Guard | None:
    """A test inside an arm that already picks (or excludes) BN layers keeps that choice."""
    if inner is None:
        return outer
    if inner == "other" and outer in ("bn-excluded", "bn-only"):
        return outer
    return inner


def skips_iteration(body: Sequence[ast.stmt]) -> bool:
    """Does this block end the loop's iteration (`continue`, or `pass` then `continue`)?"""
    return bool(body) and isinstance(body[-1], ast.Continue)
