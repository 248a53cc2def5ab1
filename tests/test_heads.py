"""Heads, losses and metrics as facts, and the Keras-version gates of KL101 and KL107."""

from __future__ import annotations

import ast

import pytest

from kerlint.engine import applicable_rules
from kerlint.facts import FileFacts, KerasMode
from kerlint.rules import registry


def compiles(code: str):
    module = ast.parse(code)
    facts = FileFacts(module, code)
    return facts, facts.facts.heads.compiles()


def only(code: str):
    facts, found = compiles(code)
    assert len(found) == 1, found
    return facts, found[0]


PRELUDE = "import keras\nimport tensorflow as tf\nfrom keras import layers\n"


@pytest.mark.parametrize(
    ("model", "units", "activations"),
    [
        (
            'keras.Sequential([layers.Dense(8), layers.Dense(3, activation="softmax")])',
            3,
            ["softmax"],
        ),
        (
            "keras.Sequential([layers.Dense(3, activation=keras.activations.sigmoid)])",
            3,
            ["sigmoid"],
        ),
        ("keras.Sequential([layers.Dense(3, tf.nn.softmax)])", 3, ["softmax"]),
        (
            'keras.Sequential([layers.Dense(1), layers.Activation("sigmoid", dtype="float32")])',
            1,
            ["sigmoid"],
        ),
        (
            'keras.Sequential([layers.Dense(4, activation="softmax"), layers.Softmax()])',
            4,
            ["softmax", "softmax"],
        ),
        ("keras.Sequential([layers.Dense(units=5, activation=None)])", 5, []),
        ("keras.Sequential([layers.Conv2D(7, 3)])", 7, []),
        ("keras.applications.ResNet50(weights=None, classes=4)", 4, ["softmax"]),
        ("keras.applications.ResNet50(weights=None, classifier_activation=None)", 1000, []),
    ],
)
def test_head_in_every_spelling(model: str, units: int, activations: list[str]) -> None:
    _, compiled = only(f"{PRELUDE}m = {model}\nm.compile(loss='mse')\nm.fit(x, y)\n")
    assert compiled.head is not None
    assert compiled.head.units == units
    assert [a.name for a in compiled.head.activations] == activations
    assert compiled.trained is not None


def test_functional_head_through_functions_and_nested_models() -> None:
    code = PRELUDE + (
        "inner = keras.Sequential([layers.Dense(3, activation='relu')])\n"
        "inputs = keras.Input((4,))\n"
        "out = keras.ops.softmax(inner(inputs))\n"
        "m = keras.Model(inputs=inputs, outputs=out)\n"
        "m.compile(loss='categorical_crossentropy')\n"
        "m.fit(x, y)\n"
    )
    _, compiled = only(code)
    assert [a.name for a in compiled.head.activations] == ["relu", "softmax"]
    assert compiled.head.units == 3


@pytest.mark.parametrize(
    "model",
    [
        "keras.Model(inputs, [layers.Dense(2)(inputs), layers.Dense(1)(inputs)])",  # two outputs
        "keras.Model(inputs, layers.Dense(2)(inputs) * 2.0)",  # an op after the layer
        "keras.Model(inputs, unknown_helper(layers.Dense(2)(inputs)))",  # a function elsewhere
        "keras.Model(inputs, layers.Dense(2)(inputs)[:, :1])",  # a slice
        "keras.Sequential([layers.Dense(2, activation=act)])",  # not a literal
        "keras.Sequential([layers.Dense(2), layers.Dropout(0.1)])",  # unknown pass-through
        "keras.applications.ResNet50(weights=None, include_top=top)",
        "keras.models.load_model('m.keras')",
    ],
)
def test_unresolved_heads_are_unknown(model: str) -> None:
    code = (
        PRELUDE + f"inputs = keras.Input((4,))\nm = {model}\nm.compile(loss='mse')\nm.fit(x, y)\n"
    )
    _, compiled = only(code)
    head = compiled.head
    # Unknown: no head, or a head whose output activation is not known (every rule is silent).
    assert head is None or head.activation is None


def test_add_chain_counts_the_layers_before_the_compile_and_branches_are_unknown() -> None:
    code = PRELUDE + (
        "m = keras.Sequential()\n"
        "m.add(layers.Dense(8, activation='relu'))\n"
        "m.add(layers.Dense(1, activation='sigmoid'))\n"
        "m.compile(loss='binary_crossentropy')\n"
        "m.fit(x, y)\n"
        "if wide:\n"
        "    m.add(layers.Dense(3))\n"
        "m.compile(loss='binary_crossentropy')\n"
        "m.fit(x, y)\n"
    )
    _, (first, second) = compiles(code)
    assert first.head.units == 1 and first.head.activation == "sigmoid"
    assert second.head is None


@pytest.mark.parametrize(
    ("loss", "kind", "focal", "from_logits"),
    [
        ("'categorical_crossentropy'", "categorical", False, False),
        ("'bce'", "binary", False, False),
        ("keras.losses.sparse_categorical_crossentropy", "sparse", False, False),
        ("keras.losses.BinaryFocalCrossentropy(from_logits=True)", "binary", True, True),
        ("tf.keras.losses.CategoricalCrossentropy(from_logits=flag)", "categorical", False, None),
        ("['binary_crossentropy']", "binary", False, False),
        ("'mse'", "other", False, None),
    ],
)
def test_losses_in_every_spelling(loss, kind, focal, from_logits) -> None:
    _, compiled = only(
        f"{PRELUDE}m = keras.Sequential([layers.Dense(1)])\nm.compile(loss={loss})\nm.fit(x, y)\n"
    )
    assert compiled.loss is not None
    assert (compiled.loss.kind, compiled.loss.focal, compiled.loss.from_logits) == (
        kind,
        focal,
        from_logits,
    )


