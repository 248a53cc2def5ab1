"""The result cache: same answers as a cold run, robust to damage and to concurrent runs."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BAD, CLEAN

from kerlint.cache import CACHE_DIR_NAME, Cache, _dump, _load, default_cache_dir
from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.engine import check_file
from kerlint.parallel import check_paths
from kerlint.rules import registry

ALL = frozenset(rule.code for rule in registry.all_rules())


def _open(directory: Path) -> Cache:
    cache, problem = Cache.open(directory, salt="test")
    assert cache is not None, problem
    return cache


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("v*/*/*.json"))


def _tree(root: Path, files: int = 6) -> list[Path]:
    paths = []
    for index in range(files):
        path = root / f"m{index}.py"
        text = BAD if index % 2 == 0 else CLEAN
        path.write_text(f"{text}# file {index}\n", encoding="utf-8")
        paths.append(path)
    (root / "plain.py").write_text("print('no keras here')\n", encoding="utf-8")
    return [*paths, root / "plain.py"]


def test_every_diagnostic_field_is_cached() -> None:
    """Fails when Diagnostic grows a field the cache does not carry: add it to _dump/_load."""
    known = {
        "code",
        "message",
        "filename",
        "location",
        "end_location",
        "fix",
        "cell",
        "keras",
        "verification",  # added by --verify after the check, never cached
        "origin",
    }
    assert {f.name for f in dataclasses.fields(Diagnostic)} == known
    diagnostic = Diagnostic(
        "KL008",
        "a message ✓",
        "ignored.py",
        Location(3, 5),
        Location(3, 9),
        Fix("use False", (Edit("False", Location(3, 5), Location(3, 9)),), "unsafe"),
        cell=2,
        keras={"version": "2", "because": "tensorflow==2.15.0 in requirements.txt"},
    )
    back = _load(json.loads(json.dumps(_dump(diagnostic))), "ignored.py")
    assert back == diagnostic
    assert back.keras == diagnostic.keras  # not part of equality: compared on its own
    origin = {"path": "/p/models.py", "filename": "models.py", "location": [4, 5], "end": [4, 9]}
    placed = diagnostic.with_(origin=origin)
    assert _load(json.loads(json.dumps(_dump(placed))), "ignored.py").origin == origin


def test_warm_results_equal_cold_results(tmp_path: Path) -> None:
    paths = _tree(tmp_path)
    cold = check_paths(paths, lambda path: ALL, jobs=1)
    cache = _open(tmp_path / "cache")
    first = check_paths(paths, lambda path: ALL, jobs=1, cache=cache)
    assert cache.hits == 0 and len(_entries(tmp_path / "cache")) == 6  # parsed files only
    warm = check_paths(paths, lambda path: ALL, jobs=1, cache=cache)
    assert cache.hits == 6
    for results in (first, warm):
        assert [r.diagnostics for r in results] == [r.diagnostics for r in cold]
        assert [r.parsed for r in results] == [r.parsed for r in cold]
        assert all(r.source is not None for r in results)  # fixes need the text


def test_the_key_covers_content_codes_suffix_and_kerlint(tmp_path: Path) -> None:
    cache = Cache(tmp_path, salt="a")
    key = cache.key(b"x", ALL, ".py")
    assert key == Cache(tmp_path, salt="a").key(b"x", ALL, ".py")
    assert key != cache.key(b"y", ALL, ".py")
    assert key != cache.key(b"x", ALL - {"KL001"}, ".py")
    assert key != cache.key(b"x", ALL, ".ipynb")
    assert key != Cache(tmp_path, salt="b").key(b"x", ALL, ".py")


def test_a_changed_rule_module_changes_the_fingerprint(tmp_path: Path, monkeypatch) -> None:
    import kerlint.cache

    package = tmp_path / "kerlint"
    package.mkdir()
    (package / "cache.py").write_text("", encoding="utf-8")
    rule = package / "rule.py"
    rule.write_text("A = 1\n", encoding="utf-8")
    monkeypatch.setattr(kerlint.cache, "__file__", str(package / "cache.py"))
    before = kerlint.cache.environment_fingerprint()
    rule.write_text("A = 22\n", encoding="utf-8")
    assert kerlint.cache.environment_fingerprint() != before


@pytest.mark.parametrize(
    "damage",
    [
        b"",  # truncated to nothing
        b'{"key": "',  # truncated JSON
        b"\x00\xff garbage",
        b"[]",  # JSON, wrong shape
        b'{"key": "another", "parsed": true, "diagnostics": []}',
        b'{"key": "KEY", "parsed": "yes", "diagnostics": []}',
        b'{"key": "KEY", "parsed": true, "diagnostics": [{"code": 1}]}',
        b'{"key": "KEY", "parsed": true, "diagnostics": [{"code": "KL008", "message": "m",'
        b' "location": [1], "end": [1, 2], "cell": null, "fix": null}]}',
    ],
)
def test_a_damaged_entry_is_a_miss_and_is_rebuilt(tmp_path: Path, damage: bytes) -> None:
    (path,) = paths = [tmp_path / "bad.py"]
    path.write_text(BAD, encoding="utf-8")
    cold = check_paths(paths, lambda p: ALL, jobs=1)
    cache = _open(tmp_path / "cache")
    check_paths(paths, lambda p: ALL, jobs=1, cache=cache)
    (entry,) = _entries(tmp_path / "cache")
    entry.write_bytes(damage.replace(b"KEY", entry.stem.encode()))
    again = check_paths(paths, lambda p: ALL, jobs=1, cache=cache)
    assert cache.hits == 0 and again[0].diagnostics == cold[0].diagnostics
    assert json.loads(entry.read_bytes())["key"] == entry.stem  # written again, whole
    check_paths(paths, lambda p: ALL, jobs=1, cache=cache)
    assert cache.hits == 1


def test_the_folder_ignores_itself_and_is_tagged(tmp_path: Path) -> None:
    cache, problem = Cache.open(tmp_path / "c")
    assert cache is not None and problem is None
    assert (tmp_path / "c" / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
    assert (
        (tmp_path / "c" / "CACHEDIR.TAG")
        .read_text(encoding="utf-8")
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def test_a_folder_that_cannot_be_made_turns_the_cache_off(project: Path, run_cli) -> None:
    (project / "blocker").write_text("a file where the folder should be", encoding="utf-8")
    (project / "bad.py").write_text(BAD, encoding="utf-8")
    result = run_cli("check", "--cache-dir", "blocker/cache", "bad.py")
    assert result.exit_code == 1
    assert "KL008" in result.stdout
    assert "running without the cache" in result.stderr


def test_no_cache_writes_nothing_and_the_default_is_beside_the_config(
    project: Path, run_cli, monkeypatch
) -> None:
    (project / "bad.py").write_text(BAD, encoding="utf-8")
    run_cli("check", "--no-cache", "bad.py")
    assert not (project / CACHE_DIR_NAME).exists()
    run_cli("check", "bad.py")
    assert _entries(project / CACHE_DIR_NAME)
    (project / "sub").mkdir()
    (project / "sub" / "kerlint.toml").write_text("select = ['KL008']\n", encoding="utf-8")
    assert default_cache_dir(project / "sub" / "kerlint.toml") == project / "sub" / CACHE_DIR_NAME
    monkeypatch.setenv("KERLINT_CACHE_DIR", str(project / "elsewhere"))
    assert default_cache_dir(None) == project / "elsewhere"


def test_fix_works_from_a_warm_cache(project: Path, run_cli) -> None:
    path = project / "bad.py"
    path.write_text(BAD, encoding="utf-8")
    assert run_cli("check", "bad.py").exit_code == 1  # fills the cache
    result = run_cli("check", "--fix", "bad.py")
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == CLEAN


def test_internal_errors_are_not_cached(tmp_path: Path, monkeypatch) -> None:
    import kerlint.engine

    def broken(*args, **kwargs):
        raise RuntimeError("transient")

    path = tmp_path / "bad.py"
    path.write_text(BAD, encoding="utf-8")
    cache = _open(tmp_path / "cache")
    monkeypatch.setattr(kerlint.engine, "FileFacts", broken)
    (result,) = check_paths([path], lambda p: ALL, jobs=1, cache=cache)
    assert "internal error" in result.diagnostics[0].message
    assert _entries(tmp_path / "cache") == []


def _writer(directory: str, key: str, rounds: int) -> None:
    cache = Cache(Path(directory), salt="test")
    result = check_file(Path(directory).parent / "bad.py", ALL)
    for _ in range(rounds):
        cache.put(key, result.diagnostics, result.parsed)


def _reader(directory: str, key: str, rounds: int, queue) -> None:
    cache = Cache(Path(directory), salt="test")
    seen = 0
    for _ in range(rounds):
        hit = cache.get(key, "bad.py")
        if hit is not None:
            assert [d.code for d in hit[0]] == ["KL008"]
            seen += 1
    queue.put((seen, cache.misses))


def test_concurrent_writers_and_readers_never_see_half_an_entry(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    directory = tmp_path / "cache"
    Cache.open(directory, salt="test")
    key = Cache(directory, salt="test").key(b"x", ALL, ".py")
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    queue = context.Queue()
    workers = [context.Process(target=_writer, args=(str(directory), key, 200)) for _ in range(3)]
    workers += [
        context.Process(target=_reader, args=(str(directory), key, 400, queue)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    # A reader may miss before the first write lands; every entry it read was whole.
    assert [queue.get(timeout=10) for _ in range(2)]
    assert not list(directory.glob("**/.tmp-*"))  # no temporary file left behind


def test_two_runs_at_once_on_one_tree(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    _tree(root, files=40)
    cache_dir = tmp_path / "cache"
    command = [
        sys.executable,
        "-m",
        "kerlint",
        "check",
        "--isolated",
        "--cache-dir",
        str(cache_dir),
        "--output-format",
        "json",
        ".",
    ]
    env = {**os.environ, "NO_COLOR": "1"}
    runs = [
        subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [1, 1], outputs[0][1][-2000:]
    assert outputs[0][0] == outputs[1][0]
    for entry in _entries(cache_dir):
        assert json.loads(entry.read_bytes())["key"] == entry.stem
    warm = subprocess.run(command, cwd=root, capture_output=True, env=env)
    assert warm.stdout == outputs[0][0]
