"""Checking many files: prefilter and cache in this process, parse in several.

The order of work, and why:
1. This process reads each file, decodes it and runs the prefilter (`"keras"` and each
   rule's text test). That is cheap, and for most files it is the whole check: a file no
   selected rule can care about is never parsed, never cached, never sent anywhere.
2. A file that passes the prefilter is looked up in the cache, keyed by its bytes.
3. What is left is parsed: in this process when it is little, else in a pool of processes.
   A pool costs a fork per process (a fresh interpreter where fork is not available): not
   worth it for a handful of small files, which is the pre-commit case. With fork the pool
   starts as soon as the files read so far hold enough to parse (those biggest first), and
   each later file is handed to it as it passes, so the workers parse while this process
   reads and decides the rest (measured on the Keras trees, 2 cores: 7.7 s -> 7.1 s median
   wall). Without fork, all are gathered first and sent biggest first.
4. Results go back to the position of their file: the output never depends on which
   process finished first.

A worker that dies (a crash in native code) breaks the pool; the files it left unfinished
are then checked again one by one, each in a process of its own, and the file that kills
its process again is reported as KL000 instead of taking the run down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kerlint.diagnostics import Diagnostic, Location
from kerlint.engine import (
    FileResult,
    applicable_rules,
    check_source,
    closure_rules,
    codes_for_mode,
)
from kerlint.facts.mode import KerasMode
from kerlint.rules import PARSE_ERROR, registry
from kerlint.source import Source, SourceError, read_bytes, read_source

if TYPE_CHECKING:  # multiprocessing and concurrent.futures cost ~20 ms to import: only
    # a run that starts a pool pays for them (not the pre-commit run on one file).
    import multiprocessing.context

    from kerlint.cache import Cache
    from kerlint.project import Project

# With fork a worker costs a few milliseconds; with spawn it imports kerlint again (about
# 0.3 s of CPU). Below these amounts of text to parse, one process is faster.
POOL_MIN_BYTES_FORK = 64 * 1024
POOL_MIN_BYTES_SPAWN = 1024 * 1024

# The project the files of this run belong to: set before a pool forks, so that every worker
# starts with it (and parses each dependency at most once, whatever imports it).
_project: Project | None = None


@dataclass
class _Pending:
    """A file that passed the prefilter and missed the cache: it must be parsed."""

    index: int
    source: Source
    codes: frozenset[str]
    rule_codes: tuple[str, ...]
    key: str | None
    mode: KerasMode | None = None


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class ModeFor(Protocol):
    """Which Keras a file runs (`runner.KerasModes`): the decision, and what it depends on
    besides the file's bytes (for the cache key, so that a hit needs no decision)."""

    def __call__(self, source: Source) -> KerasMode: ...

    def inputs(self, source: Source) -> str: ...


