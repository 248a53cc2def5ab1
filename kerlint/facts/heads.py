"""Model heads, losses and metrics: the facts the model-definition rules (KL1xx) read.

The builder tells `HeadFacts` what it sees with a few one-line hooks: the arguments of
every Keras constructor it evaluates, the layers of each `Sequential` (list or `.add`
chain), which layer made each tensor, the `outputs` of `keras.Model(...)`, each
`compile` and each `fit`. From these, on demand, `head_of(model)` walks back from the
model's single output through activation layers and functions to the layer that makes
the units (a Dense, a Conv, a nested model, a `keras.applications` classifier), and
`compiles()` pairs each compile with its head, its loss and its metrics.

Anything that cannot be resolved (a non-literal value, a branch, a multi-output model, a
custom layer or loss, an op kerlint does not know) is None: unknown, and unknown is silent.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kerlint.facts import names
from kerlint.facts.model import Event, Literal_, Obj, Ref, Value
from kerlint.facts.records import ListValue
from kerlint.facts.syntax import has_star, keyword

if TYPE_CHECKING:
    from kerlint.facts.builder import Builder

Values = tuple[Value, ...]

# Activations whose output is not a probability: crossentropy without logits is wrong on them.
NON_PROBABILITY = {
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "swish", "silu", "tanh",
    "softplus", "softsign", "exponential",
}  # fmt: skip
PROBABILITY = {"softmax", "sigmoid"}
KNOWN_ACTIVATIONS = NON_PROBABILITY | PROBABILITY | {"log_softmax", "hard_sigmoid", "mish"}
# Layers that apply an activation and keep their input's units.
ACTIVATION_LAYERS = {
    "Activation": None, "Softmax": "softmax", "ReLU": "relu", "LeakyReLU": "leaky_relu",
    "ELU": "elu",
}  # fmt: skip
# Layers whose units are their first argument and whose default activation is linear.
UNIT_LAYERS = {
    "Dense": "units", "Conv1D": "filters", "Conv2D": "filters", "Conv3D": "filters",
    "Conv1DTranspose": "filters", "Conv2DTranspose": "filters", "Conv3DTranspose": "filters",
    "Convolution1D": "filters", "Convolution2D": "filters", "Convolution3D": "filters",
    "SeparableConv1D": "filters", "SeparableConv2D": "filters",
}  # fmt: skip
# Layers that neither compute nor change values at inference: a linear chain may hold them.
PASS_THROUGH_LAYERS = {"InputLayer", "Dropout", "Flatten"}
# Loss names (functions, classes, Keras's string aliases) -> (family, focal).
LOSS_KINDS = {
    "categorical_crossentropy": ("categorical", False),
    "CategoricalCrossentropy": ("categorical", False),
    "categorical_focal_crossentropy": ("categorical", True),
    "CategoricalFocalCrossentropy": ("categorical", True),
    "sparse_categorical_crossentropy": ("sparse", False),
    "SparseCategoricalCrossentropy": ("sparse", False),
    "binary_crossentropy": ("binary", False),
    "BinaryCrossentropy": ("binary", False),
    "bce": ("binary", False),
    "BCE": ("binary", False),
    "binary_focal_crossentropy": ("binary", True),
    "BinaryFocalCrossentropy": ("binary", True),
}
OTHER_LOSSES = {
    "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "mean_squared_error",
    "MeanSquaredError", "mean_absolute_error", "MeanAbsoluteError", "huber", "Huber",
    "hinge", "Hinge", "squared_hinge", "SquaredHinge", "categorical_hinge", "CategoricalHinge",
    "kld", "KLD", "kl_divergence", "KLDivergence", "poisson", "Poisson", "log_cosh", "LogCosh",
    "cosine_similarity", "CosineSimilarity", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
}  # fmt: skip
# Function modules whose `softmax`, `sigmoid`, ... are activations applied to a tensor.
KERAS_ACTIVATION_MODULES = ("keras.activations.", "keras.ops.", "keras.ops.nn.", "keras.backend.")
TENSORFLOW_ACTIVATION_MODULES = ("tensorflow.nn.", "tensorflow.math.", "tensorflow.")


@dataclass(frozen=True)
class Activation:
    """One activation applied at the head, where the code spells it."""

    name: str | None  # "softmax", "sigmoid", "linear", "relu", ...; None: not known
    node: ast.AST = field(
        repr=False
    )  # the `activation=` value, the Activation layer or the function call
    how: str = "argument"  # "argument" (activation=), "layer", "function", "application"


@dataclass(frozen=True)
class Head:
    """What produces a model's single output: the units and the activations after them."""

    units: int | None
    layer: ast.AST = field(repr=False)  # the Dense / Conv / application call with the units
    activations: tuple[Activation, ...] = ()
    application: str | None = None  # keras.applications class, when the head is its top

    @property
    def activation(self) -> str | None:
        """The activation of the output: "linear" when none is applied, None when unknown."""
        return self.activations[-1].name if self.activations else "linear"


