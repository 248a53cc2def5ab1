"""Baselines: record today's diagnostics, then report only new ones.

An entry is matched by file, code and a fingerprint of the reported line's text
(whitespace-normalised) with the nearest non-blank line above and below it, so it survives
edits elsewhere that shift lines. When the context changed but the line itself did not,
the line alone still matches. A count per entry covers identical lines reported more than
once. Entries that match nothing any more are "stale": the summary says how many.

The file is JSON, sorted, one entry per object, with the line's text as a reminder of
what was recorded; it diffs well in review.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kerlint.diagnostics import Diagnostic
from kerlint.rules import PARSE_ERROR

VERSION = 1
# A baseline is read whole: one larger than this is not a baseline kerlint wrote.
MAX_BASELINE_BYTES = 64 * 1024 * 1024
# Returns the lines of a file (of a cell, in a notebook), or None when unknown.
LinesOf = Callable[[str, int | None], list[str] | None]


class BaselineError(Exception):
    """The baseline file cannot be read: a usage error (exit 2)."""


def _normal(line: str) -> str:
    return " ".join(line.split())


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a diagnostic across edits: the line, and the line with its context."""

    context: str
    line: str
    text: str  # the reported line, whitespace-normalised (shown in the file for people)


def fingerprint(code: str, lines: list[str] | None, row: int) -> Fingerprint:
    """The fingerprint of the diagnostic `code` reported at 1-based `row` of `lines`."""
    if not lines or not 1 <= row <= len(lines):
        return Fingerprint(_digest(code, "?"), _digest(code, "?"), "")
    index = row - 1
    text = _normal(lines[index])
    above = next((_normal(x) for x in reversed(lines[:index]) if x.strip()), "")
    below = next((_normal(x) for x in lines[index + 1 :] if x.strip()), "")
    return Fingerprint(_digest(code, above, text, below), _digest(code, text), text)


def file_key(filename: str, root: Path) -> str:
    """A diagnostic's file, relative to the baseline's folder, with `/` separators."""
    if filename == "-" or filename.startswith("<"):
        return filename
    absolute = os.path.abspath(filename)
    try:
        return Path(os.path.relpath(absolute, root)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(absolute).as_posix()


@dataclass
class _Entry:
    file: str
    code: str
    fingerprint: str
    line_fingerprint: str
    count: int
    text: str = ""


def _entries_of(diagnostics: Iterable[Diagnostic], lines_of: LinesOf, root: Path) -> list[_Entry]:
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    for diagnostic in diagnostics:
        if diagnostic.code == PARSE_ERROR:
            continue
        mark = fingerprint(
            diagnostic.code,
            lines_of(diagnostic.filename, diagnostic.cell),
            diagnostic.location.row,
        )
        key = (
            file_key(diagnostic.filename, root),
            diagnostic.code,
            mark.context,
            mark.line,
            mark.text,
        )
        counts[key] += 1
    entries = [_Entry(f, c, fp, lfp, n, t) for (f, c, fp, lfp, t), n in counts.items()]
    entries.sort(key=lambda e: (e.file, e.code, e.text, e.fingerprint))
    return entries


def write(path: Path, diagnostics: Iterable[Diagnostic], lines_of: LinesOf) -> int:
    """Record the diagnostics (parse errors are never recorded); the number of entries."""
    root = Path(os.path.abspath(path)).parent
    entries = _entries_of(diagnostics, lines_of, root)
    document = {
        "kerlint_baseline": VERSION,
        "entries": [
            {
                "file": e.file,
                "code": e.code,
                "fingerprint": e.fingerprint,
                "line_fingerprint": e.line_fingerprint,
                "count": e.count,
                "line": e.text[:200],
            }
            for e in entries
        ],
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return sum(e.count for e in entries)


@dataclass
class Baseline:
    root: Path
    entries: list[_Entry]

    @classmethod
    def load(cls, path: Path) -> Baseline:
        from kerlint.source import SourceError, read_regular_file

        if not os.path.lexists(path):
            raise BaselineError(f"baseline file not found: {path}")
        try:
            # Only a regular file, and a bounded read: a FIFO would hang, /dev/zero never end.
            document = json.loads(read_regular_file(path, MAX_BASELINE_BYTES).decode("utf-8"))
        except SourceError as exc:
            raise BaselineError(f"cannot read the baseline {path}: {exc.message}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BaselineError(f"cannot read the baseline {path}: {exc}") from exc
        except RecursionError as exc:
            raise BaselineError(f"cannot read the baseline {path}: nested too deeply") from exc
        if not isinstance(document, dict) or document.get("kerlint_baseline") != VERSION:
            raise BaselineError(f"{path} is not a kerlint baseline (version {VERSION})")
        raw_entries = document.get("entries", [])
        if not isinstance(raw_entries, list):
            raise BaselineError(f"{path}: `entries` is not a list")
        entries = []
        for raw in raw_entries:
            try:
                entries.append(
                    _Entry(
                        str(raw["file"]),
                        str(raw["code"]),
                        str(raw["fingerprint"]),
                        str(raw.get("line_fingerprint", "")),
                        int(raw.get("count", 1)),
                        str(raw.get("line", "")),
                    )
                )
            except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
                shown = json.dumps(raw)[:200] if not isinstance(exc, RecursionError) else "..."
                raise BaselineError(f"{path}: a malformed entry: {shown}") from exc
        return cls(Path(os.path.abspath(path)).parent, entries)

    def filter(
        self, diagnostics: list[Diagnostic], lines_of: LinesOf
    ) -> tuple[list[Diagnostic], int, int]:
        """(the diagnostics not in the baseline, how many were hidden, stale entries).

        First every exact match (line and context), then, for what is left, the line alone:
        a diagnostic whose neighbours changed still matches an entry no one else claims.
        """
        by_context: Counter[tuple[str, str, str]] = Counter()
        by_line: Counter[tuple[str, str, str]] = Counter()
        for e in self.entries:
            by_context[(e.file, e.code, e.fingerprint)] += e.count
        marks = []
        for diagnostic in diagnostics:
            if diagnostic.code == PARSE_ERROR:
                marks.append(None)
                continue
            mark = fingerprint(
                diagnostic.code,
                lines_of(diagnostic.filename, diagnostic.cell),
                diagnostic.location.row,
            )
            marks.append((file_key(diagnostic.filename, self.root), diagnostic.code, mark))
        hidden = [False] * len(diagnostics)
        for i, found in enumerate(marks):
            if found is not None:
                file, code, mark = found
                if by_context[(file, code, mark.context)] > 0:
                    by_context[(file, code, mark.context)] -= 1
                    hidden[i] = True
        # What no exact match claimed is still available to a match by the line alone.
        for e in self.entries:
            left = by_context[(e.file, e.code, e.fingerprint)]
            taken = min(left, e.count)
            if taken > 0:
                by_line[(e.file, e.code, e.line_fingerprint)] += taken
                by_context[(e.file, e.code, e.fingerprint)] -= taken
        for i, found in enumerate(marks):
            if found is not None and not hidden[i]:
                file, code, mark = found
                if by_line[(file, code, mark.line)] > 0:
                    by_line[(file, code, mark.line)] -= 1
                    hidden[i] = True
        kept = [d for d, h in zip(diagnostics, hidden, strict=True) if not h]
        return kept, sum(hidden), sum(by_line.values())
