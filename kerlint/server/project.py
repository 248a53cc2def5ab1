"""The project as `kerlint check` sees it, for one document at a time.

`check_document` is the one place the server decides what `check` would say about a
document: which configuration applies (the nearest one, as `check` finds it), whether the
file is excluded, which rules are selected for its path, and the check itself. Settings are
cached per folder and dropped when a configuration file changes.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from kerlint.config import ConfigError, Settings, resolve_settings
from kerlint.diagnostics import Diagnostic, Location
from kerlint.engine import FileResult, check_source
from kerlint.facts.mode import KerasMode
from kerlint.keras_version import KerasDetector
from kerlint.rules import PARSE_ERROR
from kerlint.source import Source

logger = logging.getLogger("kerlint.server")

CONFIG_NAMES = ("pyproject.toml", "kerlint.toml")


@dataclass
class Checked:
    """A document's check: its result and the rule codes that were selected for it."""

    result: FileResult
    codes: frozenset[str]


class ProjectSettings:
    """Settings per folder, as `check` would resolve them there; thread-safe."""

    def __init__(self, fallback_root: Path) -> None:
        self.fallback_root = fallback_root
        # folder -> (settings or the error, the configuration file's mtime when read)
        self._by_folder: dict[Path, tuple[Settings | ConfigError, int | None]] = {}
        self._lock = threading.Lock()
        self._detector: KerasDetector | None = None

    def keras_mode(self, settings: Settings, source: Source) -> KerasMode:
        """Which Keras the document runs, as `check` decides it (pins read once per folder)."""
        with self._lock:
            if self._detector is None:
                self._detector = KerasDetector(warn=lambda message: logger.warning(message))
            detector = self._detector
        return detector.decide_source(source, settings.keras, settings.target_keras)

    def settings_for(self, folder: Path) -> Settings:
        """The settings for files in `folder`; ConfigError when its configuration is broken.

        A cached entry whose configuration file was edited since is resolved again (one
        `stat`): a client that does not watch files still sees the new selection.
        """
        with self._lock:
            cached = self._by_folder.get(folder)
        stale = (
            isinstance(cached[0], Settings) and _mtime(cached[0].config_file) != cached[1]
            if cached
            else False
        )
        if stale:
            cached = None
        if cached is None:
            try:
                found: Settings | ConfigError = resolve_settings(start=folder)
                stamp = _mtime(found.config_file)
            except ConfigError as exc:
                found, stamp = exc, None
            cached = (found, stamp)
            with self._lock:
                self._by_folder[folder] = cached
        if isinstance(cached[0], ConfigError):
            raise cached[0]
        return cached[0]

    def forget(self) -> None:
        """A configuration file changed: resolve everything again on next use."""
        with self._lock:
            self._by_folder.clear()
            self._detector = None


def _mtime(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def is_excluded(settings: Settings, path: Path) -> bool:
    """Excluded as `check .` would skip it: the file itself or a folder on its way from the root."""
    try:
        relative = path.resolve().relative_to(settings.root)
    except (ValueError, OSError, RuntimeError):
        return False
    current = settings.root
    for part in relative.parts:
        current = current / part
        if settings.is_excluded(current):
            return True
    return False


def check_document(project: ProjectSettings, path: Path | None, source: Source) -> Checked:
    """What `kerlint check` would report for this document's unsaved text; never raises.

    `path`: the file the document is (None for an untitled buffer: the workspace's
    configuration applies). The configuration is the nearest one to the file, its
    per-file ignores and excludes apply, and a broken configuration is reported on the
    document as KL000, as `check` would refuse to run.
    """
    folder = path.parent if path is not None else project.fallback_root
    try:
        settings = project.settings_for(folder)
    except ConfigError as exc:
        return Checked(
            FileResult(source.path, [_problem(source, f"configuration error: {exc}")]), frozenset()
        )
    if path is not None and is_excluded(settings, path):
        return Checked(FileResult(source.path, [], source), frozenset())
    codes = settings.codes_for(path if path is not None else source.path)
    try:
        mode = project.keras_mode(settings, source)
        return Checked(check_source(source, codes, mode=mode), codes)
    except Exception as exc:  # the engine already turns rule crashes into KL000: a last guard
        logger.error("checking %s failed:\n%s", source.display, traceback.format_exc())
        message = f"internal error in kerlint ({type(exc).__name__}): this document was not checked"
        return Checked(FileResult(source.path, [_problem(source, message)]), codes)


def _problem(source: Source, message: str) -> Diagnostic:
    cell = source.cells[0].cell if source.cells else None
    return Diagnostic(
        PARSE_ERROR, message, source.display, Location(1, 1), Location(1, 1), cell=cell
    )


def is_config_file(path: str) -> bool:
    return os.path.basename(path) in CONFIG_NAMES
