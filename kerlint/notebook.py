"""Writing fixed code cells back into a notebook without touching anything else.

Re-serialising the whole notebook with `json.dumps` would rewrite what kerlint has no
business changing: escapes, number formats, key order, the indentation of outputs. So the
notebook's text is scanned once for where each cell's `source` value sits, and only the
values of changed cells are replaced, written in the style of the value they replace
(a list of lines or one string, the same item layout, unchanged lines kept byte for byte).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from kerlint.source import neutralise_magics

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")


class NotebookError(Exception):
    """The notebook's text cannot be edited in place (it was valid JSON when read)."""


@dataclass
class _Node:
    start: int
    end: int
    kind: str  # "object", "array", "string", "scalar"
    members: dict[str, _Node] = field(default_factory=dict)
    items: list[_Node] = field(default_factory=list)


class _Scanner:
    """A JSON reader that keeps where every value starts and ends."""

    def __init__(self, text: str) -> None:
        self.text = text

    def skip(self, at: int) -> int:
        return _WHITESPACE.match(self.text, at).end()  # type: ignore[union-attr]

    def value(self, at: int) -> _Node:
        at = self.skip(at)
        char = self.text[at : at + 1]
        if char == "{":
            return self._object(at)
        if char == "[":
            return self._array(at)
        if char == '"':
            match = _STRING.match(self.text, at)
            if match is None:
                raise NotebookError(f"bad string at offset {at}")
            return _Node(at, match.end(), "string")
        match = _SCALAR.match(self.text, at)
        if match is None:
            raise NotebookError(f"unexpected text at offset {at}")
        return _Node(at, match.end(), "scalar")

    def _object(self, start: int) -> _Node:
        node = _Node(start, start, "object")
        at = self.skip(start + 1)
        if self.text.startswith("}", at):
            node.end = at + 1
            return node
        while True:
            key = self.value(at)
            if key.kind != "string":
                raise NotebookError(f"object key expected at offset {key.start}")
            at = self.skip(key.end)
            if not self.text.startswith(":", at):
                raise NotebookError(f"':' expected at offset {at}")
            child = self.value(at + 1)
            node.members[json.loads(self.text[key.start : key.end])] = child
            at = self.skip(child.end)
            if self.text.startswith(",", at):
                at = self.skip(at + 1)
                continue
            if self.text.startswith("}", at):
                node.end = at + 1
                return node
            raise NotebookError(f"',' or '}}' expected at offset {at}")

    def _array(self, start: int) -> _Node:
        node = _Node(start, start, "array")
        at = self.skip(start + 1)
        if self.text.startswith("]", at):
            node.end = at + 1
            return node
        while True:
            child = self.value(at)
            node.items.append(child)
            at = self.skip(child.end)
            if self.text.startswith(",", at):
                at += 1
                continue
            if self.text.startswith("]", at):
                node.end = at + 1
                return node
            raise NotebookError(f"',' or ']' expected at offset {at}")


def detect_indent(text: str) -> int | None:
    """The indentation unit of a JSON text (Jupyter writes 1 space); None when on one line."""
    match = re.search(r"\n( +)\S", text)
    return len(match.group(1)) if match else None


def cell_text(cell: dict) -> str:
    """A cell's source as one string, whether stored as a string or a list of lines."""
    raw = cell.get("source", "")
    return "".join(raw) if isinstance(raw, list) else str(raw)


def split_lines(text: str) -> list[str]:
    """Lines as nbformat stores them: each keeps its `\\n`, the last may have none."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def write_back(raw: bytes, new_sources: dict[int, str]) -> bytes:
    """`raw` with the `source` of the cells at the given indexes replaced, nothing else."""
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw[3:].decode("utf-8") if bom else raw.decode("utf-8")
    root = _Scanner(text).value(0)
    cells = root.members.get("cells") if root.kind == "object" else None
    if cells is None or cells.kind != "array":
        raise NotebookError("notebook has no list of `cells`")
    ensure_ascii = not any(ord(c) > 127 for c in text) and "\\u" in text
    replacements: list[tuple[int, int, str]] = []
    for index, source in new_sources.items():
        if not 0 <= index < len(cells.items):
            raise NotebookError(f"no cell at index {index}")
        cell = cells.items[index]
        value = cell.members.get("source") if cell.kind == "object" else None
        if value is None:
            raise NotebookError(f"cell {index} has no `source`")
        replacements.append(
            (value.start, value.end, _format_source(text, value, source, ensure_ascii))
        )
    for start, end, new in sorted(replacements, reverse=True):
        text = text[:start] + new + text[end:]
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def _format_source(text: str, old: _Node, source: str, ensure_ascii: bool) -> str:
    """`source` as JSON, laid out as the value it replaces was."""
    if old.kind != "array":
        return json.dumps(source, ensure_ascii=ensure_ascii)
    raw_of = {json.loads(text[i.start : i.end]): text[i.start : i.end] for i in old.items}
    tokens = [
        raw_of.get(line) or json.dumps(line, ensure_ascii=ensure_ascii)
        for line in split_lines(source)
    ]
    if not tokens:
        return "[]"
    if old.items:
        opening = text[old.start + 1 : old.items[0].start]
        closing = text[old.items[-1].end : old.end - 1]
        separator = (
            text[old.items[0].end : old.items[1].start] if len(old.items) > 1 else "," + opening
        )
    else:
        line_start = text.rfind("\n", 0, old.start) + 1
        key_indent = re.match(r"[ \t]*", text[line_start:]).group(0)  # type: ignore[union-attr]
        unit = " " * (detect_indent(text) or 0)
        if not unit:
            opening, closing, separator = "", "", ", "
        else:
            opening, closing = "\n" + key_indent + unit, "\n" + key_indent
            separator = "," + opening
    return "[" + opening + separator.join(tokens) + closing + "]"


def magic_rows(cell_source: str) -> set[int]:
    """The 1-based rows of a cell that are IPython, not Python: a fix must not touch them."""
    original = cell_source.replace("\r\n", "\n").split("\n")
    neutral = neutralise_magics(cell_source.replace("\r\n", "\n")).split("\n")
    return {row for row, (a, b) in enumerate(zip(original, neutral, strict=False), 1) if a != b}
