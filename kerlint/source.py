"""Reading a file into text kerlint can parse: encodings, BOMs and notebooks.

A notebook becomes one program: its code cells in order, joined, with IPython
magics and shell escapes replaced by `pass` so that the line numbers still map
back to (cell, line).
"""

from __future__ import annotations

import ast
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
    # Characters a notebook cell's row lost at its start (IPython's leading indent), by row
    # of the joined text: its columns are moved back by as many.
    shifts: dict[int, int] = field(default_factory=dict)

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
    return read_regular_file(path, MAX_FILE_BYTES)


def read_regular_file(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of the regular file `path` (symbolic links followed), or
    SourceError: what kerlint reads besides sources (cache entries, baselines) is read so too.
    """
    too_big = f"file is larger than {limit // (1024 * 1024)} MiB; skipped"
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(descriptor, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise SourceError("not a regular file; skipped")
            if status.st_size > limit:
                raise SourceError(too_big)
            data = file.read(limit + 1)
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > limit:
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
    if not _ascii_compatible(encoding):
        raise SourceError(f"the encoding declaration names {encoding}, which Python cannot read")
    try:
        text = data.decode(encoding)
    except Exception as exc:  # any codec may raise anything (`undefined`, `punycode`, ...)
        row = data[: getattr(exc, "start", 0)].count(b"\n") + 1
        raise SourceError(f"file is not valid {encoding}: {exc}", row=row) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        row = text[: text.index("\x00")].count("\n") + 1
        raise SourceError("source contains a NUL byte", row=row)
    return text, ("utf-8" if encoding == "utf-8-sig" else encoding), bom


def _ascii_compatible(encoding: str) -> bool:
    """Python reads a cookie's encoding line by line as ASCII-compatible text: `utf-16`
    decodes a whole file into nonsense, `rot13` is not a text encoding at all."""
    try:
        return b"# coding=\n".decode(encoding) == "# coding=\n"
    except Exception:  # LookupError, or whatever a codec raises
        return False


_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_surrogates(text: str, where: str) -> None:
    """JSON may spell a lone surrogate (`"\\ud800"`); no Python file or output can hold one."""
    match = _SURROGATE.search(text)
    if match is not None:
        row = text.count("\n", 0, match.start()) + 1
        raise SourceError(
            f"{where}, line {row}, holds a lone surrogate (U+{ord(match.group()):04X}), "
            "which is not text"
        )


def _newline_of(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


_MAGIC = re.compile(r"^(\s*)(%|!(?!=)|\?|[\w.]+\s*=\s*[%!](?!=))")
# IPython's automagics and shell commands that run without `%` or `!` (`pip install x`): a
# statement-starting line that begins with one of these words and is not Python.
_AUTOMAGIC = re.compile(
    r"^(\s*)(pip|conda|cd|ls|pwd|cat|mkdir|rmdir|rm|cp|mv|less|man|env|alias|load_ext|"
    r"matplotlib|pinfo|who|whos)\s+\S"
)
# Cell magics whose body is still Python; any other %% cell is not Python at all.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit"}
# Some line of the cell may be IPython: without a match (most cells), none is.
_MAYBE_IPYTHON = re.compile(
    r"\?|(?m:^[^\S\n]*(?:%|!|[\w.]+\s*=\s*[%!]|(?:"
    + _AUTOMAGIC.pattern.split("(", 2)[2].split(")", 1)[0]
    + r")\s))"
)


def leading_indent(cell_source: str) -> tuple[str, int, list[int]]:
    """The cell as IPython runs it: when its first line that is not blank is indented, that
    indentation is taken off every line that starts with it (IPython's `leading_indent`).
    Also the width taken, and the 0-based rows it was taken from."""
    lines = cell_source.split("\n")
    first = next((line for line in lines if line and not line.isspace()), "")
    space = _LEADING_INDENT.match(first)
    if space is None:
        return cell_source, 0, []
    prefix = space.group(0)
    dedented = [index for index, line in enumerate(lines) if line.startswith(prefix)]
    for index in dedented:
        lines[index] = lines[index][len(prefix) :]
    return "\n".join(lines), len(prefix), dedented


_LEADING_INDENT = re.compile(r"[ \t]+")


def neutralise_magics(cell_source: str) -> str:
    """Replace IPython-only lines by `pass` (same indentation), keeping the line count.

    Only a line that starts a statement can be IPython: a line inside brackets, a string or
    after a backslash continues Python code, and a `?` in a comment is not help (`f(a,  #
    why?` is the first line of a call, not `f(a,?`).
    """
    if _MAYBE_IPYTHON.search(cell_source) is None:
        return cell_source
    lines = cell_source.split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return "\n".join("" for _ in lines)
        lines[0] = ""
    out = []
    scanner = _LineScanner()
    in_magic = False  # the previous line was IPython and ended with a backslash
    for line in lines:
        if in_magic:  # `!wget -q \` goes on here: still the shell's, not Python
            out.append("")
            in_magic = line.rstrip().endswith("\\")
            continue
        starts_statement = scanner.at_statement_start()
        code = scanner.feed(line)
        match = _MAGIC.match(line) if starts_statement else None
        if match is None and starts_statement:
            match = _automagic(line)
        help_line = starts_statement and code.rstrip().endswith("?")
        if match or help_line:
            indent = match.group(1) if match else line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass")
            scanner.reset()  # what an IPython line opened does not carry over
            in_magic = line.rstrip().endswith("\\")
        else:
            out.append(line)
    return "\n".join(out)


def _automagic(line: str) -> re.Match[str] | None:
    """`pip install x` without `%`: an automagic, unless the line is Python (`cd = 3`)."""
    match = _AUTOMAGIC.match(line)
    if match is None:
        return None
    try:
        compile(line.strip(), "<cell>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError):
        return match
    return None


class _LineScanner:
    """Just enough of Python's tokenizer to know, line by line, what is code.

    Tracks open brackets, a string left open by a line (triple-quoted) and a trailing
    backslash; `feed` returns the line's code with strings kept and its comment removed.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.depth = 0
        self.open_quote = ""  # the quote of a triple-quoted string still open
        self.continued = False

    def at_statement_start(self) -> bool:
        return self.depth == 0 and not self.open_quote and not self.continued

    def feed(self, line: str) -> str:
        at, end, quote = 0, len(line), self.open_quote
        while at < end:
            if quote:
                if line[at] == "\\":
                    at += 2
                    continue
                if line.startswith(quote, at):
                    at += len(quote)
                    quote = ""
                    continue
                at += 1
                continue
            char = line[at]
            if char == "#":
                self.open_quote, self.continued = "", False
                return line[:at]
            if char in "'\"":
                quote = char * 3 if line.startswith(char * 3, at) else char
                at += len(quote)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(self.depth - 1, 0)
            at += 1
        if len(quote) == 1:  # an unterminated one-line string ends with its line
            quote = ""
        self.open_quote = quote
        self.continued = not quote and line.endswith("\\")
        return line


def _read_notebook(path: Path, display: str, data: bytes) -> Source:
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"notebook is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # CPython's JSON reader recurses per nesting level
        raise SourceError("notebook is nested too deeply to read") from exc
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise SourceError("notebook has no list of `cells`")
    if not _is_python(notebook):
        return Source(path, display, "", cells=[], notebook=notebook)
    parts: list[str] = []
    spans: list[CellSpan] = []
    shifts: dict[int, int] = {}
    row = 1
    number = 0
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        raw = cell.get("source", "")
        if isinstance(raw, list) and all(isinstance(line, str) for line in raw):
            text = "".join(raw)
        elif isinstance(raw, str):
            text = raw
        else:
            raise SourceError(f"code cell {number} has a source that is not text")
        _reject_surrogates(text, f"code cell {number}")
        text, width, dedented = leading_indent(text.replace("\r\n", "\n"))
        shifts.update((row + index, width) for index in dedented)
        code = neutralise_magics(text)
        if not code.endswith("\n"):
            code += "\n"
        n_rows = code.count("\n")
        spans.append(CellSpan(number, index, row, n_rows))
        parts.append(code)
        row += n_rows
    return Source(path, display, "".join(parts), cells=spans, notebook=notebook, shifts=shifts)


def _is_python(notebook: dict) -> bool:
    """False only when the notebook says it is another language; odd metadata is Python."""
    metadata = notebook.get("metadata")
    info = metadata.get("language_info") if isinstance(metadata, dict) else None
    language = info.get("name", "python") if isinstance(info, dict) else "python"
    return not isinstance(language, str) or language.lower() in ("python", "python3", "")
