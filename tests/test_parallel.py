"""Several processes: the same answers in the same order, no pool for little work, no
crash from a dying worker, and a start-up that imports only what the run needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BAD, CLEAN

import kerlint.parallel
from kerlint.parallel import check_paths, default_jobs
from kerlint.rules import registry

ALL = frozenset(rule.code for rule in registry.all_rules())
FORK = sys.platform.startswith("linux")


def _tree(root: Path, files: int = 24, pad: int = 1) -> list[Path]:
    paths = []
    for index in range(files):
        path = root / f"m{index:02}.py"
        # Different sizes, so that biggest-first reorders the work.
        padding = "# padding\n" * (index * 37 % 200) * pad
        text = BAD if index % 3 else CLEAN
        path.write_text(padding + text, encoding="utf-8")
        paths.append(path)
    return paths


def _summary(results) -> list[tuple]:
    return [(str(r.path), r.parsed, r.diagnostics) for r in results]


@pytest.mark.skipif(not FORK, reason="the pool test forks (patches reach the workers)")
def test_a_pool_gives_the_same_results_in_the_same_order(tmp_path: Path, monkeypatch) -> None:
    paths = _tree(tmp_path)
    alone = check_paths(paths, lambda p: ALL, jobs=1)
    monkeypatch.setattr(kerlint.parallel, "POOL_MIN_BYTES_FORK", 0)
    pooled = check_paths(paths, lambda p: ALL, jobs=3)
    assert _summary(pooled) == _summary(alone)
    assert [r.path for r in pooled] == paths


@pytest.mark.skipif(not FORK, reason="the pool is fed while reading only where it forks")
def test_the_pool_parses_while_the_rest_is_read(tmp_path: Path, monkeypatch) -> None:
    """The pool starts once the files read hold enough to parse, not after the last one."""
    paths = _tree(tmp_path, files=12, pad=4)
    alone = check_paths(paths, lambda p: ALL, jobs=1)
    reads: list[Path] = []
    started_after: list[int] = []
    read_bytes, stream_init = kerlint.parallel.read_bytes, kerlint.parallel._Stream.__init__

    def reading(path):
        reads.append(path)
        return read_bytes(path)

    def starting(self, processes):
        started_after.append(len(reads))
        stream_init(self, processes)

    monkeypatch.setattr(kerlint.parallel, "read_bytes", reading)
    monkeypatch.setattr(kerlint.parallel._Stream, "__init__", starting)
    monkeypatch.setattr(kerlint.parallel, "POOL_MIN_BYTES_FORK", 2 * len(BAD) + 4000)
    pooled = check_paths(paths, lambda p: ALL, jobs=2)
    assert _summary(pooled) == _summary(alone)
    assert len(started_after) == 1 and 1 < started_after[0] < len(paths)


def test_little_work_starts_no_pool(tmp_path: Path, monkeypatch) -> None:
    import concurrent.futures

    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started for a handful of small files")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    results = check_paths(_tree(tmp_path, files=5), lambda p: ALL, jobs=4)
    assert sum(r.parsed for r in results) == 5


_VICTIM: Path | None = None
_ORIGINAL_CHECK = kerlint.parallel._check_pending


def _dies_on_the_victim(item):
    """Module level, so that the pool can pickle it (by name) to its forked workers."""
    if item.source.path == _VICTIM:
        os._exit(70)  # as a segmentation fault in native code would
    return _ORIGINAL_CHECK(item)


@pytest.mark.skipif(not FORK, reason="the crash is planted by patching the forked worker")
def test_a_worker_that_dies_costs_only_its_file(tmp_path: Path, monkeypatch) -> None:
    paths = _tree(tmp_path, files=12)
    victim = paths[4]
    expected = _summary(check_paths(paths, lambda p: ALL, jobs=1))
    monkeypatch.setattr(sys.modules[__name__], "_VICTIM", victim)
    monkeypatch.setattr(kerlint.parallel, "POOL_MIN_BYTES_FORK", 0)
    monkeypatch.setattr(kerlint.parallel, "_check_pending", _dies_on_the_victim)
    results = check_paths(paths, lambda p: ALL, jobs=2)
    for (path, parsed, diagnostics), result in zip(expected, results, strict=True):
        if result.path == victim:
            (diagnostic,) = result.diagnostics
            assert diagnostic.code == "KL000" and "died" in diagnostic.message
        else:
            assert (str(result.path), result.parsed, result.diagnostics) == (
                path,
                parsed,
                diagnostics,
            )


def test_jobs_zero_and_none_mean_one_per_core(tmp_path: Path) -> None:
    assert default_jobs() >= 1
    paths = _tree(tmp_path, files=4)
    assert _summary(check_paths(paths, lambda p: ALL, jobs=0)) == _summary(
        check_paths(paths, lambda p: ALL, jobs=None)
    )


@pytest.mark.parametrize("jobs", ["1", "2", "0"])
def test_the_cli_output_does_not_depend_on_jobs(project: Path, run_cli, jobs: str) -> None:
    _tree(project, files=30)
    baseline = run_cli("check", "--no-cache", "-j", "1", "--output-format", "json", ".")
    result = run_cli("check", "--no-cache", "-j", jobs, "--output-format", "json", ".")
    assert result.exit_code == baseline.exit_code == 1
    assert json.loads(result.stdout) == json.loads(baseline.stdout)


# Modules a one-file check has no use for. keras and the backends: never on the check path.
HEAVY = [
    "keras",
    "tensorflow",
    "jax",
    "torch",
    "multiprocessing",
    "concurrent.futures",
    "kerlint.verify",
    "kerlint.baseline",
    "kerlint.reporters.sarif",
    "kerlint.reporters.junit",
    "xml.etree",
    "difflib",
    "tempfile",
]

_PROBE = """
import sys
from kerlint.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = set(sys.modules)
print("\\n".join(sorted(m for m in {heavy!r} if m in loaded)))
"""


def _loaded_heavy_modules(*args: str, cwd: Path) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert completed.returncode == 0, completed.stderr
    return [line for line in completed.stdout.splitlines() if line in HEAVY]


def test_a_one_file_check_imports_nothing_heavy(project: Path) -> None:
    (project / "bad.py").write_text(BAD, encoding="utf-8")
    assert _loaded_heavy_modules("check", "--no-cache", "bad.py", cwd=project) == []
    assert _loaded_heavy_modules("check", "bad.py", cwd=project) == []  # with the cache


def test_a_big_run_never_imports_keras_or_a_backend(project: Path) -> None:
    _tree(project, files=60, pad=10)  # enough text for a pool
    loaded = _loaded_heavy_modules("check", "--no-cache", "-j", "2", ".", cwd=project)
    if FORK:
        assert "multiprocessing" in loaded  # the pool did start
    assert not {"keras", "tensorflow", "jax", "torch"} & set(loaded)
