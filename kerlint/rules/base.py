"""What a rule is: a code, a name, the text a file must contain, and a check over the facts."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kerlint.diagnostics import Applicability

if TYPE_CHECKING:
    import libcst as cst

    from kerlint.facts import FileFacts


@dataclass(frozen=True)
class Replacement:
    """Swap one node of the parsed module for another: the unit every fix is made of."""

    old: ast.AST | cst.CSTNode  # a node of CPython's tree, or of LibCST's
    new: cst.CSTNode | str
    # Insert `new` as statements after `old` (a statement) instead of replacing it.
    insert_after: bool = False


@dataclass(frozen=True)
class FixSpec:
    message: str
    replacements: tuple[Replacement, ...]
    applicability: Applicability = "safe"


@dataclass(frozen=True)
class Finding:
    """What a rule reports: the node to point at, the message, and maybe a fix."""

    node: ast.AST
    message: str
    fix: FixSpec | None = None


CheckFn = Callable[["FileFacts"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """A registered rule. `requires`: a file must contain one of these texts to matter."""

    code: str
    name: str
    summary: str
    check: CheckFn = field(repr=False)
    requires: Sequence[str] = ()
    requires_pattern: re.Pattern[str] | None = None
    # A sharper test than text alone, for rules whose words are common (KL009).
    prefilter: Callable[[str], bool] | None = None
    default: bool = True
    # On by default where the file runs Keras 2 or its Keras is unknown (KL012: a silent
    # bug there, a bookkeeping oddity in Keras 3).
    default_keras2: bool = False
    fix: Applicability | None = None
    # The heading `kerlint rules` and the README list the rule under.
    family: str = "Freeze and fine-tuning"

    def may_apply(self, text: str) -> bool:
        """Cheap text test so files that cannot matter are never parsed."""
        if self.requires and not any(needle in text for needle in self.requires):
            return False
        if self.requires_pattern is not None and not self.requires_pattern.search(text):
            return False
        return self.prefilter is None or self.prefilter(text)


# The text a freeze must contain: an assignment to `.trainable`, or `setattr(...)`.
TRAINABLE_WRITE = re.compile(r"\.\s*trainable\s*=(?!=)|setattr\s*\(")
