"""kerlint never falls over: hostile files, crashing rules, odd trees, and real code at scale.

Files that could crash the interpreter itself (LibCST's native parser overflows its stack on
deep nesting) are checked in a child process, so that a regression shows as a failed test
(exit code -11), not as a dead test run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import BAD, run_process

from kerlint.engine import check_source
from kerlint.rules import registry
from kerlint.source import Source

ALL = frozenset(rule.code for rule in registry.all_rules())
BAD_ROW = 4  # the KL008 line of BAD
HEAD = "import keras\nmodel = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])\n"


def _hostile_tree(root: Path) -> dict[str, object]:
    """Write the hostile files; returns name -> what is expected of it.

    Expectation: an int (the row of the KL008 it must report), a str (a KL000 message must
    contain it), None (no diagnostics at all), or "any" (some result, no crash).
    """
    expected: dict[str, object] = {}

    def write(name: str, data: bytes | str, expect: object) -> None:
        path = root / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8", newline="")
        else:
            path.write_bytes(data)
        expected[name] = expect

    write("good.py", BAD, BAD_ROW)
    write("empty.py", "", None)
    write("crlf.py", BAD.replace("\n", "\r\n"), BAD_ROW)
    lines = BAD.splitlines(keepends=True)
    write("mixed_newlines.py", lines[0].replace("\n", "\r\n") + "".join(lines[1:]), BAD_ROW)
    write("old_mac.py", BAD.replace("\n", "\r"), "any")
    write("bom.py", b"\xef\xbb\xbf" + BAD.encode(), BAD_ROW)
    write(
        "latin1.py",
        b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD.encode("latin-1"),
        BAD_ROW + 2,
    )
    write("undecodable.py", BAD.encode() + b"# \xff\xfe\n", "not valid utf-8")
    write("bad_cookie.py", "# coding: klingon\n" + BAD, "encoding")
    write("nul.py", BAD + "\x00\n", "NUL")
    write("form_feed.py", "\x0c" + BAD.replace("\n\n", "\n\x0c\n"), BAD_ROW)
    write("not_python.py", "import keras\nlayer.trainable = False\n<html>\n", "syntax error")
    deep = "import keras\nlayer.trainable = False\nx = "
    write("deep_parens.py", deep + "(" * 5000 + "1" + ")" * 5000 + "\n", "nested")
    write("deep_brackets.py", deep + "[" * 5000 + "]" * 5000 + "\n", "nested")
    write("deep_calls.py", deep + "f(" * 5000 + ")" * 5000 + "\n", "nested")
    write("deep_lambda.py", deep + "lambda: " * 5000 + "1\n", "too deeply nested")
    write("deep_not.py", deep + "not " * 5000 + "y\n", "too deeply nested")
    # Nesting behind an earlier syntax error: CPython stops at the error and never vouches
    # for what follows, so LibCST must not be trusted with its own stack there.
    write(
        "deep_behind_an_error.py",
        "import keras\nlayer.trainable = False\ndef (:\nx = " + "(" * 100_000 + ")" * 100_000,
        "syntax error",
    )
    write(
        "fifty_thousand_lines.py",
        HEAD
        + "# a comment line\n" * 25_000
        + "DATA = [\n"
        + "    1,\n" * 25_000
        + "]\n"
        + "model.layers[0].trainable = 'False'\n",
        2 + 25_000 + 25_002 + 1,
    )
    write("broken.ipynb", '{"import keras": not json', "notebook")
    # Bytes that never say keras are never decoded: they cannot matter, nor fail.
    write("broken_no_keras.ipynb", "{not json", None)
    write("undecodable_no_keras.py", b'name = "caf\xe9"\n', None)
    write("too_big.py", b"# " + b"x" * (10 * 1024 * 1024 + 10) + b"\n", "larger than")
    (root / "loop_a.py").symlink_to(root / "loop_b.py")
    (root / "loop_b.py").symlink_to(root / "loop_a.py")
    expected["loop_a.py"] = expected["loop_b.py"] = "cannot read"
    (root / "dangling.py").symlink_to(root / "missing.py")
    expected["dangling.py"] = "cannot read"
    (root / "folder_loop").mkdir()
    (root / "folder_loop" / "up").symlink_to(root)
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo.py")
        expected["fifo.py"] = "not a regular file"
    unreadable = root / "unreadable.py"
    unreadable.write_text(BAD, encoding="utf-8")
    unreadable.chmod(0)
    # root reads anything: then the file is simply checked.
    expected["unreadable.py"] = BAD_ROW if os.access(unreadable, os.R_OK) else "Permission"
    return expected


def _assert_results(root: Path, report: list[dict], expected: dict[str, object]) -> None:
    by_file: dict[str, list[dict]] = {}
    for item in report:
        by_file.setdefault(Path(item["filename"]).name, []).append(item)
    for name, expect in expected.items():
        found = by_file.get(name, [])
        if expect is None:
            assert found == [], name
        elif expect == "any":
            assert all(item["code"] in ("KL000", "KL008") for item in found), name
        elif isinstance(expect, int):
            assert [(d["code"], d["location"]["row"]) for d in found] == [("KL008", expect)], (
                name,
                found,
            )
        else:
            assert len(found) == 1 and found[0]["code"] == "KL000", (name, found)
            assert str(expect) in found[0]["message"], (name, found[0]["message"])
    # The folder symlinked back up the tree is walked once: no file reported twice.
    names = [Path(item["filename"]).name for item in report]
    assert len(names) == len(set(names))


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    root = tmp_path / "hostile"
    root.mkdir()
    expected = _hostile_tree(root)
    yield root, expected
    (root / "unreadable.py").chmod(0o644)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_every_hostile_file_gets_a_result_and_the_run_goes_on(hostile, jobs: str) -> None:
    root, expected = hostile
    completed = run_process(
        "check", "--isolated", "--no-cache", "-j", jobs, "--output-format", "json", ".", cwd=root
    )
    assert completed.returncode == 1, completed.stderr.decode()[-3000:]
    _assert_results(root, json.loads(completed.stdout), expected)


def test_hostile_tree_through_the_cache_twice(hostile, tmp_path: Path) -> None:
    root, expected = hostile
    args = ("check", "--isolated", "--cache-dir", str(tmp_path / "cache"))
    first = run_process(*args, "--output-format", "json", ".", cwd=root)
    second = run_process(*args, "--output-format", "json", ".", cwd=root)
    assert first.returncode == second.returncode == 1, second.stderr.decode()[-3000:]
    assert first.stdout == second.stdout
    _assert_results(root, json.loads(second.stdout), expected)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "x = " + "(" * n + "1" + ")" * n,
        lambda n: "x = " + "lambda: " * n + "1",
        lambda n: "x = " + "not " * n + "y",
        lambda n: "x = " + "-" * n + "1",
        lambda n: "x = y" + ".a" * n,
        lambda n: "x = y" + "[0]" * n,
        lambda n: "x = " + "1 if y else " * n + "2",
        lambda n: "x = " + " + ".join(["1"] * n),
        lambda n: "".join(" " * i + "if x:\n" for i in range(min(n, 120))) + " " * 120 + "pass",
    ],
)
def test_nesting_python_accepts_gives_a_result(make) -> None:
    """Nesting that CPython accepts (<= ~200 levels) is checked in-process without trouble."""
    text = HEAD + make(150) + "\nmodel.layers[0].trainable = 'False'\n"
    result = check_source(Source(Path("n.py"), "n.py", text), ALL)
    assert [d.code for d in result.diagnostics] in (["KL008"], ["KL000"])


def test_a_crashing_rule_is_a_kl000_for_its_file_only(monkeypatch, tmp_path: Path) -> None:
    import kerlint.engine

    def boom(facts):
        raise KeyError("something the rule did not expect")

    original = kerlint.engine.rules_for
    monkeypatch.setattr(
        kerlint.engine,
        "rules_for",
        lambda codes: [
            dataclasses.replace(rule, check=boom) if rule.code == "KL002" else rule
            for rule in original(codes)
        ],
    )
    source = Source(Path("t.py"), "t.py", BAD + "model.trainable = False\nmodel.fit(x)\n")
    (diagnostic,) = check_source(source, ALL).diagnostics
    assert diagnostic.code == "KL000"
    assert "internal error" in diagnostic.message and "KeyError" in diagnostic.message
    monkeypatch.setenv("KERLINT_DEBUG", "1")
    with pytest.raises(KeyError):
        check_source(source, ALL)


def test_a_libcst_failure_costs_only_the_fix(monkeypatch) -> None:
    """The facts come from CPython's tree; LibCST's is only built for fixes: where it fails
    (a bug in it, or code it cannot read), the findings stay and no fix is offered."""
    import libcst

    import kerlint.cst_parse

    def broken(text: str):
        raise libcst.CSTValidationError("a bug in the parser")

    source = Source(Path("t.py"), "t.py", BAD)
    (fixed,) = check_source(source, ALL).diagnostics
    assert fixed.code == "KL008" and fixed.fix is not None
    monkeypatch.setattr(kerlint.cst_parse.cst, "parse_module", broken)
    (diagnostic,) = check_source(source, ALL).diagnostics
    assert diagnostic.code == "KL008" and diagnostic.location == fixed.location
    assert diagnostic.message == fixed.message


def test_odd_text_never_raises() -> None:
    for text in ["\ud800", "\x00", "\r", "\r\n\r\n", "\t\t\x0c", "\u2028", "\\\n", "'''", '"']:
        check_source(Source(Path("t.py"), "t.py", HEAD + text + "\nx.trainable = False\n"), ALL)


def test_unreadable_stdin_is_a_kl000(monkeypatch) -> None:
    from kerlint.config import resolve_settings
    from kerlint.runner import run_stdin

    monkeypatch.setattr(sys, "stdin", None)
    settings = resolve_settings(start=Path.cwd(), isolated=True)
    result = run_stdin("-", settings)
    assert [d.code for d in result.diagnostics] == ["KL000"]


def test_a_tree_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    from kerlint.config import resolve_settings
    from kerlint.discovery import discover

    settings = resolve_settings(start=tmp_path, isolated=True)
    # A low limit keeps the tree small (a deep tree is slow to make): the walk must not
    # need a frame per level.
    frames = len(inspect.stack())
    deepest = str(tmp_path)
    for _ in range(300):
        deepest += "/d"
        os.mkdir(deepest)
    Path(deepest, "x.py").write_text("", encoding="utf-8")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frames + 150)
    try:
        found = [p.name for p in discover([tmp_path], settings)]
    finally:
        sys.setrecursionlimit(limit)
    assert found == ["x.py"]


def _load_sweep():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "sweep.py"
    spec = importlib.util.spec_from_file_location("kerlint_sweep", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sweep_roots() -> list[Path]:
    sweep = _load_sweep()
    trees = sweep.tree_paths()
    if not all(tree.is_dir() for tree in trees):
        if not os.environ.get("KERLINT_SWEEP"):
            pytest.skip("set KERLINT_SWEEP=1 (or run benchmarks/bench.py) to sweep real code")
        bench = importlib.util.spec_from_file_location("kerlint_bench", sweep.HERE / "bench.py")
        assert bench and bench.loader
        module = importlib.util.module_from_spec(bench)
        bench.loader.exec_module(module)
        module.fetch_trees()
    return [*trees, sweep.stdlib_path()]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["keras", "keras-hub", "stdlib"])
def test_sweep_real_code_every_file_parsed_nothing_crashes(which: str) -> None:
    """Every file, prefilter bypassed: parsed, facts built, every rule run; no internal error."""
    roots = _sweep_roots()
    root = roots[["keras", "keras-hub", "stdlib"].index(which)]
    sweep = _load_sweep()
    files = sweep.python_files(root)
    results = sweep.check_all(files, force=True)
    assert len(results) == len(files)
    assert sweep.internal_errors(results) == []
    kl000 = [(str(r.path), d.message) for r in results for d in r.diagnostics if d.code == "KL000"]
    if which == "stdlib":  # deliberately broken test data: bad syntax, bad encodings
        assert len(kl000) < 50, kl000
    else:
        assert kl000 == []
