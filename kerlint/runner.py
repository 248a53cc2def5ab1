"""Running a check: discovery, checking each file, then fixes, baselines and the report.

The CLI turns its options into a `CheckRequest`; `execute` does the work and
returns the exit code (0 nothing found, 1 diagnostics found, 2 a file kerlint failed on).

`settings` is anything with `settings_for(path)` and `codes_for(path)`: a `SettingsResolver`
(each file its nearest configuration) or one `Settings` for every file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kerlint.config import ConfigError, Settings, SettingsResolver
from kerlint.diagnostics import Diagnostic, Location
from kerlint.discovery import discover
from kerlint.engine import FileResult, check_source, closure_rules
from kerlint.facts.mode import KerasMode
from kerlint.reporters import ReportContext, render
from kerlint.reporters.text import statistics as render_statistics
from kerlint.rules import PARSE_ERROR
from kerlint.source import Source, SourceError, read_source
from kerlint.suppress import IGNORE_NOQA

if TYPE_CHECKING:
    from kerlint.fixes import FixOutcome  # --fix and --diff only: imported when used

AnySettings = Settings | SettingsResolver


@dataclass
class CheckRequest:
    paths: list[Path]
    settings: AnySettings
    stdin_filename: str | None = None
    output_format: str = "concise"
    output_file: Path | None = None
    quiet: bool = False
    statistics: bool = False
    exit_zero: bool = False
    fix: bool = False
    fix_only: bool = False
    exit_non_zero_on_fix: bool = False
    show_fixes: bool = False
    diff: bool = False
    unsafe_fixes: bool = False
    ignore_noqa: bool = False
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
    project: object | None = None  # the kerlint.project.Project the run followed imports in

    @property
    def files_checked(self) -> int:
        return len(self.files)


def run_check(
    paths: list[Path],
    settings: AnySettings,
    *,
    jobs: int | None = None,
    use_cache: bool = False,
    cache_dir: Path | None = None,
    ignore_noqa: bool = False,
) -> RunResult:
    """Discover and check every file: several processes when it pays, the cache if asked.

    `jobs`: processes to parse in (None or 0: one per core; 1: this process only).
    `use_cache`: read and write the result cache in `cache_dir` (default: `.kerlint_cache`
    beside the configuration file, else in the working folder; $KERLINT_CACHE_DIR wins).
    The results are in discovery order, whatever the number of processes.
    """
    from kerlint.parallel import check_paths
    from kerlint.project import Project

    cache = _open_cache(settings, cache_dir) if use_cache else None
    project = Project.for_paths(paths)
    files = check_paths(
        discover(paths, settings),
        _codes_for(settings, ignore_noqa),
        jobs,
        cache,
        project,
        KerasModes(settings),
    )
    result = RunResult(files=files, project=project)
    result.diagnostics = sorted((d for f in files for d in f.diagnostics), key=lambda d: d.sort_key)
    return result


def _codes_for(settings: AnySettings, ignore_noqa: bool):
    """Each file's codes; with --ignore-noqa also the flag that reaches the engine (through
    worker processes and into the cache key, as the codes do)."""
    if not ignore_noqa:
        return settings.codes_for
    return lambda path: settings.codes_for(path) | {IGNORE_NOQA}


class KerasModes:
    """Which Keras each file runs, for one run: one detector (it reads each folder once),
    with the `keras` / `target-keras` of the file's own settings.

    `inputs(source)` names everything the decision depends on besides the file's bytes (the
    settings, the project files read and their state, the working folder that names them),
    so a cached result can be found without deciding."""

    def __init__(self, settings: AnySettings) -> None:
        from kerlint.keras_version import KerasDetector

        self.settings = settings
        self.detector = KerasDetector()
        self._folders: dict[Path, str] = {}

    def __call__(self, source: Source) -> KerasMode:
        own = self.settings.settings_for(source.path)
        return self.detector.decide_source(source, own.keras, own.target_keras)

    def inputs(self, source: Source) -> str:
        own = self.settings.settings_for(source.path)
        parts = [own.keras, str(own.target_keras), os.getcwd(), self._folder_state(source.path)]
        for path in self.detector.project_files(source.path):
            try:
                stat = path.stat()
            except OSError:
                parts.append(f"{path}:missing")
                continue
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
        return "|".join(parts)

    def _folder_state(self, path: Path) -> str:
        """The folders above a file, up to its repository's top: a pin file added or removed
        in any of them changes its folder's mtime (once per folder and run)."""
        folder = Path(os.path.abspath(path)).parent
        found = self._folders.get(folder)
        if found is None:
            try:
                here = f"{folder}:{folder.stat().st_mtime_ns}"
            except OSError:
                here = f"{folder}:?"
            top = (folder / ".git").exists() or folder.parent == folder
            found = here if top else here + "|" + self._folder_state(folder)
            self._folders[folder] = found
        return found


