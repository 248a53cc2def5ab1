"""Transfer learning written against tf.keras: the unsafe fixes must spell names as tf does."""
import numpy as np
import tensorflow as tf

x = np.zeros((8, 96, 96, 3), "float32")
y = np.zeros((8, 1), "float32")

base = tf.keras.applications.MobileNetV2(weights=None, include_top=False)
base.trainable = False
inputs = tf.keras.Input((96, 96, 3))
outputs = tf.keras.layers.Dense(1)(tf.keras.layers.GlobalAveragePooling2D()(base(inputs)))
model = tf.keras.Model(inputs, outputs)
model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")
model.fit(x, y)

# Fine-tune: unfreezes BatchNormalization too, and forgets to compile again.
base.trainable = True
model.fit(x, y)
