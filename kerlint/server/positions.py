"""Rows and columns between kerlint and an LSP client.

kerlint counts 1-based rows and 1-based columns in code points, over the line breaks LibCST
counts (`\\r\\n`, `\\r`, `\\n`: the same three the protocol names). A client counts 0-based lines
and columns in UTF-16 code units unless it negotiated UTF-8 or UTF-32, so a line with an emoji
before a finding must be converted, never copied.
"""

from __future__ import annotations

import bisect
import re

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def units(text: str, encoding: str) -> int:
    """How many code units of `encoding` the client counts in `text`."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


class LineIndex:
    """Where each line of a text starts and ends, to convert positions both ways."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        self.ends: list[int] = []
        for match in _LINE_BREAK.finditer(text):
            self.ends.append(match.start())
            self.starts.append(match.end())
        self.ends.append(len(text))

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line(self, index: int) -> str:
        """The 0-based line `index` without its line break ('' past the end)."""
        if not 0 <= index < len(self.starts):
            return ""
        return self.text[self.starts[index] : self.ends[index]]

    def offset(self, row: int, column: int) -> int:
        """The offset of kerlint's (1-based row, 1-based code-point column), clamped to the text."""
        index = min(max(row - 1, 0), len(self.starts) - 1)
        return min(self.starts[index] + max(column - 1, 0), self.ends[index])

    def to_client(self, offset: int, encoding: str) -> tuple[int, int]:
        """The client's (line, character) of an offset."""
        offset = min(max(offset, 0), len(self.text))
        index = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[index]
        offset = min(offset, self.ends[index])
        return index, units(self.text[start:offset], encoding)

    def kerlint_to_client(self, row: int, column: int, encoding: str) -> tuple[int, int]:
        return self.to_client(self.offset(row, column), encoding)

    def from_client(self, line: int, character: int, encoding: str) -> int:
        """The offset of a client's (line, character); a position inside a character or past
        the end of its line is clamped, as the protocol asks."""
        if line >= len(self.starts):
            return len(self.text)
        if line < 0:
            return 0
        start, end = self.starts[line], self.ends[line]
        text = self.text[start:end]
        if encoding == UTF32 or text.isascii():
            return start + min(max(character, 0), len(text))
        counted = 0
        for position, char in enumerate(text):
            width = units(char, encoding)
            if counted + width > character:
                return start + position
            counted += width
        return end