def _open_cache(settings: AnySettings, cache_dir: Path | None):
    """The cache, or None with one warning when its folder cannot be used."""
    from kerlint.cache import Cache, default_cache_dir

    config_file = settings.default.config_file
    directory = cache_dir if cache_dir is not None else default_cache_dir(config_file)
    cache, problem = Cache.open(directory)
    if cache is None:
        click.echo(f"kerlint: warning: running without the cache: {problem}", err=True)
    return cache


def run_stdin(display: str, settings: AnySettings, ignore_noqa: bool = False) -> RunResult:
    """Check the bytes on standard input as the file `display` (never cached)."""
    path = Path(display)
    try:
        data = sys.stdin.buffer.read()
    except (AttributeError, OSError, ValueError) as exc:  # closed or missing stdin
        location = Location(1, 1)
        message = f"cannot read standard input: {exc}"
        diagnostic = Diagnostic(PARSE_ERROR, message, display, location, location)
        return RunResult([diagnostic], [FileResult(path, [diagnostic])])
    return _check_stdin_data(display, settings, data, ignore_noqa)


def _check_one(
    path: Path, display: str, settings: AnySettings, data: bytes, ignore_noqa: bool = False
) -> FileResult:
    """One file from bytes (stdin): read, decide its Keras, check, following its imports."""
    try:
        source = read_source(path, display, data)
    except SourceError as exc:
        if b"keras" not in data:  # as for files: such bytes cannot name a Keras module
            return FileResult(path, [], None)
        location = Location(max(exc.row, 1), max(exc.column, 1))
        return FileResult(path, [Diagnostic(PARSE_ERROR, exc.message, display, location, location)])
    codes = _codes_for(settings, ignore_noqa)(path)
    project = _project_of(path)
    rules = closure_rules(source, codes, project)
    mode = KerasModes(settings)(source) if rules else None
    return check_source(source, codes, rules, mode=mode, project=project)


def _project_of(path: Path):
    """The project a file (maybe only named, as stdin's) lies in: its imports are followed."""
    from kerlint.project import Project

    return Project.for_paths([path.absolute()])


def execute(request: CheckRequest) -> int:
    """Check, then fix or diff, then hide what the baseline knows, then report.

    Exit codes: 0 nothing left to report, 1 diagnostics remain (or, with --diff, something
    would change; with --exit-non-zero-on-fix, something was fixed), 2 a usage error
    (raised) or a file kerlint failed on (an internal error), whatever --exit-zero says.
    """
    stdin_data: bytes | None = None
    if request.stdin_filename is not None:
        if request.fix or request.diff:
            try:
                stdin_data = sys.stdin.buffer.read()
            except (AttributeError, OSError, ValueError):  # closed or missing stdin
                result = run_stdin(
                    request.stdin_filename, request.settings, request.ignore_noqa
                )  # its KL000
            else:
                result = _check_stdin_data(
                    request.stdin_filename, request.settings, stdin_data, request.ignore_noqa
                )
        else:
            result = run_stdin(request.stdin_filename, request.settings, request.ignore_noqa)
    else:
        result = run_check(
            request.paths,
            request.settings,
            jobs=request.jobs,
            use_cache=request.use_cache,
            cache_dir=request.cache_dir,
            ignore_noqa=request.ignore_noqa,
        )
        if not result.files:
            _warn(
                "no Python files found under the given paths: 0 files checked "
                "(an exclude pattern, .gitignore or .ignore may hide them)"
            )
    fixed = 0
    outcomes: dict[int, FixOutcome] = {}
    if request.fix or request.diff:
        outcomes = _fix_files(request, result, stdin_data)
        if request.diff:
            return _show_diff(list(outcomes.values()), request.exit_zero, request.quiet)
        fixed = _write_fixes(outcomes, result, stdin_data)
    _drop_unfixable(request.settings, result)
    context = _report_context(request, result, fixed)
    diagnostics = _apply_baseline(request, result.diagnostics, context)
    if request.verify:
        # Imported here: only --verify ever starts keras, and then in child processes.
        from kerlint.verify.confirm import confirm_diagnostics

        diagnostics = confirm_diagnostics(
            diagnostics, timeout=request.timeout, backend=request.backend
        )
    crashed = any(_is_internal_error(d) for d in diagnostics)
    if request.fix_only:
        output = _fixed_summary(fixed, outcomes, request) if not request.quiet else ""
        diagnostics = [d for d in diagnostics if _is_internal_error(d)]
        if diagnostics:
            output = "\n".join([render("concise", diagnostics, context), output]).strip()
    elif request.statistics:
        output = render_statistics(diagnostics, context, request.output_format)
    else:
        output = render(request.output_format, diagnostics, context)
        if request.show_fixes and fixed and not request.quiet:
            output = "\n".join(filter(None, [output, _fixed_summary(fixed, outcomes, request)]))
    if request.output_file is not None:
        _write_report(request.output_file, output)
    elif output:
        # With --fix on stdin, stdout carries the fixed code; the report goes to stderr.
        click.echo(output, color=context.color, err=stdin_data is not None)
    if crashed:
        return 2
    if request.exit_zero:
        return 0
    if request.exit_non_zero_on_fix and fixed:
        return 1
    return 1 if diagnostics and not request.fix_only else 0


