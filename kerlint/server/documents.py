"""What the server checks: an editor's unsaved text, built into the `Source` that `check` reads.

A Python document is its text as the editor holds it (already decoded: a coding cookie has
done its work). A notebook's cells are written out as the notebook JSON `kerlint check` reads,
so that `kerlint.source` joins them into one program with its cell map, exactly as it does for
a file on disk: magics, cell numbering and non-Python notebooks follow one rule.
"""

from __future__ import annotations

import io
import json
import tokenize
from dataclasses import dataclass
from pathlib import Path

from kerlint.source import MAX_FILE_BYTES, Source, SourceError, read_source

_PYTHON_LANGUAGES = ("python", "python3", "")


@dataclass(frozen=True)
class Cell:
    """One notebook cell as the client syncs it."""

    uri: str
    code: bool  # a code cell (not markdown)
    language: str
    text: str

    @property
    def is_python(self) -> bool:
        return self.code and self.language.lower() in _PYTHON_LANGUAGES


def check_size(text: str) -> None:
    """A document over the limit `check` applies to files is refused the same way."""
    if len(text) > MAX_FILE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > (
        MAX_FILE_BYTES
    ):
        raise SourceError(f"document is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; skipped")


def python_source(path: Path, display: str, text: str) -> Source:
    """A Source from an editor's text, with the checks `read_source` makes on bytes."""
    check_size(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        row = text[: exc.start].count("\n") + 1
        raise SourceError("document is not valid Unicode (a lone surrogate)", row=row) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        row = text[: text.index("\x00")].count("\n") + 1
        raise SourceError("source contains a NUL byte", row=row)
    first = text.find("\n")
    newline = "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"
    return Source(path, display, text, encoding=declared_encoding(text), newline=newline)


def declared_encoding(text: str) -> str:
    """The encoding the file is stored in (its PEP 263 cookie, else UTF-8), which fixes are
    written back in; a bad cookie is refused as `check` refuses it."""
    head = "".join(text.splitlines(keepends=True)[:2]).encode("utf-8")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(head).readline)
    except SyntaxError as exc:
        raise SourceError(f"invalid encoding declaration: {exc}") from exc
    return "utf-8" if encoding == "utf-8-sig" else encoding


def notebook_bytes(cells: list[Cell]) -> bytes:
    """The cells as the notebook JSON `kerlint.source` reads (non-Python code cells as raw)."""
    notebook = {
        "cells": [
            {
                "cell_type": "code" if cell.is_python else ("raw" if cell.code else "markdown"),
                "metadata": {},
                "source": cell.text,
                **({"execution_count": None, "outputs": []} if cell.is_python else {}),
            }
            for cell in cells
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, ensure_ascii=False).encode("utf-8", "surrogatepass")


def notebook_source(path: Path, display: str, cells: list[Cell]) -> Source:
    """The code cells joined into one program with the cell map, by `kerlint.source` itself."""
    for cell in cells:
        check_size(cell.text)
    data = notebook_bytes(cells)
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(f"notebook is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; skipped")
    notebook_path = path if path.suffix == ".ipynb" else path.with_name(path.name + ".ipynb")
    return read_source(notebook_path, display, data)
