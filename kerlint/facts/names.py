"""One vocabulary for Keras names, whatever the import spelled.

`tf.keras.layers.Dense`, `tensorflow.keras.layers.Dense`, `tf_keras.layers.Dense`,
`keras.src.layers.core.dense.Dense` and `keras.layers.Dense` all become
`keras.layers.Dense`; the tables below say what each name makes.
"""

from __future__ import annotations

import functools

KERAS_ROOTS = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras", "tf.keras")
# Model families outside keras whose objects are Keras models or layers.
KERAS_FAMILY_ROOTS = ("keras_hub", "keras_nlp", "keras_cv", "tensorflow_hub")

# keras.applications constructors, and whether the model contains BatchNormalization.
APPLICATIONS_WITH_BN = {
    "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2",
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
    "EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L",
    "MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large",
    "Xception", "InceptionV3", "InceptionResNetV2",
    "DenseNet121", "DenseNet169", "DenseNet201",
    "NASNetMobile", "NASNetLarge",
    "RegNetX002", "RegNetX004", "RegNetX006", "RegNetX008", "RegNetX016", "RegNetX032",
    "RegNetX040", "RegNetX064", "RegNetX080", "RegNetX120", "RegNetX160", "RegNetX320",
    "RegNetY002", "RegNetY004", "RegNetY006", "RegNetY008", "RegNetY016", "RegNetY032",
    "RegNetY040", "RegNetY064", "RegNetY080", "RegNetY120", "RegNetY160", "RegNetY320",
}  # fmt: skip
APPLICATIONS_WITHOUT_BN = {
    "VGG16", "VGG19",
    "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge",
}  # fmt: skip

MODEL_CONSTRUCTORS = {"keras.Sequential": "sequential", "keras.Model": "functional"}
LOADERS = {"keras.models.load_model", "keras.saving.load_model", "keras.models.clone_model"}
INPUTS = {"keras.Input", "keras.layers.Input"}
BATCHNORM = {"BatchNormalization", "SyncBatchNormalization"}
# Layers that own no weights: freezing one freezes nothing.
WEIGHTLESS_LAYERS = {
    "InputLayer", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianDropout", "GaussianNoise", "AlphaDropout", "Activation", "ReLU", "LeakyReLU",
    "Softmax", "ELU", "Flatten", "Reshape", "Permute", "RepeatVector", "Cropping1D",
    "Cropping2D", "Cropping3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
    "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalAvgPool1D", "GlobalAvgPool2D",
    "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot",
    "Rescaling", "Resizing", "CenterCrop", "RandomFlip", "RandomRotation", "RandomZoom",
    "RandomCrop", "RandomTranslation", "RandomContrast", "RandomBrightness", "Identity",
}  # fmt: skip
# Methods that train a model, and those that only start it (build the optimizer on torch/JAX).
TRAIN_METHODS = {"fit", "train_on_batch", "fit_generator"}
START_METHODS = {"evaluate", "test_on_batch", "evaluate_generator"}
# Methods of a Keras model known to leave `trainable` and the compile state alone.
BENIGN_METHODS = {
    "predict", "predict_on_batch", "predict_step", "summary", "save", "save_weights",
    "load_weights", "get_config", "get_weights", "set_weights", "count_params", "to_json",
    "export", "build", "get_layer", "call", "__call__", "stateless_call", "compute_output_shape",
}  # fmt: skip
WEIGHT_LISTS = {
    "trainable_weights",
    "non_trainable_weights",
    "weights",
    "trainable_variables",
    "non_trainable_variables",
    "variables",
}
ALL_WEIGHT_LISTS = {"weights", "variables"}


_ROOTS_LONGEST_FIRST = sorted(KERAS_ROOTS, key=len, reverse=True)


@functools.lru_cache(maxsize=8192)
def canonical(qualname: str) -> str | None:
    """`tf.keras.layers.Dense` -> `keras.layers.Dense`; None when not a Keras name.
    (Asked for every name a file calls, often the same few: remembered.)"""
    for root in _ROOTS_LONGEST_FIRST:
        if qualname == root or qualname.startswith(root + "."):
            rest = qualname[len(root) :].lstrip(".")
            return _shorten("keras." + rest if rest else "keras")
    return None


def _shorten(name: str) -> str:
    """Fold internal and API-version paths onto the public names used in the tables."""
    parts = name.split(".")
    if len(parts) > 2 and parts[1] in ("src", "api", "_api", "v1", "v2"):
        leaf = parts[-1]
        if parts[2] == "applications" or leaf in APPLICATIONS_WITH_BN | APPLICATIONS_WITHOUT_BN:
            return f"keras.applications.{leaf}"
        if leaf in ("Sequential", "Model", "Functional"):
            return "keras.Model" if leaf == "Functional" else f"keras.{leaf}"
        if parts[2] == "optimizers":
            return f"keras.optimizers.{leaf}"
        if parts[2] == "callbacks":
            return f"keras.callbacks.{leaf}"
        if parts[2] in ("layers", "engine"):
            return f"keras.layers.{leaf}"
        if leaf[:1].isupper():
            return f"keras.{parts[2]}.{leaf}"
        return "keras." + ".".join(parts[2:])
    if len(parts) == 3 and parts[1] == "models" and parts[2] in ("Sequential", "Model"):
        return f"keras.{parts[2]}"
    if len(parts) >= 3 and parts[1] == "applications":
        return f"keras.applications.{parts[-1]}"
    if len(parts) == 4 and parts[1] == "layers":  # keras.layers.experimental.X
        return f"keras.layers.{parts[-1]}"
    return name


def is_keras_family(qualname: str) -> bool:
    return canonical(qualname) is not None or qualname.split(".")[0] in KERAS_FAMILY_ROOTS


def application_has_bn(leaf: str) -> bool | None:
    if leaf in APPLICATIONS_WITH_BN:
        return True
    if leaf in APPLICATIONS_WITHOUT_BN:
        return False
    return None
