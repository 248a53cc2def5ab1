"""KL111 (opt-in): two or more Dense/Conv layers and no non-linearity before the head."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.heads import (
    ACTIVATION_LAYERS,
    PASS_THROUGH_LAYERS,
    UNIT_LAYERS,
    activation_name,
)
from kerlint.facts.model import Obj
from kerlint.rules.base import Finding, Rule
from kerlint.rules.kl1_heads import FAMILY, REQUIRES, TRAINS, model_name, trained_compiles


def check(facts: FileFacts) -> Iterator[Finding]:
    heads = facts.facts.heads
    reported: set[int] = set()
    for compiled in trained_compiles(facts):
        model = compiled.model
        if compiled.loss is None or not compiled.loss.crossentropy or model.id in reported:
            continue
        chain = heads.sequential_layers(model)
        if chain is None:
            chain = heads.functional_chain(model)
        if not chain:
            continue
        count = _linear_units(facts, chain)
        if count is None or count < 2 or _meant_linear(facts, model.node):  # type: ignore[arg-type]
            continue
        reported.add(model.id)
        yield Finding(
            model.node,  # type: ignore[arg-type]
            f"`{model_name(facts, compiled)}` stacks {count} Dense/Conv layers with no "
            "activation between them: a stack of linear layers is one linear layer, so the "
            "model can only draw a straight decision boundary (two circles: 52% vs 100% with "
            'relu), silently. Add a non-linearity (`activation="relu"`) to the hidden layers.',
        )


# A function or class that says its model is linear: a probe of learned features, a
# logistic regression (seen in the real-code sweep: "Linear classifier model builder").
_SAYS_LINEAR = re.compile(r"\blinear\b|\blogistic[ _]regression\b|\bprob(?:e|ing)\b", re.IGNORECASE)


def _meant_linear(facts: FileFacts, node: ast.AST) -> bool:
    """Whether a function or class around the model says, by its name or docstring, that
    the model is meant to be linear (then the stack is the author's choice)."""
    for parent in facts.parents(node):
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            said = f"{parent.name.replace('_', ' ')} {ast.get_docstring(parent) or ''}"
            if _SAYS_LINEAR.search(said):
                return True
    return False


def _linear_units(facts: FileFacts, chain: list) -> int | None:
    """How many unit layers the chain holds, when every one before the last is linear and
    nothing else in it computes; None when the chain holds anything else."""
    heads = facts.facts.heads
    kinds = []
    for item in chain:
        if isinstance(item, str):
            kinds.append(("activation", item))
            continue
        if not isinstance(item, Obj):
            return None
        if item.kind == "tensor" and item.cls in ("keras.Input", "keras.layers.Input"):
            continue
        leaf = heads.layer_leaf(item)
        args = heads.call_args(item) if leaf else None
        if leaf is None or args is None:
            return None
        positional, keywords = args
        if leaf in PASS_THROUGH_LAYERS:
            continue
        if leaf in ACTIVATION_LAYERS:
            kinds.append(("activation", leaf))
        elif leaf in UNIT_LAYERS:
            if leaf != "Dense" and len(positional) > 6:
                return None
            given = (
                keywords["activation"]
                if "activation" in keywords
                else (positional[1] if leaf == "Dense" and len(positional) > 1 else None)
            )
            kinds.append(("units", activation_name(given) if given is not None else "linear"))
        else:
            return None
    units = [index for index, (kind, _) in enumerate(kinds) if kind == "units"]
    if len(units) < 2:
        return None
    last = units[-1]
    if any(kind != "units" or name != "linear" for kind, name in kinds[:last]):
        return None
    if any(kind != "activation" for kind, _ in kinds[last + 1 :]):
        return None
    return len(units)


RULE = Rule(
    code="KL111",
    name="linear-stack",
    summary="two or more Dense/Conv layers with no non-linearity, trained with a crossentropy",
    check=check,
    requires=REQUIRES,
    requires_pattern=TRAINS,
    family=FAMILY,
    default=False,
)
