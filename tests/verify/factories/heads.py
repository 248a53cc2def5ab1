"""Compiled models whose head and loss disagree (KL101-KL107), and clean ones.

The `# KLxxx` comments mark the compile() lines the runtime findings point to.
"""

import keras
from keras import layers


def _dense(units, activation=None, *extra):
    return keras.Sequential([keras.Input((4,)), layers.Dense(units, activation=activation), *extra])


def softmax_from_logits():
    model = _dense(3, "softmax")
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))  # KL101
    return model


def logits_probability_loss():
    model = _dense(3)
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])  # KL102
    return model


def threshold_metrics_on_logits():
    model = _dense(1)
    model.compile(  # KL103
        "adam",
        keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=["accuracy", keras.metrics.AUC(), keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    return model


def softmax_twice():
    model = _dense(3, "softmax", layers.Softmax())
    model.compile("adam", "categorical_crossentropy")  # KL104
    return model


def one_unit_categorical():
    model = _dense(1, "sigmoid")
    model.compile("adam", "categorical_crossentropy")  # KL105
    return model


def softmax_one_unit():
    model = _dense(1, "softmax")
    model.compile("adam", "binary_crossentropy")  # KL106
    return model


def multilabel_accuracy():
    inputs = keras.Input((4,))
    outputs = keras.ops.sigmoid(layers.Dense(5)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])  # KL107
    return model


def clean_heads():
    a = _dense(3, "softmax")
    a.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return a


def clean_logits():
    model = _dense(3, None, layers.Activation("linear"))
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    return model


def not_compiled():
    return _dense(3)  # logits and no loss: nothing to judge


def two_outputs():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [layers.Dense(3)(inputs), layers.Dense(1)(inputs)])
    model.compile("adam", ["categorical_crossentropy", "binary_crossentropy"])
    return model
