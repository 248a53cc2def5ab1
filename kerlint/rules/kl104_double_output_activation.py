"""KL104: the head applies softmax twice, or sigmoid twice."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.heads import Activation
from kerlint.rules.base import Finding, FixSpec, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    REQUIRES,
    TRAINS,
    function_removal,
    local_fix,
    model_name,
    removal,
    trained_compiles,
)

HARM = {
    "softmax": "the output is squashed towards uniform and learning stalls (10 classes: 31% vs "
    "89% accuracy)",
    "sigmoid": "every output lies in [0.5, 0.73], so every prediction is positive",
}


def check(facts: FileFacts) -> Iterator[Finding]:
    seen: set[int] = set()
    for compiled in trained_compiles(facts):
        head = compiled.head
        if head is None:
            continue
        for first, second in zip(head.activations, head.activations[1:], strict=False):
            if first.name != second.name or first.name not in HARM or id(second.node) in seen:
                continue
            seen.add(id(second.node))
            yield Finding(
                second.node,
                f"The head of `{model_name(facts, compiled)}` applies {first.name} twice ("
                f"{facts.at(first.node)}, then {facts.at(second.node)}): {HARM[first.name]}, silently on every "
                f"backend (TensorFlow's logits shortcut does not undo the first one). Remove "
                f"the second {first.name}.",
                fix=local_fix(facts, _fix(facts, second)),
            )


def _fix(facts: FileFacts, second: Activation) -> FixSpec | None:
    if second.how == "layer":
        edit = removal(facts, second.node)
    elif second.how == "function":
        edit = function_removal(facts, second.node)
    else:
        edit = None
    if edit is None:
        return None
    return FixSpec("Remove the second activation", edit, "unsafe")


RULE = Rule(
    code="KL104",
    name="double-output-activation",
    summary="softmax after softmax, or sigmoid after sigmoid, at the output",
    check=check,
    requires=REQUIRES,
    family=FAMILY,
    requires_pattern=TRAINS,
    fix="unsafe",
)
