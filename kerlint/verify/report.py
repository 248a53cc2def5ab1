"""How `kerlint verify` shows its results: a text report per target, or one JSON document.

Runtime findings become ordinary `Diagnostic`s (`path:line:col: CODE message`), so they
read like `kerlint check` output and tools that parse one parse the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kerlint.diagnostics import Diagnostic, Location
from kerlint.verify import expectations as exp
from kerlint.verify.runner import Outcome, Session
from kerlint.verify.targets import Target, display_path

JSON_VERSION = 1


@dataclass
class TargetResult:
    """A target with everything checked about it."""

    target: Target
    outcome: Outcome
    diagnostics: list[Diagnostic] = field(default_factory=list)
    expectations: list[exp.Outcome] = field(default_factory=list)
    snapshot: str | None = None  # match | drift | missing | updated | None (no snapshot)
    drift: list[str] = field(default_factory=list)

    @property
    def graph_failed(self) -> bool:
        report = self.outcome.report
        return bool(report and report.get("graph") and report["graph"]["error"])

    @property
    def status(self) -> str:
        """error: not built (or the asked-for graph not drawn); failed: a finding, an unmet
        expectation or drift; else ok."""
        if self.outcome.error is not None or self.graph_failed:
            return "error"
        if (
            self.diagnostics
            or any(not e.ok for e in self.expectations)
            or self.snapshot in ("drift", "missing")
        ):
            return "failed"
        return "ok"


def diagnostics_from(report: dict[str, Any], ignore: set[str]) -> list[Diagnostic]:
    """The child's findings as Diagnostics, minus the ignored codes."""
    out = []
    for model in report["models"]:
        for f in model["findings"]:
            if f["code"] in ignore:
                continue
            where = Location(f["line"], f["column"])
            filename = display_path(f["file"]) if f["file"] else "<unknown>"
            out.append(Diagnostic(f["code"], f["message"], filename, where, where))
    return sorted(out, key=lambda d: d.sort_key)


def exit_code(results: list[TargetResult]) -> int:
    """2 when a target could not be built, 1 when one failed a check, else 0."""
    statuses = {r.status for r in results}
    if "error" in statuses:
        return 2
    return 1 if "failed" in statuses else 0


# -- text ----------------------------------------------------------------------------------


def _n(value: int) -> str:
    return f"{value:,}"


def keras_label(name: str, version: str) -> str:
    """`keras 3.15.1`, or `tf_keras 2.21.0 (Keras 2)`."""
    return f"{name} {version}" + (" (Keras 2)" if name == "tf_keras" else "")


def header(session: Session, backend_source: str) -> str:
    keras2 = session.keras_name == "tf_keras"  # Keras 2 has only the tensorflow backend
    source = f" ({backend_source})" if backend_source and not keras2 else ""
    line = (
        f"kerlint verify: {keras_label(session.keras_name, session.keras_version)}, "
        f"backend {session.backend}{source}"
    )
    if session.network == "python":
        line += f"; network blocked in Python only ({session.network_note})"
    return line


def _row_note(row: dict[str, Any], keras2: bool = False) -> str:
    notes = []
    if row["keras_trainable_weights"] != row["trainable_weights"]:
        notes.append(f"{row['name']}.trainable_weights reports {row['keras_trainable_weights']}")
    if row["called_with_training_false"]:
        notes.append(
            "called with training=False"
            + (
                " (BatchNormalization stays in inference: Keras 2)"
                if keras2
                else " (ignored by fit)"
            )
        )
    return "; ".join(notes)


