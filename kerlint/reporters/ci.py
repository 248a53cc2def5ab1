"""Formats other tools read: `pylint` (editors and CI parsers that know pylint's lines),
`rdjson` (reviewdog's JSON diagnostics) and `azure` (Azure Pipelines logging commands).

Each is written as ruff writes it, so that a setup made for ruff works for kerlint. In a
notebook the rows are those of a cell: the message then starts with `cell N`.
"""

from __future__ import annotations

import json

from kerlint.diagnostics import Diagnostic, Location, printable, rule_url
from kerlint.reporters import ReportContext, reporter
from kerlint.rules import PARSE_ERROR


def _message(diagnostic: Diagnostic) -> str:
    message = printable(diagnostic.full_message)
    if diagnostic.cell is not None:
        message = f"cell {diagnostic.cell}: {message}"
    return message


@reporter("pylint")
def pylint(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    """`path:row: [CODE] message`, pylint's `parseable` form."""
    return "\n".join(
        f"{printable(d.filename)}:{d.location.row}: [{d.code}] {_message(d)}" for d in diagnostics
    )


def _azure_escape(text: str) -> str:
    """What Azure's logging-command parser needs escaped in a property value."""
    return (
        text.replace("%", "%AZP25")
        .replace(";", "%3B")
        .replace("]", "%5D")
        .replace("\r", "%0D")
        .replace("\n", "%0A")
    )


@reporter("azure")
def azure(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    """`##vso[task.logissue type=error;sourcepath=...;linenumber=...]message`."""
    lines = []
    for d in diagnostics:
        properties = (
            f"type=error;sourcepath={_azure_escape(printable(d.filename))};"
            f"linenumber={d.location.row};columnnumber={d.location.column};code={d.code};"
        )
        lines.append(f"##vso[task.logissue {properties}]{_message(d)}")
    return "\n".join(lines)


def _position(location: Location) -> dict[str, int]:
    return {"line": location.row, "column": location.column}


def _rdjson_diagnostic(diagnostic: Diagnostic) -> dict:
    start, end = diagnostic.location, diagnostic.end_location
    if end < start:
        end = start
    data: dict = {
        "message": _message(diagnostic),
        "location": {
            "path": printable(diagnostic.filename),
            "range": {"start": _position(start), "end": _position(end)},
        },
        "code": {"value": diagnostic.code},
    }
    if diagnostic.code != PARSE_ERROR:
        data["code"]["url"] = rule_url(diagnostic.code)
    fix = diagnostic.fix
    if fix is not None and fix.edits and diagnostic.cell is None:
        data["suggestions"] = [
            {
                "range": {"start": _position(edit.location), "end": _position(edit.end_location)},
                "text": edit.content,
            }
            for edit in fix.edits
        ]
    return data


@reporter("rdjson")
def rdjson(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    """reviewdog's Diagnostic Format: `reviewdog -f=rdjson` comments on the pull request."""
    document = {
        "source": {"name": "kerlint", "url": "https://github.com/kerlint/kerlint"},
        "severity": "ERROR",
        "diagnostics": [_rdjson_diagnostic(d) for d in diagnostics],
    }
    return json.dumps(document, indent=2)
