"""Checking one file: read, prefilter, parse once, build facts once, run the rules.

Nothing here raises for bad input: unreadable, undecodable or unparsable files
become a KL000 diagnostic and the run goes on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.facts import FileFacts
from kerlint.rules import PARSE_ERROR, registry
from kerlint.rules.base import Finding, FixSpec, Rule
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
        fix = _to_fix(facts, finding.fix) if finding.fix else None
        cell, cell_row = source.to_cell(row)
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


def _to_fix(facts: FileFacts, spec: FixSpec) -> Fix:
    edits = []
    for replacement in spec.replacements:
        span = facts.range_of(replacement.old)
        content = (
            replacement.new
            if isinstance(replacement.new, str)
            else facts.module.code_for_node(replacement.new)
        )
        edits.append(
            Edit(
                content,
                Location(span.start.line, span.start.column + 1),
                Location(span.end.line, span.end.column + 1),
            )
        )
    return Fix(spec.message, tuple(edits), spec.applicability)
