"""Applying fixes: edits into text, passes until nothing changes, safe writes, diffs.

A file is fixed in passes, as ruff does: apply every applicable fix whose edits do not
overlap one already taken, check the result again, and repeat while something changes
(at most MAX_PASSES). The fixed text must parse before anything is kept; the file is
written once at the end, atomically, in its own encoding, BOM and line endings. Notebooks
are fixed cell by cell and written back by `kerlint.notebook`, so that magics, outputs
and metadata stay as they were.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import os
import re
import stat
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from kerlint.cst_parse import parse_python
from kerlint.diagnostics import Diagnostic, Fix, Location
from kerlint.engine import FileResult, check_file, check_source
from kerlint.notebook import NotebookError, cell_text, magic_rows, write_back
from kerlint.source import Source, SourceError, read_source

MAX_PASSES = 5
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and bool(fix.edits) and (fix.applicability == "safe" or unsafe)


# ---------------------------------------------------------------------------- edits


class _Lines:
    """Row/column to offset, with the line breaks LibCST counts (\\r\\n, \\r, \\n)."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        self.ends: list[int] = []
        for match in _LINE_BREAK.finditer(text):
            self.ends.append(match.start())
            self.starts.append(match.end())
        self.ends.append(len(text))

    def offset(self, location: Location) -> int | None:
        index = location.row - 1
        if not 0 <= index < len(self.starts) or location.column < 1:
            return None
        at = self.starts[index] + location.column - 1
        return at if at <= self.ends[index] else None


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two edits touch: an insertion even at the boundary of another edit counts."""
    (s1, e1), (s2, e2) = a, b
    if s1 == e1 or s2 == e2:
        return s1 <= e2 and s2 <= e1
    return s1 < e2 and s2 < e1


def apply_fixes(
    text: str, fixes: Sequence[Fix], blocked_rows: frozenset[int] = frozenset()
) -> tuple[str, list[int]]:
    """Apply the fixes whose edits do not overlap an earlier one (in text order).

    Returns the new text and the indexes of the fixes it carries out (a fix identical to
    one applied counts as applied). A fix touching a row in `blocked_rows` is skipped.
    """
    lines = _Lines(text)
    taken: list[tuple[int, int, str]] = []
    applied: list[int] = []
    seen: set[tuple[tuple[int, int, str], ...]] = set()

    def first(index: int) -> tuple[Location, Location]:
        return min((e.location, e.end_location) for e in fixes[index].edits)

    for index in sorted((i for i, f in enumerate(fixes) if f.edits), key=first):
        edits = []
        for edit in fixes[index].edits:
            start, end = lines.offset(edit.location), lines.offset(edit.end_location)
            rows = range(edit.location.row, edit.end_location.row + 1)
            if start is None or end is None or end < start or blocked_rows.intersection(rows):
                edits = None
                break
            edits.append((start, end, edit.content))
        if edits is None:
            continue
        key = tuple(sorted(edits))
        if key in seen:
            applied.append(index)
            continue
        ranges = [(s, e) for s, e, _ in edits]
        if any(_overlap(r, (s, e)) for r in ranges for s, e, _ in taken) or any(
            _overlap(a, b) for i, a in enumerate(ranges) for b in ranges[i + 1 :]
        ):
            continue
        seen.add(key)
        taken.extend(edits)
        applied.append(index)
    for start, end, content in sorted(taken, key=lambda t: (t[0], t[1]), reverse=True):
        text = text[:start] + content + text[end:]
    return text, applied


# ---------------------------------------------------------------------------- one file


@dataclass
class FixOutcome:
    """What fixing one file did: its new bytes (None when unchanged) and what remains."""

    path: Path
    display: str
    original: bytes
    data: bytes | None
    result: FileResult
    fixed: Counter[str] = field(default_factory=Counter)
    diffs: list[tuple[str, str, str]] = field(default_factory=list)  # (label, before, after)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.data is not None and self.data != self.original

    @property
    def count(self) -> int:
        return sum(self.fixed.values())

    def diff(self) -> str:
        return "".join(unified_diff(label, before, after) for label, before, after in self.diffs)


class _Document:
    """The text of a file as fixes see it, and how to turn it back into bytes."""

    def __init__(self, source: Source, original: bytes) -> None:
        self.source = source
        self.original = original
        self.data = original

    def apply(self, diagnostics: list[Diagnostic]) -> tuple[bytes, list[Diagnostic]] | None:
        raise NotImplementedError

    def diffs(self, first: Source) -> list[tuple[str, str, str]]:
        raise NotImplementedError


class _PythonDocument(_Document):
    def __init__(self, source: Source, original: bytes) -> None:
        super().__init__(source, original)
        if self.encode(source.text) != original:
            raise SourceError("the file would not be written back byte for byte; not fixed")

    def encode(self, text: str) -> bytes:
        return (b"\xef\xbb\xbf" if self.source.bom else b"") + text.encode(self.source.encoding)

    def apply(self, diagnostics: list[Diagnostic]) -> tuple[bytes, list[Diagnostic]] | None:
        fixes = [d.fix for d in diagnostics if d.fix is not None]
        text, applied = apply_fixes(self.source.text, fixes)
        if not applied or text == self.source.text:
            return None
        try:
            data = self.encode(text)
        except UnicodeEncodeError as exc:
            raise SourceError(f"the fixed code cannot be written as {exc.encoding}") from exc
        return data, [diagnostics[i] for i in applied]

    def diffs(self, first: Source) -> list[tuple[str, str, str]]:
        return [(self.source.display, first.text, self.source.text)]


class _NotebookDocument(_Document):
    def apply(self, diagnostics: list[Diagnostic]) -> tuple[bytes, list[Diagnostic]] | None:
        notebook, spans = self.source.notebook or {}, self.source.cells or []
        index_of = {span.cell: span.index for span in spans}
        by_cell: dict[int, list[Diagnostic]] = {}
        for diagnostic in diagnostics:
            if diagnostic.cell in index_of:
                by_cell.setdefault(diagnostic.cell, []).append(diagnostic)
        new_sources: dict[int, str] = {}
        done: list[Diagnostic] = []
        for number, found in by_cell.items():
            index = index_of[number]
            before = cell_text(notebook["cells"][index])
            after, applied = _fix_cell(before, [d.fix for d in found if d.fix is not None])
            if applied and after != before:
                new_sources[index] = after
                done.extend(found[i] for i in applied)
        if not new_sources:
            return None
        try:
            return write_back(self.data, new_sources), done
        except (NotebookError, UnicodeDecodeError, RecursionError) as exc:
            raise SourceError(f"cannot write the notebook back: {exc}") from exc

    def diffs(self, first: Source) -> list[tuple[str, str, str]]:
        before_cells = (first.notebook or {}).get("cells", [])
        after_cells = (self.source.notebook or {}).get("cells", [])
        result = []
        for span in first.cells or []:
            before = cell_text(before_cells[span.index])
            after = cell_text(after_cells[span.index]) if span.index < len(after_cells) else ""
            if before != after:
                result.append((f"{first.display}:cell {span.cell}", before, after))
        return result


def _fix_cell(text: str, fixes: list[Fix]) -> tuple[str, list[int]]:
    """Fixes in one cell, given in the cell's rows, with its magic lines left alone."""
    crlf = "\r\n" in text
    work = text.replace("\r\n", "\n")
    open_end = not work.endswith("\n")
    if open_end:
        work += "\n"
    fixed, applied = apply_fixes(work, fixes, frozenset(magic_rows(text)))
    if open_end and fixed.endswith("\n"):
        fixed = fixed[:-1]
    return (fixed.replace("\n", "\r\n") if crlf else fixed), applied


