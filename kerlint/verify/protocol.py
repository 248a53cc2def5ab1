"""What the parent accepts from the child: every event is checked before it is used.

The child runs user code, and user code can write anything to the events file (it is an
argument of the child's command line). So the parent never indexes into an event it has
not validated: a forged or truncated event becomes "the target's process sent a malformed
report" instead of a `KeyError` in kerlint. Strings in accepted events have their control
characters escaped, so layer names read from a hostile `.keras` file cannot send escape
sequences to the terminal, whatever the output format.

Runs in the parent: no keras here.
"""

from __future__ import annotations

import re
from typing import Any

MALFORMED = "the target's process sent a malformed report"

# C0 and C1 controls, DEL, and the Unicode bidi overrides that reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


class Malformed(ValueError):
    """An event that does not have the shape the parent relies on."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, keep_lines: bool = False) -> str:
    """`text` with control characters written as `\\x1b` (newlines and tabs kept on request)."""
    pattern = _CONTROL_KEEP_LINES if keep_lines else _CONTROL
    return pattern.sub(_escape, text)


def sanitize(value: Any, keep_lines: bool = False) -> Any:
    """A copy of a JSON value with every string (and key) passed through `escape_controls`.

    Iterative, so a deeply nested value cannot exhaust the stack.
    """
    if isinstance(value, str):
        return escape_controls(value, keep_lines)
    if not isinstance(value, (dict, list)):
        return value
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        source, holder, key = stack.pop()
        if isinstance(source, str):
            holder[key] = escape_controls(source, keep_lines)
        elif isinstance(source, dict):
            copy: dict[str, Any] = {}
            holder[key] = copy
            for k, v in source.items():
                new_key = escape_controls(k, keep_lines) if isinstance(k, str) else k
                copy[new_key] = None
                stack.append((v, copy, new_key))
        elif isinstance(source, list):
            items: list[Any] = [None] * len(source)
            holder[key] = items
            stack.extend((v, items, i) for i, v in enumerate(source))
        else:
            holder[key] = source
    return root[0]


# -- shapes ----------------------------------------------------------------------------------
# A shape is a type (or tuple of types), a dict of field -> shape (extra fields allowed), a
# one-item list [shape] for a list of them, or Optional(shape).


class Optional:
    def __init__(self, shape: Any) -> None:
        self.shape = shape


INT = int
NUMBER = (int, float)
SITE = Optional({"file": str, "line": int, "column": int})
ROW = {
    "path": str,
    "name": str,
    "class": str,
    "depth": int,
    "is_model": bool,
    "trainable": bool,
    "weights": INT,
    "trainable_weights": INT,
    "non_trainable_weights": INT,
    "keras_trainable_weights": INT,
    "params": INT,
    "trainable_params": INT,
    "non_trainable_params": INT,
    "batchnorm": Optional({"inference_mode": bool}),
    "called_with_training_false": [str],
}
TOTALS = {
    "weights": INT,
    "trainable_weights": INT,
    "non_trainable_weights": INT,
    "params": INT,
    "trainable_params": INT,
    "non_trainable_params": INT,
}
FINDING = {
    "code": str,
    "subject": str,
    "message": str,
    "file": Optional(str),
    "line": int,
    "column": int,
    "counts": dict,
    "layers": [str],
}
MODEL_REPORT = {
    "model": {"name": str, "class": str, "trainable": bool},
    "layers": [ROW],
    "totals": TOTALS,
    "findings": [FINDING],
    "head": Optional(
        {
            "activation": Optional(str),
            "units": Optional(int),
            "layer": str,
            "activations": [str],
            "loss": Optional(str),
            "from_logits": Optional(bool),
            "metrics": [str],
        }
    ),
}
REPORT = {
    "def_site": SITE,
    "build_seconds": NUMBER,
    "models": [MODEL_REPORT],
    "notes": [str],
    "warnings": [str],
    "calls": [
        {
            "model": str,
            "kind": str,
            "site": SITE,
            "trainable_weights": INT,
            "weights": INT,
        }
    ],
    "graph": Optional({"path": str, "error": Optional(str), "note": Optional(str)}),
    "keras": Optional({"name": str, "version": str}),
}
EVENTS: dict[str, dict[str, Any]] = {
    "ready": {
        "keras_version": str,
        "keras_name": Optional(str),
        "backend": str,
        "import_seconds": NUMBER,
        "python": str,
    },
    "fatal": {"kind": str},
    "start": {"id": int},
    "result": {"id": int, "report": REPORT},
    "error": {"id": int, "message": str},
    "done": {},
}


def check_shape(value: Any, shape: Any, where: str = "event") -> None:
    """Raise Malformed, naming the first field that does not fit `shape` (iteratively)."""
    stack: list[tuple[Any, Any, str]] = [(value, shape, where)]
    while stack:
        value, shape, where = stack.pop()
        if isinstance(shape, Optional):
            if value is not None:
                stack.append((value, shape.shape, where))
        elif isinstance(shape, dict):
            if not isinstance(value, dict):
                raise Malformed(f"{where} is not an object")
            for key, sub in shape.items():
                if key not in value and not isinstance(sub, Optional):
                    raise Malformed(f"{where} has no {key!r}")
            for key, sub in reversed(shape.items()):  # popped in the order written
                stack.append((value.get(key), sub, f"{where}.{key}"))
        elif isinstance(shape, list):
            if not isinstance(value, list):
                raise Malformed(f"{where} is not a list")
            stack.extend((item, shape[0], f"{where}[{i}]") for i, item in enumerate(value))
        else:
            # bool is an int in Python; a count must not be True, a flag must be a bool.
            if isinstance(value, bool) and shape is not bool and bool not in _as_tuple(shape):
                raise Malformed(f"{where} is not a {_name(shape)}")
            if not isinstance(value, shape):
                raise Malformed(f"{where} is not a {_name(shape)}")


def _as_tuple(shape: Any) -> tuple[type, ...]:
    return shape if isinstance(shape, tuple) else (shape,)


def _name(shape: Any) -> str:
    return " or ".join(t.__name__ for t in _as_tuple(shape))


def validate_event(event: Any, mode: str = "verify") -> dict[str, Any]:
    """The event, its strings escaped, or Malformed saying what is wrong with it.

    In "verify" mode a result holds at least one model (the child reports a target that
    returned none as an error); "confirm" mode may examine none.
    """
    if not isinstance(event, dict):
        raise Malformed("an event is not a JSON object")
    kind = event.get("event")
    if not isinstance(kind, str) or kind not in EVENTS:
        raise Malformed(f"unknown event {str(kind)[:40]!r}")
    check_shape(event, EVENTS[kind], kind)
    if kind == "result" and not event["report"]["models"] and mode == "verify":
        raise Malformed("result.report.models is empty")
    return sanitize(event, keep_lines=kind in ("error", "fatal"))