@dataclass(frozen=True)
class LossSpec:
    kind: str | None  # "categorical", "sparse", "binary", "other"; None: not known
    focal: bool
    from_logits: bool | None  # None: not a literal
    node: ast.AST | None  # the `loss=` value in the compile call
    logits_arg: ast.keyword | None = None  # the `from_logits=` argument, when there is one
    call: ast.Call | None = None  # the constructor call of a loss object
    spelled: str = "string"  # "string", "function", "class"

    @property
    def crossentropy(self) -> bool:
        return self.kind in ("categorical", "sparse", "binary")


@dataclass(frozen=True)
class MetricSpec:
    name: str  # "accuracy", "BinaryAccuracy", "AUC", ... (strings as written)
    node: ast.AST | None  # the element of the metrics list, when the list is literal
    call: ast.Call | None = None  # the constructor call, for metric objects


@dataclass
class CompileFacts:
    event: Event
    model: Obj
    head: Head | None
    loss: LossSpec | None
    metrics: tuple[MetricSpec, ...] | None  # None: not known (a dict, a variable, ...)
    trained: Event | None  # the first training call of this compile, None when never


@dataclass
class _Slot:
    values: Values
    straight: bool  # added in the same straight-line block that made the model


@dataclass
class _Producer:
    layer: Obj | None
    function: str | None  # an activation function, when no layer made the tensor
    node: ast.AST
    inputs: Values
    axis_ok: bool = True


@dataclass
class _Compile:
    event: Event
    model: Obj
    ambiguous: bool
    positional: list[Values]
    keywords: dict[str, Values]
    slots: int


@dataclass
class _Train:
    event: Event
    positional: list[Values]
    keywords: dict[str, Values]
    index: int


