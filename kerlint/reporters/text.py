"""The default output: ruff's concise form, `path:row:col: CODE message`, and a summary."""

from __future__ import annotations

from collections import Counter

import click

from kerlint.diagnostics import Diagnostic, printable
from kerlint.reporters import ReportContext, reporter


def _style(text: str, context: ReportContext, **kwargs) -> str:
    return click.style(text, **kwargs) if context.color else text


def where(diagnostic: Diagnostic) -> str:
    """`path:row:col`, or `path:cell 4:row:col` in a notebook."""
    cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
    name = printable(diagnostic.filename)
    return f"{name}:{cell}{diagnostic.location.row}:{diagnostic.location.column}"


def fixable(diagnostic: Diagnostic, context: ReportContext) -> bool:
    fix = diagnostic.fix
    return fix is not None and (fix.applicability == "safe" or context.unsafe_fixes)


def concise_line(diagnostic: Diagnostic, context: ReportContext) -> str:
    path = _style(where(diagnostic), context, bold=True)
    code = _style(diagnostic.code, context, fg="red", bold=True)
    mark = (
        _style("[*] ", context, fg="cyan")
        if context.show_fixes and fixable(diagnostic, context)
        else ""
    )
    return f"{path}: {code} {mark}{printable(diagnostic.full_message)}"


def summary(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    if context.quiet:
        return ""
    lines = []
    if context.fixed:
        lines.append(f"Fixed {context.fixed} error{'s' if context.fixed != 1 else ''}.")
    if context.hidden_by_baseline:
        lines.append(f"{context.hidden_by_baseline} known error(s) hidden by the baseline.")
    if context.stale_baseline:
        lines.append(
            f"{context.stale_baseline} baseline entr{'ies' if context.stale_baseline != 1 else 'y'} "
            "no longer match: write the baseline again to drop them."
        )
    if not diagnostics:
        lines.append(_style("All checks passed!", context, fg="green"))
        return "\n".join(lines)
    count = len(diagnostics)
    lines.append(f"Found {count} error{'s' if count != 1 else ''}.")
    safe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability == "safe")
    unsafe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability == "unsafe")
    if context.unsafe_fixes:  # --unsafe-fixes: `--fix` applies those too
        safe, unsafe = safe + unsafe, 0
    if safe and context.show_fixes:
        lines.append(f"[*] {safe} fixable with the `--fix` option.")
    if unsafe and context.show_fixes:
        lines.append(f"({unsafe} more fixable with the `--unsafe-fixes` option.)")
    return "\n".join(lines)


@reporter("concise")
def concise(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    body = [concise_line(d, context) for d in diagnostics]
    return "\n".join(filter(None, [*body, summary(diagnostics, context)]))


def statistics(
    diagnostics: list[Diagnostic], context: ReportContext, output_format: str = "concise"
) -> str:
    """`--statistics`: one line per code, most frequent first, as ruff prints it; with
    `--output-format json` (or json-lines) a JSON list, as ruff's."""
    from kerlint.rules import registry

    counts = Counter(d.code for d in diagnostics)
    fixable_counts = Counter(d.code for d in diagnostics if fixable(d, context))
    records = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        rule = registry.get(code)
        records.append(
            {
                "code": code,
                "name": rule.name if rule else "parse-error",
                "count": count,
                "fixable": fixable_counts[code] > 0,
                "fixable_count": fixable_counts[code],
            }
        )
    if output_format in ("json", "json-lines"):
        import json

        return json.dumps(records, indent=2)
    lines = []
    for record in records:
        mark = "[*]" if record["fixable"] else "[ ]"
        lines.append(f"{record['count']:>5}\t{record['code']}\t{mark} {record['name']}")
    return "\n".join(lines)
