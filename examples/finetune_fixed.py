"""The same two-phase fine-tuning, with every freeze doing what it says."""

import keras
import numpy as np
from keras import layers

images = np.random.rand(32, 96, 96, 3).astype("float32")
labels = np.random.randint(0, 5, size=(32,))

base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(96, 96, 3))
base.trainable = False

inputs = keras.Input((96, 96, 3))
features = base(inputs, training=False)
pooled = layers.GlobalAveragePooling2D()(features)
outputs = layers.Dense(5, activation="softmax")(pooled)
model = keras.Model(inputs, outputs)

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(images, labels, epochs=2)

# Phase 2: fine-tune, keeping BatchNormalization in inference mode, with a new optimizer.
base.trainable = True
for layer in base.layers:
    if isinstance(layer, layers.BatchNormalization):
        layer.trainable = False
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy")
model.fit(images, labels, epochs=2)
