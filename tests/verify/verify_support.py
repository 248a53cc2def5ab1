"""Helpers for the `kerlint verify` tests (not a conftest.py: `tests/conftest.py` is
imported by name as `conftest`, and a second one would shadow it).

Tests that build models run the real child process with the numpy backend. They never
import keras into the pytest process (other tests assert that `kerlint check` leaves it
out of `sys.modules`), so keras' presence is checked with `find_spec`, not `importorskip`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kerlint.verify.command import verify

HERE = Path(__file__).parent
FACTORIES = HERE / "factories"
STUBS = HERE / "stubs"

requires_keras = [
    pytest.mark.keras,
    pytest.mark.skipif(
        importlib.util.find_spec("keras") is None,
        reason="needs keras: pip install 'kerlint[verify]'",
    ),
]


def use_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The numpy backend, a throw-away KERAS_HOME, and tmp_path as the working directory."""
    monkeypatch.setenv("KERAS_BACKEND", "numpy")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_verify(*args: str) -> Result:
    """`kerlint verify ARGS` in-process; the models are built in the child process."""
    return CliRunner().invoke(verify, list(args), catch_exceptions=False)


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = run_verify("--format", "json", *args)
    return result.exit_code, json.loads(result.output)


def by_target(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["target"]: t for t in document["targets"]}


def factory(name: str, file: str = "models.py") -> str:
    return f"{FACTORIES / file}:{name}"
