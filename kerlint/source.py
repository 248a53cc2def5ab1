"""Reading a file into text kerlint can parse: encodings, BOMs and notebooks.

A notebook becomes one program: its code cells in order, joined, with IPython
magics and shell escapes replaced by `pass` so that the line numbers still map
back to (cell, line).
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 10 * 1024 * 1024


class SourceError(Exception):
    """The file cannot be read as Python: reported as KL000 with a position."""

    def __init__(self, message: str, row: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


@dataclass(frozen=True)
class CellSpan:
    """Where one notebook code cell sits in the joined program."""

    cell: int  # 1-based among code cells, as editors number them
    index: int  # position in the notebook's `cells` list
    first_row: int  # 1-based row of the cell's first line in the joined text
    rows: int


@dataclass
class Source:
    """A file's text, how it was stored, and for notebooks the cell map."""

    path: Path
    display: str
    text: str
    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\n"
    cells: list[CellSpan] | None = None
    notebook: dict | None = field(default=None, repr=False)

    @property
    def is_notebook(self) -> bool:
        return self.cells is not None

    def to_cell(self, row: int) -> tuple[int | None, int]:
        """Map a row of the joined text to (cell, row within the cell)."""
        if self.cells is None:
            return None, row
        for span in self.cells:
            if span.first_row <= row < span.first_row + span.rows:
                return span.cell, row - span.first_row + 1
        last = self.cells[-1] if self.cells else None
        return (last.cell, row - last.first_row + 1) if last else (None, row)


def read_bytes(path: Path) -> bytes:
    """The bytes of `path`, or SourceError: never blocks, never reads more than the limit.

    A FIFO, socket or device named `*.py` would block a plain read forever (or never end:
    `/dev/zero`), so only regular files are read; a file that grows past the limit between
    the `stat` and the read is cut off by the bounded read and refused all the same.
    """
    too_big = f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; skipped"
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(descriptor, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise SourceError("not a regular file; skipped")
            if status.st_size > MAX_FILE_BYTES:
                raise SourceError(too_big)
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(too_big)
    return data


def read_source(path: Path, display: str | None = None, data: bytes | None = None) -> Source:
    """Read `path` (or the given bytes) into a Source, or raise SourceError."""
    display = display if display is not None else str(path)
    if data is None:
        data = read_bytes(path)
    if path.suffix == ".ipynb":
        return _read_notebook(path, display, data)
    text, encoding, bom = decode_python(data)
    return Source(path, display, text, encoding, bom, _newline_of(text))


# PEP 263's coding cookie, as bytes (the line it is on may not decode).
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)


def decode_python(data: bytes) -> tuple[str, str, bool]:
    """Decode as Python does (BOM, PEP 263 cookie), reporting undecodable bytes."""
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if not _COOKIE.search(b"\n".join(data.splitlines()[:2])):
            # No declaration at all: the first lines are simply not UTF-8.
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as error:
                row = data[: error.start].count(b"\n") + 1
                raise SourceError(f"file is not valid utf-8: {error}", row=row) from exc
            raise SourceError("file is not valid utf-8") from exc
        raise SourceError(f"invalid encoding declaration: {exc}") from exc
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        row = data[: getattr(exc, "start", 0)].count(b"\n") + 1
        raise SourceError(f"file is not valid {encoding}: {exc}", row=row) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        row = text[: text.index("\x00")].count("\n") + 1
        raise SourceError("source contains a NUL byte", row=row)
    return text, ("utf-8" if encoding == "utf-8-sig" else encoding), bom


def _newline_of(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


_MAGIC = re.compile(r"^(\s*)(%|!|\?|[\w.]+\s*=\s*[%!])")
# Cell magics whose body is still Python; any other %% cell is not Python at all.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit"}


def neutralise_magics(cell_source: str) -> str:
    """Replace IPython-only lines by `pass` (same indentation), keeping the line count."""
    lines = cell_source.split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return "\n".join("" for _ in lines)
        lines[0] = ""
    out = []
    for line in lines:
        match = _MAGIC.match(line)
        if match or (line.rstrip().endswith("?") and not line.lstrip().startswith("#")):
            indent = match.group(1) if match else line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass")
        else:
            out.append(line)
    return "\n".join(out)


def _read_notebook(path: Path, display: str, data: bytes) -> Source:
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"notebook is not valid JSON: {exc}") from exc
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise SourceError("notebook has no list of `cells`")
    language = (
        notebook.get("metadata", {}).get("language_info", {}).get("name", "python")
        if isinstance(notebook.get("metadata"), dict)
        else "python"
    )
    if isinstance(language, str) and language.lower() not in ("python", "python3", ""):
        return Source(path, display, "", cells=[], notebook=notebook)
    parts: list[str] = []
    spans: list[CellSpan] = []
    row = 1
    number = 0
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        raw = cell.get("source", "")
        text = "".join(raw) if isinstance(raw, list) else raw
        if not isinstance(text, str):
            raise SourceError(f"code cell {number} has a source that is not text")
        code = neutralise_magics(text.replace("\r\n", "\n"))
        if not code.endswith("\n"):
            code += "\n"
        n_rows = code.count("\n")
        spans.append(CellSpan(number, index, row, n_rows))
        parts.append(code)
        row += n_rows
    return Source(path, display, "".join(parts), cells=spans, notebook=notebook)
