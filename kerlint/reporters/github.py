"""`--output-format github`: GitHub Actions workflow commands, one annotation a diagnostic.

`::error file=train.py,line=20,col=1,endLine=20,endColumn=22,title=KL003::message`. The
message escapes `%`, CR and LF; property values also escape `:` and `,`, as the runner's
parser expects. In a notebook the rows belong to a cell, not to the file's JSON, so the
annotation names the file only and the message starts with `cell N, line R`.
"""

from __future__ import annotations

from kerlint.diagnostics import Diagnostic, printable
from kerlint.reporters import ReportContext, reporter


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(diagnostic: Diagnostic) -> str:
    # Control characters are escaped first: click strips ANSI sequences from stdout, which
    # would make the annotation name another file.
    properties = [("file", printable(diagnostic.filename))]
    message = diagnostic.full_message
    if diagnostic.cell is None:
        start, end = diagnostic.location, diagnostic.end_location
        properties += [
            ("line", str(start.row)),
            ("col", str(start.column)),
            ("endLine", str(end.row)),
            ("endColumn", str(end.column)),
        ]
    else:
        row, column = diagnostic.location.row, diagnostic.location.column
        message = f"cell {diagnostic.cell}, line {row}, column {column}: {message}"
    properties.append(("title", diagnostic.code))
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::error {joined}::{escape_data(message)}"


@reporter("github")
def github(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    return "\n".join(annotation(d) for d in diagnostics)
