"""LibCST's tree of a file, for the fixes that rewrite code: parsed only for files with
findings, and never where its native parser could take the process down.

The facts come from CPython's tree (`engine.py`); LibCST keeps every character of the
file, which an edit needs. Imported only when a fix needs it: a check without one never
imports LibCST.
"""

from __future__ import annotations

import ast
import itertools
import re
import sys
import threading

import libcst as cst

from kerlint.deep_stack import NO_DEEP_STACK, on_a_deep_stack, on_deep_stack
from kerlint.engine import _gc_paused, _python_tree, _reraise_when_debugging
from kerlint.facts.positions import column as _column
from kerlint.facts.positions import rows as _rows

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
MAIN_STACK_SAFE_BYTES = 4 * 1024
DEEP_STACK_SAFE_BYTES = 192 * 1024
_STACK_BUDGET = 192 * 1024 * 1024
_STACK_PER_LEVEL = 8 * 1024
_STACK_PER_ITEM = 2 * 1024
_RUN_WORDS = re.compile(r"\b(?:and|or|for)\b")


def tree_for_fixes(text: str) -> cst.Module | None:
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
    if on_a_deep_stack():
        return _parse_here(text, trusted)
    small = not deep_stack and len(text) <= MAIN_STACK_SAFE_BYTES
    if small:
        try:
            return _parse_here(text, trusted)
        except RecursionError:  # LibCST's Python side: try again with room
            pass
    try:
        return on_deep_stack(lambda: _parse_here(text, trusted))
    except RecursionError as exc:
        if small and str(exc) == NO_DEEP_STACK:
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
