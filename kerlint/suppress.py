"""`# noqa` comments, ruff-compatible, and file-level `# kerlint: noqa`, read from comments.

Directives are read from the comment tokens of Python's `tokenize`, never from the text
of a line: `"# noqa"` inside a string suppresses nothing.

- `# noqa` (every code) and `# noqa: KL001, KL003` (those codes) on a line suppress what is
  reported on it. When the diagnostic's statement spans several lines (a call over three
  lines), a `# noqa` on its first or its last line counts: `ruff format` moves a trailing
  comment to the closing parenthesis, and the finding must not come back.
- `# kerlint: noqa` on a line of its own silences the whole file, `# kerlint: noqa: KL001`
  one rule in it; `# ruff: noqa: KL001` names kerlint codes too and is honoured the same
  way, but a bare `# ruff: noqa` (or `# flake8: noqa`) is a statement about those tools'
  rules and does not silence kerlint.

Each directive records which codes it suppressed, for KL900 (unused noqa).
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

# --ignore-noqa travels with the selected codes, so that it reaches worker processes and
# the cache key as they do; it is no rule code (no rule is named so).
IGNORE_NOQA = "!ignore-noqa"

_CODE = r"[A-Z]+[0-9]+"
_CODE_LIST = r"(?P<codes>" + _CODE + r"(?:[\s,]+" + _CODE + r")*)"
_LINE_NOQA = re.compile(r"#\s*noqa(?::\s*" + _CODE_LIST + r")?", re.IGNORECASE)
_FILE_NOQA = re.compile(
    r"#\s*(?P<tool>kerlint|ruff)\s*:\s*noqa(?::\s*" + _CODE_LIST + r")?", re.IGNORECASE
)
_ONE_CODE = re.compile(_CODE, re.IGNORECASE)


@dataclass
class Directive:
    """One `# noqa` on one line: where it is (0-based columns), what it names, what it did."""

    row: int
    start: int  # the `#` of the directive
    end: int  # the end of the directive (after its last code)
    comment_start: int  # the comment the directive is in
    comment_end: int
    codes: tuple[str, ...] | None  # None: every code
    # Where each code is, for a fix that removes one: (code as written, start, end).
    code_spans: tuple[tuple[str, int, int], ...] = ()
    used: set[str] = field(default_factory=set)

    def covers(self, code: str) -> bool:
        return self.codes is None or code in self.codes


@dataclass
class Suppressions:
    """Which codes are silenced where; `whole_file` None means every code in the file."""

    by_row: dict[int, list[Directive]] = field(default_factory=dict)
    whole_file: set[str] | None = field(default_factory=set)
    # A row inside a statement over several lines -> (its first row, its last row).
    statement_rows: dict[int, tuple[int, int]] = field(default_factory=dict)

    def suppresses(self, code: str, row: int) -> bool:
        """Whether `code` reported at `row` is silenced; the directive that does it is marked."""
        if self.whole_file is None or code in self.whole_file:
            return True
        rows = [row]
        first, last = self.statement_rows.get(row, (row, row))
        rows += [r for r in (first, last) if r != row]
        for candidate in rows:
            for directive in self.by_row.get(candidate, ()):
                if directive.covers(code):
                    directive.used.add(code)
                    return True
        return False

    def directives(self) -> list[Directive]:
        return [d for row in sorted(self.by_row) for d in self.by_row[row]]


def _comments(text: str) -> tuple[list[tuple[int, int, str, bool]], dict[int, tuple[int, int]]]:
    """(row, column, comment, alone on its line) of every comment, and the rows of every
    statement over several lines. A file tokenize gives up on keeps what it read so far.
    Rows count \\r, \\r\\n and \\n as LibCST does."""
    comments: list[tuple[int, int, str, bool]] = []
    statements: dict[int, tuple[int, int]] = {}
    first_row: int | None = None
    seen_code_on: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):
            kind, string, (row, column), (end_row, _), _ = token
            if kind == tokenize.COMMENT:
                comments.append((row, column, string, row not in seen_code_on))
                continue
            if kind in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
                continue
            if kind in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if first_row is not None and row > first_row:
                    for inner in range(first_row, row + 1):
                        statements[inner] = (first_row, row)
                first_row = None
                continue
            if first_row is None:
                first_row = row
            seen_code_on.update(range(row, end_row + 1))
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return comments, statements


def _line_directive(row: int, column: int, comment: str) -> Directive | None:
    match = _LINE_NOQA.search(comment)
    if match is None:
        return None
    codes = match.group("codes")
    spans: list[tuple[str, int, int]] = []
    if codes is not None:
        offset = match.start("codes")
        spans = [
            (m.group(), column + offset + m.start(), column + offset + m.end())
            for m in _ONE_CODE.finditer(codes)
        ]
    return Directive(
        row=row,
        start=column + match.start(),
        end=column + match.end(),
        comment_start=column,
        comment_end=column + len(comment),
        codes=None if codes is None else tuple(code.upper() for code, _, _ in spans),
        code_spans=tuple(spans),
    )


def find_suppressions(text: str) -> Suppressions:
    result = Suppressions()
    if "noqa" not in text.lower():
        return result
    comments, result.statement_rows = _comments(text)
    for row, column, comment, alone in comments:
        if "noqa" not in comment.lower():
            continue
        file_match = _FILE_NOQA.match(comment)
        if file_match and alone:
            raw = file_match.group("codes")
            if raw is None:
                if file_match.group("tool").lower() == "kerlint":
                    result.whole_file = None
            elif result.whole_file is not None:
                result.whole_file |= {c.upper() for c in _ONE_CODE.findall(raw)}
            continue
        if file_match:
            continue  # a file-level directive must be on a line of its own
        directive = _line_directive(row, column, comment)
        if directive is not None:
            result.by_row.setdefault(row, []).append(directive)
    return result
