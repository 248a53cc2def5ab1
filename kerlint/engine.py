"""Checking one file: read, prefilter, parse once, build facts once, run the rules.

The one parse is CPython's (`ast`): it vets the file and the facts are built from it.
LibCST's tree, which keeps every character, is built only for the fixes of a file with
findings, on a stack it fits on (below).

Nothing here raises for bad input: unreadable, undecodable or unparsable files
become a KL000 diagnostic and the run goes on.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kerlint.config import KERAS2_ONLY
from kerlint.deep_stack import on_a_deep_stack, on_deep_stack
from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.facts import FileFacts
from kerlint.facts.mode import DEFAULT_MODE, KerasMode
from kerlint.facts.positions import rows as _rows
from kerlint.rules import PARSE_ERROR, registry
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl900_unused_noqa import CODE as UNUSED_NOQA
from kerlint.rules.kl900_unused_noqa import unused_noqa
from kerlint.source import Source, SourceError, read_source
from kerlint.suppress import IGNORE_NOQA, Suppressions, find_suppressions

if TYPE_CHECKING:
    import libcst as cst

    from kerlint.project import Project

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
    # The diagnostics as the check made them, before findings in other checked modules were
    # moved there (kerlint.project.placement): placing again starts from these.
    unplaced: list[Diagnostic] | None = None


def rules_for(codes: Iterable[str]) -> list[Rule]:
    wanted = set(codes)
    return [rule for rule in registry.all_rules() if rule.code in wanted]


def codes_for_mode(codes: frozenset[str], mode: KerasMode | None) -> frozenset[str]:
    """The codes for a file whose Keras is decided: `KL012@keras2` becomes KL012 where the
    file runs Keras 2 or an unknown Keras, and goes away for Keras 3."""
    marked = {code for code in codes if code.endswith(KERAS2_ONLY)}
    if not marked:
        return codes
    kept = codes - marked
    if mode is not None and mode.version != "3":
        kept |= {code[: -len(KERAS2_ONLY)] for code in marked}
    return kept


def check_file(
    path: Path,
    codes: frozenset[str],
    display: str | None = None,
    data: bytes | None = None,
    mode: KerasMode | None = None,
    project: Project | None = None,
) -> FileResult:
    """`mode`: the Keras the file is judged by (None: Keras 3, the engine's default).
    `project`: follow imports of project modules into their definitions (None: this file)."""
    display = display if display is not None else str(path)
    try:
        source = read_source(path, display, data)
    except SourceError as exc:
        return FileResult(path, [_error(display, exc.message, exc.row, exc.column)])
    return check_source(source, codes, mode=mode, project=project)


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


def closure_rules(source: Source, codes: frozenset[str], project: Project | None) -> list[Rule]:
    """The rules that matter for a file and the project modules it imports: a file that only
    trains a model frozen in `models.py` matters when `models.py` holds the freeze. Each
    text test may pass in any of the files, "keras" too."""
    rules = applicable_rules(source.text, codes)
    if project is None or len(rules) == len(rules_for(codes)):
        return rules
    texts = [source.text, *(record.text for record in project.closure(source.path, source.text))]
    if len(texts) == 1 or not any(KERAS_MARKER in text for text in texts):
        return rules
    chosen = {rule.code for rule in rules}
    return [
        rule
        for rule in rules_for(codes)
        if rule.code in chosen or any(rule.may_apply(text) for text in texts)
    ]


def check_source(
    source: Source,
    codes: frozenset[str],
    rules: list[Rule] | None = None,
    mode: KerasMode | None = None,
    project: Project | None = None,
) -> FileResult:
    """Check one decoded file; never raises: every failure becomes a KL000 diagnostic.

    `rules`: the result of `applicable_rules` (or `closure_rules`) when the caller has it
    already (the runner prefilters before it looks in the cache). `project`: imports of
    project modules are followed into them.
    """
    text = source.text
    codes = codes_for_mode(codes, mode)
    if rules is None:
        rules = closure_rules(source, codes, project)
    if not rules:
        return FileResult(source.path, [], source)
    tree, verdict = _python_tree_or_error(text)
    if tree is None:
        message, row, column = _rejected(verdict)
        cell, row = source.to_cell(row)
        return FileResult(source.path, [_error(source.display, message, row, column, cell)], source)
    rules = _rules_for_code(source, rules, tree, project)
    if not rules:
        return FileResult(source.path, [], source)
    try:
        resolver = project.resolver(source.path, text) if project is not None else None
        facts = FileFacts(
            tree,  # type: ignore[arg-type]
            text,
            source.to_cell if source.is_notebook else None,
            mode or DEFAULT_MODE,
            resolve=resolver,
            package=resolver.package if resolver is not None else None,
            display=source.display if resolver is not None else None,
            parse_cst=_tree_for_fixes,
        )
        findings = [(rule, finding) for rule in rules for finding in _found(rule, facts)]
        diagnostics = _to_diagnostics(source, facts, findings, codes)
    except Exception as exc:
        if not _from_recursion(exc):  # a kerlint bug: one file's report, not the whole run
            _reraise_when_debugging()
            return FileResult(
                source.path, [_internal_error(source.display, "analysis", exc)], source, True
            )
        if not on_a_deep_stack():  # deep but valid code: again, where it fits
            with contextlib.suppress(RecursionError):
                return on_deep_stack(
                    lambda: check_source(source, codes, rules, mode=mode, project=project)
                )
        return FileResult(
            source.path,
            [_error(source.display, "too deeply nested to analyse", 1, 1)],
            source,
            True,
        )
    return FileResult(source.path, diagnostics, source, True, mode)


def _tree_for_fixes(text: str):
    """LibCST's tree of `text` for its fixes (LibCST is imported only now)."""
    from kerlint.cst_parse import tree_for_fixes

    return tree_for_fixes(text)


def _rejected(verdict: BaseException | None) -> tuple[str, int, int]:
    """Why CPython does not run the file, and where: the KL000 of a file it rejects."""
    if verdict is not None and _too_deep(verdict):
        return _nesting_error(verdict)
    if isinstance(verdict, SyntaxError):
        return f"syntax error: {verdict.msg}", verdict.lineno or 1, verdict.offset or 1
    return f"cannot parse: {verdict}", 1, 1


def _from_recursion(exc: BaseException) -> bool:
    """A RecursionError, or what it turned into on the way out (LibCST's position visitor
    leaves a KeyError in its context manager's exit when the recursion hit inside it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, RecursionError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


_NESTING_WORDS = ("nested", "too complex", "recursion")


def _python_tree_or_error(text: str) -> tuple[ast.AST | None, BaseException | None]:
    """CPython's tree of `text`, or what CPython raised.

    Warnings are silenced: the user's invalid escape sequences are not kerlint's to print
    (a SyntaxWarning on stderr from Python 3.12 on), nor an error under `-W error`.
    """
    try:
        return _python_tree(text), None
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return None, exc


def _rules_for_code(
    source: Source, rules: list[Rule], tree: ast.AST, project: Project | None
) -> list[Rule]:
    """The rules whose text test passes on the file's code, not only on its prose.

    The text tests run on the raw file first (before the cache is looked up, no parse);
    here the docstrings and other string statements are left out (library code shows
    `model.compile(...)` and `model.fit(...)` in its docstrings: half the files the Keras 3
    tree sent to the model-definition rules). A rule the file's imports chose stays.
    """
    code = _code_only(source.text, tree)
    if code is None:
        return rules
    has_keras = KERAS_MARKER in code
    kept, closure = [], None
    for rule in rules:
        here = rule.may_apply(code)
        if has_keras and here:
            kept.append(rule)
            continue
        if project is None:
            continue
        if closure is None:  # as closure_rules chose: "keras" in any of the files
            closure = [record.text for record in project.closure(source.path, source.text)]
            if not has_keras and not any(KERAS_MARKER in text for text in closure):
                closure = []
        if (here and closure) or any(rule.may_apply(text) for text in closure):
            kept.append(rule)
    return kept


def _code_only(text: str, tree: ast.AST) -> str | None:
    """`text` without the rows of its string statements (docstrings, prose between code
    cells) that stand alone on their rows; None when it has none."""
    prose: list[ast.stmt] = []
    blocks = [tree.body]  # type: ignore[attr-defined]
    while blocks:
        for statement in blocks.pop():
            if isinstance(statement, ast.Expr):
                value = statement.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    prose.append(statement)
                continue
            for field in ("body", "orelse", "finalbody"):
                block = getattr(statement, field, None)
                if isinstance(block, list):
                    blocks.append(block)
            for part in getattr(statement, "handlers", None) or getattr(statement, "cases", ()):
                blocks.append(part.body)
    if not prose:
        return None
    rows = _rows(text)
    dropped = False
    for statement in prose:
        first, last = statement.lineno, statement.end_lineno or statement.lineno
        # Alone on its rows: only indentation before it, nothing but a comment after it
        # (`x = 1; "doc"` and `"doc"; x = 1` keep their rows). CPython counts bytes.
        before = _utf8(rows[first - 1])[: statement.col_offset]
        after = _utf8(rows[last - 1])[statement.end_col_offset or 0 :].strip()
        if before.strip() or (after and not after.startswith(b"#")):
            continue
        for row in range(first - 1, last):
            rows[row] = "\n"
        dropped = True
    return "".join(rows) if dropped else None


def _utf8(row: str) -> bytes:
    return row.encode("utf-8", "surrogatepass")


def _python_tree(text: str) -> ast.AST:
    """CPython's tree, the cyclic GC paused (the tree is acyclic; a collection would walk
    every object of the process for nothing)."""
    with _gc_paused(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(text, "<kerlint>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic GC off while a parser builds an acyclic tree (~10% faster)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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


def _internal_error(display: str, stage: str, exc: Exception) -> Diagnostic:
    try:  # an exception that holds a deep LibCST node cannot always say what it is
        text = str(exc)
    except Exception:
        text = ""
    detail = text.splitlines()[0][:200] if text else ""
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


def _error(
    display: str, message: str, row: int, column: int, cell: int | None = None
) -> Diagnostic:
    location = Location(max(row, 1), max(column, 1))
    return Diagnostic(PARSE_ERROR, message, display, location, location, cell=cell)


def _to_diagnostics(
    source: Source,
    facts: FileFacts,
    findings: list[tuple[Rule, Finding]],
    codes: frozenset[str] = frozenset(),
) -> list[Diagnostic]:
    ignore_noqa = IGNORE_NOQA in codes  # --ignore-noqa: report what the comments hide
    suppressions = Suppressions() if ignore_noqa else find_suppressions(source.text)
    keras = facts.mode.as_json()
    assumed = f" [{facts.mode.describe()}]"
    seen: set[tuple[str, int, int]] = set()
    result: list[Diagnostic] = []
    for rule, finding in findings:
        message, origin, fix_spec = finding.message, None, finding.fix
        site = facts.site_of(finding.node)
        if site is not None:  # in another module: at the call here, naming both places
            message, origin = _elsewhere(facts, site, finding.node, message)
            span, fix_spec = facts.range_of(site.call), None
        elif not facts.is_here(finding.node):
            continue  # in another module, outside any function spliced here: no place to name
        else:
            span = facts.range_of(finding.node)
            if facts.display and id(finding) not in facts.elsewhere:
                message = message.replace(f" of {facts.display}", "")  # only this file's lines
        row, column = span.start.line, span.start.column + 1 + source.shifts.get(span.start.line, 0)
        if (rule.code, row, column) in seen or suppressions.suppresses(rule.code, row):
            continue
        seen.add((rule.code, row, column))
        end = Location(span.end.line, span.end.column + 1 + source.shifts.get(span.end.line, 0))
        cell, cell_row = source.to_cell(row)
        fix = _to_fix(facts, fix_spec, source, cell) if fix_spec else None
        if cell is not None:
            _, end_row = source.to_cell(end.line if hasattr(end, "line") else end.row)
            end = Location(end_row, end.column)
        diagnostic = Diagnostic(
            rule.code,
            message + assumed,
            source.display,
            Location(cell_row, column),
            end,
            fix,
            cell,
            keras=keras,
        )
        result.append(diagnostic.with_(origin=origin) if origin else diagnostic)
    if UNUSED_NOQA in codes and not ignore_noqa:  # KL900 needs the directives used above
        known = frozenset(rule.code for rule in registry.all_rules())
        result += unused_noqa(source, suppressions, codes, known)
    result.sort(key=lambda d: d.sort_key)
    return result


def _found(rule: Rule, facts: FileFacts) -> Iterable[Finding]:
    """A rule's findings; those whose message named a place in another module are noted."""
    facts.named_elsewhere = False
    for finding in rule.check(facts):
        if facts.named_elsewhere:
            facts.elsewhere.add(id(finding))
            facts.named_elsewhere = False
        yield finding


