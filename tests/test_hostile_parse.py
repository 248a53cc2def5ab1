"""Long flat code that CPython reads in a loop but LibCST by recursion: a result or a clear
KL000, never a signal.

LibCST's native parser recursed once per `and` term or dotted-name part on the C stack and
killed the process (exit 139) on ~7,000 of them: a 14 KB file. Each file here is checked in a
child process, so that a regression is a failed test, not a dead test run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import libcst as cst
import pytest
from conftest import BAD, run_process
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kerlint import cst_parse as engine  # LibCST's side: the parse behind fixes
from kerlint.cst_parse import DEEP_STACK_SAFE_BYTES
from kerlint.deep_stack import on_deep_stack
from kerlint.engine import check_source
from kerlint.rules import registry
from kerlint.source import Source

ALL = frozenset(rule.code for rule in registry.all_rules())
BAD_ROW = 4  # the KL008 of BAD

# Each makes one statement with n parts, of a shape CPython accepts at any length (or
# rejects with its own clear error, for the nested ones past ~3,000).
FLAT: dict[str, Callable[[int], str]] = {
    "and": lambda n: "x = " + " and ".join(["a"] * n),
    "or": lambda n: "x = " + " or ".join(["a"] * n),
    "comparison": lambda n: "x = " + " < ".join(["a"] * n),
    "binary": lambda n: "x = " + " + ".join(["a"] * n),
    "attribute": lambda n: "x = a" + ".b" * n,
    "dotted import": lambda n: "import " + ".".join(["a"] * n),
    "from import": lambda n: "from " + ".".join(["a"] * n) + " import b",
    "implicit concatenation": lambda n: "x = " + " ".join(["'a'"] * n),
    "concatenation over lines": lambda n: "x = (\n" + "\n".join(["    'a'"] * n) + "\n)",
    "comprehension for clauses": lambda n: "x = [a " + " ".join(["for a in b"] * n) + "]",
    "comprehension if clauses": lambda n: "x = [a for a in b " + " ".join(["if a"] * n) + "]",
    "arguments": lambda n: "f(" + ", ".join(["a"] * n) + ")",
    "keyword arguments": lambda n: "f(" + ", ".join(f"a{i}=1" for i in range(n)) + ")",
    "parameters": lambda n: "def f(" + ", ".join(f"a{i}" for i in range(n)) + "): pass",
    "decorators": lambda n: "@d\n" * n + "def f(): pass",
    "elif chain": lambda n: "if a: pass\n" + "elif a: pass\n" * n,
    "except clauses": lambda n: "try: pass\n" + "except a: pass\n" * n,
    "call chain": lambda n: "x = a" + "()" * n,
    "subscript chain": lambda n: "x = a" + "[0]" * n,
    "assignment targets": lambda n: " = ".join(["a"] * n) + " = 1",
    "semicolons": lambda n: "; ".join(["a"] * n),
    "dict": lambda n: "x = {" + ", ".join(["a: b"] * n) + "}",
    "f-string parts": lambda n: "x = f'" + "{a}" * n + "'",
    "with items": lambda n: "with " + ", ".join(["a"] * n) + ": pass",
    "match alternatives": lambda n: "match x:\n case " + " | ".join(["1"] * n) + ": pass",
}
# What a KL000 for such a file may say: each names why, none is "internal error".
CLEAR = ("too deeply nested", "too long for the parser", "cannot parse", "syntax error")


def _write(root: Path, files: list[tuple[str, int]]) -> dict[str, str]:
    names = {}
    for index, (kind, n) in enumerate(files):
        name = f"f{index}.py"
        (root / name).write_text(BAD + FLAT[kind](n) + "\n", encoding="utf-8")
        names[name] = f"{kind} x {n}"
    return names


def _check_in_a_child(root: Path) -> dict[str, list[dict]]:
    completed = run_process(
        "check", "--isolated", "--no-cache", "-j", "1", "--output-format", "json", ".", cwd=root
    )
    assert completed.returncode in (0, 1), (completed.returncode, completed.stderr[-2000:])
    by_file: dict[str, list[dict]] = {}
    for item in json.loads(completed.stdout):
        by_file.setdefault(Path(item["filename"]).name, []).append(item)
    return by_file


def _assert_result_or_clear_kl000(found: list[dict], what: str) -> None:
    codes = [(d["code"], d["location"]["row"]) for d in found]
    if codes == [("KL008", BAD_ROW)]:
        return
    assert len(found) == 1 and found[0]["code"] == "KL000", (what, codes)
    message = found[0]["message"]
    assert any(words in message for words in CLEAR), (what, message)
    assert "internal error" not in message, (what, message)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.lists(
        st.tuples(st.sampled_from(sorted(FLAT)), st.integers(min_value=500, max_value=12_000)),
        min_size=2,
        max_size=5,
    )
)
# Found by this test: a small file whose positions (computed only to report) recursed too
# deep on the main stack, and the error of that error took the whole run down.
@example(files=[("and", 500), ("from import", 500)])
def test_long_flat_code_gives_a_result_or_a_clear_kl000(files, tmp_path_factory) -> None:
    root = tmp_path_factory.mktemp("flat")
    names = _write(root, files)
    by_file = _check_in_a_child(root)
    for name, what in names.items():
        _assert_result_or_clear_kl000(by_file.get(name, []), what)


def test_every_shape_past_the_old_crash_size(tmp_path: Path) -> None:
    """8,000 parts of each shape, where the 8 MiB stack overflowed: all in one child."""
    names = _write(tmp_path, [(kind, 8_000) for kind in sorted(FLAT)])
    by_file = _check_in_a_child(tmp_path)
    for name, what in names.items():
        _assert_result_or_clear_kl000(by_file.get(name, []), what)


def test_the_reported_crashes_are_now_checked_in_full(tmp_path: Path) -> None:
    """The issue's shapes (8,000 `and` terms, a 6,000-part dotted import) get a real result."""
    sizes = {"and": 8_000, "or": 8_000, "dotted import": 6_000, "from import": 6_000}
    names = _write(tmp_path, [*sizes.items(), ("attribute", 2_500)])
    by_file = _check_in_a_child(tmp_path)
    for name, what in names.items():
        found = [(d["code"], d["location"]["row"]) for d in by_file.get(name, [])]
        assert found == [("KL008", BAD_ROW)], (what, by_file.get(name))