def fix_file(
    result: FileResult,
    codes: frozenset[str],
    unsafe: bool,
    data: bytes | None = None,
    unfixable: frozenset[str] = frozenset(),
    project=None,
) -> FixOutcome | None:
    """Fix one checked file in passes; None when it has nothing to fix.

    `data`: the bytes the file was read from (stdin); otherwise the file is read again.
    `unfixable`: codes whose fixes are never applied (the `unfixable` setting).
    """

    def to_fix(diagnostic: Diagnostic) -> bool:
        return diagnostic.code not in unfixable and applicable(diagnostic, unsafe)

    if not any(to_fix(d) for d in result.diagnostics):
        return None
    if result.source is None:  # e.g. a result from a cache: read and check it again
        display = result.diagnostics[0].filename
        result = check_file(
            result.path, codes, display=display, data=data, mode=result.mode, project=project
        )
        if result.source is None or not any(to_fix(d) for d in result.diagnostics):
            return None
    source = result.source
    if data is None:
        try:
            data = source.path.read_bytes()
        except OSError as exc:
            return _unfixed(result, b"", f"cannot read the file again: {exc.strerror or exc}")
    try:
        document: _Document = (
            _NotebookDocument(source, data) if source.is_notebook else _PythonDocument(source, data)
        )
    except SourceError as exc:
        return _unfixed(result, data, exc.message)
    outcome = FixOutcome(source.path, source.display, data, None, result)
    current = result
    # LibCST parses a little more than CPython does: where the running Python compiled the
    # original, it must compile the fixed code too.
    python_accepts = _python_accepts(source.text)
    for _ in range(MAX_PASSES):
        wanted = [d for d in current.diagnostics if to_fix(d)]
        if not wanted:
            break
        try:
            step = document.apply(wanted)
        except SourceError as exc:
            outcome.warnings.append(f"{source.display}: {exc.message}")
            break
        if step is None:
            break
        new_data, done = step
        try:
            new_source = read_source(source.path, source.display, new_data)
            # As the check parses: on a stack it fits on, long string runs shortened.
            parse_python(new_source.text)
            if python_accepts and not _python_accepts(new_source.text):
                raise SourceError("Python's compiler rejects it")
        except (SourceError, cst.ParserSyntaxError, RecursionError, MemoryError) as exc:
            reason = (
                exc.message
                if isinstance(exc, SourceError)
                else (str(exc).splitlines() or [type(exc).__name__])[0]
            )
            outcome.warnings.append(
                f"{source.display}: a fix would make the code unparsable ({reason}); "
                f"fixes {', '.join(sorted({d.code for d in done}))} there were not applied"
            )
            break
        document.source, document.data = new_source, new_data
        outcome.fixed.update(d.code for d in done)
        current = check_source(new_source, codes, mode=result.mode, project=project)
    else:
        if any(to_fix(d) for d in current.diagnostics):
            outcome.warnings.append(
                f"{source.display}: fixes did not settle after {MAX_PASSES} passes; "
                "run again to apply the rest"
            )
    if document.data != data:
        outcome.data = document.data
        outcome.diffs = document.diffs(source)
    outcome.result = current
    return outcome


