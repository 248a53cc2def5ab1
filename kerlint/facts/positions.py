"""Where a node of CPython's tree is, in the characters of the text it was parsed from.

CPython counts lines as its tokenizer does (`\n`, `\r\n`, `\r`; a form feed breaks none)
and columns in UTF-8 bytes; diagnostics count characters. Rows are split once per file,
and only when something there is reported.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cached_property

_LINE_END = re.compile(r"\r\n|\r|\n")
# What `str.splitlines` also breaks at, and Python does not.
_OTHER_BREAKS = re.compile("[\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def rows(text: str) -> list[str]:
    """The rows of `text` with their line breaks, as Python and LibCST count them (not
    `str.splitlines`, which also breaks at form feeds and other separators)."""
    if _OTHER_BREAKS.search(text) is None:
        return text.splitlines(keepends=True)  # the same rows, split in C
    found, start = [], 0
    for match in _LINE_END.finditer(text):
        found.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        found.append(text[start:])
    return found


def column(row: str, byte_offset: int) -> int:
    """The character column of a UTF-8 byte offset into `row` (CPython's tree counts bytes)."""
    if row.isascii():
        return byte_offset
    return len(row.encode("utf-8", "surrogatepass")[:byte_offset].decode("utf-8", "ignore"))


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 0-based, in characters


@dataclass(frozen=True)
class Span:
    start: Position
    end: Position


class SourceText:
    """One file's text, to place its nodes and quote them."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def rows(self) -> list[str]:
        return rows(self.text)

    def _row(self, line: int) -> str:
        found = self.rows
        return found[line - 1] if 0 < line <= len(found) else ""

    def span(self, node: ast.AST) -> Span:
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        start = column(self._row(line), getattr(node, "col_offset", 0))
        end_offset = getattr(node, "end_col_offset", None)
        end = column(self._row(end_line), end_offset) if end_offset is not None else start
        return Span(Position(line, start), Position(end_line, end))

    def segment(self, node: ast.AST) -> str | None:
        """The text of `node` as written (None when it has no position)."""
        if getattr(node, "end_lineno", None) is None:
            return None
        span = self.span(node)
        first, last = span.start, span.end
        if first.line == last.line:
            return self._row(first.line)[first.column : last.column]
        parts = [self._row(first.line)[first.column :]]
        parts.extend(self.rows[first.line : last.line - 1])
        parts.append(self._row(last.line)[: last.column])
        return "".join(parts)