def test_a_run_too_long_even_for_the_deep_stack_is_checked() -> None:
    """Past the measured budget LibCST never sees the file (no fix needs it here); the
    facts come from CPython's tree, which holds the chain flat."""
    text = BAD + FLAT["and"](150_000) + "\n"
    assert len(text) > DEEP_STACK_SAFE_BYTES
    assert engine._shape_error(text) is not None
    (diagnostic,) = check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics
    assert diagnostic.code == "KL008" and diagnostic.location.row == BAD_ROW


def test_trusted_parse_skips_validation_only_while_it_parses() -> None:
    """Text CPython accepted is parsed without LibCST's per-node validation (~30% of a
    parse); the tree is the same, and nodes built afterwards are validated again."""
    text = (
        "import keras\nbase = keras.applications.ResNet50(weights=None)\nbase.trainable = False\n"
    )
    trusted = engine._parse(text, deep_stack=False, trusted=True)
    checked = engine._parse(text, deep_stack=False)
    assert trusted.deep_equals(checked) and trusted.code == text
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")
    threaded = on_deep_stack(lambda: engine._parse_here(text, trusted=True))
    assert threaded.deep_equals(checked)
    with pytest.raises(cst.CSTValidationError):
        cst.Name("1abc")


_PIECES = [
    "import keras\n",
    "# a comment between statements\n",
    "\n",
    "x = 1; y = 2\n",
    "@decorator\ndef f(a):\n  if a:\n    return 1\n  # trailing comment of the body\n",
    "class C:\n    '''doc'''\n    def m(self):\n        pass\n",
    "base = keras.applications.ResNet50(weights=None)\nbase.trainable = False\n",
    "s = '''a\nstring over lines'''\n",
    "if x:\n    pass\nelse:\n    y = (1,\n         2)\n",
]


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
)
def test_a_long_file_parsed_in_pieces_is_the_file_parsed_in_one_go(parts, newline, trailing):
    """Large trusted files are parsed in pieces (LibCST's peak while parsing is about twice
    the tree): the joined module must be the one a single parse gives, code and tree."""
    text = "".join(parts).replace("\n", newline)
    if not trailing:
        text = text.rstrip("\r\n")
    try:
        compile(text, "<test>", "exec")
    except SyntaxError:
        return
    whole = cst.parse_module(text)
    original = engine.CHUNK_BYTES
    engine.CHUNK_BYTES = 40  # small pieces, many cuts
    try:
        pieces = engine._parse_in_pieces(text)
    finally:
        engine.CHUNK_BYTES = original
    if pieces is None:
        return
    assert pieces.code == text
    assert pieces.deep_equals(whole)
    assert (pieces.default_indent, pieces.default_newline, pieces.has_trailing_newline) == (
        whole.default_indent,
        whole.default_newline,
        whole.has_trailing_newline,
    )


def test_the_engine_parses_a_large_file_in_pieces(tmp_path: Path) -> None:
    """Above 2 x CHUNK_BYTES a trusted file is cut: the same findings as one parse would give."""
    lines = ["import keras", ""]
    for i in range(6000):
        lines += [f"m_{i} = keras.layers.Dense({i})", f'm_{i}.trainable = "False"']
    text = "\n".join(lines) + "\n"
    assert len(text) > 2 * engine.CHUNK_BYTES
    assert engine._parse_in_pieces(text) is not None
    source = Source(tmp_path / "big.py", "big.py", text)
    found = check_source(source, ALL).diagnostics
    assert [d.code for d in found] == ["KL008"] * 6000
    assert found[-1].location.row == len(lines)