def _python_accepts(text: str) -> bool:
    """A full compile (not only the AST): duplicate parameters and the like are found late."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(
                text,
                "<kerlint-fix>",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,
            )
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _unfixed(result: FileResult, data: bytes, reason: str) -> FixOutcome:
    display = result.source.display if result.source else str(result.path)
    outcome = FixOutcome(result.path, display, data, None, result)
    outcome.warnings.append(f"{display}: {reason}")
    return outcome


# ---------------------------------------------------------------------------- output


def unified_diff(label: str, before: str, after: str) -> str:
    """A unified diff of two texts, with git's marker for a missing final newline."""
    import difflib  # imported by the runs that show a diff, not by every check

    # Lines as `patch` and git count them: ended by `\n` only (a CR-only file is one line).
    lines = list(difflib.unified_diff(_patch_lines(before), _patch_lines(after), label, label))
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _patch_lines(text: str) -> list[str]:
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


_TEMPORARY_SUFFIX = ".kerlint-tmp"


class ReadOnlyFile(OSError):
    """The file may not be written: kerlint never rewrites what its owner made read-only."""


def atomic_write(path: Path, data: bytes) -> None:
    """Replace a file's content all at once, keeping everything else about the file.

    A temporary file beside it, then a rename: a reader (or a crash) sees the old file or
    the new one, never half of one. The new file gets the old one's permission bits, owner,
    group and extended attributes (ACLs among them), and a symbolic link keeps pointing at
    the file it named. Where a rename would lose something (a hard link would be split, the
    owner or an attribute cannot be given to a new file) the file is written in place
    instead: the same inode, so nothing about it changes. A read-only file is refused
    (ReadOnlyFile). SIGTERM and SIGHUP during the write remove the temporary file before
    they end the process; one left by a SIGKILL is removed by the next write in its folder.
    """
    target = Path(os.path.realpath(path))
    status = target.stat()
    if not stat.S_IMODE(status.st_mode) & 0o222 or not os.access(target, os.W_OK):
        raise ReadOnlyFile(errno.EACCES, "the file is read-only; not written")
    _remove_stale_temporaries(target.parent)
    if status.st_nlink > 1:
        _write_in_place(target, data)
        return
    import tempfile  # imported by the runs that write a fix, not by every check

    with _cleanup_on_termination() as temporaries:
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=_TEMPORARY_SUFFIX
        )
        temporaries.append(temporary)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if not _same_metadata(target, status, temporary):
                os.unlink(temporary)
                _write_in_place(target, data)
                return
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        finally:
            temporaries.clear()


