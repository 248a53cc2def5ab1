"""Running a check over many files: discovery, per-file selection, ordering."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from kerlint.config import Settings
from kerlint.diagnostics import Diagnostic
from kerlint.discovery import discover
from kerlint.engine import FileResult, check_file


@dataclass
class RunResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[FileResult] = field(default_factory=list)

    @property
    def files_checked(self) -> int:
        return len(self.files)


def run_check(paths: list[Path], settings: Settings) -> RunResult:
    result = RunResult()
    for path in discover(paths, settings):
        file_result = check_file(path, settings.codes_for(path))
        result.files.append(file_result)
        result.diagnostics.extend(file_result.diagnostics)
    result.diagnostics.sort(key=lambda d: d.sort_key)
    return result


def run_stdin(display: str, settings: Settings) -> RunResult:
    data = sys.stdin.buffer.read()
    path = Path(display)
    file_result = check_file(path, settings.codes_for(path), display=display, data=data)
    return RunResult(list(file_result.diagnostics), [file_result])
