"""The snapshot: a readable JSON lock of what trains in every target, and its drift.

One line per layer, so a change shows up in `git diff` as the layers it touches:

    {
      "kerlint_verify_snapshot": 1,
      "targets": {
        "models.py:build": {
          "model": {"name": "functional", "class": "Functional", "trainable": true},
          "totals": {"weights": 6, "trainable_weights": 4, ...},
          "layers": {
            "dense": {"class": "Dense", "trainable": false, "trainable_weights": 0, "non_trainable_weights": 2},
            ...
          }
        }
      }
    }

Layer keys are paths from the root (`resnet50/conv1_conv`); the root's own auto-generated
name is left out of them so that renaming the outer model does not rewrite every line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERSION = 1
TOTAL_KEYS = (
    "weights",
    "trainable_weights",
    "non_trainable_weights",
    "params",
    "trainable_params",
    "non_trainable_params",
)
LAYER_KEYS = ("class", "trainable", "trainable_weights", "non_trainable_weights")
MAX_DRIFT_LINES = 25


class SnapshotError(Exception):
    """The snapshot file exists but cannot be used (bad JSON, another format)."""


def entry(model: dict[str, Any]) -> dict[str, Any]:
    """The snapshot entry of one model report."""
    return {
        "model": dict(model["model"]),
        "totals": {k: model["totals"][k] for k in TOTAL_KEYS},
        "layers": {
            row["path"]: {k: row[k] for k in LAYER_KEYS} for row in model["layers"] if row["path"]
        },
    }


def load(path: Path) -> dict[str, dict[str, Any]] | None:
    """The targets recorded in the snapshot, or None when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(
            f"{path}: not valid JSON ({exc}); rewrite it with --update-snapshot"
        ) from exc
    if not isinstance(data, dict) or data.get("kerlint_verify_snapshot") != VERSION:
        raise SnapshotError(f"{path}: not a kerlint verify snapshot (version {VERSION})")
    targets = data.get("targets")
    if not isinstance(targets, dict):
        raise SnapshotError(f"{path}: `targets` must be an object")
    return targets


def dumps(targets: dict[str, dict[str, Any]]) -> str:
    """Pretty JSON with each layer on one line, targets sorted for stable diffs."""

    def inline(value: Any) -> str:
        return json.dumps(value, separators=(", ", ": "))

    lines = ["{", f'  "kerlint_verify_snapshot": {VERSION},', '  "targets": {']
    labels = sorted(targets)
    for i, label in enumerate(labels):
        target = targets[label]
        lines.append(f"    {json.dumps(label)}: {{")
        lines.append(f'      "model": {inline(target["model"])},')
        lines.append(f'      "totals": {inline(target["totals"])},')
        layers = list(target["layers"].items())
        if not layers:
            lines.append('      "layers": {}')
        else:
            lines.append('      "layers": {')
            for j, (path, layer) in enumerate(layers):
                comma = "," if j < len(layers) - 1 else ""
                lines.append(f"        {json.dumps(path)}: {inline(layer)}{comma}")
            lines.append("      }")
        lines.append("    }" + ("," if i < len(labels) - 1 else ""))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def write(path: Path, targets: dict[str, dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(targets), encoding="utf-8")


def _state(layer: dict[str, Any]) -> str:
    flag = "trainable" if layer.get("trainable") else "trainable=False"
    return f"{flag}, {layer.get('trainable_weights')} trained / {layer.get('non_trainable_weights')} not"


def drift(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """What changed since the snapshot, one human line each ([] when nothing did)."""
    if old is None:
        return ["not in the snapshot yet (record it with --update-snapshot)"]
    lines = []
    for key in TOTAL_KEYS:
        before, after = old.get("totals", {}).get(key), new["totals"][key]
        if before != after:
            lines.append(f"{key}: {before} -> {after}")
    old_model, new_model = old.get("model", {}), new["model"]
    if old_model.get("trainable") != new_model["trainable"]:
        lines.append(f"model trainable: {old_model.get('trainable')} -> {new_model['trainable']}")
    old_layers, new_layers = old.get("layers", {}), new["layers"]
    for path, layer in new_layers.items():
        before = old_layers.get(path)
        if before is None:
            lines.append(f"+ {path} ({layer['class']}): {_state(layer)}")
        elif any(before.get(k) != layer[k] for k in LAYER_KEYS):
            lines.append(f"~ {path} ({layer['class']}): {_state(before)} -> {_state(layer)}")
    for path, layer in old_layers.items():
        if path not in new_layers:
            lines.append(f"- {path} ({layer.get('class')}): {_state(layer)}")
    if len(lines) > MAX_DRIFT_LINES:
        hidden = len(lines) - MAX_DRIFT_LINES
        lines = [*lines[:MAX_DRIFT_LINES], f"... and {hidden} more changes"]
    return lines
