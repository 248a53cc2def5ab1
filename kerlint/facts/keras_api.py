"""What Keras's own API does to the facts: constructors, model methods, optimizers, tapes.

A mixin of the builder, kept apart so the statement walk reads as an interpreter and
this file as the one place that knows Keras names (`keras.Sequential`, `fit`,
`apply_gradients`, `keras.applications.*`, callbacks, ...).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from kerlint.facts import names
from kerlint.facts.model import Class, Function, Literal_, Obj, Ref, Seq, Value
from kerlint.facts.records import (
    NOTHING,
    Env,
    Imported,
    ListValue,
    Values,
    WeightList,
    WeightMutation,
    WeightsUse,
    first,
    flatten,
    sources,
    tensor_union,
)
from kerlint.facts.syntax import (
    bool_literal,
    class_methods,
    find_method,
    passes_training_false,
    string_literal,
)

if TYPE_CHECKING:
    from kerlint.facts.builder import Builder

    _Base = Builder
else:
    _Base = object

# Builtins and helpers that never change a model's trainable state or compile it.
BENIGN_CALLS = {
    "print", "len", "isinstance", "issubclass", "repr", "str", "type", "id", "hasattr",
    "getattr", "list", "tuple", "dict", "set", "sorted", "sum", "any", "all", "enumerate",
    "zip", "range", "min", "max", "vars", "format", "int", "float", "bool", "iter", "next",
    "reversed", "map", "filter", "round", "abs", "super",
}  # fmt: skip


class KerasApi(_Base):
    def method_call(self, node, method, owners, positional, keywords, env) -> Values | None:
        """Keras model and optimizer methods; None when the call is not one of them."""
        objs = [o for o in owners if isinstance(o, Obj)]
        # Only the property itself (`m.trainable_weights.append`): a list kept in a variable is
        # the program's own copy, and extending it is how extra variables are legitimately added.
        direct = (
            isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in names.WEIGHT_LISTS
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
                    optimizer = first(
                        keywords.get("optimizer") or (positional[0] if positional else NOTHING)
                    )
                    opt = (
                        optimizer
                        if isinstance(optimizer, Obj) and optimizer.kind == "optimizer"
                        else None
                    )
                    if opt is None and isinstance(optimizer, Literal_):
                        # `optimizer="adam"`: Keras makes one, which `m.optimizer` is later.
                        opt = self.new_obj("optimizer", node, cls="compile-string", keras=False)
                    event = self.emit("compile", node, target=obj, optimizer=opt)
                    self.facts.heads.note_compile(self, event, objs, positional, keywords)
                    obj.attrs["optimizer"] = (opt,) if opt is not None else ()
                elif method in names.TRAIN_METHODS:
                    handled = True
                    event = self.emit("train", node, target=obj, method=method)
                    self.facts.heads.note_train(self, event, positional, keywords)
                elif method in names.START_METHODS:
                    handled = True
                    self.emit("start", node, target=obj, method=method)
                elif method == "get_layer":
                    handled = True
                    arg = node.args[0] if node.args else None
                    named = named_part(obj, arg)
                    if named is not None:  # the very layer made with that name
                        result.append(named)
                        continue
                    label = self.code_of(arg) if arg is not None else "?"
                    result.append(self.derive(obj, f".get_layer({label})", node=node))
                elif method == "add" and positional:
                    handled = True
                    for value in positional[0]:
                        obj.adopt(value)
                    if self.conditional:  # an `add` on some paths only: the order is lost
                        obj.layer_order = None
                    self._append_layer(obj, positional[0])
                    self.facts.heads.note_add(self, obj, positional[0])
                elif method in names.BENIGN_METHODS:
                    handled = True
                if not handled:  # `pop()`, or anything else that may change the layers
                    obj.layer_order = None
            if obj.kind == "unknown" and (obj.cls or "").startswith("keras.callbacks."):
                # Keras's own callbacks (`TensorBoard(...).set_model(disc)`, `on_epoch_end`)
                # store or log a model; none of them changes what trains.
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
            for value in flatten(values)
            if isinstance(value, WeightList)
        )
        if lists:
            self.facts.weights_uses.append(WeightsUse(node, api, lists))

    def call_ref(self, node, ref: Ref, positional, keywords, env) -> Values:
        canonical = names.canonical(ref.name)
        leaf = ref.name.rsplit(".", 1)[-1]
        noted = self.facts.heads.note_ref_call(self, node, ref, positional, keywords)
        if noted is not None:
            return noted
        if canonical is None and self.resolve is not None:
            found = self.imported(ref.name)
            if isinstance(found, Imported):
                if isinstance(found.value, Class):
                    return self.instantiate(node, found.value, positional, keywords, env)
                return self._call_function(found.value, tuple(positional), keywords, env)
            if found is not None:
                return self._call_function(found, tuple(positional), keywords, env)
        if canonical is None:
            if ref.name in ("zip", "enumerate", "reversed", "list", "tuple", "sorted", "iter"):
                flat = tuple(v for vs in positional for v in vs)
                if ref.name in ("enumerate", "zip"):
                    return (*flat, Ref(ref.name))  # how the loop target unpacks
                return flat
            if ref.name == "setattr" and len(node.args) >= 3:
                if string_literal(node.args[1]) == "trainable":
                    self.trainable_write(positional[0], node.args[2], node, env)
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
                return tensor_union(tuple(v for vs in positional for v in vs))
            self._havoc(node, positional, keywords)
            return tensor_union(tuple(v for vs in positional for v in vs))
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
            layer = self.new_obj("layer", node, cls=f"keras.layers.{leaf}", has_bn=has_bn)
            name = first(keywords.get("name", NOTHING))
            if isinstance(name, Literal_) and isinstance(name.value, str):
                layer.attrs["name"] = (name,)
            return (layer,)
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
        return tensor_union(tuple(v for vs in positional for v in vs))

    def _append_layer(self, model: Obj, item: Values) -> None:
        """One more entry of a Sequential's `layers` (an `Input` adds none): known only
        when it is one known layer or model."""
        if model.layer_order is None:
            return
        item = tuple(v for v in item if v != Literal_(None))  # `add(None)` would raise
        [value] = item if len(item) == 1 else (None,)
        if isinstance(value, Obj) and value.kind == "tensor" and not value.sources:
            return  # `keras.Input(...)`: not one of `model.layers`
        if not isinstance(value, Obj) or value.kind not in ("layer", "model"):
            model.layer_order = None
        elif value.cls != "keras.layers.InputLayer":
            model.layer_order.append(value)

    def make_model(self, node, canonical, positional, keywords) -> Obj:
        structure = "sequential" if canonical == "keras.Sequential" else "functional"
        model = self.new_obj("model", node, cls=canonical, structure=structure, has_bn=None)
        if structure == "sequential":
            layers = keywords.get("layers") or (positional[0] if positional else NOTHING)
            model.layer_order = [] if not (positional or keywords) else None
            for value in layers:
                if isinstance(value, ListValue):
                    model.layer_order = [] if len(layers) == 1 else None
                    for item in value.items:
                        for obj in item:
                            model.adopt(obj)
                        self._append_layer(model, item)
        else:
            outputs = keywords.get("outputs") or (positional[1] if len(positional) > 1 else NOTHING)
            for tensor in flatten(outputs):
                if isinstance(tensor, Obj) and tensor.kind == "tensor":
                    for source in sources(tensor):
                        model.adopt(source)
        self.facts.heads.note_model(self, model, structure, positional, keywords)
        return model

    def call_layer(self, node: ast.Call, callee: Obj, positional, keywords) -> Obj:
        training = None
        for arg in node.keywords:
            if arg.arg == "training":
                literal = bool_literal(arg.value)
                training = Literal_(literal) if literal is not None else Literal_("unknown")
        self.emit("call", node, target=callee, training=training)
        tensor = self.new_obj("tensor", node)
        tensor.sources.add(callee)
        for values in [*positional, *keywords.values()]:
            for value in flatten(values):
                if isinstance(value, Obj) and value.kind == "tensor":
                    tensor.sources |= sources(value)
        self.facts.heads.note_layer_call(tensor, callee, positional, keywords)
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
            obj = self.new_obj(kind, node, cls=klass.node.name, structure="subclassed", has_bn=None)
        else:
            obj = self.new_obj("instance", node, keras=False)
        obj.class_def = klass.node
        self._know_class(klass)
        init = self.find_method(klass.node, "__init__")
        if init is not None:
            self._call_function(Function(*init), tuple(positional), keywords, env, self_value=obj)
        call = self.find_method(klass.node, "call")
        if call is not None and obj.kind == "model":
            obj.calls_training_false = passes_training_false(call[0])
        obj.has_train_step = self.find_method(klass.node, "train_step") is not None
        return (obj,)

    def _callback_instance(self, klass: Class, env: Env, *, args, call, keywords=None) -> Obj:
        callback = self.new_obj("callback", call or klass.node, keras=False)
        callback.class_def = klass.node
        model = self.new_obj("model", klass.node, cls="callback.model", has_bn=None, trainable=None)
        callback.attrs["model"] = (model,)
        self.instantiated.add(klass.node)

        def analyse() -> None:
            init = find_method(klass.node, "__init__")
            if init is not None:
                self._call_function(
                    Function(init, klass.node),
                    args,
                    keywords or {},
                    env,
                    self_value=callback,
                    bind_unknown=call is None,
                )
            for method in class_methods(klass.node):
                if method.name.startswith("on_"):
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


def named_part(model: Obj, arg: ast.expr | None) -> Obj | None:
    """`model.get_layer("head")`: the one known layer of `model` made with `name="head"`.
    Keras looks among the model's own layers, not inside nested models; None when the name
    is not a literal, or no layer (or more than one) is known by it."""
    wanted = string_literal(arg)
    if wanted is None:
        return None
    found = [
        part
        for part in model.children
        if isinstance(name := first(part.attrs.get("name", NOTHING)), Literal_)
        and name.value == wanted
    ]
    return found[0] if len(found) == 1 else None
