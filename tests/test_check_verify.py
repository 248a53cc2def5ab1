"""`kerlint check --verify`: static findings confirmed (or not) by building the factory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.keras

FACTORIES = """\
import keras


def build_frozen():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.trainable = False
    model.compile("adam", "mse")
    model.fit([[0, 0, 0, 0]], [[0]])
    return model


def build_input_frozen():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.layers[0].trainable = False
    return model
"""


@pytest.fixture(autouse=True)
def _needs_numpy_backend() -> None:
    for module in ("keras", "scipy", "jax"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the verify extra)")


def test_findings_are_confirmed_in_json_and_text(project: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "numpy")
    (project / "models.py").write_text(FACTORIES)
    result = run_cli(
        "check", "models.py", "--verify", "--backend", "numpy", "--output-format", "json"
    )
    assert result.exit_code == 1
    found = {item["code"]: item["verification"] for item in json.loads(result.output)}
    assert found["KL002"]["status"] == "confirmed"
    assert found["KL002"]["target"].endswith("models.py:build_frozen")
    assert found["KL002"]["counts"]["trainable_weights"] == 0
    assert found["KL004"]["status"] == "confirmed"
    text = run_cli("check", "models.py", "--verify", "--backend", "numpy").output
    assert "[verify: confirmed" in text


def test_without_verify_nothing_is_built(project: Path, run_cli) -> None:
    (project / "models.py").write_text(FACTORIES)
    result = run_cli("check", "models.py", "--output-format", "json")
    assert all("verification" not in item for item in json.loads(result.output))


@pytest.mark.parametrize("fmt", ["concise", "full", "json", "sarif", "github", "gitlab", "junit"])
def test_every_format_carries_the_evidence(project: Path, run_cli, monkeypatch, fmt: str) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "numpy")
    (project / "models.py").write_text(FACTORIES)
    result = run_cli(
        "check",
        "models.py",
        "--select",
        "KL004",
        "--verify",
        "--backend",
        "numpy",
        "--output-format",
        fmt,
    )
    assert result.exit_code == 1
    assert "confirmed" in result.output
    assert "weightless layer" in result.output


HEADS = """\
import keras


def build_softmax_from_logits():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(
        "adam",
        keras.losses.CategoricalCrossentropy(
            from_logits=True,
        ),
    )
    return model


def build_logits():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))
    return model
"""


def test_model_definition_findings_are_confirmed_from_the_compiled_head(
    project: Path, monkeypatch
) -> None:
    from kerlint.diagnostics import Diagnostic, Location
    from kerlint.verify.confirm import confirm_diagnostics

    monkeypatch.setenv("KERAS_BACKEND", "numpy")
    monkeypatch.chdir(project)
    (project / "heads.py").write_text(HEADS)
    at = Location
    diagnostics = [
        Diagnostic("KL101", "static", "heads.py", at(9, 13), at(9, 30)),  # the from_logits=True
        Diagnostic("KL101", "static", "heads.py", at(16, 5), at(16, 20)),
        Diagnostic("KL105", "static", "heads.py", at(16, 5), at(16, 20)),
    ]
    first, second, third = confirm_diagnostics(diagnostics, timeout=60, backend="numpy")
    assert first.verification["status"] == "confirmed"
    assert first.verification["target"] == "heads.py:build_softmax_from_logits"
    assert first.verification["detail"] == (
        "the built model ends in softmax over 3 units and is compiled with "
        "categorical_crossentropy (from_logits=True) (runtime evidence at line 6)"
    )
    assert second.verification["status"] == "not confirmed"
    assert second.verification["detail"].startswith("the built model ends in linear over 3 units")
    assert third.verification["status"] == "not confirmed"
