"""KL108: `preprocess_input` of one keras.applications family fed to a model of another."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from kerlint.facts import FileFacts
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    MODE_TEXT,
    PREPROCESS_MODES,
    REQUIRES,
    application_module,
    pattern,
    pretrained,
    trained_models,
)


def check(facts: FileFacts) -> Iterator[Finding]:
    calls = facts.facts.heads.preprocess_calls
    if not calls:
        return
    trained = trained_models(facts)
    applications = [
        obj
        for obj in facts.facts.objects
        if obj.kind == "model" and obj.cls and obj.cls.startswith("keras.applications.")
    ]
    modules = {application_module(obj.cls.rsplit(".", 1)[-1]) for obj in applications}  # type: ignore[union-attr]
    if len(modules) != 1 or None in modules:
        return  # none, or several families: which model each input feeds is not known
    (module,) = modules
    assert module is not None
    if not any(obj.id in trained for obj in applications):
        return
    if not all(pretrained(obj.node) for obj in applications):
        return  # trained from scratch: any fixed scaling works
    model_mode = PREPROCESS_MODES.get(module)
    seen: set[int] = set()
    for call, used in calls:
        mode = PREPROCESS_MODES.get(used)
        if model_mode is None or mode is None or mode == model_mode or id(call) in seen:
            continue
        seen.add(id(call))
        leaf = applications[0].cls.rsplit(".", 1)[-1]  # type: ignore[union-attr]
        yield Finding(
            call,
            f"`{used}.preprocess_input` prepares images for {used} models ({MODE_TEXT[mode]}), "
            f"but the file trains a pretrained {leaf}, which expects them "
            f"{MODE_TEXT[model_mode]}: the pretrained weights see inputs off by up to two "
            "orders of magnitude, silently. Use "
            f"`keras.applications.{module}.preprocess_input`.",
            fix=_fix(call, used, module),
        )


def _fix(call: cst.Call, used: str, module: str) -> FixSpec | None:
    func = call.func
    if (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Attribute)
        and func.value.attr.value == used
    ):
        new = func.with_changes(value=func.value.with_changes(attr=cst.Name(module)))
        return FixSpec(
            f"Use `{module}.preprocess_input`",
            (Replacement(func, cst.Module([]).code_for_node(new)),),
            "unsafe",
        )
    return None


RULE = Rule(
    code="KL108",
    name="preprocess-input-mismatch",
    summary="`preprocess_input` of another keras.applications family than the model's",
    check=check,
    requires=REQUIRES,
    requires_pattern=pattern("preprocess_input"),
    family=FAMILY,
    fix="unsafe",
)