def layer_table(
    model: dict[str, Any], max_depth: int | None = None, keras2: bool = False
) -> list[str]:
    """The per-layer table: nested models indented, counts of what `fit()` will update.

    `trains` / `does not` count the layer's weights that `fit()` on the whole model will
    and will not update; BatchNormalization's moving statistics are never trained.
    """
    head = ["layer", "class", "trainable", "trains", "does not", "params", "BatchNorm", "note"]
    rows: list[list[str]] = []
    index_of: dict[str, int] = {}
    hidden: dict[str, int] = {}
    for row in model["layers"]:
        if max_depth is not None and row["depth"] > max_depth:
            ancestor = "/".join(row["path"].split("/")[:max_depth])
            hidden[ancestor] = hidden.get(ancestor, 0) + 1
            continue
        bn = row["batchnorm"]
        index_of[row["path"]] = len(rows)
        rows.append(
            [
                "  " * row["depth"] + row["name"],
                row["class"],
                "yes" if row["trainable"] else "no",
                _n(row["trainable_weights"]),
                _n(row["non_trainable_weights"]),
                _n(row["params"]),
                "" if bn is None else ("inference" if bn["inference_mode"] else "batch stats"),
                _row_note(row, keras2),
            ]
        )
    for path, count in hidden.items():
        cells = rows[index_of[path]]
        cells[7] = (cells[7] + "; " if cells[7] else "") + f"{count} nested layers not shown"
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {3, 4, 5}

    def fmt(cells: list[str]) -> str:
        parts = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return [fmt(head), *(fmt(r) for r in rows)]


def totals_line(totals: dict[str, int]) -> str:
    return (
        f"totals: {_n(totals['weights'])} weights: {_n(totals['trainable_weights'])} trainable, "
        f"{_n(totals['non_trainable_weights'])} non-trainable; {_n(totals['params'])} params: "
        f"{_n(totals['trainable_params'])} trainable, {_n(totals['non_trainable_params'])} non-trainable"
    )


def diagnostic_line(d: Diagnostic) -> str:
    return f"{d.filename}:{d.location.row}:{d.location.column}: {d.code} {d.message}"


DEFAULT_MAX_DEPTH = 1  # nested models show as one row each, their layers folded


def render_target_text(
    result: TargetResult, *, max_depth: int | None = DEFAULT_MAX_DEPTH, quiet: bool = False
) -> str:
    """The block of text for one target."""
    label = result.target.label
    lines: list[str] = []
    outcome = result.outcome
    if outcome.error is not None:
        lines.append(f"{label}: error: {outcome.error.message}")
        detail = outcome.error.detail.strip()
        if detail and outcome.error.kind not in ("not_a_model", "not_found", "not_callable"):
            lines += ["    " + line for line in detail.splitlines()[-12:]]
        return "\n".join(lines)
    report = outcome.report
    assert report is not None
    keras = report.get("keras") or {}
    for model in report["models"]:
        m = model["model"]
        if not quiet:
            lines.append(
                f"{label}: {m['class']} `{m['name']}`, built in {report['build_seconds']:.2f} s"
            )
            if keras.get("name") == "tf_keras" or "tf_keras" in result.target.keras_because:
                lines.append(
                    f"  note: built with {keras_label(keras.get('name', ''), keras.get('version', ''))}: "
                    f"{result.target.keras_because}"
                )
            for note in report["notes"]:
                lines.append(f"  note: {note}")
            for warning in report["warnings"]:
                lines.append(f"  warning: {warning}")
            for call in report["calls"]:
                if call["kind"] != "compile":
                    site = call["site"]
                    where = f" at {display_path(site['file'])}:{site['line']}" if site else ""
                    lines.append(
                        f"  note: `{call['model']}`.{call['kind']}(){where} was skipped (verify never "
                        f"trains); it had {call['trainable_weights']} trainable weights then"
                    )
            keras2 = keras.get("name") == "tf_keras"
            lines += ["  " + line for line in layer_table(model, max_depth, keras2)]
        lines.append(("  " if not quiet else f"{label}: ") + totals_line(model["totals"]))
    graph = report.get("graph")
    if graph:
        if graph["error"]:
            lines.append(f"{label}: graph: could not draw {graph['path']}: {graph['error']}")
        else:
            lines.append(
                f"{'  ' if not quiet else label + ': '}graph written to {display_path(graph['path'])}"
            )
            if graph.get("note") and not quiet:
                lines.append(f"  note: {graph['note']}")
    lines += [diagnostic_line(d) for d in result.diagnostics]
    for e in result.expectations:
        if not e.ok:
            lines.append(f"{label}: expectation failed: {e.describe()}")
    if result.snapshot == "updated" and not quiet:
        lines.append(f"{label}: snapshot updated")
    elif result.snapshot in ("drift", "missing"):
        lines.append(f"{label}: snapshot drift:")
        lines += [f"    {line}" for line in result.drift]
    return "\n".join(lines)


