"""The flow analysis stays near linear in the file: measured in state transfers, not seconds.

Generated inputs: n independent freezes in one scope, and loops nested d deep. Before the
persistent states and the per-input loop memo, the first cost n^2 flag copies and the second
2^d body replays (depth 18: 7 s; depth 99 never ended).
"""

from __future__ import annotations

import ast
import tracemalloc

from kerlint.facts import FileFacts
from kerlint.facts.states import WORK_BUDGET


def _flat(n: int) -> str:
    lines = ["import keras"]
    lines += [f"m_{i} = keras.layers.Dense({i}); m_{i}.trainable = False" for i in range(n)]
    return "\n".join(lines) + "\n"


def _nested(depth: int) -> str:
    lines = ["import keras", "model = keras.Sequential([keras.layers.Dense(1)])"]
    lines += ["    " * k + f"for i{k} in range(2):" for k in range(depth)]
    body = "    " * depth
    lines += [f"{body}model.trainable = False", f"{body}model.fit(x, y)"]
    lines += [f"{body}model.trainable = True"]
    return "\n".join(lines) + "\n"


def _work(text: str) -> tuple[int, FileFacts]:
    facts = FileFacts(ast.parse(text), text)
    analysis = facts.analysis
    return WORK_BUDGET - analysis.budget, facts


def _analysis_memory(text: str) -> int:
    """Bytes the flow analysis allocates (and keeps: the states before every event)."""
    facts = FileFacts(ast.parse(text), text)
    facts.graph  # noqa: B018 - built outside the measurement
    tracemalloc.start()
    try:
        facts.analysis  # noqa: B018
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_independent_freezes_cost_linear_work_and_memory() -> None:
    small, _ = _work(_flat(500))
    large, _ = _work(_flat(2000))
    assert large <= 4.5 * small
    # Copying every flag per event kept n^2 flags alive (16x for 4x the lines).
    assert _analysis_memory(_flat(2000)) <= 7 * _analysis_memory(_flat(500))


def test_nested_loops_cost_linear_work_in_their_depth() -> None:
    shallow, _ = _work(_nested(10))
    deep, facts = _work(_nested(30))
    assert deep <= 4 * shallow
    assert not facts.analysis.exhausted
    # The analysis still sees the loop: the freeze at the end of a pass meets the next fit.
    (train,) = list(facts.events("train"))
    assert {
        state.flag((train.target.id, ""), True).value for state in facts.states_before(train)
    } == {False}


def test_past_its_budget_the_analysis_is_silent_not_partial() -> None:
    text = _flat(50)
    facts = FileFacts(ast.parse(text), text)
    from kerlint.facts.states import Analysis

    analysis = Analysis(facts.graph, budget=10)
    for timeline in facts.facts.timelines:
        analysis.run(timeline)
    assert analysis.exhausted
    assert analysis.before == {}