def _is_internal_error(diagnostic: Diagnostic) -> bool:
    """A KL000 that says kerlint failed, not the file (a syntax error is the file's)."""
    return diagnostic.code == PARSE_ERROR and "internal error" in diagnostic.message


def _write_report(path: Path, output: str) -> None:
    """`-o FILE`: written whole once the report is ready; a failure is an error (exit 2)."""
    from kerlint.reporters import write_whole

    data = (output + "\n").encode("utf-8", "backslashreplace")
    try:
        write_whole(path, data)
    except OSError as exc:
        # ConfigError: the CLI prints it as `kerlint: error: ...` and exits 2.
        raise ConfigError(f"cannot write the report to {path}: {exc.strerror or exc}") from exc


def _fixed_summary(fixed: int, outcomes: dict[int, FixOutcome], request: CheckRequest) -> str:
    """`Fixed N errors.`, and with --show-fixes what in which file (as ruff prints it)."""
    from kerlint.diagnostics import printable
    from kerlint.rules import registry

    if not fixed:
        return "No errors fixed." if request.fix_only else ""
    noun = "error" if fixed == 1 else "errors"
    if not request.show_fixes:
        return f"Fixed {fixed} {noun}."
    lines = [f"Fixed {fixed} {noun}:"]
    for outcome in outcomes.values():
        if not outcome.changed or not outcome.count:
            continue
        lines.append(f"- {printable(outcome.display)}:")
        for code, count in sorted(outcome.fixed.items()):
            rule = registry.get(code)
            lines.append(f"    {count} × {code} ({rule.name if rule else code})")  # noqa: RUF001
    return "\n".join(lines)


def _drop_unfixable(settings: AnySettings, result: RunResult) -> None:
    """The fixes of `unfixable` codes are neither applied nor offered (`[*]`)."""
    changed = False
    for file_result in result.files:
        unfixable = settings.settings_for(file_result.path).unfixable
        if not unfixable:
            continue
        file_result.diagnostics = [
            d.with_(fix=None) if d.code in unfixable and d.fix is not None else d
            for d in file_result.diagnostics
        ]
        changed = True
    if changed:
        result.diagnostics = sorted(
            (d for f in result.files for d in f.diagnostics), key=lambda d: d.sort_key
        )


def _check_stdin_data(
    display: str, settings: AnySettings, data: bytes, ignore_noqa: bool = False
) -> RunResult:
    file_result = _check_one(Path(display), display, settings, data, ignore_noqa)
    return RunResult(list(file_result.diagnostics), [file_result])


def _warn(message: str) -> None:
    click.echo(f"kerlint: warning: {message}", err=True)


def _fix_files(
    request: CheckRequest, result: RunResult, stdin_data: bytes | None
) -> dict[int, FixOutcome]:
    """Fix every file in memory: the outcomes by the file's position in `result.files`."""
    from kerlint.fixes import fix_file

    outcomes = {}
    for position, file_result in enumerate(result.files):
        path = file_result.path
        outcome = fix_file(
            file_result,
            _codes_for(request.settings, request.ignore_noqa)(path),
            request.unsafe_fixes,
            data=stdin_data,
            unfixable=request.settings.settings_for(path).unfixable,
            project=result.project,
        )
        if outcome is None:
            continue
        for warning in outcome.warnings:
            _warn(warning)
        outcomes[position] = outcome
    return outcomes


