"""`--output-format json`: a list of objects shaped like ruff's JSON output."""

from __future__ import annotations

import json

from kerlint.diagnostics import Diagnostic, Location, printable, rule_url
from kerlint.reporters import ReportContext, reporter


def _location(location: Location) -> dict[str, int]:
    return {"row": location.row, "column": location.column}


def as_dict(diagnostic: Diagnostic) -> dict:
    fix = diagnostic.fix
    data = {
        "code": diagnostic.code,
        "message": diagnostic.message,
        "filename": printable(diagnostic.filename),
        "cell": diagnostic.cell,
        "location": _location(diagnostic.location),
        "end_location": _location(diagnostic.end_location),
        "noqa_row": diagnostic.location.row,
        "fix": None
        if fix is None
        else {
            "applicability": fix.applicability,
            "message": fix.message,
            "edits": [
                {
                    "content": edit.content,
                    "location": _location(edit.location),
                    "end_location": _location(edit.end_location),
                }
                for edit in fix.edits
            ],
        },
        "url": rule_url(diagnostic.code) if diagnostic.code != "KL000" else None,
    }
    if diagnostic.keras is not None:
        data["keras"] = diagnostic.keras
    if diagnostic.verification is not None:
        data["verification"] = diagnostic.verification
    return data


@reporter("json")
def to_json(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    return json.dumps([as_dict(d) for d in diagnostics], indent=2)


@reporter("json-lines")
def to_json_lines(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    """One JSON object a line (ruff's `json-lines`): streams and greps well."""
    return "\n".join(json.dumps(as_dict(d)) for d in diagnostics)
