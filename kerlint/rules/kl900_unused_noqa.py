"""KL900: a `# noqa` naming a kerlint code that suppressed nothing, or an unknown KL code
(ruff's RUF100, for kerlint's codes only).

It cannot be a check over the facts: whether a directive was used is known only once
every other rule's findings have met the file's suppressions, so the engine calls
`unused_noqa` last, with the suppressions it marked.

Stays silent, where ruff would not, for what kerlint cannot judge: a bare `# noqa` (it may
be there for ruff or flake8), codes of other tools (`E501`), codes that are not selected for
the file (another run may select them), and file-level directives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.rules.base import Rule
from kerlint.source import Source
from kerlint.suppress import Directive, Suppressions

CODE = "KL900"
_KERLINT_CODE = re.compile(r"KL[0-9]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _no_findings(facts: object) -> Iterable:
    return ()


RULE = Rule(
    code=CODE,
    name="unused-noqa",
    summary="a `# noqa` that names a kerlint code it does not suppress, or an unknown one",
    check=_no_findings,
    requires_pattern=re.compile(r"noqa", re.IGNORECASE),
    default=False,
    fix="safe",
)


def unused_noqa(
    source: Source, suppressions: Suppressions, codes: frozenset[str], known: frozenset[str]
) -> list[Diagnostic]:
    """A KL900 for each directive with kerlint codes it did not use.

    `codes`: the codes selected for this file (their rules ran, or could not apply);
    `known`: every rule code there is.
    """
    if suppressions.whole_file is None or CODE in suppressions.whole_file:
        return []
    lines: list[str] | None = None
    found = []
    for directive in suppressions.directives():
        if directive.codes is None or CODE in directive.codes:
            continue
        unknown = [c for c in directive.codes if _is_kerlint(c) and c not in known]
        unused = [
            c
            for c in directive.codes
            if c in known and c in codes and c != "KL000" and c not in directive.used
        ]
        if not unknown and not unused:
            continue
        if lines is None:
            lines = _LINE_BREAK.split(source.text)
        found.append(_diagnostic(source, directive, unused, unknown, lines[directive.row - 1]))
    return found


def _is_kerlint(code: str) -> bool:
    return bool(_KERLINT_CODE.fullmatch(code)) and code != "KL000"


def _diagnostic(
    source: Source, directive: Directive, unused: list[str], unknown: list[str], line: str
) -> Diagnostic:
    parts = []
    if unused:
        parts.append("unused: " + ", ".join(f"`{c}`" for c in unused))
    if unknown:
        parts.append("unknown: " + ", ".join(f"`{c}`" for c in unknown))
    message = (
        f"Unused `noqa` directive ({'; '.join(parts)}): it suppresses nothing here. "
        "Remove it (or the codes), so that it cannot hide a real finding later."
    )
    drop = set(unused) | set(unknown)
    kept = [written for written, _, _ in directive.code_spans if written.upper() not in drop]
    start_column, end_column, content = _removal(directive, line, kept)
    cell, row = source.to_cell(directive.row)
    fix = Fix(
        "Remove the unused `noqa` directive" if not kept else "Remove the unused codes",
        (Edit(content, Location(row, start_column + 1), Location(row, end_column + 1)),),
        "safe",
    )
    return Diagnostic(
        CODE,
        message,
        source.display,
        Location(row, directive.start + 1),
        Location(row, directive.end + 1),
        fix,
        cell,
    )


def _removal(directive: Directive, line: str, kept: list[str]) -> tuple[int, int, str]:
    """(start, end, new text), 0-based columns of `line`: the codes list rewritten, or the
    directive removed with the space that separated it (the whole comment when it was all)."""
    if kept:
        first, last = directive.code_spans[0][1], directive.code_spans[-1][2]
        return first, last, ", ".join(kept)
    after = line[directive.end : directive.comment_end]
    if directive.start == directive.comment_start:
        if after.strip():  # a reason follows the codes: keep the rest of the comment
            return directive.start, directive.end + len(after) - len(after.lstrip()), ""
        start = len(line[: directive.start].rstrip())
        return start, directive.comment_end, ""
    # The directive follows another comment (`type: ignore`): keep that one.
    start = len(line[: directive.start].rstrip())
    return start, directive.end, ""
