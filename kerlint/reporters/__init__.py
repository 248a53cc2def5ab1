"""Output formats. Each reporter turns the run's diagnostics into text for one audience."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kerlint.diagnostics import Diagnostic


@dataclass
class ReportContext:
    """What a reporter may need beyond the diagnostics."""

    color: bool = False
    quiet: bool = False  # -q: the diagnostics only, no summary
    show_fixes: bool = True
    files_checked: int = 0
    sources: dict[str, str] = field(default_factory=dict)  # display name -> text (for `full`)
    fixed: int = 0
    stale_baseline: int = 0
    hidden_by_baseline: int = 0
    unsafe_fixes: bool = False
    # Notebooks: display name -> {cell number: (first row in the joined text, rows)}.
    cells: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)
    checked_files: list[str] = field(default_factory=list)  # display names, in order (junit)
    # Notebooks: display name -> the .ipynb file, read again by the formats that point at
    # the file's own lines (SARIF, GitLab) rather than at a cell's.
    notebook_files: dict[str, Path] = field(default_factory=dict)
    _lines: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _file_rows: dict[str, dict[int, list[int]] | None] = field(default_factory=dict, repr=False)

    def file_row(self, filename: str, cell: int | None, row: int) -> int | None:
        """The line of the .ipynb file that holds `row` of code cell `cell`; None when it
        cannot be told (not a notebook, or the file changed or cannot be read)."""
        if cell is None or filename not in self.notebook_files:
            return None
        if filename not in self._file_rows:
            self._file_rows[filename] = _notebook_file_rows(self.notebook_files[filename])
        rows = (self._file_rows[filename] or {}).get(cell)
        if not rows:
            return None
        return rows[min(max(row, 1), len(rows)) - 1]

    def lines_of(self, filename: str, cell: int | None = None) -> list[str] | None:
        """The lines a diagnostic's rows count: the file's, or in a notebook its cell's."""
        text = self.sources.get(filename)
        if text is None:
            return None
        lines = self._lines.get(filename)
        if lines is None:
            lines = _LINE_BREAK.split(text)
            if len(lines) > 1 and lines[-1] == "":  # the final line break ends a line
                lines.pop()
            self._lines[filename] = lines
        if cell is None:
            return lines
        span = self.cells.get(filename, {}).get(cell)
        if span is None:
            return None
        first, rows = span
        return lines[first - 1 : first - 1 + rows]


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _notebook_file_rows(path: Path) -> dict[int, list[int]] | None:
    """For each code cell (numbered as kerlint numbers them), the file line of each of its
    lines: a `source` stored as a list has one line per item, one stored as a single string
    sits on one line of the file."""
    import json

    from kerlint.notebook import NotebookError, _Scanner

    try:
        raw = path.read_bytes()
        text = raw[3:].decode("utf-8") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("utf-8")
        root = _Scanner(text).value(0)
    except (OSError, UnicodeDecodeError, NotebookError, RecursionError):
        return None
    cells = root.members.get("cells") if root.kind == "object" else None
    if cells is None or cells.kind != "array":
        return None
    result: dict[int, list[int]] = {}
    number = 0
    for cell in cells.items:
        kind = cell.members.get("cell_type") if cell.kind == "object" else None
        if kind is None or text[kind.start : kind.end] != '"code"':
            continue
        number += 1
        source = cell.members.get("source")
        if source is None:
            continue
        rows: list[int] = []
        pieces = source.items if source.kind == "array" else [source]
        for piece in pieces:
            line = text.count("\n", 0, piece.start) + 1
            try:
                value = json.loads(text[piece.start : piece.end])
            except ValueError:
                value = ""
            breaks = value.replace("\r\n", "\n").count("\n") if isinstance(value, str) else 0
            rows += [line] * max(1, breaks)
        result[number] = rows
    return result


Reporter = Callable[[list[Diagnostic], ReportContext], str]
REPORTERS: dict[str, Reporter] = {}


def reporter(name: str) -> Callable[[Reporter], Reporter]:
    def register(function: Reporter) -> Reporter:
        REPORTERS[name] = function
        return function

    return register


# The module that registers each built-in format: a run imports only the one it prints
# (junit's XML and sarif's URL libraries are not free to import).
_MODULE_OF = {
    "concise": "text",
    "full": "full",
    "json": "json_",
    "json-lines": "json_",
    "pylint": "ci",
    "rdjson": "ci",
    "azure": "ci",
    "sarif": "sarif",
    "github": "github",
    "gitlab": "gitlab",
    "junit": "junit",
}


def render(name: str, diagnostics: list[Diagnostic], context: ReportContext) -> str:
    if name not in REPORTERS and name in _MODULE_OF:
        importlib.import_module(f"kerlint.reporters.{_MODULE_OF[name]}")
    if name not in REPORTERS:
        _load()
    return REPORTERS[name](diagnostics, context)


def names() -> list[str]:
    _load()
    return list(REPORTERS)


def _load() -> None:
    from kerlint.reporters import ci, full, github, gitlab, json_, junit, sarif, text  # noqa: F401

    # Formats added by later modules register themselves on import.
    with contextlib.suppress(ImportError):
        from kerlint.reporters import extra  # noqa: F401


def write_whole(path: Path, data: bytes) -> None:
    """Write a report or a baseline all at once: a temporary file beside it, then a rename.

    So `-o FILE` never leaves an empty or half-written file, and a failed write keeps the
    old one. The folder is made when missing (as ruff does). A device or a FIFO
    (`/dev/stdout`, `/dev/full`) is written directly: it cannot be renamed over. Raises
    OSError.
    """
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "wb") as handle:
            handle.write(data)
        return
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    target.parent.mkdir(parents=True, exist_ok=True)
    import tempfile

    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".kerlint-tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, stat.S_IMODE(mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