def check_paths(
    paths: Iterable[Path],
    codes_for: Callable[[Path], frozenset[str]],
    jobs: int | None = None,
    cache: Cache | None = None,
    project: Project | None = None,
    mode_for: ModeFor | None = None,
) -> list[FileResult]:
    """Check every path; the results in the order of `paths`.

    `project`: follow imports of project modules (the prefilter and the cache key then
    cover a file's import closure; findings in a checked dependency are reported there).
    `mode_for`: which Keras a file runs, decided here (in this process: the project files it
    reads are read once, not once per worker) for the files that pass the prefilter only.
    """
    global _project
    _project = project
    if project is not None:
        project.cache = cache
    results: list[FileResult | None] = []
    pending: list[_Pending] = []
    # Where a pool will run (Linux's fork, two cores or more), it starts as soon as the
    # files read so far hold enough to parse: the workers parse while this process reads,
    # prefilters and decides the rest.
    processes = jobs or default_jobs()
    fork = sys.platform.startswith("linux")
    size_to_stream = POOL_MIN_BYTES_FORK if processes > 1 and fork else None
    stream: _Stream | None = None
    buffered = 0
    try:
        for index, path in enumerate(paths):
            results.append(None)
            codes = codes_for(path)
            data = None
            try:
                data = read_bytes(path)
                if b"keras" not in data and project is None:  # its bytes cannot matter (nor fail)
                    results[index] = FileResult(path, [], None)
                    continue
                source = read_source(path, str(path), data)
            except SourceError as exc:
                # Without "keras" a file matters only through the project modules it imports,
                # which bytes that cannot be decoded cannot name: never a KL000 for it.
                if data is not None and b"keras" not in data:
                    results[index] = FileResult(path, [], None)
                else:
                    results[index] = _error_result(path, str(path), exc)
                continue
            outcome = _prefilter_and_lookup(index, source, codes, data, cache, project, mode_for)
            if isinstance(outcome, FileResult):
                results[index] = outcome
            elif stream is not None:
                stream.add(outcome)
            else:
                pending.append(outcome)
                if size_to_stream is not None:
                    buffered += len(outcome.source.text)
                    if buffered >= size_to_stream:  # enough to parse: start while reading on
                        stream = _Stream(processes)
                        for item in sorted(pending, key=_biggest_first):
                            stream.add(item)
                        pending = []
    except BaseException:  # Ctrl-C while reading: the pool's queued files are dropped
        if stream is not None:
            stream.pool.shutdown(wait=True, cancel_futures=True)
        raise
    done = stream.results() if stream is not None else _parse_all(pending, jobs)
    for item, diagnostics, parsed in done:
        source = item.source
        results[item.index] = FileResult(source.path, diagnostics, source, parsed)
        if cache is not None and item.key is not None:
            cache.put(item.key, diagnostics, parsed)
    checked = [result for result in results if result is not None]
    if project is not None:
        from kerlint.project.placement import place_in_checked_modules

        place_in_checked_modules(checked)
    return checked


def _error_result(path: Path, display: str, exc: SourceError) -> FileResult:
    location = Location(max(exc.row, 1), max(exc.column, 1))
    return FileResult(
        path, [Diagnostic(PARSE_ERROR, exc.message, display, location, location)], None
    )


def _prefilter_and_lookup(
    index: int,
    source: Source,
    codes: frozenset[str],
    data: bytes,
    cache: Cache | None,
    project: Project | None = None,
    mode_for: ModeFor | None = None,
) -> FileResult | _Pending:
    rules = _rules(source, codes, project)
    if not rules:
        return FileResult(source.path, [], source)
    # The cache is keyed by what decides the file's Keras (its bytes, already in the key,
    # and the project files the detector reads), so a hit needs no decision: deciding can
    # cost a parse of the file for its API hints.
    key = None
    if cache is not None:
        keras_key = mode_for.inputs(source) if mode_for is not None else ""
        key = cache.key(data, codes, source.path.suffix, keras_key)
        if project is not None:
            key = cache.dependent_key(key, project.closure(source.path, source.text))
        hit = cache.get(key, source.display)
        if hit is not None:
            diagnostics, parsed = hit
            return FileResult(source.path, diagnostics, source, parsed)
    mode = mode_for(source) if mode_for is not None else None
    resolved = codes_for_mode(codes, mode)
    if resolved != codes:  # a rule on by default for Keras 2 files: its prefilter too
        added = _rules(source, resolved - codes, project) if resolved - codes else []
        kept = {rule.code for rule in [*rules, *added]} & resolved
        codes = resolved
        rules = [rule for rule in registry.all_rules() if rule.code in kept]
    return _Pending(index, source, codes, tuple(rule.code for rule in rules), key, mode)


def _rules(source: Source, codes: frozenset[str], project: Project | None):
    if project is None:
        return applicable_rules(source.text, codes)
    return closure_rules(source, codes, project)


def _check_pending(item: _Pending) -> tuple[list[Diagnostic], bool]:
    """The work a worker does (also run in this process when there is no pool)."""
    rules = [rule for rule in registry.all_rules() if rule.code in item.rule_codes]
    result = check_source(item.source, item.codes, rules, mode=item.mode, project=_project)
    return result.diagnostics, result.parsed


