"""The facts layer on its own: names, objects, events, and the extension point for imports."""

from __future__ import annotations

import ast

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
    facts = FileFacts(ast.parse(source), source)
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
    facts = FileFacts(ast.parse(source), source)
    kinds = [event.kind for event in facts.events("compile", "train", "assign")]
    assert kinds == ["compile", "train", "assign", "train"]
    [model] = [o for o in facts.facts.objects if o.cls == "keras.Sequential"]
    [dense] = model.children  # `m.layers[0]` is the Dense itself
    assert model.structure == "sequential" and dense.cls == "keras.layers.Dense"
    assert [e.target for e in facts.events("assign")] == [dense]


def test_a_resolver_splices_functions_from_other_modules() -> None:
    helper = ast.parse("def freeze(m):\n    m.trainable = False\n")
    [freeze] = [n for n in helper.body if isinstance(n, ast.FunctionDef)]
    source = "import keras\nfrom project.utils import freeze\nm = keras.Sequential([])\nfreeze(m)\n"
    module = ast.parse(source)
    resolved = build_facts(module, {"project.utils.freeze": Function(freeze)}.get)
    assigns = [e for e in resolved.events if e.kind == "assign"]
    assert len(assigns) == 1 and assigns[0].value is False
    unresolved = build_facts(module)
    assert [e.kind for e in unresolved.events] == ["havoc"]


# ---------------------------------------------------------------------- precision (issue 10)
def _reported(source: str, *codes: str) -> set[tuple[int, str]]:
    from kerlint.engine import rules_for

    facts = FileFacts(ast.parse(source), source)
    found = set()
    for rule in rules_for(codes):
        for finding in rule.check(facts):
            found.add((facts.line(finding.node), rule.code))
    return found


_UNFREEZE = """\
import keras
from keras import layers

base = keras.applications.ResNet50(include_top=False)
base.trainable = False
model = keras.Sequential([base, layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
for layer in base.layers:
{loop}
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
"""


def test_a_batchnorm_exclusion_counts_wherever_it_stands_in_the_guard() -> None:
    excluded = [
        "    if flag and not isinstance(layer, layers.BatchNormalization):\n"
        "        layer.trainable = True",
        "    if isinstance(layer, layers.BatchNormalization):\n        continue\n"
        "    layer.trainable = True",
        "    if isinstance(layer, layers.BatchNormalization) or flag:\n        pass\n"
        "    else:\n        layer.trainable = True",
        "    if isinstance(layer, layers.BatchNormalization):\n        pass\n"
        "    elif flag:\n        layer.trainable = True",
    ]
    for loop in excluded:
        assert _reported(_UNFREEZE.format(loop=loop), "KL003") == set(), loop
    included = "    if flag or not isinstance(layer, layers.BatchNormalization):\n"
    included += "        layer.trainable = True"
    assert _reported(_UNFREEZE.format(loop=included), "KL003") == {(11, "KL003")}


def test_trainable_zero_is_false_to_the_flow_rules() -> None:
    source = (
        "import keras\nm = keras.Sequential([keras.layers.Dense(1)])\n"
        "m.trainable = 0\nm.compile(optimizer='adam')\nm.fit(1)\n"
    )
    assert _reported(source, "KL002", "KL008") == {(5, "KL002"), (3, "KL008")}


def test_compile_with_the_models_own_optimizer_reuses_it() -> None:
    source = (
        "import keras\nbase = keras.applications.ResNet50()\nbase.trainable = False\n"
        "m = keras.Sequential([base])\nm.compile(optimizer='adam')\nm.fit(1)\n"
        "base.trainable = True\nm.compile(optimizer=m.optimizer)\nm.fit(1)\n"
        "m.compile(optimizer='adam')\n"
    )
    assert _reported(source, "KL006") == {(8, "KL006")}