def summary(results: list[TargetResult]) -> str:
    findings = sum(len(r.diagnostics) for r in results)
    unmet = sum(1 for r in results for e in r.expectations if not e.ok)
    drifted = sum(1 for r in results if r.snapshot in ("drift", "missing"))
    parts = [f"{len(results)} target{'s' if len(results) != 1 else ''} verified"]
    if findings:
        parts.append(f"{findings} runtime finding{'s' if findings != 1 else ''}")
    if unmet:
        parts.append(f"{unmet} unmet expectation{'s' if unmet != 1 else ''}")
    if drifted:
        parts.append(f"{drifted} with snapshot drift")
    not_built = sum(1 for r in results if r.outcome.error is not None)
    no_graph = sum(1 for r in results if r.graph_failed)
    if not_built:
        parts.append(f"{not_built} could not be built")
    if no_graph:
        parts.append(f"{no_graph} graph{'s' if no_graph != 1 else ''} not drawn")
    if not (findings or unmet or drifted or not_built or no_graph):
        parts.append("all good")
    return parts[0] + ": " + ", ".join(parts[1:])


# -- JSON ------------------------------------------------------------------------------------


def _diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {
        "code": d.code,
        "message": d.message,
        "filename": d.filename,
        "location": {"row": d.location.row, "column": d.location.column},
        "end_location": {"row": d.end_location.row, "column": d.end_location.column},
    }


def target_json(result: TargetResult) -> dict[str, Any]:
    target = result.target
    data: dict[str, Any] = {
        "target": target.label,
        "kind": target.kind,
        "status": result.status,
        "error": result.outcome.error.as_json() if result.outcome.error else None,
        "keras": {"name": target.keras, "because": target.keras_because},
    }
    report = result.outcome.report
    if report is not None:
        models = report["models"]
        data.update(
            {
                "build_seconds": report["build_seconds"],
                "notes": report["notes"],
                "warnings": report["warnings"],
                "calls": report["calls"],
                "model": models[0]["model"] if models else None,
                "totals": models[0]["totals"] if models else None,
                "layers": models[0]["layers"] if models else [],
                "head": models[0].get("head") if models else None,
                "graph": report.get("graph"),
            }
        )
        data["keras"].update(report.get("keras") or {})
        if len(models) > 1:
            data["other_models"] = models[1:]
    data["diagnostics"] = [_diagnostic_json(d) for d in result.diagnostics]
    data["expectations"] = [e.as_json() for e in result.expectations]
    data["snapshot"] = {"status": result.snapshot, "drift": result.drift}
    return data


def render_json(
    results: list[TargetResult], session: Session, *, weights: str, backend_source: str
) -> str:
    document = {
        "kerlint_verify": JSON_VERSION,
        "keras_version": session.keras_version or None,
        "keras": session.keras_name if session.keras_version else None,
        "network": session.network or None,
        "network_note": session.network_note or None,
        "backend": session.backend or None,
        "backend_source": backend_source,
        "weights": weights,
        "targets": [target_json(r) for r in results],
        "summary": {
            "targets": len(results),
            "ok": sum(r.status == "ok" for r in results),
            "failed": sum(r.status == "failed" for r in results),
            "errors": sum(r.status == "error" for r in results),
        },
        "exit_code": exit_code(results),
    }
    return json.dumps(document, indent=2)
