"""KL010: `layer.trainable == False` as a statement: the comparison is thrown away."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from kerlint.facts import FileFacts, is_keras
from kerlint.facts.model import Obj
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    for discarded in facts.facts.discarded_comparisons:
        keras = any(is_keras(owner) for owner in discarded.owners)
        known_other = any(isinstance(owner, Obj) and not owner.keras for owner in discarded.owners)
        # A discarded comparison is never meant; in a Keras file an unknown owner is enough.
        if not keras and (known_other or not facts.uses_keras):
            continue
        comparison = discarded.comparison
        meant = _meant_value(comparison)
        left = facts.cst(comparison.left) if meant is not None else None
        fix = None
        if left is not None:
            import libcst as cst  # the fix edits LibCST's tree

            assign = cst.Assign(targets=[cst.AssignTarget(left)], value=cst.Name(str(meant)))
            fix = FixSpec(f"Assign `{meant}`", (Replacement(discarded.node, assign),))
        code = facts.code(comparison)
        yield Finding(
            discarded.node,
            f"`{code}` compares and throws the result away: nothing is frozen or unfrozen. "
            f"Assign with `=`{f' (`.trainable = {meant}`)' if meant is not None else ''}.",
            fix=fix,
        )


def _meant_value(comparison: ast.Compare) -> bool | None:
    value = comparison.comparators[0]
    if not (isinstance(value, ast.Constant) and isinstance(value.value, bool)):
        return None
    if isinstance(comparison.ops[0], ast.NotEq | ast.IsNot):
        return not value.value
    return value.value


RULE = Rule(
    code="KL010",
    name="trainable-compared-not-assigned",
    summary="`x.trainable == False` as a statement: compared, not assigned",
    check=check,
    requires=("trainable",),
    requires_pattern=re.compile(r"\.\s*trainable\s*(?:==|!=|is\b)"),
    fix="safe",
)
