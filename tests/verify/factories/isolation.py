"""Factories that misbehave: kerlint verify must report each one and carry on."""

import os
import sys
import time

import keras


def raises():
    raise ValueError("boom in the factory")


def exits():
    sys.exit(3)


def aborts():
    os.abort()


def hard_exit():
    os._exit(7)


def hangs():
    time.sleep(600)


def downloads():
    return keras.utils.get_file("weights.h5", "https://example.com/weights.h5")


def prints_and_builds():
    print("user output on stdout")
    print("user output on stderr", file=sys.stderr)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
