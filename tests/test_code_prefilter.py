"""The second text test: on the file's code, its docstrings and other string statements left
out (CPython's tree, built anyway to vet the file, says where they are)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kerlint import engine
from kerlint.engine import check_source
from kerlint.rules import registry
from kerlint.source import Source

ALL = frozenset(rule.code for rule in registry.all_rules())

LIBRARY = '''"""A layer library.

    model = keras.Sequential([MyLayer()])
    model.layers[0].trainable = False
    model.compile(loss="categorical_crossentropy")
    model.fit(x, y)
"""
import keras


class MyLayer(keras.layers.Layer):
    """Freeze it with `layer.trainable = False`, then `model.compile(...)`, `model.fit(...)`."""

    def call(self, x):
        "A string statement, not a docstring: " ".trainable = 1"
        return x
'''


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts whose facts are built (the analysis a passing text test costs)."""
    seen: list[str] = []
    analyse = engine.FileFacts

    def counting(tree, text: str, *args, **kwargs):
        seen.append(text)
        return analyse(tree, text, *args, **kwargs)

    monkeypatch.setattr(engine, "FileFacts", counting)
    return seen


def check(text: str):
    return check_source(Source(Path("t.py"), "t.py", text), ALL)


def test_a_file_whose_prose_alone_names_the_rules_texts_is_not_parsed(parses) -> None:
    assert all(rule.may_apply(LIBRARY) for rule in registry.all_rules() if rule.code == "KL101")
    result = check(LIBRARY)
    assert result.diagnostics == [] and parses == []


@pytest.mark.parametrize(
    "code",
    [
        'model = keras.Sequential([MyLayer()])\nmodel.layers[0].trainable = "False"\n',
        # Code on the row of a string statement keeps that row.
        'model = keras.Sequential([MyLayer()])\n"doc"; model.layers[0].trainable = "False"\n',
        'model = keras.Sequential([MyLayer()])\nmodel.layers[0].trainable = "False"; "doc"\n',
    ],
)
def test_the_same_file_with_the_code_is_checked(parses, code: str) -> None:
    result = check(LIBRARY + code)
    assert [d.code for d in result.diagnostics] == ["KL008"] and len(parses) == 1


def test_a_file_python_rejects_is_still_reported(parses) -> None:
    result = check(LIBRARY + "def broken(:\n")
    assert [d.code for d in result.diagnostics] == ["KL000"]
