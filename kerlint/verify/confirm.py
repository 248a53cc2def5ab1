"""`kerlint check --verify`: runtime evidence for static findings.

For every finding of a rule that a built model can show (KL002, KL003, KL004, KL012, and
the model-definition rules KL101-KL107 on a compiled model's head and loss), the
module-level function that holds it is built in the child process (when it can be called
with no arguments), and the finding is marked:

- `confirmed`: the built model shows the problem, with the counts that show it;
- `not confirmed`: it does not (the counts say what the model has instead);
- `error`: nothing could be built (the function raised, hung, needs arguments, ...).

The function is run as a factory: `compile()` is recorded, `fit()` and the other training
calls are skipped, so a `def main():` that builds, freezes and trains runs in a second.
When it returns no model, the models it compiled or trained are examined instead.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerlint.diagnostics import Diagnostic
from kerlint.verify import which_keras
from kerlint.verify.runner import FatalError, Outcome, run_targets
from kerlint.verify.targets import Target

# The freeze rules a built model shows, and the model-definition rules its compiled head shows.
HEAD_CODES = frozenset(f"KL10{i}" for i in range(1, 8))
CONFIRMABLE = frozenset({"KL002", "KL003", "KL004", "KL012"}) | HEAD_CODES


@dataclass(frozen=True)
class Factory:
    """A module-level function: its name and the lines it spans (decorators included)."""

    name: str
    first: int
    last: int
    callable_without_arguments: bool


def _no_arguments(node: ast.FunctionDef) -> bool:
    args = node.args
    positional = args.posonlyargs + args.args
    missing_positional = len(positional) - len(args.defaults)
    missing_keyword = sum(1 for d in args.kw_defaults if d is None)
    return missing_positional == 0 and missing_keyword == 0


def module_functions(source: str) -> list[Factory]:
    """The module-level `def`s of a source file (stdlib `ast`: no keras, no libcst)."""
    tree = ast.parse(source)
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            out.append(
                Factory(node.name, first, node.end_lineno or node.lineno, _no_arguments(node))
            )
        elif isinstance(node, ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            out.append(Factory(node.name, first, node.end_lineno or node.lineno, False))
    return out


def enclosing_function(source: str, row: int) -> Factory | None:
    for factory in module_functions(source):
        if factory.first <= row <= factory.last:
            return factory
    return None


def _verification(
    status: str, target: str | None, detail: str, counts: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"status": status, "target": target, "detail": detail, "counts": counts or {}}


def confirm_diagnostics(
    diagnostics: list[Diagnostic], *, timeout: float, backend: str | None
) -> list[Diagnostic]:
    """Return the diagnostics with `verification` set on the confirmable ones.

    Each function is built once (per Keras the findings assumed) however many findings it
    holds, with `timeout` seconds each; one child per Keras. `backend=None` uses the user's
    configured one.
    """
    verifications: dict[int, dict[str, Any]] = {}
    wanted: dict[tuple[str, str, str], list[int]] = {}
    targets: dict[tuple[str, str, str], Target] = {}
    sources: dict[str, str | None] = {}
    for i, d in enumerate(diagnostics):
        if d.code not in CONFIRMABLE:
            continue
        if d.cell is not None:
            verifications[i] = _verification(
                "error",
                None,
                "notebook cells are not built; move the model code into a .py factory",
            )
            continue
        path = Path(d.filename).resolve()
        if d.filename not in sources:
            try:
                sources[d.filename] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                sources[d.filename] = None
        source = sources[d.filename]
        if source is None:
            verifications[i] = _verification("error", None, f"cannot read {d.filename}")
            continue
        try:
            factory = enclosing_function(source, d.location.row)
        except SyntaxError:
            verifications[i] = _verification("error", None, f"{d.filename} does not parse")
            continue
        if factory is None:
            verifications[i] = _verification(
                "error", None, "not inside a module-level function, so there is nothing to build"
            )
            continue
        label = f"{d.filename}:{factory.name}"
        if not factory.callable_without_arguments:
            verifications[i] = _verification(
                "error", label, f"{factory.name}() needs arguments, so it was not built"
            )
            continue
        version = (d.keras or {}).get("version") or "3"
        key = (str(path), factory.name, version)  # built by the Keras the finding assumed
        wanted.setdefault(key, []).append(i)
        if key not in targets:
            targets[key] = Target(
                label=label,
                kind="file",
                path=str(path),
                function=factory.name,
                sys_path=[str(Path.cwd())],
            )
            which_keras.choose(targets[key], None, version=version)  # "2": tf_keras

    if targets:
        keys = list(targets)
        try:
            outcomes, _ = run_targets(
                [targets[k] for k in keys], backend=backend, timeout=timeout, mode="confirm"
            )
        except FatalError as error:
            for k in keys:
                for i in wanted[k]:
                    verifications[i] = _verification("error", targets[k].label, str(error))
        else:
            for k, outcome in zip(keys, outcomes, strict=True):
                for i in wanted[k]:
                    verifications[i] = judge(diagnostics[i], outcome)

    return [
        d.with_(verification=verifications[i]) if i in verifications else d
        for i, d in enumerate(diagnostics)
    ]


# -- judging one finding against the built model ------------------------------------------------


def _same_file(a: str | None, b: str) -> bool:
    if not a:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def judge(diagnostic: Diagnostic, outcome: Outcome) -> dict[str, Any]:
    """The verification of one finding, from what the child built."""
    label = outcome.target.label
    if outcome.error is not None:
        return _verification("error", label, f"building {label} failed: {outcome.error.message}")
    report = outcome.report
    assert report is not None
    models = report["models"]
    if not models:
        return _verification(
            "error",
            label,
            f"{outcome.target.function}() built no model (it returned none, and compiled or trained none)",
        )
    found = [f for m in models for f in m["findings"] if f["code"] == diagnostic.code]
    if found:
        f = found[0]
        detail = (
            _unconfirmed(diagnostic.code, models)[0]
            if diagnostic.code in HEAD_CODES
            else _confirmed_detail(diagnostic.code, f)
        )
        if _same_file(f["file"], diagnostic.filename) and f["line"] != diagnostic.location.row:
            detail += f" (runtime evidence at line {f['line']})"
        counts = dict(f["counts"])
        if len(found) > 1:
            counts["findings"] = len(found)
        return _verification("confirmed", label, detail, counts)
    detail, counts = _unconfirmed(diagnostic.code, models)
    return _verification("not confirmed", label, detail, counts)


def _confirmed_detail(code: str, finding: dict[str, Any]) -> str:
    c = finding["counts"]
    layers = finding["layers"]
    if code == "KL002":
        if "non_trainable_weights" in c:
            return f"the built model has 0 trainable weights out of {c['weights']}"
        return f"`{finding['subject']}` was trained with 0 of its {c['weights']} weights trainable"
    if code == "KL003":
        return (
            f"{c['trainable_batchnorm']} of {c['batchnorm']} BatchNormalization layers in "
            f"`{finding['subject']}` will train (batch statistics during fit)"
        )
    if code == "KL004":
        return (
            f"{c['weightless_frozen_layers']} weightless layer(s) frozen under trainable "
            f"`{finding['subject']}`: {', '.join(layers)}"
        )
    if code == "KL012":
        return (
            f"{c['trainable_layers_under_frozen']} layers under frozen `{finding['subject']}` will train "
            f"({c['trained_weights']} weights; the sub-model reports {c['keras_reported_trainable_weights']})"
        )
    return finding["message"]


def _unconfirmed(code: str, models: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    model = models[0]
    totals = model["totals"]
    rows = model["layers"]
    if code == "KL002":
        return (
            f"the built model has {totals['trainable_weights']} trainable weights out of {totals['weights']}",
            {"trainable_weights": totals["trainable_weights"], "weights": totals["weights"]},
        )
    if code == "KL003":
        bn = [r for r in rows if r["batchnorm"] is not None]
        if not bn:
            return "the built model has no BatchNormalization layer", {
                "trainable_batchnorm": 0,
                "batchnorm": 0,
            }
        training = [
            r for r in bn if not r["batchnorm"]["inference_mode"] and r["trainable_weights"]
        ]
        return (
            f"{len(training)} of {len(bn)} BatchNormalization layers train, none where inference "
            "mode is expected (no frozen sibling, no training=False call)",
            {"trainable_batchnorm": len(training), "batchnorm": len(bn)},
        )
    if code in HEAD_CODES:
        head = model.get("head")
        if not head:
            return "the built model's head could not be read (several outputs, or no graph)", {}
        if not head.get("loss"):
            return (
                f"the built model ends in {head['activation']} over {head['units']} units and was "
                "not compiled (or with a loss kerlint cannot read)",
                {"units": head["units"] or 0},
            )
        logits = " (from_logits=True)" if head.get("from_logits") else ""
        metrics = f", metrics {', '.join(head['metrics'])}" if head.get("metrics") else ""
        return (
            f"the built model ends in {head['activation']} over {head['units']} units and is "
            f"compiled with {head['loss']}{logits}{metrics}",
            {"units": head["units"] or 0},
        )
    if code == "KL004":
        frozen = [r for r in rows if not r["weights"] and not r["trainable"]]
        return (
            "no weightless layer is frozen under a trainable parent"
            + (
                f" ({len(frozen)} weightless layers are frozen along with their parent or siblings)"
                if frozen
                else ""
            ),
            {"weightless_frozen_layers": 0},
        )
    return (
        "no layer trains under a sub-model whose trainable is False",
        {"trainable_layers_under_frozen": 0},
    )


def format_verification(verification: dict[str, Any] | None) -> str:
    """A short suffix for text reporters: ` [verify: confirmed: ...]`."""
    if not verification:
        return ""
    detail = verification.get("detail")
    return f" [verify: {verification.get('status')}{': ' + detail if detail else ''}]"
