"""Factories of a Keras 2 project: `import keras` is Keras 2 there (tf_keras, for verify).

The line comments `# KLxxx` mark the lines the runtime findings must point to.
"""

import keras
import tensorflow as tf


def gan():
    disc = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="disc")
    disc.compile("adam", "mse")
    disc.trainable = False
    gen = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)], name="gen")
    gan = keras.Sequential([keras.Input((2,)), gen, disc], name="gan")
    gan.compile("adam", "mse")
    for _ in range(2):
        disc.train_on_batch([[0, 0, 0, 0]], [[0]])
        gan.train_on_batch([[0, 0]], [[0]])
    return gan


def flag_ignored():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    m.compile("adam", "mse")
    m.layers[0].trainable = False  # KL001
    m.fit([[0, 0, 0, 0]], [[0]])
    return m


def finetune_bn():
    base = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(4), keras.layers.BatchNormalization()], name="base"
    )
    inputs = keras.Input((4,))
    x = base(inputs, training=False)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    base.trainable = True
    base.layers[0].trainable = False
    model.compile("adam", "mse")
    return model


def tfkeras_layer():
    return tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
