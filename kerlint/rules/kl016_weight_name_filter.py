"""KL016 (opt-in): weights selected by a `w.name` test that only Keras 2 names can pass.

In Keras 3 `w.name` is the bare variable name (`kernel`), the layer's path is `w.path`: a
filter on `'block5' in w.name`, `w.name.startswith('conv')` or `':0'` silently selects
nothing, so a custom loop trains nothing, a regulariser covers nothing, a freezing list is
empty. Correct in Keras 2 (reported there only in the upgrade view).
"""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.rules._modes import by_mode
from kerlint.rules.base import Finding, Rule


def check(facts: FileFacts) -> Iterator[Finding]:
    yield from by_mode(facts, _keras3(facts), ())


def _keras3(facts: FileFacts) -> Iterator[Finding]:
    for test in facts.facts.weight_name_filters:
        owner = test.weights.owner.describe()
        yield Finding(
            test.node,
            f"`{facts.code(test.node)}` selects weights of `{owner}.{test.weights.attr}` by a "
            f"name only Keras 2 gives (`{test.literal}`): Keras 3's `w.name` is the bare "
            "variable name (`kernel`, `bias`), so this filter silently matches nothing there. "
            "Test `w.path` (Keras 3), or select through the layers "
            f"(`{owner}.get_layer(name).weights`), which works in both.",
        )


RULE = Rule(
    code="KL016",
    name="weight-name-filter",
    summary="weights selected by a `w.name` test that only Keras 2 names pass",
    check=check,
    requires=(".name",),
    default=False,
)