def _elsewhere(facts: FileFacts, site, node: ast.AST, message: str) -> tuple[str, dict]:
    """A finding in an imported module: the message names it and the call that leads there;
    the origin lets a run that checks that module too report it there instead."""
    record = site.origin
    span = record.source.span(node)
    call = facts.at(site.call)
    where = f"line {span.start.line} of {record.display}"
    message = f"{message} (At {where}, reached through the call at {call}.)"
    origin = {
        "path": str(record.file.path),
        "filename": record.display,
        "location": [span.start.line, span.start.column + 1],
        "end": [span.end.line, span.end.column + 1],
    }
    return message, origin


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
        if source is not None and any(
            row in source.shifts for row in range(edit.location.row, edit.end_location.row + 1)
        ):
            return None  # computed on the cell as IPython runs it, not as it is written
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
    if isinstance(replacement.new, str):
        content = replacement.new
    else:  # a LibCST node (LibCST is imported: the rule built it)
        import libcst as cst

        content = (facts.module or cst.Module([])).code_for_node(replacement.new)
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
    at = Location(span.end.line, len(last) + 1)
    if isinstance(replacement.new, str):  # written without LibCST
        content = _indented(replacement.new, indent, facts)
        return Edit(content, at, at) if content is not None else None
    import libcst as cst

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
    return Edit(content, at, at)