def _show_diff(outcomes: list[FixOutcome], exit_zero: bool, quiet: bool = False) -> int:
    """`--diff`: the changes on stdout, nothing written; 1 when there is something to fix."""
    changed = [o for o in outcomes if o.changed]
    text = "".join(o.diff() for o in changed)
    if text:
        click.echo(text, nl=False)
    count = sum(o.count for o in changed)
    if not quiet:
        message = f"Would fix {count} error{'s' if count != 1 else ''}." if count else ""
        click.echo(message or "No errors would be fixed.", err=True)
    return 1 if changed and not exit_zero else 0


def _write_fixes(
    outcomes: dict[int, FixOutcome], result: RunResult, stdin_data: bytes | None
) -> int:
    """Write the fixed files (stdin: the fixed code to stdout); the number of fixes made.

    `result` then holds what remains: the diagnostics of the fixed code where it was
    written, the original ones where it was not.
    """
    from kerlint.fixes import write_outcome

    fixed = 0
    if stdin_data is not None:
        outcome = outcomes.get(0)
        changed = outcome is not None and outcome.changed
        sys.stdout.buffer.write((outcome.data if changed and outcome else None) or stdin_data)
        sys.stdout.buffer.flush()
        written = {0: outcome} if changed and outcome else {}
    else:
        written = {}
        for position, outcome in outcomes.items():
            if not outcome.changed:
                continue
            problem = write_outcome(outcome)
            if problem is not None:
                _warn(problem)
                continue
            written[position] = outcome
    for position, outcome in written.items():
        result.files[position] = outcome.result
        fixed += outcome.count
    if written and result.project is not None:
        from kerlint.project.placement import place_in_checked_modules

        place_in_checked_modules(result.files)  # the fixed files' findings elsewhere, again
    result.diagnostics = sorted(
        (d for f in result.files for d in f.diagnostics), key=lambda d: d.sort_key
    )
    return fixed


def _report_context(request: CheckRequest, result: RunResult, fixed: int) -> ReportContext:
    sources = [f.source for f in result.files if f.source is not None]
    # Results without their text (from a cache) are read again when they have something to
    # show: `full` excerpts and the fingerprints of baselines and GitLab need the lines.
    for f in result.files:
        if f.source is None and any(d.code != PARSE_ERROR for d in f.diagnostics):
            with contextlib.suppress(SourceError):
                sources.append(read_source(f.path, f.diagnostics[0].filename))
    return ReportContext(
        color=request.color and request.output_file is None,
        quiet=request.quiet,
        files_checked=result.files_checked,
        sources={source.display: source.text for source in sources},
        unsafe_fixes=request.unsafe_fixes,
        fixed=fixed,
        cells={
            source.display: {span.cell: (span.first_row, span.rows) for span in source.cells}
            for source in sources
            if source.cells is not None
        },
        notebook_files={
            source.display: source.path for source in sources if source.cells is not None
        },
        checked_files=[
            f.source.display
            if f.source is not None
            else (f.diagnostics[0].filename if f.diagnostics else str(f.path))
            for f in result.files
        ],
    )


def _apply_baseline(
    request: CheckRequest, diagnostics: list[Diagnostic], context: ReportContext
) -> list[Diagnostic]:
    """`--write-baseline` records; `--baseline` (or the one just written) hides."""
    if request.write_baseline is None and request.baseline is None:
        return diagnostics
    from kerlint import baseline  # only runs with a baseline pay for its import

    if request.write_baseline is not None:
        try:
            count = baseline.write(request.write_baseline, diagnostics, context.lines_of)
        except OSError as exc:
            raise click.UsageError(
                f"cannot write the baseline {request.write_baseline}: {exc.strerror or exc}"
            ) from exc
        click.echo(
            f"Recorded {count} diagnostic{'s' if count != 1 else ''} in {request.write_baseline}.",
            err=True,
        )
    path = request.baseline or request.write_baseline
    if path is None:
        return diagnostics
    try:
        known = baseline.Baseline.load(path)
    except baseline.BaselineError as exc:
        raise click.UsageError(str(exc)) from exc
    kept, hidden, stale = known.filter(diagnostics, context.lines_of)
    context.hidden_by_baseline, context.stale_baseline = hidden, stale
    return kept
