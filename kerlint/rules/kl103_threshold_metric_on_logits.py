"""KL103: threshold metrics at their default 0.5 on a binary head that outputs logits."""

from __future__ import annotations

from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.facts.heads import MetricSpec
from kerlint.facts.syntax import keyword, string_literal
from kerlint.fixgen import keras_name
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    REQUIRES,
    TRAINS,
    local_fix,
    model_name,
    trained_compiles,
    with_keyword,
)

# Metric strings and what they become on logits: (class, keyword, value, extra arguments).
STRING_FIXES = {
    "accuracy": ("BinaryAccuracy", 'name="accuracy", threshold=0.0'),
    "acc": ("BinaryAccuracy", 'name="acc", threshold=0.0'),
    "binary_accuracy": ("BinaryAccuracy", "threshold=0.0"),
    "auc": ("AUC", "from_logits=True"),
    "precision": ("Precision", "thresholds=0.0"),
    "recall": ("Recall", "thresholds=0.0"),
}
# Metric classes: the argument that moves their threshold to logits, and its default spellings.
CLASS_FIXES = {
    "BinaryAccuracy": ("threshold", "0.0", ("0.5",)),
    "AUC": ("from_logits", "True", ("False",)),
    "Precision": ("thresholds", "0.0", ("None", "0.5")),
    "Recall": ("thresholds", "0.0", ("None", "0.5")),
}


def check(facts: FileFacts) -> Iterator[Finding]:
    for compiled in trained_compiles(facts):
        head, loss = compiled.head, compiled.loss
        if head is None or loss is None or compiled.metrics is None:
            continue
        if loss.kind != "binary" or loss.from_logits is not True or head.activation != "linear":
            continue
        for metric in compiled.metrics:
            found = _finding(facts, metric, head.units)
            if found is None:
                continue
            written, fixed = found
            yield Finding(
                metric.node,  # type: ignore[arg-type]
                f"`{written}` thresholds the output of `{model_name(facts, compiled)}` at 0.5, "
                "but the loss says it is logits (`from_logits=True`), where the decision "
                "boundary is 0: the reported numbers are wrong (accuracy 0.85 vs 0.91, recall "
                "0.68 vs 0.89), and callbacks that monitor them pick the wrong epochs. "
                f"Use `{fixed}`.",
                fix=local_fix(
                    facts,
                    FixSpec(f"Use `{fixed}`", (Replacement(metric.node, fixed),), "safe"),  # type: ignore[arg-type]
                )
                if fixed
                else None,
            )


def _finding(facts: FileFacts, metric: MetricSpec, units: int | None) -> tuple[str, str] | None:
    """(the metric as written, its logits version) when it thresholds at 0.5."""
    node = metric.node
    if node is None:
        return None
    if string_literal(node) is not None:
        if metric.name not in STRING_FIXES:
            return None
        if metric.name in ("accuracy", "acc") and units != 1:
            return None  # more units: Keras picks categorical accuracy, no threshold
        klass, arguments = STRING_FIXES[metric.name]
        spelled = keras_name(facts, f"keras.metrics.{klass}")
        return facts.code(node), f"{spelled}({arguments})" if spelled else ""
    call = metric.call
    if call is None or metric.name not in CLASS_FIXES or call is not node:
        return None
    if call.args or any(k.arg is None for k in call.keywords):
        return None  # a positional argument: perhaps the threshold
    name, value, defaults = CLASS_FIXES[metric.name]
    given = keyword(call, name)
    if given is not None and facts.code(given.value) not in defaults:
        return None
    if metric.name in ("Precision", "Recall") and any(
        k.arg in ("top_k", "class_id") for k in call.keywords
    ):
        return None
    return facts.code(call), with_keyword(facts, call, name, value) or ""


RULE = Rule(
    code="KL103",
    name="threshold-metric-on-logits",
    summary="accuracy, AUC, precision or recall at a 0.5 threshold on a logits output",
    check=check,
    requires=REQUIRES,
    family=FAMILY,
    requires_pattern=TRAINS,
    fix="safe",
)
