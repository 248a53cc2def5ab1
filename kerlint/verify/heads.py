"""The model-definition rules KL101-KL107 on a built, compiled model (CATALOG.md).

Runs only inside the child: it reads live keras objects. The *head* is read from the
built graph, after everything the factory did: the operation producing the model's single
output, and, when that is an `Activation`/`Softmax` layer or a softmax/sigmoid op, the
layer before it. Its units are the output's last dimension. The loss and metrics are the
arguments of the model's last `compile()`. Multi-output models, dict/list losses, custom
losses, subclassed models (no graph) and anything unreadable stay silent, as the static
rules do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PROBABILITY_CE = frozenset(
    {
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "binary_crossentropy",
        "categorical_focal_crossentropy",
        "sparse_categorical_focal_crossentropy",
        "binary_focal_crossentropy",
    }
)
BINARY_CE = frozenset({"binary_crossentropy", "binary_focal_crossentropy"})
CATEGORICAL_CE = frozenset({"categorical_crossentropy", "categorical_focal_crossentropy"})
NOT_PROBABILITY = frozenset(
    {
        "linear",
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "swish",
        "silu",
        "tanh",
        "softplus",
        "softsign",
        "exponential",
    }
)
PROBABILITY = frozenset({"softmax", "sigmoid"})
_ACTIVATION_OPS = {"Softmax": "softmax", "Sigmoid": "sigmoid", "Activation": None}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass
class Head:
    """What the built model ends with, and what it was compiled with."""

    activation: str | None  # the last activation applied: softmax, sigmoid, linear, relu, ...
    units: int | None
    layer: str  # the layer (or op) applying that activation
    activations: list[str] = field(default_factory=list)  # the chain, last first
    loss: str | None = None  # canonical snake-case name
    from_logits: bool | None = None
    metrics: list[Any] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "activation": self.activation,
            "units": self.units,
            "layer": self.layer,
            "activations": self.activations,
            "loss": self.loss,
            "from_logits": self.from_logits,
            "metrics": [_metric_name(m) for m in self.metrics],
        }


def _activation_of(op: Any) -> str | None:
    """The activation an operation applies (None: not an activation, or unknown)."""
    cls = type(op).__name__
    fn = getattr(op, "activation", None)
    if cls in _ACTIVATION_OPS and fn is None:
        return _ACTIVATION_OPS[cls]
    if callable(fn):
        name = getattr(fn, "__name__", None)
        if isinstance(name, str):
            return {"silu": "swish"}.get(name, name)
    return None


def _producer(tensor: Any) -> Any:
    history = getattr(tensor, "_keras_history", None)
    op = getattr(history, "operation", None) or getattr(history, "layer", None)
    return op, getattr(history, "node_index", 0)


def _input_of(op: Any, node_index: int) -> Any:
    nodes = getattr(op, "_inbound_nodes", None) or []
    if node_index >= len(nodes):
        return None, 0
    inputs = getattr(nodes[node_index], "input_tensors", None) or []
    if len(inputs) != 1:
        return None, 0
    return _producer(inputs[0])


def read_head(model: Any) -> Head | None:
    outputs = getattr(model, "outputs", None)
    if not isinstance(outputs, (list, tuple)) or len(outputs) != 1:
        return None
    try:
        shape = tuple(outputs[0].shape)
        units = int(shape[-1]) if shape and shape[-1] is not None else None
    except (TypeError, ValueError, AttributeError):
        return None
    op, index = _producer(outputs[0])
    chain: list[tuple[Any, str]] = []
    while op is not None and len(chain) < 3:
        activation = _activation_of(op)
        if activation is None:
            break
        chain.append((op, activation))
        if type(op).__name__ not in _ACTIVATION_OPS:
            break  # a Dense/Conv with its own activation: the head's layer
        op, index = _input_of(op, index)
    if not chain:
        return None
    # Trailing linear Activation layers change nothing: the head is what came before.
    activations = [a for _, a in chain]
    effective = next((a for a in activations if a != "linear"), "linear")
    holder = next((o for o, a in chain if a == effective), chain[0][0])
    return Head(effective, units, getattr(holder, "name", type(holder).__name__), activations)


def _loss_name(loss: Any) -> tuple[str | None, bool | None]:
    """A single loss as (canonical name, from_logits); (None, None) when not readable."""
    if isinstance(loss, str):
        return _snake(loss) if loss[:1].isupper() else loss, False
    if isinstance(loss, (dict, list, tuple)) or loss is None:
        return None, None
    if isinstance(loss, type):
        return _snake(loss.__name__), False
    if callable(loss) and hasattr(loss, "__name__") and not hasattr(loss, "get_config"):
        return loss.__name__, False
    config = {}
    try:
        config = loss.get_config() or {}
    except Exception:  # a custom loss: silent
        return None, None
    name = _snake(type(loss).__name__)
    if name == "loss_function_wrapper":
        name = str(config.get("name") or "")
    logits = getattr(loss, "from_logits", config.get("from_logits", False))
    return (name or None), bool(logits)


def _metric_name(metric: Any) -> str:
    if isinstance(metric, str):
        return metric
    return type(metric).__name__ if not isinstance(metric, type) else metric.__name__


def _flat_metrics(metrics: Any) -> list[Any]:
    if metrics is None:
        return []
    if isinstance(metrics, (list, tuple)):
        return [m for m in metrics if not isinstance(m, (list, tuple, dict))]
    if isinstance(metrics, dict):
        return []  # per-output metrics: a multi-output model
    return [metrics]


def with_compile(head: Head, loss: Any, metrics: Any) -> Head:
    head.loss, head.from_logits = _loss_name(loss)
    head.metrics = _flat_metrics(metrics)
    return head


def _default_threshold(metric: Any) -> bool:
    """A threshold metric still at its default 0.5 (so it reads logits as probabilities)."""
    cls = type(metric).__name__
    if cls == "BinaryAccuracy":
        return getattr(metric, "threshold", 0.5) == 0.5
    if cls in ("Precision", "Recall"):
        thresholds = getattr(metric, "thresholds", 0.5)
        values = thresholds if isinstance(thresholds, (list, tuple)) else [thresholds]
        return all(v == 0.5 for v in values)
    if cls == "AUC":
        return not getattr(metric, "_from_logits", False)
    # These sweep thresholds in [0, 1]: on logits they measure the wrong curve.
    return cls in ("PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity")


def check(head: Head, keras2: bool) -> list[tuple[str, str]]:
    """(code, message) for every KL101-KL107 condition the head and compile meet."""
    out: list[tuple[str, str]] = []
    act, units, loss, logits = head.activation, head.units, head.loss, head.from_logits
    layer = f"`{head.layer}`"
    if loss is None:
        return out
    ce = loss in PROBABILITY_CE
    if act in PROBABILITY and ce and logits and not keras2:
        out.append(
            (
                "KL101",
                f"the model ends in {act} ({layer}) and is compiled with {loss}(from_logits=True): "
                "the loss reads probabilities as logits (torch and JAX train badly and silently; "
                "TensorFlow warns and uses the logits). Remove from_logits=True.",
            )
        )
    if act in NOT_PROBABILITY and ce and not logits:
        out.append(
            (
                "KL102",
                f"the model ends in {'no activation' if act == 'linear' else act} ({layer}) and is "
                f"compiled with {loss} without from_logits=True: the loss treats unbounded outputs as "
                "probabilities, and accuracy stays near chance. Pass from_logits=True to the loss, "
                "or end the model in softmax/sigmoid.",
            )
        )
    if loss in BINARY_CE and logits:
        bad = [
            _metric_name(m)
            for m in head.metrics
            if (isinstance(m, str) and m in ("accuracy", "acc") and units == 1)
            or m == "binary_accuracy"
            or (not isinstance(m, str) and _default_threshold(m))
        ]
        if bad:
            out.append(
                (
                    "KL103",
                    f"{', '.join(bad)} on a model trained on logits ({loss}(from_logits=True)) use "
                    "the default threshold 0.5 on logits, so the reported numbers are wrong: use "
                    "BinaryAccuracy(threshold=0.0), AUC(from_logits=True), Precision(thresholds=0.0), "
                    "Recall(thresholds=0.0).",
                )
            )
    if len(head.activations) >= 2 and head.activations[0] == head.activations[1] in PROBABILITY:
        out.append(
            (
                "KL104",
                f"{head.activations[0]} is applied twice at the head, the second time by {layer}: "
                "the outputs are squashed again and training degrades. Remove the second one.",
            )
        )
    if units == 1 and loss in CATEGORICAL_CE:
        out.append(
            (
                "KL105",
                f"the model has 1 output unit and is compiled with {loss}: over one class the loss "
                "is always 0 and nothing learns. Use binary_crossentropy with a sigmoid output.",
            )
        )
    if units == 1 and act == "softmax":
        out.append(
            (
                "KL106",
                f"softmax over 1 unit ({layer}) always outputs 1.0. Use activation='sigmoid'.",
            )
        )
    if (
        not keras2
        and act == "sigmoid"
        and units is not None
        and units >= 3
        and loss in BINARY_CE
        and any(isinstance(m, str) and m in ("accuracy", "acc") for m in head.metrics)
    ):
        out.append(
            (
                "KL107",
                f'"accuracy" on a {units}-unit sigmoid output with {loss} is categorical accuracy '
                "(argmax) in Keras 3 (Keras 2 chose binary accuracy): if your labels are multi-hot, "
                'use keras.metrics.BinaryAccuracy(name="accuracy").',
            )
        )
    return out
