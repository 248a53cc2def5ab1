import keras


def head(num_classes):
    return keras.layers.Dense(num_classes, name="head")
