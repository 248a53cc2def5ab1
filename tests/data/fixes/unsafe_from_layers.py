"""BatchNormalization reached through `from keras import layers`; a layer loop unfreezes."""
import keras
from keras import layers

x = y = None


def fine_tune_top(epochs: int) -> None:
    base = keras.applications.ResNet50(weights=None, include_top=False)
    base.trainable = False
    model = keras.Sequential([base, layers.GlobalAveragePooling2D(), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    for layer in base.layers[-30:]:
        layer.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(x, y, epochs=epochs)
