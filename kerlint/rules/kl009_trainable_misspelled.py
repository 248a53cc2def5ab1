"""KL009: a misspelled `trainable` silently creates a new attribute and freezes nothing."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from kerlint.facts import FileFacts, is_keras
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule

TARGET = "trainable"
ATTRIBUTE_WRITE = re.compile(r"\.\s*([A-Za-z]\w{6,10})\s*=(?!=)")


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance: swaps of neighbours count once (`trianable`)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


@functools.lru_cache(maxsize=4096)
def is_misspelling(attr: str) -> bool:
    if attr == TARGET or attr.startswith("_"):
        return False
    lowered = attr.lower()
    return lowered == TARGET or (
        abs(len(lowered) - len(TARGET)) <= 2 and distance(lowered, TARGET) <= 2
    )


def check(facts: FileFacts) -> Iterator[Finding]:
    for write in facts.facts.attribute_writes:
        if write.operator != "=" or not is_misspelling(write.attr):
            continue
        if not any(is_keras(owner) for owner in write.owners):
            continue
        import libcst as cst  # the fix edits LibCST's tree

        target = facts.cst(write.target)
        fix = (
            FixSpec("Rename to `trainable`", (Replacement(target.attr, cst.Name(TARGET)),))
            if isinstance(target, cst.Attribute)
            else None
        )
        yield Finding(
            write.statement,
            f"`.{write.attr}` is not a Keras attribute (did you mean `trainable`?): assigning it "
            "silently creates a new attribute and nothing is frozen or unfrozen.",
            fix=fix,
        )


RULE = Rule(
    code="KL009",
    name="trainable-misspelled",
    summary="assignment to a misspelling of `trainable`",
    check=check,
    prefilter=lambda text: any(is_misspelling(name) for name in set(ATTRIBUTE_WRITE.findall(text))),
    fix="safe",
)
