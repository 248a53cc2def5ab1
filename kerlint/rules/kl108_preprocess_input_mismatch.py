"""KL108: `preprocess_input` of one keras.applications family fed to a model of another."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from kerlint.facts import FileFacts
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl1_heads import (
    FAMILY,
    MODE_TEXT,
    PREPROCESS_MODES,
    REQUIRES,
    TRAINS,
    application_module,
    local_fix,
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
    # Cheap necessary conditions first: the scopes below need the file's parent index.
    if not any(app.id in trained for app in applications):
        return
    if not any(pretrained(app.node) for app in applications):
        return
    seen: set[int] = set()
    for call, used in calls:
        mode = PREPROCESS_MODES.get(used)
        if mode is None or id(call) in seen:
            continue
        seen.add(id(call))
        # The applications of the call's own function, else of the whole file.
        scope = facts.scope_of(call)
        group = [app for app in applications if facts.scope_of(app.node) is scope]  # type: ignore[arg-type]
        group = group or applications
        modules = {application_module(app.cls.rsplit(".", 1)[-1]) for app in group}  # type: ignore[union-attr]
        if len(modules) != 1 or None in modules:
            continue  # none, or several families: which model the input feeds is not known
        (module,) = modules
        model_mode = PREPROCESS_MODES.get(module)  # type: ignore[arg-type]
        if model_mode is None or model_mode == mode:
            continue
        if not any(app.id in trained for app in group):
            continue
        if not all(pretrained(app.node) for app in group):
            continue  # trained from scratch: any fixed scaling works
        leaf = group[0].cls.rsplit(".", 1)[-1]  # type: ignore[union-attr]
        yield Finding(
            call,
            f"`{used}.preprocess_input` prepares images for {used} models ({MODE_TEXT[mode]}), "
            f"but the code trains a pretrained {leaf}, which expects them "
            f"{MODE_TEXT[model_mode]}: the pretrained weights see inputs off by up to two "
            "orders of magnitude, silently. Use "
            f"`keras.applications.{module}.preprocess_input`.",
            fix=local_fix(facts, _fix(facts, call, used, module)),  # type: ignore[arg-type]
        )


def _fix(facts: FileFacts, node: ast.AST, used: str, module: str) -> FixSpec | None:
    """`...resnet50.preprocess_input` -> `...mobilenet_v2.preprocess_input`, called or not."""
    import libcst as cst

    func = facts.cst(node.func if isinstance(node, ast.Call) else node)
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
    requires_pattern=TRAINS,
    family=FAMILY,
    fix="unsafe",
)
