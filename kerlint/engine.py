"""Checking one file: read, prefilter, parse once, build facts once, run the rules.

Nothing here raises for bad input: unreadable, undecodable or unparsable files
become a KL000 diagnostic and the run goes on.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import itertools
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import libcst as cst

from kerlint.config import KERAS2_ONLY
from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.facts import FileFacts
from kerlint.facts.mode import DEFAULT_MODE, KerasMode
from kerlint.facts.positions import column as _column
from kerlint.facts.positions import rows as _rows
from kerlint.rules import PARSE_ERROR, registry
from kerlint.rules.base import Finding, FixSpec, Replacement, Rule
from kerlint.rules.kl900_unused_noqa import CODE as UNUSED_NOQA
from kerlint.rules.kl900_unused_noqa import unused_noqa
from kerlint.source import Source, SourceError, read_source
from kerlint.suppress import IGNORE_NOQA, Suppressions, find_suppressions

if TYPE_CHECKING:
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
        if not _on_a_deep_stack():  # deep but valid code: again, where it fits
            with contextlib.suppress(RecursionError):
                return _on_deep_stack(
                    lambda: check_source(source, codes, rules, mode=mode, project=project)
                )
        return FileResult(
            source.path,
            [_error(source.display, "too deeply nested to analyse", 1, 1)],
            source,
            True,
        )
    return FileResult(source.path, diagnostics, source, True, mode)


def _rejected(verdict: BaseException | None) -> tuple[str, int, int]:
    """Why CPython does not run the file, and where: the KL000 of a file it rejects."""
    if verdict is not None and _too_deep(verdict):
        return _nesting_error(verdict)
    if isinstance(verdict, SyntaxError):
        return f"syntax error: {verdict.msg}", verdict.lineno or 1, verdict.offset or 1
    return f"cannot parse: {verdict}", 1, 1


def _tree_for_fixes(text: str) -> cst.Module | None:
    """LibCST's tree of a file with findings, to build its fixes from; None where the edits
    could not be placed in the file's own text (no fix is offered then).

    The facts come from CPython's tree; LibCST keeps every character of the file, which
    an edit needs. A form feed in a code line's indentation is read otherwise by LibCST
    (its columns would not be the file's), and a large file whose shape LibCST's native
    parser cannot take is not given to it.
    """
    if _form_feed_in_indentation(text) or _shape_error(text) is not None:
        return None
    try:
        return _parse(text, deep_stack=False, trusted=True)
    except Exception:  # a parse error, RecursionError, a LibCST bug: no fix, same findings
        _reraise_when_debugging()
        return None


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


# LibCST's native parser recurses on the C stack, and overflows it (a segmentation fault
# that takes the whole run down) on shapes CPython reads without recursing. Measured on
# LibCST 1.9 and CPython 3.11 (tests/test_hostile_parse.py holds these in place):
# - nesting: ~7 KiB of stack per bracket, less per other level; CPython's own parser
#   vets it first (200 brackets, an AST depth of ~3,000), so it costs at most ~25 MiB;
# - flat runs that CPython builds in a loop but LibCST by recursion, one frame per item:
#   `a and b and ...` (~1.2 KiB a term), a dotted import name `a.b.c...` and attribute
#   chains (~1.4 KiB a part), `for` clauses of a comprehension (~1.7 KiB). At most ~720
#   bytes of stack per byte of source, whatever the shape.
# So a file of up to MAIN_STACK_SAFE_BYTES is parsed where it is (~3 MiB of the usual 8 MiB
# stack), any other on a thread with DEEP_STACK_BYTES of stack (reserved address space;
# only the touched pages are used), and one larger than DEEP_STACK_SAFE_BYTES only after
# its longest flat run and its depth are measured on CPython's tree and found to fit.
DEEP_STACK_BYTES = 256 * 1024 * 1024
MAIN_STACK_SAFE_BYTES = 4 * 1024
DEEP_STACK_SAFE_BYTES = 192 * 1024
_STACK_BUDGET = 192 * 1024 * 1024
_STACK_PER_LEVEL = 8 * 1024
_STACK_PER_ITEM = 2 * 1024
# LibCST also recurses in Python, and so do its metadata visitors and kerlint's analysis:
# ~3 frames per level of the tree, so 1,000 parts of a dotted name or 350 `and` terms
# exceed Python's default limit of 1,000 frames. On the deep stack the limit is raised to
# this: at the ~160 bytes of C stack a frame measured there (2 KiB even where every frame
# passes through C), it holds many times over.
DEEP_RECURSION_LIMIT = 60_000
_NESTING_WORDS = ("nested", "too complex", "recursion")
_RUN_WORDS = re.compile(r"\b(?:and|or|for)\b")


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


def _shape_error(text: str) -> tuple[str, int, int] | None:
    """For a large file CPython accepted: why LibCST's parser cannot read it without
    overflowing even the deep stack (message, row, column), or None when it fits.
    """
    if len(text) <= DEEP_STACK_SAFE_BYTES:
        return None
    # No run is longer than all the dots and `and`/`or`/`for` words of the file together,
    # and CPython's tree is at most ~3,000 deep: most large files are cleared by that.
    most_items = text.count(".") + len(_RUN_WORDS.findall(text))
    if _cpython_max_depth() * _STACK_PER_LEVEL + most_items * _STACK_PER_ITEM <= _STACK_BUDGET:
        return None
    try:
        tree = _python_tree(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # CPython's verdict was taken before; nothing new to say
    depth, (items, what, node) = _depth_and_longest_run(tree)
    if depth * _STACK_PER_LEVEL + items * _STACK_PER_ITEM <= _STACK_BUDGET:
        return None
    row, column = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
    most = (_STACK_BUDGET - depth * _STACK_PER_LEVEL) // _STACK_PER_ITEM
    return (
        f"{what} of {items:,} parts is too long for the parser kerlint uses "
        f"(LibCST recurses once per part; at most about {max(most, 0):,} fit); not checked",
        row,
        column,
    )


def _cpython_max_depth() -> int:
    """The deepest tree CPython builds: 3 frames per level of its recursion limit."""
    return 3 * sys.getrecursionlimit()


def _depth_and_longest_run(tree: ast.AST) -> tuple[int, tuple[int, str, ast.AST]]:
    """The depth of CPython's tree and its longest run of items LibCST reads recursively
    (without recursing: the tree may be ~3,000 deep)."""
    deepest = 0
    longest: tuple[int, str, ast.AST] = (0, "", tree)
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        run = _run_of(node)
        if run is not None and run[0] > longest[0]:
            longest = (*run, node)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest, longest


def _run_of(node: ast.AST) -> tuple[int, str] | None:
    if isinstance(node, ast.BoolOp):
        return len(node.values), "a boolean chain"
    if isinstance(node, ast.Import):
        return max(alias.name.count(".") + 1 for alias in node.names), "a dotted name"
    if isinstance(node, ast.ImportFrom) and node.module:
        return node.module.count(".") + 1, "a dotted name"
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return len(node.generators), "a comprehension's `for` clauses"
    return None


def parse_python(text: str) -> cst.Module:
    """Parse `text` with LibCST without ever overflowing the C stack (see above).

    For text CPython accepts, or that it rejects for a reason other than nesting; raises
    what `cst.parse_module` raises (RecursionError included) and nothing worse.
    """
    return _parse(text, deep_stack=True)


def _parse(text: str, deep_stack: bool, trusted: bool = False) -> cst.Module:
    """`cst.parse_module` on a stack it fits on.

    `deep_stack`: the text was not vetted by CPython, or is large: never on this stack.
    `trusted`: CPython accepted `text` (its nodes need no validation); a text mended
    below is not that text, and is validated.
    """
    normalized = _nfkc_identifiers(text)
    trusted = trusted and normalized is None
    text = normalized or text
    try:
        return _parse_on_a_fitting_stack(text, deep_stack, trusted)
    except cst.ParserSyntaxError:
        # Python reads more than LibCST does: where a known difference is at fault, parse
        # the text with it mended in place (every row and column kept).
        repaired = _spaces_for_indentation(text)
        repaired = _unparenthesize_annotated_targets(repaired or text) or repaired
        repaired = _shorten_string_runs(repaired or text) or repaired
        if repaired is None:
            raise
    return _parse_on_a_fitting_stack(repaired, deep_stack)


def _parse_on_a_fitting_stack(text: str, deep_stack: bool, trusted: bool = False) -> cst.Module:
    if _on_a_deep_stack():
        return _parse_here(text, trusted)
    small = not deep_stack and len(text) <= MAIN_STACK_SAFE_BYTES
    if small:
        try:
            return _parse_here(text, trusted)
        except RecursionError:  # LibCST's Python side: try again with room
            pass
    try:
        return _on_deep_stack(lambda: _parse_here(text, trusted))
    except RecursionError as exc:
        if small and str(exc) == _NO_DEEP_STACK:
            return _parse_here(text, trusted)  # safe here, with Python's own recursion guard
        raise


# LibCST's native parser holds, while it parses, about twice the finished tree besides it
# (tokens, its intermediate tree): 300 MB of peak for a 10,000-line file whose tree is 100 MB.
# Trusted text longer than this is parsed in pieces of about this size, cut between
# top-level statements, and the pieces' statements joined into one module.
CHUNK_BYTES = 128 * 1024
_LINE_END = re.compile(r"\r\n|\r|\n")


def _parse_in_pieces(text: str) -> cst.Module | None:
    """The module of trusted `text`, parsed piece by piece; None when it has no place to cut.

    A cut lies before a top-level statement that starts a line at column 0 right after the
    previous statement's last line (no comment or blank line between them, which LibCST
    would attach to one side or the other): each piece then ends with a statement's newline
    and the next begins with a statement, so the pieces' bodies joined are the whole
    module's body (tests/test_hostile_parse.py compares it with a parse in one go).
    """
    try:
        statements = _python_tree(text).body  # type: ignore[attr-defined]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    starts = [0]
    for match in _LINE_END.finditer(text):
        starts.append(match.end())
    cuts: list[int] = []
    for before, statement in itertools.pairwise(statements):
        first = min(
            [statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))]
        )
        offset = starts[first - 1]
        if (
            statement.col_offset == 0
            and before.end_lineno == first - 1
            and offset - (cuts[-1] if cuts else 0) >= CHUNK_BYTES
            and len(text) - offset >= CHUNK_BYTES // 2
        ):
            cuts.append(offset)
    if not cuts:
        return None
    bounds = [0, *cuts, len(text)]
    pieces = [_parse_whole(text[a:b], trusted=True) for a, b in itertools.pairwise(bounds)]
    head, tail = pieces[0], pieces[-1]
    if any(piece.header or piece.footer for piece in pieces[1:]) or head.footer:
        return None  # a cut fell beside a comment after all: parse in one go
    # A block or newline written as the piece's default is stored as "the default" (None):
    # the pieces must agree on both, or a piece's blocks would render with another's.
    blocks = [p for p in pieces if any(isinstance(s, cst.BaseCompoundStatement) for s in p.body)]
    indent = blocks[0].default_indent if blocks else head.default_indent
    if any(p.default_indent != indent for p in blocks) or any(
        p.default_newline != head.default_newline for p in pieces
    ):
        return None
    return head.with_changes(
        body=[statement for piece in pieces for statement in piece.body],
        footer=tail.footer,
        default_indent=indent,
        has_trailing_newline=tail.has_trailing_newline,
    )


def _parse_here(text: str, trusted: bool = False) -> cst.Module:
    """The module of `text`, parsed on this thread: in pieces when it is trusted and large.

    `trusted`: CPython accepted this very text, so the parser's nodes are valid by
    construction and LibCST's per-node validation (~30% of a parse) is skipped.
    """
    if trusted and len(text) > 2 * CHUNK_BYTES:
        module = _parse_in_pieces(text)
        if module is not None:
            return module
    return _parse_whole(text, trusted)


def _parse_whole(text: str, trusted: bool) -> cst.Module:
    """`cst.parse_module` with the cyclic GC paused (it only makes acyclic nodes: ~10% faster)."""
    with _gc_paused():
        _unvalidated.active = trusted
        try:
            return cst.parse_module(text)
        finally:
            _unvalidated.active = False


# LibCST validates every node in `__post_init__`, also those its parser builds (its own
# PERF note in `CSTNode.__post_init__` says the parser need not). The hook below skips that
# on the thread that parses trusted text, and validates everywhere else: nodes kerlint
# builds for fixes, other threads, a server's edits.
_unvalidated = threading.local()
_validating_post_init = cst.CSTNode.__dict__.get("__post_init__")


def _post_init_unless_trusted(node: cst.CSTNode) -> None:
    if not getattr(_unvalidated, "active", False):
        _validating_post_init(node)  # type: ignore[misc]


if callable(_validating_post_init):  # LibCST's layout as of 1.x; otherwise leave it be
    cst.CSTNode.__post_init__ = _post_init_unless_trusted  # type: ignore[method-assign]


_deep = threading.local()
_T = TypeVar("_T")


def _on_a_deep_stack() -> bool:
    return getattr(_deep, "active", False)


def _on_deep_stack(work: Callable[[], _T]) -> _T:
    """Run `work` on a fresh thread with a DEEP_STACK_BYTES stack and Python's recursion
    limit raised to DEEP_RECURSION_LIMIT; its exception is re-raised.

    Where no such thread can be had: RecursionError (a KL000), never a risk to the process.
    """
    outcome: list[object] = []

    def run() -> None:
        _deep.active = True
        limit = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(max(limit, DEEP_RECURSION_LIMIT))
            outcome.append(work())
        except BaseException as exc:  # handed to the caller below
            outcome.append(exc)
        finally:
            sys.setrecursionlimit(limit)

    try:
        previous = threading.stack_size(DEEP_STACK_BYTES)
    except (ValueError, RuntimeError) as exc:  # the platform refuses
        raise RecursionError(_NO_DEEP_STACK) from exc
    try:
        thread = threading.Thread(target=run, name="kerlint-deep-stack", daemon=True)
        thread.start()
    except RuntimeError as exc:  # cannot start a thread (address space)
        raise RecursionError(_NO_DEEP_STACK) from exc
    finally:
        threading.stack_size(previous)
    thread.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result  # type: ignore[return-value]


_NO_DEEP_STACK = "no thread with a deep enough stack could be started"


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


def _shorten_string_runs(text: str) -> str | None:
    """`text` with long runs of implicitly concatenated strings cut to their first and last
    string, the others blanked out with spaces (comments, line breaks and so every row and
    column stay where they were); None when there is no such run.

    LibCST's grammar reads at most 3,000 strings in a row; Python reads any number. The
    strings' text matters to no rule, where they are does (diagnostics, fixes).
    """
    import io
    import tokenize

    runs: list[list[tokenize.TokenInfo]] = []
    current: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.STRING:
                current.append(token)
            elif token.type not in (tokenize.NL, tokenize.COMMENT):
                if len(current) > _LONG_STRING_RUN:
                    runs.append(current)
                current = []
    except (tokenize.TokenError, SyntaxError):
        return None
    if not runs:
        return None
    lines = text.splitlines(keepends=True)
    for run in runs:
        for token in run[1:-1]:
            (row, start), (end_row, end) = token.start, token.end
            if row == end_row:
                line = lines[row - 1]
                lines[row - 1] = line[:start] + " " * (end - start) + line[end:]
    return "".join(lines)


_LONG_STRING_RUN = 1000


def _unparenthesize_annotated_targets(text: str) -> str | None:
    """`text` with the brackets around one-line annotated targets taken out: `(x): int = 1`
    is valid Python (the target is then not recorded in `__annotations__`), not to LibCST.

    `(x): int` becomes `x  : int`: the target moves left by its brackets, everything after
    it stays in its column. None when there is none, or Python rejects `text`.
    """
    try:
        tree = _python_tree(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = text.splitlines(keepends=True)
    changed = False
    for node in ast.walk(tree):
        if not isinstance(node, ast.AnnAssign) or node.simple:
            continue
        target, annotation = node.target, node.annotation
        if not node.lineno == target.lineno == target.end_lineno == annotation.lineno:
            continue
        line = lines[node.lineno - 1]
        first = _column(line, node.col_offset)
        start = _column(line, target.col_offset)
        end = _column(line, target.end_col_offset or 0)
        colon = line.find(":", end, _column(line, annotation.col_offset))
        before, after = line[first:start], line[end:colon] if colon >= 0 else None
        if after is None or before.strip("( \t") or after.strip(") \t"):
            continue  # a comment or a line break between the brackets: left alone
        lines[node.lineno - 1] = (
            line[:first] + line[start:end] + " " * len(before + after) + line[colon:]
        )
        changed = True
    return "".join(lines) if changed else None


_LEADING_WHITESPACE = re.compile(r"[ \t\f]*")


def _spaces_for_indentation(text: str) -> str | None:
    """`text` with the tabs and form feeds of its indentation made spaces, one for one, when
    Python reads the result as the same program; None otherwise.

    Python accepts a mix of tabs and spaces when it is unambiguous (the indentation grows
    and shrinks alike counting a tab as 8 columns or as 1) and restarts the count after a
    form feed; LibCST needs each block's indentation to begin with its parent's, as text.
    One space per character keeps every row and column, and Python's own tree (compared
    without positions) proves the blocks are the same.
    """
    if "\t" not in text and "\f" not in text:
        return None
    inside_strings = _rows_inside_strings(text)
    if inside_strings is None:
        return None
    try:
        before = ast.dump(_python_tree(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = _rows(text)
    for row, line in enumerate(lines, 1):
        if row in inside_strings:
            continue
        indent = _LEADING_WHITESPACE.match(line).group(0)  # type: ignore[union-attr]
        if "\t" in indent or "\f" in indent:
            lines[row - 1] = " " * len(indent) + line[len(indent) :]
    repaired = "".join(lines)
    try:
        same = ast.dump(_python_tree(repaired)) == before
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return repaired if same and repaired != text else None


def _form_feed_in_indentation(text: str) -> bool:
    """Does a row's indentation hold a form feed? Python's tokenizer restarts the count
    there (`"  \\f    x"` is indented by four); LibCST reads it otherwise, rejects or
    re-indents such blocks, and its columns are not the file's: no fix is built there."""
    if "\f" not in text:
        return False
    return any("\f" in _LEADING_WHITESPACE.match(row).group(0) for row in _rows(text))  # type: ignore[union-attr]


