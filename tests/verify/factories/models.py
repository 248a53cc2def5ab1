"""Factories that `kerlint verify` builds in the tests; each shows one runtime behaviour.

The line comments `# KLxxx` mark the lines the runtime findings must point to.
"""

import keras
from keras import layers


def seed():
    # The seed example of shared/seed/trainable_weights_explainer.md.
    model = keras.Sequential(
        [
            layers.Dense(64, input_shape=(784,), activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.layers[0].trainable = False
    return model


def resnet50():
    return keras.applications.ResNet50()  # weights="imagenet" by default: verify builds None


def resnet50_frozen():
    model = keras.applications.ResNet50(weights=None)
    model.trainable = False  # KL002
    return model


def clean(units=4):
    inputs = keras.Input((8,))
    x = layers.Dense(units, name="body")(inputs)
    x = layers.Dropout(0.5)(x)
    return keras.Model(inputs, layers.Dense(2, name="head")(x))


def frozen_input_layer():
    model = clean()
    model.layers[0].trainable = False  # KL004
    return model


def frozen_dropout_alone():
    model = clean()
    model.get_layer("dropout").trainable = False  # KL004
    return model


def frozen_first_layers():
    # A partial freeze that happens to include weightless layers: not KL004.
    model = clean()
    for layer in model.layers[:3]:
        layer.trainable = False
    return model


def _base():
    return keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(4, name="b0"),
            layers.BatchNormalization(name="bn"),
            layers.Dense(4, name="b1"),
        ],
        name="base",
    )


def guide_training_false():
    # The transfer-learning guide after unfreezing: training=False does not keep BN frozen.
    base = _base()
    inputs = keras.Input((8,))
    outputs = layers.Dense(2, name="head")(base(inputs, training=False))
    return keras.Model(inputs, outputs)


def guide_bn_refrozen():
    base = _base()
    base.get_layer("bn").trainable = False
    inputs = keras.Input((8,))
    outputs = layers.Dense(2, name="head")(base(inputs, training=False))
    return keras.Model(inputs, outputs)


def mobilenet_last_layers():
    base = keras.applications.MobileNetV2(
        alpha=0.35, weights=None, input_shape=(96, 96, 3), include_top=False
    )
    base.trainable = False
    for layer in base.layers[-10:]:
        layer.trainable = True  # KL003 KL012
    inputs = keras.Input((96, 96, 3))
    x = layers.GlobalAveragePooling2D()(base(inputs))
    return keras.Model(inputs, layers.Dense(2, name="head")(x))


def child_under_frozen_base():
    base = _base()
    base.trainable = False
    base.get_layer("b1").trainable = True  # KL012
    inputs = keras.Input((8,))
    return keras.Model(inputs, layers.Dense(2, name="head")(base(inputs)))


def compiled_then_frozen():
    model = clean()
    model.compile(optimizer="adam", loss="mse")
    model.get_layer("body").trainable = False  # KL001
    return model


def trained_then_unfrozen():
    model = clean()
    model.get_layer("body").trainable = False
    model.compile(optimizer="adam", loss="mse")
    model.fit([[0.0] * 8], [[0.0, 0.0]], epochs=1, verbose=0)
    model.get_layer("body").trainable = True  # KL001
    return model


def fit_freeze_fit():
    model = clean()
    model.compile(optimizer="adam", loss="mse")
    model.fit([[0.0] * 8], [[0.0, 0.0]], verbose=0)
    model.get_layer("body").trainable = True  # a no-op: not the line to blame
    model.get_layer("head").trainable = False  # KL001 fit again
    model.fit([[0.0] * 8], [[0.0, 0.0]], verbose=0)
    model.get_layer("head").trainable = True
    return model


def recompiled_after_change():
    model = clean()
    model.compile(optimizer="adam", loss="mse")
    model.get_layer("body").trainable = False
    model.compile(optimizer="adam", loss="mse")
    return model


def keras2_gan():
    disc = keras.Sequential([keras.Input((4,)), layers.Dense(1, name="d")], name="disc")
    disc.compile(optimizer="adam", loss="mse")
    disc.trainable = False
    gen = keras.Sequential([keras.Input((2,)), layers.Dense(4, name="g")], name="gen")
    z = keras.Input((2,))
    gan = keras.Model(z, disc(gen(z)), name="gan")
    gan.compile(optimizer="adam", loss="mse")
    disc.train_on_batch([[0.0] * 4], [[1.0]])  # KL002
    gan.train_on_batch([[0.0] * 2], [[1.0]])
    return gan


def keras3_gan():
    # The working Keras 3 pattern: toggle the flag around each model's own training call.
    disc = keras.Sequential([keras.Input((4,)), layers.Dense(1, name="d")], name="disc")
    disc.compile(optimizer="adam", loss="mse")
    gen = keras.Sequential([keras.Input((2,)), layers.Dense(4, name="g")], name="gen")
    z = keras.Input((2,))
    gan = keras.Model(z, disc(gen(z)), name="gan")
    disc.trainable = False
    gan.compile(optimizer="adam", loss="mse")
    for _ in range(2):
        disc.trainable = True
        disc.train_on_batch([[0.0] * 4], [[1.0]])
        disc.trainable = False
        gan.train_on_batch([[0.0] * 2], [[1.0]])
    return gan


def saved(path):
    """child_under_frozen_base, also saved to `path` for the .keras tests."""
    model = child_under_frozen_base()
    model.save(path)
    return model


def tiny(freeze_first=False):
    model = keras.Sequential(
        [keras.Input((3,)), layers.Dense(2, name="first"), layers.Dense(1, name="last")]
    )
    if freeze_first:
        model.get_layer("first").trainable = False
    return model


def applications_untouched():
    # With --weights keep, kerlint leaves the keras.applications constructors alone.
    assert not hasattr(keras.applications.ResNet50, "__kerlint_original__")
    return tiny()


def not_a_model():
    return {"model": None}


class FrozenClassifier(keras.Model):
    """A subclassed model used as its own factory: `models.py:FrozenClassifier`."""

    def __init__(self, units=3):
        super().__init__()
        self.body = layers.Dense(units, name="body")
        self.head = layers.Dense(1, name="head")
        self(keras.ops.zeros((1, 4)))  # creates the weights
        self.trainable = False  # KL002 class

    def call(self, inputs):
        return self.head(self.body(inputs))
