"""Two-phase fine-tuning of a pretrained ResNet50, written the way many tutorials do.

`kerlint check examples/` finds the mistakes; `examples/finetune_fixed.py` is the same
program written so that what you think trains is what trains.
"""

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

model.layers[0].trainable = False

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(images, labels, epochs=2)

# Phase 2: fine-tune the whole network.
base.trainable = True
model.fit(images, labels, epochs=2)
