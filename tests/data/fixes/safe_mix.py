# -*- coding: utf-8 -*-
"""Safe fixes only, with comments and odd formatting that must survive."""
import keras
import tensorflow as tf

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
optimizer = keras.optimizers.Adam()

model.layers[0].trainable = "False"   # a string: always truthy (é)
model.layers[1].trainabel = False  # misspelled
model.layers[1].trainable == False  # compared, not assigned
model.trainable = 0


@tf.function
def step(x, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.mse(y, model(x, training=True))
    grads = tape.gradient(
        loss,
        model.weights,  # all of them
    )
    optimizer.apply_gradients(zip(grads, model.weights))
    return loss
