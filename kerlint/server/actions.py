"""Edits behind the code actions, in plain offsets: no protocol types here.

- `noqa_edit`: "Disable KLxxx for this line" puts `# noqa: KLxxx` on the first line of the
  reported statement (a multi-line call is one statement: its first line), or on its last line
  where the first cannot hold a comment (it ends inside a string or with a backslash); an
  existing `# noqa: ...` list on that line is extended.
- `fix_all`: the safe fixes, applied as `kerlint check --fix` applies them (passes until
  nothing changes, the result must parse), as one minimal replacement.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

from kerlint.engine import FileResult
from kerlint.fixes import fix_file
from kerlint.notebook import cell_text
from kerlint.server.positions import LineIndex
from kerlint.source import neutralise_magics

_NOQA_LIST = re.compile(
    r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*)", re.IGNORECASE
)


@dataclass(frozen=True)
class TextChange:
    """Replace text[start:end] with `content` (offsets into the document's text)."""

    start: int
    end: int
    content: str


def _statement_rows(text: str, row: int) -> tuple[int, int, set[int]]:
    """(first row, last row) of the logical line holding `row`, and the rows that end inside
    a string (no comment can go there). Falls back to `row` itself when the text does not
    tokenize (a syntax error further on)."""
    blocked: set[int] = set()
    skipped = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    strings = (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING))
    first: int | None = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in strings:
                blocked.update(range(token.start[0], token.end[0]))
            if token.type in skipped:
                continue
            if token.type == tokenize.ENDMARKER:
                break
            if first is None:
                if token.start[0] > row:
                    break  # `row` holds no statement (a blank or comment line)
                first = token.start[0]
            if token.type == tokenize.NEWLINE:
                if row <= token.start[0]:
                    return first, token.start[0], blocked
                first = None
    except (tokenize.TokenError, SyntaxError):
        pass
    return row, row, blocked


def noqa_edit(text: str, row: int, code: str) -> TextChange | None:
    """The edit that silences `code` reported at 1-based `row`, or None when none can be placed.

    `text` is the Python the row refers to (for a notebook cell: the cell's text; its magics
    are neutralised first, line for line, so that they do not stop the tokenizer).
    """
    lines = LineIndex(text)
    if not 1 <= row <= lines.line_count:
        return None
    first, last, blocked = _statement_rows(neutralise_magics(text), row)
    candidates = [first, last] if first != last else [first]
    for target in candidates:
        line = lines.line(target - 1)
        if target in blocked or _continues(line):
            continue
        return _noqa_on_line(lines, target, line, code)
    return None


def _continues(line: str) -> bool:
    """A backslash continuation: a comment there would end the statement."""
    return line.rstrip().endswith("\\") and "#" not in line


def _noqa_on_line(lines: LineIndex, row: int, line: str, code: str) -> TextChange | None:
    start = lines.starts[row - 1]
    comment_at = _comment_start(line)
    if comment_at is not None:
        match = _NOQA_LIST.search(line, comment_at)
        if match:
            codes = re.split(r"[\s,]+", match.group("codes"))
            if code in (c.upper() for c in codes):
                return None
            at = start + match.end("codes")
            return TextChange(at, at, f", {code}")
        if re.search(r"#\s*noqa\b(?!:)", line[comment_at:], re.IGNORECASE):
            return None  # a bare noqa (no codes) silences every code already
    content = line.rstrip()
    end_of_code = start + len(content)
    return TextChange(end_of_code, start + len(line), f"  # noqa: {code}")


def _comment_start(line: str) -> int | None:
    """Where the comment of a line starts (outside strings), by the tokenizer."""
    if "#" not in line:
        return None
    try:
        for token in tokenize.generate_tokens(io.StringIO(line + "\n").readline):
            if token.type == tokenize.COMMENT:
                return token.start[1]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    # The line alone does not tokenize (it opens a bracket): the last `#` not in quotes.
    quote = None
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return position
    return None


def minimal_change(before: str, after: str) -> TextChange | None:
    """One replacement that turns `before` into `after`: the common ends are kept."""
    if before == after:
        return None
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < limit - prefix
        and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]
    ):
        suffix += 1
    # Never split a \r\n pair: the client would count the lone halves as two line breaks.
    if 0 < prefix < len(before) and before[prefix - 1] == "\r" and before[prefix] == "\n":
        prefix -= 1
    end = len(before) - suffix
    if 0 < end < len(before) and before[end - 1] == "\r" and before[end] == "\n":
        suffix -= 1
        end += 1
    return TextChange(prefix, end, after[prefix : len(after) - suffix])


def fix_all(result: FileResult, codes: frozenset[str], data: bytes) -> FileResult | None:
    """The result of `kerlint check --fix` on these bytes (safe fixes only), or None.

    The returned result's `source` holds the fixed text (for a notebook, its cells).
    """
    outcome = fix_file(result, codes, unsafe=False, data=data)
    if outcome is None or not outcome.changed or outcome.data is None:
        return None
    return outcome.result


def fixed_cells(result: FileResult) -> dict[int, str]:
    """A fixed notebook's code cells by their index in the notebook's `cells`."""
    source = result.source
    if source is None or source.notebook is None:
        return {}
    cells = source.notebook.get("cells", [])
    return {span.index: cell_text(cells[span.index]) for span in source.cells or []}
