"""`--output-format sarif`: SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

Every rule is described from its page (`rules/KLxxx-name.md`): the summary as the short
description, the page's one-paragraph abstract as the full one, the page itself (without
its proof program) as help, and its address as `helpUri`. Columns count Unicode code
points, as kerlint's do. In a notebook the rows are those of the cell, given in the
result's `properties.cell` (and `properties.cellRegion`), while the region points at the
lines of the .ipynb file that hold them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from kerlint import __version__
from kerlint.diagnostics import Diagnostic, Location, printable, rule_url
from kerlint.reporters import ReportContext, reporter
from kerlint.rules import PARSE_ERROR, registry

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/kerlint/kerlint"


def _page(code: str) -> str | None:
    from kerlint.docs import rule_page

    return rule_page(code)


def _abstract(page: str) -> str | None:
    """The page's `> ...` abstract (the paragraph under its title)."""
    lines = []
    for line in page.splitlines():
        if line.startswith(">"):
            lines.append(line.lstrip("> ").strip())
        elif lines:
            break
    return " ".join(lines) or None


def _help(page: str) -> str:
    """The page up to its proof: what people need to understand and fix the finding."""
    match = re.search(r"^## Proof\b", page, re.MULTILINE)
    return page[: match.start()].rstrip() + "\n" if match else page


def rule_descriptor(code: str) -> dict:
    rule = registry.get(code)
    if rule is None:
        return {
            "id": PARSE_ERROR,
            "name": "parse-error",
            "shortDescription": {"text": "the file cannot be read or parsed as Python"},
            "fullDescription": {
                "text": "kerlint could not read, decode or parse this file, so it was not "
                "checked. Fix the syntax error or exclude the file."
            },
            "defaultConfiguration": {"level": "error"},
        }
    page = _page(code)
    descriptor: dict = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": (_abstract(page) if page else None) or rule.summary},
        "helpUri": rule_url(rule.code),
        "defaultConfiguration": {"level": "error", "enabled": rule.default},
        "properties": {"tags": ["keras", "correctness"], "fix": rule.fix or "none"},
    }
    if page:
        descriptor["help"] = {"text": _help(page), "markdown": _help(page)}
    else:
        descriptor["help"] = {"text": f"{rule.summary}. See {rule_url(rule.code)}"}
    return descriptor


def artifact_uri(filename: str) -> str:
    """A path relative to the working folder (as code scanning wants), or a file URI."""
    path = Path(filename)
    if path.is_absolute():
        try:
            path = Path(os.path.relpath(path))
        except ValueError:
            return path.as_uri()
        if path.parts and path.parts[0] == "..":
            return Path(os.path.abspath(filename)).as_uri()
    # The name's own bytes, percent-encoded: a name that is not UTF-8 still makes a URI.
    return quote(os.fsencode(path.as_posix()))


def _region(start: Location, end: Location) -> dict:
    end_row = max(end.row, start.row)
    end_column = end.column if end.row >= start.row else start.column
    if end_row == start.row:
        end_column = max(end_column, start.column)
    return {
        "startLine": max(1, start.row),
        "startColumn": max(1, start.column),
        "endLine": max(1, end_row),
        "endColumn": max(1, end_column),
    }


def _notebook_region(diagnostic: Diagnostic, context: ReportContext | None) -> dict | None:
    """In a notebook: the lines of the .ipynb file that hold the cell's reported lines (a
    viewer opens the file, not the cell); columns there are JSON's, so none are given."""
    if context is None or diagnostic.cell is None:
        return None
    start = context.file_row(diagnostic.filename, diagnostic.cell, diagnostic.location.row)
    end = context.file_row(diagnostic.filename, diagnostic.cell, diagnostic.end_location.row)
    if start is None:
        return None
    return {"startLine": start, "endLine": max(start, end or start)}


def result(diagnostic: Diagnostic, index: int, context: ReportContext | None = None) -> dict:
    location = {"uri": artifact_uri(diagnostic.filename)}
    notebook_region = _notebook_region(diagnostic, context)
    data: dict = {
        "ruleId": diagnostic.code,
        "ruleIndex": index,
        "level": "error",
        "message": {"text": printable(diagnostic.full_message)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": location,
                    "region": notebook_region
                    or _region(diagnostic.location, diagnostic.end_location),
                }
            }
        ],
    }
    fix = diagnostic.fix
    # A notebook's edits are in the cell's rows: they cannot be given against the file.
    if fix is not None and fix.edits and notebook_region is None:
        data["fixes"] = [
            {
                "description": {"text": f"{fix.message} ({fix.applicability})"},
                "artifactChanges": [
                    {
                        "artifactLocation": location,
                        "replacements": [
                            {
                                "deletedRegion": _region(edit.location, edit.end_location),
                                "insertedContent": {"text": edit.content},
                            }
                            for edit in fix.edits
                        ],
                    }
                ],
            }
        ]
    properties: dict = {}
    if diagnostic.cell is not None:
        properties["cell"] = diagnostic.cell
        if notebook_region is not None:  # where in the cell, for viewers that know cells
            properties["cellRegion"] = _region(diagnostic.location, diagnostic.end_location)
    if diagnostic.keras is not None:
        properties["keras"] = diagnostic.keras
    if diagnostic.verification is not None:
        properties["verification"] = diagnostic.verification
    if properties:
        data["properties"] = properties
    return data


def to_sarif(diagnostics: list[Diagnostic], context: ReportContext | None = None) -> dict:
    codes = [rule.code for rule in registry.all_rules()]
    if any(d.code == PARSE_ERROR for d in diagnostics):
        codes.insert(0, PARSE_ERROR)
    index = {code: i for i, code in enumerate(codes)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kerlint",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule_descriptor(code) for code in codes],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [result(d, index.get(d.code, 0), context) for d in diagnostics],
            }
        ],
    }


@reporter("sarif")
def sarif(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    return json.dumps(to_sarif(diagnostics, context), indent=2, ensure_ascii=False)
