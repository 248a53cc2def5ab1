"""Running a check: discovery, checking each file, then fixes, baselines and the report.

The CLI turns its options into a `CheckRequest`; `execute` does the work and
returns the exit code (0 nothing found, 1 diagnostics found).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from kerlint.config import Settings
from kerlint.diagnostics import Diagnostic
from kerlint.discovery import discover
from kerlint.engine import FileResult, check_file
from kerlint.reporters import ReportContext, render
from kerlint.reporters.text import statistics as render_statistics


@dataclass
class CheckRequest:
    paths: list[Path]
    settings: Settings
    stdin_filename: str | None = None
    output_format: str = "concise"
    output_file: Path | None = None
    quiet: bool = False
    statistics: bool = False
    exit_zero: bool = False
    fix: bool = False
    diff: bool = False
    unsafe_fixes: bool = False
    baseline: Path | None = None
    write_baseline: Path | None = None
    jobs: int | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    verify: bool = False
    timeout: float = 120.0
    backend: str | None = None
    color: bool = False


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


def execute(request: CheckRequest) -> int:
    for flag, name in (
        (request.fix, "--fix"),
        (request.diff, "--diff"),
        (request.baseline, "--baseline"),
        (request.write_baseline, "--write-baseline"),
        (request.verify, "--verify"),
    ):
        if flag:
            raise click.UsageError(f"{name} is not available in this build yet")
    if request.stdin_filename is not None:
        result = run_stdin(request.stdin_filename, request.settings)
    else:
        result = run_check(request.paths, request.settings)
    diagnostics = result.diagnostics
    context = ReportContext(
        color=request.color and request.output_file is None,
        files_checked=result.files_checked,
        sources={f.source.display: f.source.text for f in result.files if f.source is not None},
        unsafe_fixes=request.unsafe_fixes,
    )
    if request.statistics:
        output = render_statistics(diagnostics, context)
    else:
        output = render(request.output_format, diagnostics, context)
        if request.quiet and request.output_format == "concise":
            output = "\n".join(output.splitlines()[: len(diagnostics)])
    if request.output_file is not None:
        request.output_file.write_text(output + "\n", encoding="utf-8")
    elif output:
        click.echo(output, color=context.color)
    return 1 if diagnostics and not request.exit_zero else 0