@dataclass
class HeadFacts:
    """Recorded by the builder's hooks; read through `compiles()` and `head_of()`."""

    # Keras constructor arguments by (node id, splice context).
    args: dict[tuple[int, tuple[int, ...]], tuple[list[Values], dict[str, Values]]] = field(
        default_factory=dict
    )
    slots: dict[Obj, list[_Slot]] = field(default_factory=dict)
    made_in: dict[Obj, int] = field(default_factory=dict)
    outputs: dict[Obj, Values] = field(default_factory=dict)
    producers: dict[Obj, _Producer] = field(default_factory=dict)
    compile_records: list[_Compile] = field(default_factory=list)
    trains: list[_Train] = field(default_factory=list)
    # `preprocess_input` calls, and references passed to a call (`preprocessing_function=`):
    # the node to report and the keras.applications module the function belongs to.
    preprocess_calls: list[tuple[ast.AST, str]] = field(default_factory=list)
    ordered: dict[Obj, str] = field(default_factory=dict)  # arrays built in order: how
    shuffled: dict[Obj, int] = field(default_factory=dict)  # arrays shuffled: event index
    _allocated: dict | None = None
    _events: list[Event] | None = None
    _contexts: dict[int, tuple[int, ...]] | None = None
    _heads: dict[tuple[int, int], Head | None] = field(default_factory=dict)

    # ---------------------------------------------------------------- hooks (builder)
    def note_ref_call(self, builder: Builder, node: ast.Call, ref: Ref, positional, keywords):
        """Every call of a name: keep Keras constructors' arguments; an activation function
        applied to a tensor makes a tensor of its own (returned, so the builder uses it)."""
        self._allocated = builder.allocated
        self._events = builder.facts.events
        canonical = names.canonical(ref.name)
        if canonical is not None:
            leaf = canonical.rsplit(".", 1)[-1]
            if leaf[:1].isupper():
                self.args[(id(node), builder.ctx)] = (list(positional), dict(keywords))
        if ref.name.endswith(".preprocess_input"):
            module = _application_module(ref.name)
            if module is not None:
                self.preprocess_calls.append((node, module))
        self._preprocess_passed(node, positional, keywords)
        if ref.name.startswith("numpy."):
            return self._numpy_call(builder, node, ref.name, positional, keywords)
        if ref.name in SHUFFLES:
            self._shuffle(builder, positional)
            return None
        activation = activation_function(ref.name, canonical)
        if activation is None or len(positional) != 1:
            return None
        tensors = [v for v in positional[0] if isinstance(v, Obj) and v.kind == "tensor"]
        if len(tensors) != 1 or len(positional[0]) != 1:
            return None
        axis = keywords.get("axis")
        axis_ok = axis is None or _literal(axis) == -1
        tensor = builder.new_obj("tensor", node)
        tensor.sources |= tensors[0].sources
        self.producers[tensor] = _Producer(None, activation, node, (tensors[0],), axis_ok)
        return (tensor,)

    def note_model(self, builder: Builder, model: Obj, structure: str, positional, keywords):
        self._allocated = builder.allocated
        self.made_in[model] = id(builder.seq)
        if structure == "sequential":
            layers = _argument(positional, keywords, "layers", 0) or ()
            slots: list[_Slot] = []
            literal = isinstance(_call_arg(model.node, "layers", 0), ast.List | ast.Tuple)
            if literal and len(layers) == 1 and isinstance(layers[0], ListValue):
                # Only a list written in the call: a list kept in a variable may have grown
                # (`.append`) in ways the values do not show.
                slots = [_Slot(item, True) for item in layers[0].items]
            elif layers:
                slots = [_Slot((), False)]
            self.slots[model] = slots
        else:
            self.outputs[model] = _argument(positional, keywords, "outputs", 1) or ()

    def note_add(self, builder: Builder, model: Obj, values: Values) -> None:
        if model in self.slots:
            straight = self.made_in.get(model) == id(builder.seq)
            self.slots[model].append(_Slot(values, straight))

    def note_layer_call(self, tensor: Obj, layer: Obj, positional, keywords) -> None:
        inputs = tuple(
            value
            for values in [*positional, *keywords.values()]
            for value in values
            if isinstance(value, Obj) and value.kind == "tensor"
        )
        self.producers[tensor] = _Producer(layer, None, tensor.node, inputs)  # type: ignore[arg-type]

    def note_compile(self, builder: Builder, event: Event, objs, positional, keywords) -> None:
        self._events = builder.facts.events
        model = event.target
        slots = len(self.slots.get(model, ())) if model is not None else 0
        self.compile_records.append(
            _Compile(event, model, len(objs) > 1, list(positional), dict(keywords), slots)  # type: ignore[arg-type]
        )

    def note_train(self, builder: Builder, event: Event, positional, keywords) -> None:
        self._events = builder.facts.events
        self.trains.append(
            _Train(event, list(positional), dict(keywords), len(builder.facts.events) - 1)
        )

    def _preprocess_passed(self, node: ast.Call, positional, keywords) -> None:
        """`ImageDataGenerator(preprocessing_function=resnet50.preprocess_input)`."""
        plain = [a for a in node.args if not isinstance(a, ast.Starred)]
        for index, arg in enumerate(plain):
            self._preprocess_reference(arg, positional[index] if index < len(positional) else ())
        for given in node.keywords:
            if given.arg is not None:
                self._preprocess_reference(given.value, keywords.get(given.arg, ()))

    def _preprocess_reference(self, expression: ast.expr, values: Values) -> None:
        if len(values) == 1 and isinstance(values[0], Ref):
            name = values[0].name
            module = _application_module(name) if name.endswith(".preprocess_input") else None
            if module is not None:
                self.preprocess_calls.append((expression, module))

    # ---------------------------------------------------------------- arrays (KL110)
    def _numpy_call(self, builder: Builder, node: ast.Call, name: str, positional, keywords):
        leaf = name.rsplit(".", 1)[-1]
        if name in SHUFFLES:
            self._shuffle(builder, positional)
            return None
        if leaf not in ORDERING_FUNCTIONS or name.count(".") != 1:
            return None
        axis = _argument(positional, keywords, "axis", 1 if leaf == "concatenate" else 2)
        if leaf in ("concatenate", "append") and axis is not None and _literal(axis) != 0:
            return None  # columns side by side (or flattened 2-D): the rows keep their order
        array = builder.new_obj("instance", node, keras=False, cls=f"numpy.{leaf}")
        self.ordered[array] = leaf
        return (array,)

    def _shuffle(self, builder: Builder, positional) -> None:
        for values in positional:
            for value in values:
                if isinstance(value, Obj) and value in self.ordered:
                    self.shuffled.setdefault(value, len(builder.facts.events))

    # ---------------------------------------------------------------- reading
    def call_args(self, obj: Obj) -> tuple[list[Values], dict[str, Values]] | None:
        """The evaluated arguments of the Keras constructor call that made `obj`."""
        if obj.node is None or self._allocated is None:
            return None
        if self._contexts is None:
            self._contexts = {
                found.id: key[1] for key, found in self._allocated.items() if found.node is not None
            }
        ctx = self._contexts.get(obj.id)
        if ctx is None:
            return None
        return self.args.get((id(obj.node), ctx))

    def head_of(self, model: Obj, slots: int | None = None, depth: int = 0) -> Head | None:
        """The head of `model` (of its first `slots` layers for a Sequential), or None."""
        key = (model.id, -1 if slots is None else slots)
        if key in self._heads:
            return self._heads[key]
        self._heads[key] = None  # a model that contains itself has no head
        head = self._resolve_head(model, slots, depth)
        self._heads[key] = head
        return head

    def _resolve_head(self, model: Obj, slots: int | None, depth: int) -> Head | None:
        if depth > 6 or model.kind != "model":
            return None
        if model.cls and model.cls.startswith("keras.applications."):
            return self._application_head(model)
        if model in self.slots:
            chain = self.slots[model] if slots is None else self.slots[model][:slots]
            return self._head_from_slots(chain, depth)
        if model in self.outputs:
            outputs = self.outputs[model]
            if len(outputs) != 1 or not isinstance(outputs[0], Obj):
                return None
            return self._head_from_tensor(outputs[0], depth)
        return None

    def _head_from_slots(self, chain: list[_Slot], depth: int) -> Head | None:
        after: list[Activation] = []
        for slot in reversed(chain):
            if not slot.straight or len(slot.values) != 1:
                return None
            layer = slot.values[0]
            if not isinstance(layer, Obj):
                return None
            step = self._step(layer, depth)
            if step is None:
                return None
            if isinstance(step, Activation):
                after.insert(0, step)
                continue
            return _with(step, after)
        return None

    def _head_from_tensor(self, tensor: Obj, depth: int) -> Head | None:
        after: list[Activation] = []
        for _ in range(50):
            producer = self.producers.get(tensor)
            if producer is None:
                return None
            if producer.function is not None:
                step: Head | Activation | None = Activation(
                    producer.function if producer.axis_ok else None, producer.node, "function"
                )
            elif producer.layer is not None:
                step = self._step(producer.layer, depth)
            else:
                return None
            if step is None:
                return None
            if isinstance(step, Head):
                return _with(step, after)
            after.insert(0, step)
            if len(producer.inputs) != 1:
                return None
            tensor = producer.inputs[0]
        return None

    def _step(self, layer: Obj, depth: int) -> Head | Activation | None:
        """One layer of the head: an activation (walk on) or what makes the units (stop)."""
        if layer.kind == "model":
            return self.head_of(layer, None, depth + 1)
        if layer.kind != "layer" or layer.parent is not None or not layer.cls:
            return None
        leaf = layer.cls.rsplit(".", 1)[-1]
        args = self.call_args(layer)
        if args is None:
            return None
        positional, keywords = args
        if leaf in ACTIVATION_LAYERS:
            name = ACTIVATION_LAYERS[leaf]
            if leaf == "Activation":
                given = _argument(positional, keywords, "activation", 0)
                name = activation_name(given) if given is not None else None
            elif leaf == "Softmax":
                axis = _argument(positional, keywords, "axis", 0)
                if axis is not None and _literal(axis) != -1:
                    name = None
            return Activation(name, layer.node, "layer")  # type: ignore[arg-type]
        if leaf in UNIT_LAYERS:
            given_units = _argument(positional, keywords, UNIT_LAYERS[leaf], 0)
            units = _literal(given_units) if given_units is not None else None
            if not isinstance(units, int) or isinstance(units, bool):
                units = None
            activations: tuple[Activation, ...] = ()
            if leaf != "Dense" and len(positional) > 6:
                return None  # the activation may be among the positional arguments
            given = _argument(positional, keywords, "activation", 1 if leaf == "Dense" else 99)
            if given is not None:
                name = activation_name(given)
                if name != "linear":
                    activations = (
                        Activation(name, _arg_value(layer.node, "activation"), "argument"),
                    )
            return Head(units, layer.node, activations)  # type: ignore[arg-type]
        return None

    def _application_head(self, model: Obj) -> Head | None:
        call = model.node
        if not isinstance(call, ast.Call) or has_star(call):
            return None
        keywords = {k.arg: k.value for k in call.keywords}
        if call.args:
            return None  # positional: which is include_top?
        include_top = keywords.get("include_top")
        if include_top is not None and _syntax_literal(include_top) is not True:
            return None
        classes = keywords.get("classes")
        units = _syntax_literal(classes) if classes is not None else 1000
        if not isinstance(units, int) or isinstance(units, bool):
            units = None
        given = keywords.get("classifier_activation")
        leaf = model.cls.rsplit(".", 1)[-1] if model.cls else ""
        if given is None:
            name: str | None = "softmax"
            where: ast.AST = call
        else:
            literal = _syntax_literal(given)
            if _is_none(given):
                name = "linear"
            else:
                name = (
                    literal if isinstance(literal, str) and literal in KNOWN_ACTIVATIONS else None
                )
            where = given
        activations = () if name == "linear" else (Activation(name, where, "application"),)
        return Head(units, call, activations, application=leaf)

    # ---------------------------------------------------------------- compile
    def compiles(self) -> list[CompileFacts]:
        result = []
        for record in self.compile_records:
            if record.ambiguous or record.model is None or record.event.in_callback:
                continue
            model = record.model
            slots = record.slots if model in self.slots else None
            result.append(
                CompileFacts(
                    record.event,
                    model,
                    self.head_of(model, slots),
                    self._loss(record),
                    self._metrics(record),
                    self.trained_after(record.event),
                )
            )
        return result

    def trained_after(self, compile_event: Event) -> Event | None:
        """The first training call of the compiled model after this compile (and before
        it is compiled again), in the order the walk met them."""
        events = self._events or []
        try:
            start = events.index(compile_event)
        except ValueError:
            return None
        model = compile_event.target
        for event in events[start + 1 :]:
            if event.target is not model or event.in_callback:
                continue
            if event.kind == "compile":
                return None
            if event.kind == "train":
                return event
        return None

    def _loss(self, record: _Compile) -> LossSpec | None:
        node = _compile_arg(record.event.node, "loss", 1)
        values = _argument(record.positional, record.keywords, "loss", 1)
        if values is None or node is None or len(values) != 1:
            return None
        value = values[0]
        if isinstance(value, ListValue):  # a list: one loss for the one output, or several
            items = value.items
            if len(items) != 1 or len(items[0]) != 1:
                return None
            value = items[0][0]
            if not isinstance(node, ast.List | ast.Tuple) or len(node.elts) != 1:
                return None
            node = node.elts[0]
        return self.loss_of(value, node)

    def loss_of(self, value: Value, node: ast.AST) -> LossSpec | None:
        if isinstance(value, Literal_) and isinstance(value.value, str):
            kind = LOSS_KINDS.get(value.value)
            if kind is not None:
                return LossSpec(kind[0], kind[1], False, node)
            return LossSpec("other", False, None, node) if value.value in OTHER_LOSSES else None
        if isinstance(value, Ref):
            canonical = names.canonical(value.name) or ""
            leaf = canonical.rsplit(".", 1)[-1]
            if not canonical.startswith("keras.losses."):
                return None
            if leaf in LOSS_KINDS:
                kind = LOSS_KINDS[leaf]
                spelled = "class" if leaf[:1].isupper() else "function"
                return LossSpec(kind[0], kind[1], False, node, spelled=spelled)
            return LossSpec("other", False, None, node) if leaf in OTHER_LOSSES else None
        if isinstance(value, Obj) and value.cls and value.cls.startswith("keras.losses."):
            leaf = value.cls.rsplit(".", 1)[-1]
            if leaf not in LOSS_KINDS:
                return LossSpec("other", False, None, node) if leaf in OTHER_LOSSES else None
            args = self.call_args(value)
            call = value.node if isinstance(value.node, ast.Call) else None
            if args is None or call is None or has_star(call):
                return None
            positional, keywords = args
            if positional:
                return None  # from_logits is the first positional argument of most of them
            logits_arg = keyword(call, "from_logits")
            from_logits: bool | None = False
            if "from_logits" in keywords:
                literal = _literal(keywords["from_logits"])
                from_logits = literal if isinstance(literal, bool) else None
            kind = LOSS_KINDS[leaf]
            return LossSpec(kind[0], kind[1], from_logits, node, logits_arg, call, "class")
        return None

    def _metrics(self, record: _Compile) -> tuple[MetricSpec, ...] | None:
        node = _compile_arg(record.event.node, "metrics", 3)
        values = _argument(record.positional, record.keywords, "metrics", 3)
        if values is None:
            return ()
        if len(values) != 1 or not isinstance(values[0], ListValue):
            return None
        items = values[0].items
        elements = (
            list(node.elts)
            if isinstance(node, ast.List | ast.Tuple) and len(node.elts) == len(items)
            else [None] * len(items)
        )
        result = []
        for item, element in zip(items, elements, strict=True):
            if len(item) != 1:
                continue
            metric = item[0]
            if isinstance(metric, Literal_) and isinstance(metric.value, str):
                result.append(MetricSpec(metric.value, element))
            elif isinstance(metric, Ref):
                canonical = names.canonical(metric.name) or ""
                if canonical.startswith("keras.metrics."):
                    result.append(MetricSpec(canonical.rsplit(".", 1)[-1], element))
            elif isinstance(metric, Obj) and metric.cls and metric.cls.startswith("keras.metrics."):
                call = metric.node if isinstance(metric.node, ast.Call) else None
                inline = call is not None and call is element
                result.append(
                    MetricSpec(metric.cls.rsplit(".", 1)[-1], element, call if inline else None)
                )
        return tuple(result)

    # ---------------------------------------------------------------- layers, for KL109/KL111
    def sequential_layers(self, model: Obj) -> list[Obj] | None:
        """The layers of a Sequential in order, when every one is known."""
        slots = self.slots.get(model)
        if slots is None:
            return None
        layers = []
        for slot in slots:
            if not slot.straight or len(slot.values) != 1 or not isinstance(slot.values[0], Obj):
                return None
            layers.append(slot.values[0])
        return layers

    def functional_chain(self, model: Obj) -> list[Obj | str] | None:
        """The layers (or activation functions) from the input to the single output of a
        functional model that is one straight chain; None otherwise."""
        outputs = self.outputs.get(model)
        if outputs is None or len(outputs) != 1 or not isinstance(outputs[0], Obj):
            return None
        tensor = outputs[0]
        chain: list[Obj | str] = []
        for _ in range(200):
            producer = self.producers.get(tensor)
            if producer is None:
                if tensor.cls in names.INPUTS:
                    return list(reversed(chain))
                return None
            chain.append(producer.layer if producer.layer is not None else producer.function)  # type: ignore[arg-type]
            if len(producer.inputs) != 1:
                return None
            tensor = producer.inputs[0]
        return None

    def layer_leaf(self, layer: Obj) -> str | None:
        return layer.cls.rsplit(".", 1)[-1] if layer.kind == "layer" and layer.cls else None


