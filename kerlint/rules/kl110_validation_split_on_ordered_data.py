"""KL110 (opt-in): `validation_split` on arrays the file concatenated row-wise, unshuffled."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.model import Obj
from kerlint.facts.syntax import keyword as keyword_arg
from kerlint.rules.base import Finding, Rule
from kerlint.rules.kl1_heads import FAMILY, REQUIRES, TRAINS


def check(facts: FileFacts) -> Iterator[Finding]:
    heads = facts.facts.heads
    if not heads.ordered:
        return
    havoc = {}
    for index, event in enumerate(facts.facts.events):
        if event.kind == "havoc" and event.target is not None:
            havoc.setdefault(event.target.id, index)
    for train in heads.trains:
        node = train.event.node
        if not isinstance(node, ast.Call) or train.event.method != "fit":
            continue
        split = keyword_arg(node, "validation_split")
        if split is None or not _positive(split.value):
            continue
        for position, keyword in ((0, "x"), (1, "y")):
            values = (
                train.keywords[keyword]
                if keyword in train.keywords
                else (train.positional[position] if len(train.positional) > position else ())
            )
            array = values[0] if len(values) == 1 else None
            if not isinstance(array, Obj) or array not in heads.ordered:
                continue
            if heads.shuffled.get(array, train.index + 1) <= train.index:
                continue
            if havoc.get(array.id, train.index + 1) <= train.index:
                continue  # handed to a function that may have shuffled it
            how = heads.ordered[array]
            yield Finding(
                split,
                f"`validation_split` takes the last rows of `{facts.code(_arg(node, position, keyword))}`"
                f" before any shuffling, and that array comes from `np.{how}` "
                f"({facts.at(array.node)}) with no shuffle in between: the validation set is "
                "the last block (often one class or one source), which is never trained on and "
                "scores near zero (0.09 vs 0.95 on class-sorted data). Shuffle the arrays "
                "first (e.g. with one `np.random.permutation` index for x and y), or pass "
                "`validation_data`.",
            )
            break


def _positive(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and type(node.value) in (int, float)
        and float(node.value) > 0
    )


def _arg(call: ast.Call, position: int, keyword: str) -> ast.expr:
    given = keyword_arg(call, keyword)
    if given is not None:
        return given.value
    return call.args[position]


RULE = Rule(
    code="KL110",
    name="validation-split-on-ordered-data",
    summary="`fit(validation_split=...)` on arrays concatenated row-wise with no shuffle",
    check=check,
    requires=REQUIRES,
    requires_pattern=TRAINS,
    family=FAMILY,
    default=False,
)