def test_get_layer_by_name_helper_returns_and_unpacked_layers() -> None:
    source = (
        "import keras\n"
        "def make():\n"
        "    inputs = keras.Input((4,))\n"
        "    x = keras.layers.Dense(4, name='dense')(inputs)\n"
        "    x = keras.layers.Dropout(0.5, name='drop')(x)\n"
        "    return keras.Model(inputs, x)\n"
        "m = make()\n"
        "m.get_layer('drop').trainable = False\n"  # 8: KL004
        "m.get_layer('dense').trainable = False\n"
        "m.get_layer('head').trainable = 0\n"  # 10: KL008 (an unknown part: still Keras)
        "first, *rest = m.layers\n"
        "first.trainable = False\n"  # 12: KL004, the InputLayer
        "*rest, last = m.layers\n"
        "last.trainable = 'False'\n"  # 14: KL008
        "for layer in rest:\n"
        "    layer.trainable = None\n"  # 16: KL008
    )
    assert _reported(source, "KL004", "KL008") == {
        (8, "KL004"),
        (10, "KL008"),
        (12, "KL004"),
        (14, "KL008"),
        (16, "KL008"),
    }


def test_a_parameter_is_bound_at_each_call_site() -> None:
    source = (
        "import keras\n"
        "def set_trainable(m, value):\n"
        "    m.trainable = value\n"
        "d = keras.Sequential([keras.layers.Dense(1)])\n"
        "g = keras.Sequential([keras.layers.Dense(1)])\n"
        "set_trainable(d, False)\n"
        "set_trainable(g, True)\n"
        "d.fit(1)\n"  # 8: frozen by the first call
        "g.fit(1)\n"
        "set_trainable(g, flag)\n"
        "g.fit(1)\n"  # unknown: silent
    )
    assert _reported(source, "KL002") == {(8, "KL002")}


def test_self_weights_and_self_optimizer_in_a_train_step() -> None:
    source = (
        "import keras\nimport tensorflow as tf\n"
        "class GAN(keras.Model):\n"
        "    def train_step(self, data):\n"
        "        with tf.GradientTape() as tape:\n"
        "            loss = self(data)\n"
        "        grads = tape.gradient(loss, self.weights)\n"
        "        self.optimizer.apply_gradients(zip(grads, self.variables))\n"
        "        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))\n"
        "        return {}\n"
    )
    assert _reported(source, "KL005") == {(7, "KL005"), (8, "KL005")}


def _classes(source: str) -> list[str | None]:
    facts = FileFacts(ast.parse(source), source)
    return [obj.cls for obj in facts.facts.objects if obj.kind in ("model", "layer", "optimizer")]


def test_star_imports_of_keras_bind_what_those_modules_export() -> None:
    """`from keras.layers import *` (also Keras 2's `keras.layers.core`), the last star
    import that exports a name winning, as in Python."""
    source = (
        "from keras.layers.core import *\n"
        "from tensorflow.keras.models import *\n"
        "from keras.optimizers import *\n"
        "m = Sequential([Dense(1), BatchNormalization()])\n"
        "o = Adam()\n"
    )
    assert sorted(map(str, _classes(source))) == [
        "keras.Sequential",
        "keras.layers.BatchNormalization",
        "keras.layers.Dense",
        "keras.optimizers.Adam",
    ]


def test_a_name_behind_another_modules_star_import_stays_unknown() -> None:
    """A third-party star import after Keras's may rebind anything; builtins and names
    Keras does not export are never read as Keras's, nor names the file binds itself."""
    assert _classes("from keras.layers import *\nfrom fastai.vision import *\nDense(1)\n") == []
    assert _classes("from fastai.vision import *\nfrom keras.layers import *\nDense(1)\n") == [
        "keras.layers.Dense"
    ]
    assert _classes("from keras.layers import *\nMyBlock(1)\nlen([1])\n") == []
    own = "from keras.layers import *\n\ndef Dense(n):\n    return n\n\nDense(1)\n"
    assert _classes(own) == []


