"""Positions of CPython's tree in characters: rows split as Python counts them, byte columns
turned into character columns, and the text of a node as written."""

from __future__ import annotations

import ast
import re

from hypothesis import given
from hypothesis import strategies as st

from kerlint.facts.positions import SourceText, column, rows

LINE_END = re.compile(r"\r\n|\r|\n")


def rows_by_line_ends(text: str) -> list[str]:
    found, start = [], 0
    for match in LINE_END.finditer(text):
        found.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        found.append(text[start:])
    return found


@given(st.text(alphabet=["a", " ", "\n", "\r", "\f", "\v", "\x1c", "\x85", "\u2028"]))
def test_rows_break_where_python_does(text: str) -> None:
    assert rows(text) == rows_by_line_ends(text)


def test_a_byte_column_is_a_character_column() -> None:
    row = "café = naïve(x)\n"
    offset = row.encode("utf-8").index(b"naive".replace(b"i", "ï".encode()))
    assert column(row, offset) == row.index("naïve")
    assert column("ascii only", 5) == 5


@given(
    st.lists(
        st.sampled_from(["x", "café", "\uff4dodel", "naïve", "\U0001d426", "a_b"]),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.sampled_from(["", "\f", "  \f"]),
)
def test_every_name_is_quoted_as_written(names: list[str], newline: str, prefix: str) -> None:
    """CPython counts columns in UTF-8 bytes: the segment of each node is its own text."""
    text = newline.join(f"{prefix}{name} = ({name}, {name!r})" for name in names) + newline
    source = SourceText(text)
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name | ast.Constant):
            written = source.segment(node)
            span = source.span(node)
            assert written == source.rows[span.start.line - 1][span.start.column : span.end.column]
            if isinstance(node, ast.Constant):
                assert ast.literal_eval(written) == node.value
            else:  # the tree holds the NFKC form of a name; the segment, the file's
                assert written in names