def _rows_inside_strings(text: str) -> set[int] | None:
    """The rows that continue a multi-line token (a triple-quoted string's inner lines), or
    None when `text` does not tokenize."""
    import io
    import tokenize

    inside: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.start[0] != token.end[0]:
                inside.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        return None
    return inside


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _nfkc_identifiers(text: str) -> str | None:
    """`text` with its identifiers as Python reads them (NFKC: fullwidth `b` is `b`), or None
    when none needs it. LibCST keeps names as written; every rule compares them.

    Only a name whose normal form has as many characters is rewritten, so that every row and
    column stays where it was (a name with a ligature, `ﬁt`, stays as written).
    """
    import unicodedata

    if text.isascii() or all(
        unicodedata.is_normalized("NFKC", run) for run in _NON_ASCII.findall(text)
    ):
        return None
    import io
    import tokenize

    lines = text.splitlines(keepends=True)
    changed = False
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.NAME or token.string.isascii():
                continue
            normal = unicodedata.normalize("NFKC", token.string)
            (row, start), (_, end) = token.start, token.end
            if normal != token.string and len(normal) == len(token.string):
                line = lines[row - 1]
                lines[row - 1] = line[:start] + normal + line[end:]
                changed = True
    except (tokenize.TokenError, SyntaxError):
        return None
    return "".join(lines) if changed else None


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
        row, column = span.start.line, span.start.column + 1
        if (rule.code, row, column) in seen or suppressions.suppresses(rule.code, row):
            continue
        seen.add((rule.code, row, column))
        end = Location(span.end.line, span.end.column + 1)
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
        else (facts.module or cst.Module([])).code_for_node(replacement.new)
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
