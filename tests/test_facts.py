"""The facts layer on its own: names, objects, events, and the extension point for imports."""

from __future__ import annotations

import libcst as cst

from kerlint.facts import FileFacts
from kerlint.facts.builder import build_facts
from kerlint.facts.model import Function
from kerlint.facts.names import canonical


def test_every_spelling_of_keras_is_one_vocabulary() -> None:
    assert canonical("tf.keras.layers.Dense") == "keras.layers.Dense"
    assert canonical("tensorflow.keras.layers.Dense") == "keras.layers.Dense"
    assert canonical("tf_keras.layers.BatchNormalization") == "keras.layers.BatchNormalization"
    assert canonical("keras.src.layers.normalization.batch_normalization.BatchNormalization") == (
        "keras.layers.BatchNormalization"
    )
    assert canonical("keras.models.Sequential") == "keras.Sequential"
    assert canonical("tensorflow.keras.applications.resnet50.ResNet50") == (
        "keras.applications.ResNet50"
    )
    assert canonical("numpy.array") is None


def test_aliases_and_from_imports_resolve_to_the_same_class() -> None:
    source = (
        "import tensorflow as tf\n"
        "from tensorflow.keras import layers as L\n"
        "a = tf.keras.layers.BatchNormalization()\n"
        "b = L.BatchNormalization()\n"
    )
    facts = FileFacts(cst.parse_module(source), source)
    classes = [obj.cls for obj in facts.facts.objects if obj.kind == "layer"]
    assert classes == ["keras.layers.BatchNormalization"] * 2
    assert all(obj.has_bn for obj in facts.facts.objects if obj.kind == "layer")


def test_timeline_orders_compile_assign_and_train() -> None:
    source = (
        "import keras\n"
        "m = keras.Sequential([keras.layers.Dense(1)])\n"
        "m.compile('adam', 'mse')\n"
        "m.fit(x, y)\n"
        "m.layers[0].trainable = False\n"
        "m.fit(x, y)\n"
    )
    facts = FileFacts(cst.parse_module(source), source)
    kinds = [event.kind for event in facts.events("compile", "train", "assign")]
    assert kinds == ["compile", "train", "assign", "train"]
    [model] = [o for o in facts.facts.objects if o.cls == "keras.Sequential"]
    assert model.structure == "sequential" and len(model.children) == 2  # Dense, layers[0]


def test_a_resolver_splices_functions_from_other_modules() -> None:
    helper = cst.parse_module("def freeze(m):\n    m.trainable = False\n")
    [freeze] = [n for n in helper.body if isinstance(n, cst.FunctionDef)]
    source = "import keras\nfrom project.utils import freeze\nm = keras.Sequential([])\nfreeze(m)\n"
    module = cst.parse_module(source)
    resolved = build_facts(module, {"project.utils.freeze": Function(freeze)}.get)
    assigns = [e for e in resolved.events if e.kind == "assign"]
    assert len(assigns) == 1 and assigns[0].value is False
    unresolved = build_facts(module)
    assert [e.kind for e in unresolved.events] == ["havoc"]
