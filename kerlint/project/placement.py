"""Where a finding in an imported module is reported: there when that module is checked too.

A file's analysis follows its imports, so a freeze in `models.py` reached from `train.py`
is found while checking `train.py` and reported at the call that leads there. When the run
checks `models.py` as well, the finding moves to its own place in `models.py` (the message
names both places either way), and the same finding reached from several files, or found
by `models.py`'s own analysis, is reported once.
"""

from __future__ import annotations

import os

from kerlint.diagnostics import Diagnostic, Location
from kerlint.engine import FileResult
from kerlint.suppress import find_suppressions


def place_in_checked_modules(results: list[FileResult]) -> None:
    """Move findings whose origin is a checked file into that file's result, once each."""
    by_path = {os.path.abspath(result.path): result for result in results}
    moved: dict[str, list[Diagnostic]] = {}
    for result in results:
        kept = []
        for diagnostic in result.diagnostics:
            origin = diagnostic.origin
            target = by_path.get(origin["path"]) if origin else None
            if origin is None or target is None or target.source is None:
                kept.append(diagnostic)
                continue
            row, column = origin["location"]  # a module: never a notebook's cell
            end_row, end_column = origin["end"]
            moved.setdefault(os.path.abspath(target.path), []).append(
                diagnostic.with_(
                    filename=target.source.display,
                    location=Location(row, column),
                    end_location=Location(end_row, end_column),
                    cell=None,
                    fix=None,
                    origin=None,
                )
            )
        if len(kept) != len(result.diagnostics):
            result.diagnostics = kept
    for path, diagnostics in moved.items():
        target = by_path[path]
        assert target.source is not None
        suppressions = find_suppressions(target.source.text)
        seen = {(d.code, d.cell, d.location) for d in target.diagnostics}
        for diagnostic in diagnostics:
            key = (diagnostic.code, diagnostic.cell, diagnostic.location)
            if key in seen or suppressions.suppresses(diagnostic.code, diagnostic.location.row):
                continue
            seen.add(key)
            target.diagnostics.append(diagnostic)
        target.diagnostics.sort(key=lambda d: d.sort_key)
