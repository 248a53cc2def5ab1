"""Checking one file: read, prefilter, parse once, build facts once, run the rules.

Nothing here raises for bad input: unreadable, undecodable or unparsable files
become a KL000 diagnostic and the run goes on.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.facts import FileFacts
from kerlint.rules import PARSE_ERROR, registry
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.source import Source, SourceError, read_source
from kerlint.suppress import find_suppressions

# A file that never says "keras" cannot hold a Keras object kerlint could know of.
KERAS_MARKER = "keras"


@dataclass
class FileResult:
    path: Path
    diagnostics: list[Diagnostic]
    source: Source | None = None
    parsed: bool = False


def rules_for(codes: Iterable[str]) -> list[Rule]:
    wanted = set(codes)
    return [rule for rule in registry.all_rules() if rule.code in wanted]


def check_file(
    path: Path, codes: frozenset[str], display: str | None = None, data: bytes | None = None
) -> FileResult:
    display = display if display is not None else str(path)
    try:
        source = read_source(path, display, data)
    except SourceError as exc:
        return FileResult(path, [_error(display, exc.message, exc.row, exc.column)])
    return check_source(source, codes)


def check_source(source: Source, codes: frozenset[str]) -> FileResult:
    text = source.text
    rules = (
        [rule for rule in rules_for(codes) if rule.may_apply(text)] if KERAS_MARKER in text else []
    )
    if not rules:
        return FileResult(source.path, [], source)
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        message, row, column = _syntax_error(text, exc)
        cell, row = source.to_cell(row)
        return FileResult(source.path, [_error(source.display, message, row, column, cell)], source)
    except (RecursionError, MemoryError, ValueError) as exc:
        return FileResult(
            source.path,
            [_error(source.display, f"cannot parse: {type(exc).__name__}", 1, 1)],
            source,
        )
    try:
        facts = FileFacts(module, text)
        findings = [(rule, finding) for rule in rules for finding in rule.check(facts)]
        diagnostics = _to_diagnostics(source, facts, findings)
    except RecursionError:
        return FileResult(
            source.path,
            [_error(source.display, "too deeply nested to analyse", 1, 1)],
            source,
            True,
        )
    return FileResult(source.path, diagnostics, source, True)


def _syntax_error(text: str, exc: cst.ParserSyntaxError) -> tuple[str, int, int]:
    """Python's own message and position are the clearest; LibCST's are the fallback."""
    try:
        compile(text, "<kerlint>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as error:
        return f"syntax error: {error.msg}", error.lineno or 1, error.offset or 1
    except (ValueError, RecursionError, MemoryError):
        pass
    return f"cannot parse: {exc.message}", exc.raw_line, exc.raw_column + 1


def _error(
    display: str, message: str, row: int, column: int, cell: int | None = None
) -> Diagnostic:
    location = Location(max(row, 1), max(column, 1))
    return Diagnostic(PARSE_ERROR, message, display, location, location, cell=cell)


def _to_diagnostics(
    source: Source, facts: FileFacts, findings: list[tuple[Rule, Finding]]
) -> list[Diagnostic]:
    suppressions = find_suppressions(source.text)
    seen: set[tuple[str, int, int]] = set()
    result: list[Diagnostic] = []
    for rule, finding in findings:
        span = facts.range_of(finding.node)
        row, column = span.start.line, span.start.column + 1
        if (rule.code, row, column) in seen or suppressions.suppresses(rule.code, row):
            continue
        seen.add((rule.code, row, column))
        end = Location(span.end.line, span.end.column + 1)
        cell, cell_row = source.to_cell(row)
        fix = _to_fix(facts, finding.fix, source, cell) if finding.fix else None
        if cell is not None:
            _, end_row = source.to_cell(end.line if hasattr(end, "line") else end.row)
            end = Location(end_row, end.column)
        result.append(
            Diagnostic(
                rule.code,
                finding.message,
                source.display,
                Location(cell_row, column),
                end,
                fix,
                cell,
            )
        )
    result.sort(key=lambda d: d.sort_key)
    return result


def _to_fix(
    facts: FileFacts, spec: FixSpec, source: Source | None = None, cell: int | None = None
) -> Fix | None:
    """Turn a rule's node replacements into text edits, or None when one cannot be placed.

    In a notebook the edits are given in the coordinates of the diagnostic's cell, as its
    location is, so that a fix can be written back into that cell; a fix that would reach
    into another cell is dropped.
    """
    edits = []
    for replacement in spec.replacements:
        edit = (
            _insertion(facts, replacement)
            if replacement.insert_after
            else _replace(facts, replacement)
        )
        if edit is None:
            return None
        if source is not None and source.is_notebook:
            start_cell, start_row = source.to_cell(edit.location.row)
            end_cell, end_row = source.to_cell(edit.end_location.row)
            if start_cell != cell or end_cell != cell:
                return None
            edit = Edit(
                edit.content,
                Location(start_row, edit.location.column),
                Location(end_row, edit.end_location.column),
            )
        edits.append(edit)
    return Fix(spec.message, tuple(edits), spec.applicability)


def _replace(facts: FileFacts, replacement: Replacement) -> Edit:
    span = facts.range_of(replacement.old)
    content = (
        replacement.new
        if isinstance(replacement.new, str)
        else facts.module.code_for_node(replacement.new)
    )
    return Edit(
        content,
        Location(span.start.line, span.start.column + 1),
        Location(span.end.line, span.end.column + 1),
    )


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line(text: str, row: int) -> str:
    """The 1-based row of `text` without its line break (the rows LibCST counts)."""
    start = 0
    for _ in range(row - 1):
        match = _LINE_BREAK.search(text, start)
        if match is None:
            return ""
        start = match.end()
    match = _LINE_BREAK.search(text, start)
    return text[start : match.start() if match else len(text)]


def _insertion(facts: FileFacts, replacement: Replacement) -> Edit | None:
    """New statements after the statement `old`, at its indentation, at the end of its line.

    Only when `old` stands alone on its lines (nothing but indentation before it, nothing but
    a comment after it): after `if x: a = 1` or `a = 1; b = 2` the same indentation would
    put the new code in another block.
    """
    span = facts.range_of(replacement.old)
    first = _line(facts.text, span.start.line)
    last = _line(facts.text, span.end.line)
    indent, after = first[: span.start.column], last[span.end.column :].strip()
    if indent.strip() or (after and not after.startswith("#")):
        return None
    statements = _statements(replacement.new)
    if not statements:
        return None
    module = facts.module
    if indent:
        holder = cst.If(
            test=cst.Name("True"), body=cst.IndentedBlock(body=statements, indent=indent)
        )
        code = module.with_changes(body=[holder], header=[], footer=[]).code
        code = code.split(module.default_newline, 1)[1]
    else:
        code = module.with_changes(body=statements, header=[], footer=[]).code
    content = module.default_newline + code.rstrip("\r\n")
    at = Location(span.end.line, len(last) + 1)
    return Edit(content, at, at)


def _statements(new: cst.CSTNode | str) -> list[cst.BaseStatement]:
    if isinstance(new, str):
        try:
            return list(cst.parse_module(new).body)
        except cst.ParserSyntaxError:
            return []
    if isinstance(new, cst.BaseStatement):
        return [new]
    if isinstance(new, cst.BaseSmallStatement):
        return [cst.SimpleStatementLine(body=[new])]
    if isinstance(new, cst.BaseExpression):
        return [cst.SimpleStatementLine(body=[cst.Expr(new)])]
    return []
