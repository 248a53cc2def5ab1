"""One pattern, two Keras: how a rule whose verdict depends on the Keras version reports.

A mode-dependent rule computes what is wrong under Keras 3 and what is wrong under Keras 2
(each a finding with its own message, keyed by the node it points at); `by_mode` picks
what the file's `KerasMode` asks for:

- Keras 3: the Keras 3 findings.
- Keras 2: the Keras 2 findings; with the upgrade view (`target-keras = "3"`) also the
  Keras 3 findings that Keras 2 does not have: code correct today, wrong after the upgrade.
- unknown: every finding that is wrong in at least one of the two, its message saying how
  each behaves (the portable reading).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator

from kerlint.facts import FileFacts
from kerlint.rules.base import Finding

# How a rule words the cases: given its Keras 3 and its Keras 2 finding for one node (either
# may be None), the finding to report. Defaults below cover most rules.
Combine = Callable[[Finding | None, Finding | None], Finding]

UPGRADE = "After the upgrade to Keras 3 (TensorFlow >= 2.16): "


def by_mode(
    facts: FileFacts,
    keras3: Iterable[Finding],
    keras2: Iterable[Finding],
    *,
    upgrade: Callable[[Finding], Finding] | None = None,
    portable: Combine | None = None,
) -> Iterator[Finding]:
    mode = facts.mode
    if mode.keras3:
        yield from keras3
        return
    k2 = _by_node(keras2)
    if mode.keras2:
        yield from k2.values()
        if mode.upgrade_view:
            for node, finding in _by_node(keras3).items():
                if node not in k2:
                    yield (upgrade or upgrade_finding)(finding)
        return
    k3 = _by_node(keras3)
    combine = portable or portable_finding
    for node in {**k3, **k2}:
        yield combine(k3.get(node), k2.get(node))


def _by_node(findings: Iterable[Finding]) -> dict[ast.AST, Finding]:
    found: dict[ast.AST, Finding] = {}
    for finding in findings:
        found.setdefault(finding.node, finding)
    return found


def upgrade_finding(finding: Finding) -> Finding:
    """A Keras 3 finding shown in the upgrade view of a Keras 2 project."""
    return Finding(
        finding.node,
        "Correct in Keras 2, silently wrong in Keras 3. " + UPGRADE + finding.message,
        finding.fix,
    )


def portable_finding(keras3: Finding | None, keras2: Finding | None) -> Finding:
    """The portable reading: what happens in each Keras, and a fix that holds in both."""
    if keras3 is not None and keras2 is not None:
        if keras3.message == keras2.message:
            return keras3  # one message that holds in both
        return Finding(
            keras3.node,
            f"In Keras 3: {keras3.message} In Keras 2: {keras2.message}",
            keras3.fix if keras3.fix is not None else keras2.fix,
        )
    if keras3 is not None:
        return Finding(
            keras3.node,
            f"Wrong in Keras 3 (fine in Keras 2): {keras3.message}",
            keras3.fix,
        )
    assert keras2 is not None
    return Finding(
        keras2.node,
        f"Wrong in Keras 2 (fine in Keras 3): {keras2.message}",
        keras2.fix,
    )
