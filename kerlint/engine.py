"""Checking one file: read, prefilter, parse once, build facts once, run the rules.

Nothing here raises for bad input: unreadable, undecodable or unparsable files
become a KL000 diagnostic and the run goes on.
"""

from __future__ import annotations

import ast
import gc
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.facts import FileFacts
from kerlint.facts.mode import DEFAULT_MODE, KerasMode
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
    # The Keras the file was judged by (None: not decided, the engine's default, Keras 3).
    mode: KerasMode | None = None


def rules_for(codes: Iterable[str]) -> list[Rule]:
    wanted = set(codes)
    return [rule for rule in registry.all_rules() if rule.code in wanted]


def check_file(
    path: Path,
    codes: frozenset[str],
    display: str | None = None,
    data: bytes | None = None,
    mode: KerasMode | None = None,
) -> FileResult:
    """`mode`: the Keras the file is judged by (None: Keras 3, the engine's default)."""
    display = display if display is not None else str(path)
    try:
        source = read_source(path, display, data)
    except SourceError as exc:
        return FileResult(path, [_error(display, exc.message, exc.row, exc.column)])
    return check_source(source, codes, mode=mode)


def applicable_rules(text: str, codes: frozenset[str]) -> list[Rule]:
    """The selected rules whose text test passes: a file with none is never parsed."""
    if KERAS_MARKER not in text:
        return []
    # Most rules share their test (a `.trainable` write): run each distinct test once.
    verdicts: dict[tuple[object, ...], bool] = {}
    chosen = []
    for rule in rules_for(codes):
        test = (tuple(rule.requires), rule.requires_pattern, rule.prefilter)
        verdict = verdicts.get(test)
        if verdict is None:
            verdict = verdicts[test] = rule.may_apply(text)
        if verdict:
            chosen.append(rule)
    return chosen


def check_source(
    source: Source,
    codes: frozenset[str],
    rules: list[Rule] | None = None,
    mode: KerasMode | None = None,
) -> FileResult:
    """Check one decoded file; never raises: every failure becomes a KL000 diagnostic.

    `rules`: the result of `applicable_rules` when the caller has it already (the runner
    prefilters before it looks in the cache).
    """
    text = source.text
    if rules is None:
        rules = applicable_rules(text, codes)
    if not rules:
        return FileResult(source.path, [], source)
    verdict = _python_verdict(text)
    if verdict is not None and _too_deep(verdict):
        message, row, column = _nesting_error(verdict)
        cell, row = source.to_cell(row)
        return FileResult(source.path, [_error(source.display, message, row, column, cell)], source)
    try:
        # Where CPython rejected the file it did not vouch for its nesting either: parse on
        # a deep stack so that nesting hidden behind the error cannot crash the process.
        module = _parse(text, deep_stack=verdict is not None)
    except cst.ParserSyntaxError as exc:
        if isinstance(verdict, SyntaxError):
            message, row, column = (
                f"syntax error: {verdict.msg}",
                verdict.lineno or 1,
                verdict.offset or 1,
            )
        else:
            message, row, column = _syntax_error(text, exc)
        cell, row = source.to_cell(row)
        return FileResult(source.path, [_error(source.display, message, row, column, cell)], source)
    except (RecursionError, MemoryError, ValueError) as exc:
        return FileResult(
            source.path,
            [_error(source.display, f"cannot parse: {type(exc).__name__}", 1, 1)],
            source,
        )
    except Exception as exc:  # a LibCST bug (CSTValidationError, ...): report, go on
        _reraise_when_debugging()
        return FileResult(source.path, [_internal_error(source.display, "parsing", exc)], source)
    try:
        facts = FileFacts(
            module, text, source.to_cell if source.is_notebook else None, mode or DEFAULT_MODE
        )
        findings = [(rule, finding) for rule in rules for finding in rule.check(facts)]
        diagnostics = _to_diagnostics(source, facts, findings)
    except RecursionError:
        return FileResult(
            source.path,
            [_error(source.display, "too deeply nested to analyse", 1, 1)],
            source,
            True,
        )
    except Exception as exc:  # a kerlint bug: one file's report, not the whole run
        _reraise_when_debugging()
        return FileResult(
            source.path, [_internal_error(source.display, "analysis", exc)], source, True
        )
    return FileResult(source.path, diagnostics, source, True, mode)


# LibCST's native parser recurses on the C stack and overflows it (a segmentation fault
# that takes the whole run down) somewhere past 1,200 nested brackets or 3,400 nested
# lambdas on an 8 MiB stack. CPython's own parser has explicit limits (200 brackets, a
# recursion guard), so a file CPython accepts is parsed directly; any other is parsed on a
# thread with this much stack (reserved address space; only the touched pages are used).
DEEP_STACK_BYTES = 256 * 1024 * 1024
_NESTING_WORDS = ("nested", "too complex", "recursion")


def _python_verdict(text: str) -> BaseException | None:
    """None when CPython parses `text`; else what it raised (cost: ~10% of a LibCST parse).

    Warnings are silenced: the user's invalid escape sequences are not kerlint's to print
    (a SyntaxWarning on stderr from Python 3.12 on), nor an error under `-W error`.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "<kerlint>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            return exc
    return None


def _too_deep(verdict: BaseException) -> bool:
    if isinstance(verdict, (RecursionError, MemoryError)):
        return True
    if isinstance(verdict, SyntaxError):
        return any(word in (verdict.msg or "") for word in _NESTING_WORDS)
    return False


def _nesting_error(verdict: BaseException) -> tuple[str, int, int]:
    if isinstance(verdict, SyntaxError):
        return f"syntax error: {verdict.msg}", verdict.lineno or 1, verdict.offset or 1
    return f"too deeply nested for Python to parse ({type(verdict).__name__})", 1, 1


def _parse(text: str, deep_stack: bool) -> cst.Module:
    """`cst.parse_module` with the cyclic GC paused (it only makes acyclic nodes: ~10% faster)."""
    if deep_stack:
        return _on_deep_stack(lambda: _parse(text, deep_stack=False))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return cst.parse_module(text)
    finally:
        if was_enabled:
            gc.enable()


def _on_deep_stack(work: Callable[[], cst.Module]) -> cst.Module:
    """Run `work` on a fresh thread with a DEEP_STACK_BYTES stack; its exception is re-raised."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller below
            outcome.append(exc)

    try:
        previous = threading.stack_size(DEEP_STACK_BYTES)
    except (ValueError, RuntimeError):  # the platform refuses: the current stack it is
        return work()
    try:
        thread = threading.Thread(target=run, name="kerlint-parse", daemon=True)
        thread.start()
    except RuntimeError:  # cannot start a thread (address space): the current stack it is
        return work()
    finally:
        threading.stack_size(previous)
    thread.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    assert isinstance(result, cst.Module)
    return result


def _internal_error(display: str, stage: str, exc: Exception) -> Diagnostic:
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return _error(
        display,
        f"internal error in kerlint's {stage} ({type(exc).__name__}"
        f"{': ' + detail if detail else ''}): this file was not checked; please report it",
        1,
        1,
    )


def _reraise_when_debugging() -> None:
    """KERLINT_DEBUG=1 lets a rule author see the traceback instead of a KL000."""
    if os.environ.get("KERLINT_DEBUG"):
        raise


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
    keras = facts.mode.as_json()
    assumed = f" [{facts.mode.describe()}]"
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
                finding.message + assumed,
                source.display,
                Location(cell_row, column),
                end,
                fix,
                cell,
                keras=keras,
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
