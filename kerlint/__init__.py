"""kerlint: finds the silent freeze and fine-tuning mistakes in Keras code."""

__version__ = "0.1.0"