def _context() -> multiprocessing.context.BaseContext:
    """fork where it is safe and cheap (Linux): workers start with kerlint already imported."""
    import multiprocessing

    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _biggest_first(item: _Pending) -> int:
    return -len(item.source.text)


class _Stream:
    """A pool of workers fed one file at a time (also while files are still being read);
    the results in the order fed."""

    def __init__(self, processes: int) -> None:
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=_context(),
            initializer=_worker_start,
            initargs=(os.getpid(), _project.index.root if _project is not None else None),
        )
        self.futures: list = []

    def add(self, item: _Pending) -> None:
        try:
            self.futures.append((item, self.pool.submit(_check_pending, item)))
        except BaseException:
            self.pool.shutdown(wait=True, cancel_futures=True)
            raise

    def results(self) -> Iterable[tuple[_Pending, list[Diagnostic], bool]]:
        yield from _collect(self.pool, self.futures)


def _parse_all(
    pending: list[_Pending], jobs: int | None
) -> Iterable[tuple[_Pending, list[Diagnostic], bool]]:
    if not pending:
        return
    processes = min(jobs or default_jobs(), len(pending))
    size = sum(len(item.source.text) for item in pending)
    if processes <= 1 or size < POOL_MIN_BYTES_FORK:
        for item in pending:
            yield (item, *_check_pending(item))
        return
    context = _context()
    if context.get_start_method() != "fork" and size < POOL_MIN_BYTES_SPAWN:
        for item in pending:
            yield (item, *_check_pending(item))
        return
    # Biggest first: the longest jobs start at once, the small ones fill the gaps.
    stream = _Stream(processes)
    for item in sorted(pending, key=_biggest_first):
        stream.add(item)
    yield from stream.results()


def _collect(pool, futures: list) -> Iterable[tuple[_Pending, list[Diagnostic], bool]]:
    """Each future's result in order; the files of a broken pool checked one by one."""
    from concurrent.futures.process import BrokenProcessPool

    context = _context()
    unfinished: list[_Pending] = []
    try:
        for item, future in futures:
            try:
                diagnostics, parsed = future.result()
            except BrokenProcessPool:
                unfinished.append(item)
                continue
            except Exception:  # the file or its result would not travel: check it here
                diagnostics, parsed = _check_pending(item)
            yield item, diagnostics, parsed
    finally:
        # Ctrl-C or an error here: drop the queued files rather than wait for them.
        pool.shutdown(wait=True, cancel_futures=True)
    for item in unfinished:
        yield (item, *_check_isolated(item, context))


def _worker_start(parent: int, project_root: Path | None = None) -> None:  # pragma: no cover
    """A worker ignores Ctrl-C (the parent stops the pool) and dies with its parent.

    Without the second, a parent killed outright (OOM killer, SIGKILL) would leave workers
    blocked on the task queue forever, holding the terminal's or pre-commit's pipes open.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    global _project
    if project_root is not None and _project is None:  # spawned: no project inherited
        from kerlint.project import Project, ProjectIndex

        _project = Project(ProjectIndex(project_root))


def _check_isolated(
    item: _Pending, context: multiprocessing.context.BaseContext
) -> tuple[list[Diagnostic], bool]:
    """Check one file in a process of its own: if it dies, only this file says so."""
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_isolated_worker, args=(sender, item), daemon=True)
    process.start()
    sender.close()
    try:
        outcome = receiver.recv()
    except (EOFError, OSError):
        outcome = None
    process.join()
    receiver.close()
    if outcome is not None:
        return outcome
    location = Location(1, 1)
    message = (
        f"internal error: the process checking this file died (exit code {process.exitcode}); "
        "this file was not checked; please report it"
    )
    return [Diagnostic(PARSE_ERROR, message, item.source.display, location, location)], False


def _isolated_worker(sender, item: _Pending) -> None:  # pragma: no cover - in a child
    sender.send(_check_pending(item))
    sender.close()
