"""`kerlint/facts/keras_exports.py` lists what the installed Keras versions export.

kerlint reads `from keras.layers import *` with that table (it never imports keras); this
test asks Keras 3 and tf_keras themselves, each in its own interpreter, and fails when the
table and they disagree. To regenerate the table after a version bump:

    python tests/test_keras_exports.py --write
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kerlint.facts.keras_exports import EXPORTS

TABLE = Path(__file__).resolve().parent.parent / "kerlint" / "facts" / "keras_exports.py"
MODULES = (
    "activations", "applications", "callbacks", "constraints", "initializers", "layers",
    "losses", "metrics", "models", "optimizers", "regularizers",
)  # fmt: skip
ROOTS = ("keras", "tf_keras")
_LIST = """
import importlib, json, sys
root, modules = sys.argv[1], sys.argv[2].split(",")
print(json.dumps({m: sorted(n for n in dir(importlib.import_module(f"{root}.{m}"))
                            if not n.startswith("_")) for m in modules}))
"""


def exported_by(root: str) -> dict[str, set[str]]:
    """What each module of one Keras package exports, asked in a fresh interpreter."""
    env = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    found = subprocess.run(
        [sys.executable, "-c", _LIST, root, ",".join(MODULES)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=300,
    ).stdout
    return {module: set(names) for module, names in json.loads(found.splitlines()[-1]).items()}


def current() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {f"keras.{module}": set() for module in MODULES}
    for root in ROOTS:
        for module, names in exported_by(root).items():
            table[f"keras.{module}"] |= names
    return table


def render(table: dict[str, set[str]]) -> str:
    head, _, _ = TABLE.read_text(encoding="utf-8").partition("# fmt: off\n")
    lines = [head + "# fmt: off", "EXPORTS: dict[str, frozenset[str]] = {"]
    for module in sorted(table):
        lines.append(f'    "{module}": frozenset({{')
        line = "       "
        for name in sorted(table[module]):
            piece = f' "{name}",'
            if len(line) + len(piece) > 99:
                lines.append(line)
                line = "       "
            line += piece
        lines += [line, "    }),"]
    return "\n".join([*lines, "}", "# fmt: on", ""])


@pytest.mark.skipif(
    not all(importlib.util.find_spec(root) for root in ROOTS),
    reason="needs keras and tf_keras (the test and proofs-keras2 extras)",
)
def test_the_table_lists_what_keras_and_tf_keras_export() -> None:
    table = current()
    assert {module: set(names) for module, names in EXPORTS.items()} == table, (
        "run `python tests/test_keras_exports.py --write`"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        TABLE.write_text(render(current()), encoding="utf-8")
    else:
        sys.exit(__doc__)