# Calls that shuffle (or split randomly) the arrays given to them.
SHUFFLES = {
    "numpy.random.shuffle", "numpy.random.permutation", "random.shuffle",
    "sklearn.utils.shuffle", "sklearn.model_selection.train_test_split",
}  # fmt: skip
# numpy functions that put their inputs' rows one after the other: the last rows are a block.
# (hstack and sort are left out: on 2-D arrays they join columns and sort within rows.)
ORDERING_FUNCTIONS = {"concatenate", "vstack", "append", "row_stack"}


def _with(head: Head, after: list[Activation]) -> Head:
    """The head with the activations applied after it; `linear` ones are the identity."""
    after = [activation for activation in after if activation.name != "linear"]
    if not after:
        return head
    return Head(head.units, head.layer, (*head.activations, *after), head.application)


def activation_function(name: str, canonical: str | None) -> str | None:
    """`softmax` for `keras.activations.softmax`, `tf.nn.softmax`, `keras.ops.sigmoid`, ..."""
    leaf = (canonical or name).rsplit(".", 1)[-1]
    if leaf not in KNOWN_ACTIVATIONS:
        return None
    modules = KERAS_ACTIVATION_MODULES if canonical else TENSORFLOW_ACTIVATION_MODULES
    return leaf if any((canonical or name) == module + leaf for module in modules) else None