def _same_metadata(target: Path, status: os.stat_result, temporary: str) -> bool:
    """Give `temporary` what `target` has besides its bytes; False when something cannot be."""
    try:
        os.chmod(temporary, stat.S_IMODE(status.st_mode))
        if hasattr(os, "chown"):
            new = os.stat(temporary)
            if (new.st_uid, new.st_gid) != (status.st_uid, status.st_gid):
                os.chown(temporary, status.st_uid, status.st_gid)
        if hasattr(os, "listxattr"):
            for name in os.listxattr(target):
                os.setxattr(temporary, name, os.getxattr(target, name))
    except OSError:
        return False
    return True


def _write_in_place(target: Path, data: bytes) -> None:
    """Overwrite the file's own inode (links, owner, attributes all stay with it)."""
    with open(target, "r+b") as handle:
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def _cleanup_on_termination():
    """While the block runs, SIGTERM and SIGHUP first remove the listed temporary files,
    then end the process as they would have (the main thread only: signals go there)."""
    import signal
    import threading

    temporaries: list[str] = []
    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    if threading.current_thread() is not threading.main_thread():
        yield temporaries
        return
    previous = {number: signal.getsignal(number) for number in wanted}

    def terminate(number: int, frame: object) -> None:
        for temporary in temporaries:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        signal.signal(number, previous[number] if previous[number] is not None else 0)
        os.kill(os.getpid(), number)

    for number in wanted:
        signal.signal(number, terminate)
    try:
        yield temporaries
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove `.NAME.PID.XXXX.kerlint-tmp` files whose writer (PID) is no longer running."""
    try:
        names = [n for n in os.listdir(folder) if n.endswith(_TEMPORARY_SUFFIX)]
    except OSError:
        return
    for name in names:
        parts = name[: -len(_TEMPORARY_SUFFIX)].rsplit(".", 2)
        if not name.startswith(".") or len(parts) != 3 or not parts[1].isdigit():
            continue
        if not _running(int(parts[1])):
            with contextlib.suppress(OSError):
                os.unlink(folder / name)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or we cannot tell: leave its file alone
    return True


def write_outcome(outcome: FixOutcome) -> str | None:
    """Write a fixed file unless it changed since it was read; a warning when not written."""
    if not outcome.changed or outcome.data is None:
        return None
    try:
        if outcome.path.read_bytes() != outcome.original:
            return f"{outcome.display}: changed while kerlint was fixing it; not written"
        atomic_write(outcome.path, outcome.data)
    except ReadOnlyFile:
        return f"{outcome.display}: the file is read-only; not written"
    except OSError as exc:
        return f"{outcome.display}: cannot write the fixes: {exc.strerror or exc}"
    return None
