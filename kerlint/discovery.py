"""Which files a run looks at: walk folders, honour .gitignore and excludes.

A file named on the command line is always checked; folders are walked with
the default excludes, `exclude`/`extend-exclude`, and every `.gitignore` met on
the way (and above the starting folder, up to the repository root).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from kerlint.config import Settings

PYTHON_SUFFIXES = (".py", ".pyi", ".ipynb")


@dataclass(frozen=True)
class _Ignore:
    base: Path
    spec: pathspec.PathSpec

    def matches(self, path: Path, is_dir: bool) -> bool:
        try:
            relative = path.relative_to(self.base).as_posix()
        except ValueError:
            return False
        return self.spec.match_file(relative + "/" if is_dir else relative)


def _gitignore_at(directory: Path) -> _Ignore | None:
    file = directory / ".gitignore"
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _Ignore(directory, pathspec.GitIgnoreSpec.from_lines(lines))


def _inherited_gitignores(directory: Path) -> list[_Ignore]:
    """The .gitignore files above `directory`, up to the repository root."""
    found: list[_Ignore] = []
    for parent in directory.parents:
        ignore = _gitignore_at(parent)
        if ignore:
            found.append(ignore)
        if (parent / ".git").exists():
            break
    return list(reversed(found))


def discover(paths: list[Path], settings: Settings) -> Iterator[Path]:
    """Yield each file to check once, in a stable order."""
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            base = Path(os.path.abspath(path))
            ignores = _inherited_gitignores(base)
            for file in _walk(base, ignores, settings, visited=set()):
                key = file.resolve()
                if key not in seen:
                    seen.add(key)
                    yield file if path.is_absolute() else Path(os.path.relpath(file))
        else:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield path


def _walk(
    directory: Path, ignores: list[_Ignore], settings: Settings, visited: set[Path]
) -> Iterator[Path]:
    real = directory.resolve()
    if real in visited:  # symlink loops
        return
    visited.add(real)
    own = _gitignore_at(directory)
    if own:
        ignores = [*ignores, own]
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if settings.is_excluded(path) or any(ignore.matches(path, is_dir) for ignore in ignores):
            continue
        if is_dir:
            yield from _walk(path, ignores, settings, visited)
        elif entry.name.endswith(PYTHON_SUFFIXES):
            yield path