def _indented(code: str, indent: str, facts: FileFacts) -> str | None:
    """`code` (written with four spaces a level) as lines at `indent`, its nested blocks
    indented as the file indents them, on the file's newline; None when it is no code."""
    try:
        ast.parse(code)
    except SyntaxError:
        return None
    newline_found = _LINE_BREAK.search(facts.text)
    newline = newline_found.group(0) if newline_found else "\n"
    unit = _indent_unit(facts)
    lines = []
    for line in code.rstrip("\n").split("\n"):
        stripped = line.lstrip(" ")
        level = (len(line) - len(stripped)) // 4
        lines.append(indent + unit * level + stripped if stripped else "")
    return newline + newline.join(lines)


def _indent_unit(facts: FileFacts) -> str:
    """How the file indents a block (its first one, as LibCST takes it); four spaces when it
    has none."""
    first: tuple[int, str] | None = None
    for node in ast.walk(facts.tree):
        body = getattr(node, "body", None)
        if not isinstance(node, ast.stmt) or not isinstance(body, list) or not body:
            continue
        inner = body[0]
        if inner.lineno == node.lineno or (first is not None and node.lineno >= first[0]):
            continue  # `if x: y` on one line, or not the first block
        outer_row = facts.source.rows[node.lineno - 1]
        inner_row = facts.source.rows[inner.lineno - 1]
        outer = outer_row[: len(outer_row) - len(outer_row.lstrip(" \t"))]
        inner_indent = inner_row[: len(inner_row) - len(inner_row.lstrip(" \t"))]
        if inner_indent.startswith(outer) and len(inner_indent) > len(outer):
            first = (node.lineno, inner_indent[len(outer) :])
    return first[1] if first is not None else "    "


def _statements(new: cst.CSTNode | str) -> list[cst.BaseStatement]:
    import libcst as cst

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
