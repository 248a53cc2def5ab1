"""Shared helpers: run the CLI in-process with click's runner, or as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kerlint.cli import main

BAD = """\
import keras

model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
model.layers[0].trainable = "False"
"""

CLEAN = """\
import keras

model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
model.layers[0].trainable = False
"""


@pytest.fixture
def run_cli():
    def run(*args: str, input: str | bytes | None = None, env: dict | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder that is the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_process(*args: str, cwd: Path | None = None, input: bytes | None = None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "kerlint", *args], cwd=cwd, input=input, capture_output=True, env=env
    )