@pytest.mark.parametrize("loss", ["my_loss", "{'out': 'mse'}", "['mse', 'mse']"])
def test_custom_and_multi_output_losses_are_unknown(loss: str) -> None:
    code = (
        PRELUDE
        + f"def my_loss(a, b):\n    return a\nm = keras.Sequential([layers.Dense(1)])\nm.compile(loss={loss})\nm.fit(x, y)\n"
    )
    _, compiled = only(code)
    assert compiled.loss is None


def test_metrics_keep_their_nodes_when_written_in_the_list() -> None:
    code = PRELUDE + (
        "acc = keras.metrics.BinaryAccuracy()\n"
        "m = keras.Sequential([layers.Dense(1)])\n"
        "m.compile(loss='mse', metrics=['accuracy', keras.metrics.AUC(), acc])\n"
        "m.fit(x, y)\n"
    )
    _, compiled = only(code)
    names = [(metric.name, metric.call is not None) for metric in compiled.metrics]
    assert names == [("accuracy", False), ("AUC", True), ("BinaryAccuracy", False)]


def test_a_model_compiled_twice_is_trained_by_the_second_compile_only() -> None:
    code = PRELUDE + (
        "m = keras.Sequential([layers.Dense(1)])\n"
        "m.compile(loss='mse')\n"
        "m.compile(loss='mae')\n"
        "m.fit(x, y)\n"
    )
    _, (first, second) = compiles(code)
    assert first.trained is None and second.trained is not None


KL101_CODE = PRELUDE + (
    "m = keras.Sequential([layers.Dense(8, activation='relu'), layers.Dense(3, activation='softmax')])\n"
    "m.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))\n"
    "m.fit(x, y)\n"
)
KL107_CODE = PRELUDE + (
    "m = keras.Sequential([layers.Dense(8, activation='relu'), layers.Dense(4, activation='sigmoid')])\n"
    "m.compile(loss='binary_crossentropy', metrics=['accuracy'])\n"
    "m.fit(x, y)\n"
)


@pytest.mark.parametrize(
    ("mode", "reported", "says"),
    [
        (KerasMode(), True, ""),
        (KerasMode(version="2", because="tensorflow==2.15 pinned"), False, ""),
        (KerasMode(version="2", because="pinned", target="3"), True, "Correct in Keras 2"),
        (KerasMode(version=None, because="no pins"), True, "Wrong in Keras 3 (fine in Keras 2)"),
    ],
)
def test_kl101_follows_the_mode(mode, reported, says) -> None:
    module = ast.parse(KL101_CODE)
    facts = FileFacts(module, KL101_CODE, mode=mode)
    findings = list(registry.get("KL101").check(facts))
    assert bool(findings) is reported
    if reported:
        assert says.lower() in findings[0].message.lower()


@pytest.mark.parametrize(
    "mode", [KerasMode(), KerasMode(version="2"), KerasMode(version=None), KerasMode("2", "x", "3")]
)
def test_kl107_holds_in_every_mode(mode) -> None:
    """tf.keras 2.x resolves "accuracy" by shape as Keras 3 does (the page's Keras 2 proof)."""
    facts = FileFacts(ast.parse(KL107_CODE), KL107_CODE, mode=mode)
    assert len(list(registry.get("KL107").check(facts))) == 1


def test_the_model_rules_need_a_compile_and_a_training_call() -> None:
    codes = frozenset(r.code for r in registry.all_rules() if r.code.startswith("KL1"))
    trains = (
        "import keras\nm.compile(loss='categorical_crossentropy', from_logits=True)\nm.fit(x)\n"
    )
    assert applicable_rules(trains, codes)
    assert not applicable_rules(trains.replace("m.fit(x)", "m.predict(x)"), codes)
    assert not applicable_rules(trains.replace("compile", "build"), codes)
    freeze_only = "import keras\nbase.trainable = False\nmodel.fit(x)\n"
    assert not applicable_rules(freeze_only, codes)


def test_a_head_built_in_another_module_of_the_project(project, run_cli) -> None:
    """The head and the loss may come from a helper module: one file that compiles and
    trains passes the prefilter on its own, and the findings name both places."""
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n', encoding="utf-8")
    (project / "models.py").write_text(
        "import keras\nfrom keras import layers\n\n\ndef build(n):\n"
        '    return keras.Sequential([layers.Dense(8, activation="relu"), '
        'layers.Dense(n, activation="softmax"), layers.Softmax()])\n',
        encoding="utf-8",
    )
    (project / "train.py").write_text(
        "import keras\nfrom models import build\n\nmodel = build(3)\n"
        "model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))\n"
        "model.fit(x, y)\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--isolated", "--no-cache", "--select", "KL1", "train.py")
    lines = [line for line in result.output.splitlines() if ": KL1" in line]
    assert [line.split(": ")[1].split()[0] for line in lines] == ["KL104", "KL101"], lines
    assert all("models.py" in line for line in lines)
