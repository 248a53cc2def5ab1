"""KL007: changing the list `trainable_weights` returns changes nothing (or raises)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kerlint.facts import FileFacts, is_keras
from kerlint.rules.base import Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    for mutation in facts.facts.weight_mutations:
        if not any(is_keras(owner) for owner in mutation.owners):
            continue
        attr = mutation.attr
        if mutation.how == "=":
            message = (
                f"`.{attr}` is a read-only property: assigning to it raises `AttributeError` "
                "(property has no setter). Set `trainable` on the layers instead."
            )
        else:
            how = "`del`" if mutation.how == "del" else f"`{mutation.how}`"
            message = (
                f"{how} on `.{attr}` changes a fresh copy that Keras recomputes on every "
                "access: it has no effect on what trains. Set `trainable` on the layers instead."
            )
        yield Finding(mutation.node, message)


RULE = Rule(
    code="KL007",
    name="trainable-weights-mutated",
    summary="in-place change of, or assignment to, `.trainable_weights` and friends",
    check=check,
    requires=("weights", "variables"),
    requires_pattern=re.compile(
        r"\.\s*(?:non_)?(?:trainable_)?(?:weights|variables)\s*"
        r"(?:\.\s*(?:append|extend|insert|remove|pop|clear)\s*\(|\+=|=(?!=)|\[)"
    ),
)
