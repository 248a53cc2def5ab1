"""`--output-format gitlab`: a GitLab Code Quality report (the `codequality` artifact).

Each issue's fingerprint is made from its file, its code and its line's text with the
nearest lines around it (the baseline's fingerprint), plus an occurrence number for
identical ones: it stays the same across runs and when unrelated edits shift lines, which
is what GitLab needs to tell new issues from old ones in a merge request.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from kerlint.baseline import fingerprint
from kerlint.diagnostics import Diagnostic, printable
from kerlint.reporters import ReportContext, reporter
from kerlint.rules import PARSE_ERROR


def _path(filename: str) -> str:
    return printable(Path(filename).as_posix())


def issues(diagnostics: list[Diagnostic], context: ReportContext) -> list[dict]:
    seen: Counter[tuple[str, str, str]] = Counter()
    result = []
    for diagnostic in diagnostics:
        path = _path(diagnostic.filename)
        lines = context.lines_of(diagnostic.filename, diagnostic.cell)
        mark = fingerprint(diagnostic.code, lines, diagnostic.location.row)
        key = (path, diagnostic.code, mark.context)
        occurrence = seen[key]
        seen[key] += 1
        digest = hashlib.sha256(
            "\x00".join((*key, str(occurrence), str(diagnostic.cell or ""))).encode("utf-8")
        ).hexdigest()
        description = diagnostic.full_message
        if diagnostic.cell is not None:
            description = f"cell {diagnostic.cell}, line {diagnostic.location.row}: {description}"
        result.append(
            {
                "type": "issue",
                "description": description,
                "check_name": diagnostic.code,
                "fingerprint": digest,
                "severity": "critical" if diagnostic.code == PARSE_ERROR else "major",
                "categories": ["Bug Risk"],
                "location": {"path": path, "lines": _lines(diagnostic, context)},
            }
        )
    return result


def _lines(diagnostic: Diagnostic, context: ReportContext) -> dict[str, int]:
    """The file's lines; in a notebook those of the .ipynb that hold the cell's lines."""
    begin, end = diagnostic.location.row, max(diagnostic.end_location.row, diagnostic.location.row)
    cell = diagnostic.cell
    first = context.file_row(diagnostic.filename, cell, begin)
    if first is not None:
        last = context.file_row(diagnostic.filename, cell, end) or first
        begin, end = first, max(first, last)
    return {"begin": begin, "end": end}


@reporter("gitlab")
def gitlab(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    return json.dumps(issues(diagnostics, context), indent=2, ensure_ascii=False)
