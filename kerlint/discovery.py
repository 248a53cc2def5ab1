"""Which files a run looks at: walk folders, honour .gitignore and excludes.

A file named on the command line is checked unless `force-exclude` is on and an exclude
pattern matches it (what pre-commit needs: it names every staged file). Folders are walked
with the default excludes, `exclude`/`extend-exclude` of the settings that apply there
(the nearest configuration), and, with `respect-gitignore` (the default), every
`.gitignore` and `.ignore` met on the way and above the starting folder, up to the
repository root, whose `.git/info/exclude` counts too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from kerlint.config import Settings, SettingsResolver

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


def _ignore_file(file: Path, base: Path) -> _Ignore | None:
    try:
        if not stat.S_ISREG(file.stat().st_mode):  # a FIFO would block the read forever
            return None
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except (OSError, ValueError):
        return None
    return _Ignore(base, pathspec.GitIgnoreSpec.from_lines(lines))


def _gitignores_at(directory: Path) -> list[_Ignore]:
    """A folder's own ignore files: .gitignore, .ignore, and at a repository's root its
    .git/info/exclude."""
    names = (".gitignore", ".ignore", ".git/info/exclude")
    found = (_ignore_file(directory / name, directory) for name in names)
    return [ignore for ignore in found if ignore is not None]


def _inherited_gitignores(directory: Path) -> list[_Ignore]:
    """The ignore files above `directory`, up to the repository root."""
    found: list[_Ignore] = []
    for parent in directory.parents:
        found = _gitignores_at(parent) + found
        if (parent / ".git").exists():
            break
    return found


def discover(paths: list[Path], settings: Settings | SettingsResolver) -> Iterator[Path]:
    """Yield each file to check once, in a stable order.

    Never raises for what it finds: a folder it cannot list is skipped, a folder reached
    twice (a symlink loop) is walked once, a file that is a symlink loop is yielded (reading
    it gives a clear KL000).
    """
    seen: set[str] = set()
    for path in paths:
        if settings.settings_for(path).is_force_excluded(path):
            continue
        if path.is_dir():
            base = Path(os.path.abspath(path))
            respect = settings.settings_for(base).respect_gitignore
            ignores = _inherited_gitignores(base) if respect else []
            for file, key in _walk(base, ignores, settings):
                if key not in seen:
                    seen.add(key)
                    yield file if path.is_absolute() else Path(os.path.relpath(file))
        else:
            key = _real(str(path))
            if key not in seen:
                seen.add(key)
                yield path


def _real(path: str) -> str:
    """The real path, or the absolute one where there is none (a symlink loop)."""
    try:
        return os.path.realpath(path)
    except (OSError, RuntimeError, ValueError):
        return os.path.abspath(path)


@dataclass
class _Folder:
    """A folder being walked: its entries left, its real path, the ignore files in force."""

    entries: Iterator[os.DirEntry[str]]
    real: str
    ignores: list[_Ignore]
    settings: Settings  # the settings that apply in this folder (its nearest configuration)


def _open_folder(
    directory: Path,
    real: str,
    ignores: list[_Ignore],
    visited: set[str],
    resolver: Settings | SettingsResolver,
) -> _Folder | None:
    if real in visited:  # symlink loops, two links to one folder
        return None
    visited.add(real)
    settings = resolver.settings_for(directory)
    own = _gitignores_at(directory) if settings.respect_gitignore else []
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return None
    return _Folder(iter(entries), real, [*ignores, *own] if own else ignores, settings)


def _walk(
    top: Path, ignores: list[_Ignore], resolver: Settings | SettingsResolver
) -> Iterator[tuple[Path, str]]:
    """(file, its real path) in name order, depth first.

    An explicit stack, not recursion: a tree deeper than Python's recursion limit is
    walked all the same. An entry's real path is its folder's plus its name unless the entry
    is a symlink itself: `realpath` (a `lstat` per path component) only for symlinks.
    """
    visited: set[str] = set()
    first = _open_folder(top, _real(str(top)), ignores, visited, resolver)
    stack = [first] if first else []
    while stack:
        folder = stack[-1]
        entry = next(folder.entries, None)
        if entry is None:
            stack.pop()
            continue
        path = Path(entry.path)
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir()
        except OSError:  # a symlink loop: as a file it gets its KL000, like a dangling link
            is_dir = False
        if folder.settings.is_excluded(path) or any(
            ignore.matches(path, is_dir) for ignore in folder.ignores
        ):
            continue
        if is_dir:
            real = _real(entry.path) if is_link else os.path.join(folder.real, entry.name)
            inner = _open_folder(path, real, folder.ignores, visited, resolver)
            if inner:
                stack.append(inner)
        elif entry.name.endswith(PYTHON_SUFFIXES):
            yield path, _real(entry.path) if is_link else os.path.join(folder.real, entry.name)
