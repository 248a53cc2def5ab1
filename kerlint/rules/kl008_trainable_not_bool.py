"""KL008: `trainable` set to a literal that is not a bool (`"False"` is truthy)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from kerlint.facts import FileFacts, is_keras
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule

# What the author meant, where it is clear.
MEANT = {
    "False": False, "false": False, "FALSE": False, "0": False, "no": False, "off": False, "": False,
    "True": True, "true": True, "TRUE": True, "1": True, "yes": True, "on": True,
}  # fmt: skip


def literal(node: ast.expr | None) -> tuple[bool, object]:
    """(is a non-bool literal, its value)."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            return True, value
        if value is None:
            return True, None
        if type(value) in (int, float):
            return True, value
        return False, value if isinstance(value, bytes) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner, value = literal(node.operand)
        return (inner and isinstance(value, int | float), -value if inner else None)  # type: ignore[operator]
    return False, None


def check(facts: FileFacts) -> Iterator[Finding]:
    for write in facts.facts.attribute_writes:
        if write.attr != "trainable" or write.operator != "=":
            continue
        is_literal, value = literal(write.value)
        if not is_literal or not any(is_keras(owner) for owner in write.owners):
            continue
        effective = bool(value)
        meant = (
            MEANT.get(value)
            if isinstance(value, str)
            else (bool(value) if value in (0, 1) else None)
        )
        if value is None:
            meant = False
        shown = _shown(value)
        fix = None
        if meant is not None and write.value is not None:
            fix = FixSpec(
                f"Replace with `{meant}`", (Replacement(write.value, str(meant)),), "safe"
            )
        yield Finding(
            write.statement,
            f"`trainable` is set to {shown}, which Keras turns into `bool({shown})` = "
            f"{effective}: the layer is {'trainable' if effective else 'frozen'}"
            f"{' (any non-empty string is True)' if isinstance(value, str) and value else ''}. "
            f"Use `{meant if meant is not None else 'True or False'}`."
            + (
                ""
                if facts.mode.keras3
                else " Keras 2 stores the value as given, so a model saved with it cannot be "
                "loaded again ('Expected `trainable` argument to be a boolean')."
            ),
            fix=fix,
        )


def _shown(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    try:
        text = repr(value)
    except ValueError:  # an int past Python's limit for decimal text (4,300 digits)
        text = hex(value)  # type: ignore[arg-type]
    return text if len(text) <= 40 else f"{text[:12]}...{text[-4:]}"


RULE = Rule(
    code="KL008",
    name="trainable-not-bool",
    summary="`trainable` set to a string, a number or None",
    check=check,
    requires=("trainable",),
    requires_pattern=re.compile(r"\.\s*trainable\s*=(?!=)"),
    fix="safe",
)