def activation_name(values: Values | None) -> str | None:
    """The activation an `activation=` value names: a string, None, or a function reference."""
    if values is None or len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, Literal_):
        if value.value is None:
            return "linear"
        if isinstance(value.value, str) and value.value.lower() in KNOWN_ACTIVATIONS:
            return value.value.lower()
        return None
    if isinstance(value, Ref):
        return activation_function(value.name, names.canonical(value.name))
    return None


def _argument(positional, keywords, name: str, index: int) -> Values | None:
    """The values given for a parameter, by keyword or at its position; None when absent."""
    if name in keywords:
        return keywords[name]
    return positional[index] if len(positional) > index else None


def _literal(values: Values | None) -> object:
    if values is None or len(values) != 1 or not isinstance(values[0], Literal_):
        return _UNKNOWN
    return values[0].value


_UNKNOWN = object()


def _syntax_literal(node: ast.expr) -> object:
    if isinstance(node, ast.Constant) and type(node.value) in (bool, int, str):
        return node.value
    return _UNKNOWN


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _arg_value(node: ast.AST | None, name: str) -> ast.AST:
    if isinstance(node, ast.Call):
        given = keyword(node, name)
        if given is not None:
            return given.value
        if name == "activation" and len(node.args) >= 2:
            return node.args[1]
    return node  # type: ignore[return-value]


def _call_arg(node: ast.AST | None, name: str, position: int) -> ast.expr | None:
    return _compile_arg(node, name, position) if node is not None else None


def _compile_arg(node: ast.AST, name: str, position: int) -> ast.expr | None:
    if not isinstance(node, ast.Call):
        return None
    given = keyword(node, name)
    if given is not None:
        return given.value
    positional = [a for a in node.args if not isinstance(a, ast.Starred)]
    return positional[position] if len(positional) > position else None


def _application_module(name: str) -> str | None:
    """`resnet50` for `tf.keras.applications.resnet50.preprocess_input`."""
    parts = name.split(".")
    if "applications" in parts:
        index = parts.index("applications")
        if len(parts) == index + 3 and parts[index + 1] != "imagenet_utils":
            return parts[index + 1]
    return None