def test_layers_of_a_sequential_are_the_layers_it_was_given() -> None:
    """`m.layers[i]` of a Sequential whose every entry is known is that very object (an
    `Input` or `InputLayer` is not one of `m.layers`); after an `add` on one path only, a
    `pop()` or an unknown call that receives it, the order is unknown."""
    source = (
        "import keras\n"
        "d = keras.Sequential([keras.layers.Dense(1)])\n"
        "m = keras.Sequential([keras.Input((4,)), keras.layers.InputLayer((4,)), d])\n"
        "m.add(keras.layers.Dense(2))\n"
        "m.layers[0].trainable = False\n"
        "m.layers[-1].trainable = False\n"
        "n = keras.Sequential([d])\n"
        "if flag:\n"
        "    n.add(keras.layers.Dense(3))\n"
        "n.layers[0].trainable = False\n"
        "p = keras.Sequential([d, d])\n"
        "p.pop()\n"
        "p.layers[0].trainable = False\n"
        "q = keras.Sequential([d])\n"
        "unknown(q)\n"
        "q.layers[0].trainable = False\n"
    )
    facts = FileFacts(ast.parse(source), source)
    targets = {e.node.lineno: e.target for e in facts.events("assign")}
    assert targets[5].label == "d" and targets[5].selector is None
    assert targets[6].cls == "keras.layers.Dense" and targets[6].node.lineno == 4
    assert [targets[row].selector for row in (10, 13, 16)] == [".layers[0]"] * 3


def test_a_memoised_model_is_built_once() -> None:
    """`if self.d: return self.d` once `self.d` holds a model takes only that arm, and what
    follows the `return` does not run: the second call gives the same model."""
    source = (
        "import keras\n"
        "class Holder:\n"
        "    def __init__(self):\n"
        "        self.d = None\n"
        "    def disc(self):\n"
        "        if self.d:\n"
        "            return self.d\n"
        "        self.d = keras.Sequential([keras.layers.Dense(1)])\n"
        "        return self.d\n"
        "h = Holder()\n"
        "a = h.disc()\n"
        "b = h.disc()\n"
        "a.trainable = False\n"
        "b.fit(1)\n"
        "c = keras.Sequential([keras.layers.Dense(1)]) if flag else None\n"
        "if c:\n"
        "    c.trainable = False\n"
        "c.fit(1)\n"
    )
    facts = FileFacts(ast.parse(source), source)
    [assign_a, assign_c] = list(facts.events("assign"))
    [train_b, train_c] = list(facts.events("train"))
    assert assign_a.target is train_b.target
    assert assign_c.target is train_c.target
    # `c` may be None: both arms stay possible, so the freeze is on one path only.
    values = {facts.flag(state, train_c.target).value for state in facts.states_before(train_c)}
    assert values == {True, False}
    [train_state] = facts.states_before(train_b)
    assert facts.flag(train_state, train_b.target).value is False


def test_a_none_test_is_not_decided_where_the_code_runs_again() -> None:
    """In a method the file never calls (Keras may run it each step) and in a callback, an
    attribute that is None at first may hold a model on a later run: both arms stay."""
    source = (
        "import keras\n"
        "class Trainer:\n"
        "    def __init__(self):\n"
        "        self.d = None\n"
        "    def step(self):\n"
        "        if self.d:\n"
        "            m.trainable = False\n"
        "        self.d = keras.Sequential([keras.layers.Dense(1)])\n"
        "class Freezer(keras.callbacks.Callback):\n"
        "    def __init__(self):\n"
        "        self.seen = None\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        if self.seen:\n"
        "            self.model.trainable = False\n"
        "        self.seen = True\n"
        "m = keras.Sequential([keras.layers.Dense(1)])\n"
        "m.compile('adam', 'mse')\n"
        "m.fit(1, callbacks=[Freezer()])\n"
    )
    facts = FileFacts(ast.parse(source), source)
    assert sorted(e.node.lineno for e in facts.events("assign")) == [7, 14]
