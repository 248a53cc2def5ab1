"""Which Keras builds a target: `keras` (Keras 3) or `tf_keras` (Keras 2).

The static decision is `kerlint.keras_version.KerasDetector().decide(path, text,
configured=...)`, the same one `kerlint check` judges the file by: a Keras 2 project is
built with `tf_keras` when it is installed, so the runtime checks see the semantics the
code will train under. Without the detector (an older kerlint) or without tf_keras, it
is Keras 3, and the report says why.

Runs in the parent: no keras here (tf_keras is looked up with `find_spec`, not imported).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kerlint.verify.targets import Target

KERAS3 = "keras"
KERAS2 = "tf_keras"


def _tf_keras_installed() -> bool:
    try:
        return importlib.util.find_spec(KERAS2) is not None
    except (ImportError, ValueError):
        return False


def _module_file(target: Target) -> Path | None:
    """The source file of a `package.module` target, found without importing anything."""
    if not target.module:
        return None
    parts = target.module.split(".")
    for entry in target.sys_path or ["."]:
        base = Path(entry).joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def decide_version(path: Path | None, text: str, configured: str | None) -> tuple[str | None, str]:
    """The Keras version ("2", "3" or None) a file is judged by, and why."""
    if configured in ("2", "3"):
        return configured, "configured (keras = " + configured + ")"
    try:
        from kerlint.keras_version import KerasDetector
    except ImportError:
        return "3", "Keras 3 (this kerlint has no Keras version detection)"
    try:
        mode = KerasDetector().decide(path, text, configured=configured or "auto")
    except Exception as error:  # detection must never stop a build
        return "3", f"Keras 3 (detection failed: {type(error).__name__})"
    return mode.version, mode.because


def choose(target: Target, configured: str | None, version: str | None = None) -> None:
    """Set `target.keras` and `target.keras_because` (version: a decision already made)."""
    because = ""
    if version is None:
        path = Path(target.path) if target.kind == "file" and target.path else _module_file(target)
        if target.kind == "saved":
            path = Path(target.path) if target.path else None
            if path is not None and path.suffix.lower() == ".keras" and configured != "2":
                target.keras, target.keras_because = KERAS3, "a .keras archive is Keras 3's format"
                return
        text = ""
        if path is not None and path.suffix == ".py":
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
        version, because = decide_version(path, text, configured)
    if version == "2":
        if _tf_keras_installed():
            target.keras, target.keras_because = (
                KERAS2,
                f"a Keras 2 project ({because})" if because else "Keras 2",
            )
        else:
            target.keras = KERAS3
            target.keras_because = (
                f"a Keras 2 project ({because}), but tf_keras is not installed: built with Keras 3"
                if because
                else "Keras 2, but tf_keras is not installed: built with Keras 3"
            )
    else:
        target.keras = KERAS3
        target.keras_because = because or "Keras 3"
