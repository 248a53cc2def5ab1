"""Hostile files around the sources: codecs, notebooks, baselines, cache entries, stdin.

Each becomes a KL000 for its file (the run goes on) or a configuration error (exit 2), never
a traceback, a hang or an unbounded read. Every input is generated here.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import BAD, CLEAN, run_process
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kerlint.cache import CACHE_DIR_NAME, Cache
from kerlint.engine import check_source
from kerlint.rules import registry
from kerlint.source import Source, neutralise_magics, read_source

ALL = frozenset(rule.code for rule in registry.all_rules())
BAD_ROW = 4


def _json_report(completed) -> list[dict]:
    assert completed.returncode in (0, 1), completed.stderr.decode()[-3000:]
    assert b"Traceback" not in completed.stderr, completed.stderr.decode()[-3000:]
    return json.loads(completed.stdout)


def _by_name(report: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in report:
        found.setdefault(Path(item["filename"]).name, []).append(item)
    return found


# ------------------------------------------------------------------------------ codecs


@pytest.mark.parametrize("codec", ["undefined", "punycode", "utf-16", "utf-32", "rot13", "hex"])
def test_a_cookie_naming_a_codec_that_cannot_decode_is_a_kl000(codec: str, tmp_path: Path) -> None:
    (tmp_path / "cookie.py").write_bytes(f"# coding: {codec}\n".encode() + BAD.encode())
    (tmp_path / "good.py").write_text(BAD, encoding="utf-8")
    found = _by_name(
        _json_report(
            run_process(
                "check", "--isolated", "--no-cache", "--output-format", "json", ".", cwd=tmp_path
            )
        )
    )
    assert [d["code"] for d in found["cookie.py"]] == ["KL000"]
    assert codec in found["cookie.py"][0]["message"]
    assert [d["code"] for d in found["good.py"]] == ["KL008"]


# ------------------------------------------------------------------------------ notebooks


def _cell(source: object) -> dict:
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {},
        "outputs": [],
        "execution_count": None,
    }


def _notebook(cells: list[dict], metadata: object = None) -> str:
    return json.dumps(
        {
            "cells": cells,
            "metadata": metadata if metadata is not None else {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


HOSTILE_NOTEBOOKS = {
    "int_in_source.ipynb": (_notebook([_cell(["import keras\n", 3])]), "not text"),
    "null_source.ipynb": (_notebook([_cell(BAD), _cell(None)]), "code cell 2"),
    "dict_source.ipynb": (_notebook([_cell({"import keras": 1})]), "not text"),
    # (Each says "keras": a file that never does is never decoded, so never a KL000.)
    "nested.ipynb": (
        '{"cells": [], "metadata": {"keras": ' + "[" * 100_000 + "]" * 100_000 + "}}",
        "nested too deeply",
    ),
    "surrogate.ipynb": (_notebook([_cell("import keras  # \ud800\n" + BAD)]), "surrogate"),
    "surrogate_late.ipynb": (_notebook([_cell(BAD + "x = '\udfff'\n")]), "line 5"),
    # Odd metadata is not a reason to skip or fail: the code is checked.
    "language_list.ipynb": (_notebook([_cell(BAD)], {"language_info": ["python"]}), BAD_ROW),
    "language_str.ipynb": (_notebook([_cell(BAD)], {"language_info": "python"}), BAD_ROW),
    "language_int.ipynb": (_notebook([_cell(BAD)], {"language_info": {"name": 3}}), BAD_ROW),
    "metadata_list.ipynb": (_notebook([_cell(BAD)], [1, 2]), BAD_ROW),
}


@pytest.mark.parametrize("output_format", ["full", "json"])
def test_hostile_notebooks_are_kl000_or_checked(output_format: str, tmp_path: Path) -> None:
    for name, (text, _) in HOSTILE_NOTEBOOKS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    completed = run_process(
        "check", "--isolated", "--no-cache", "--output-format", output_format, ".", cwd=tmp_path
    )
    assert completed.returncode == 1, completed.stderr.decode()[-3000:]
    assert completed.stderr == b"", completed.stderr.decode()[-3000:]
    if output_format != "json":
        return
    found = _by_name(json.loads(completed.stdout))
    for name, (_, expected) in HOSTILE_NOTEBOOKS.items():
        if isinstance(expected, int):
            assert [(d["code"], d["location"]["row"]) for d in found[name]] == [
                ("KL008", expected)
            ], name
        else:
            (diagnostic,) = found[name]
            assert diagnostic["code"] == "KL000" and expected in diagnostic["message"], (
                name,
                diagnostic,
            )


def test_a_comment_ending_in_a_question_mark_is_not_ipython_help() -> None:
    cell = "import keras\nmodel = keras.Sequential(\n    [keras.layers.Dense(3)],  # why?\n)\n"
    cell += "model.trainable = 'False'\nmodel?\nif True:\n  model??\n"
    assert neutralise_magics(cell).splitlines() == [
        *cell.splitlines()[:5],
        "pass",
        "if True:",
        "  pass",
    ]
    notebook = _notebook([_cell(cell)])
    source = read_source(Path("n.ipynb"), "n.ipynb", notebook.encode())
    assert [(d.code, d.location.row) for d in check_source(source, ALL).diagnostics] == [
        ("KL008", 5)
    ]


def test_only_lines_that_start_a_statement_are_ipython() -> None:
    code = 'f(a,\n  %not_magic)\ns = """\n!not shell\nwhat?\n"""\nx = 1 \\\n  ?\n!shell\n'
    assert neutralise_magics(code).splitlines() == [*code.splitlines()[:-1], "pass"]


# ------------------------------------------------------------------------------ baselines


def _hostile_json(path: Path, kind: str) -> None:
    if kind == "nested":
        path.write_text(
            '{"kerlint_baseline": 1, "entries": ' + "[" * 100_000 + "]" * 100_000 + "}",
            encoding="utf-8",
        )
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "infinite count":
        path.write_text(
            '{"kerlint_baseline": 1, "entries": [{"file": "a.py", "code": "KL008",'
            ' "fingerprint": "x", "count": Infinity}]}',
            encoding="utf-8",
        )
    elif kind == "entries not a list":
        path.write_text('{"kerlint_baseline": 1, "entries": 3}', encoding="utf-8")
    elif kind == "folder":
        path.mkdir()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
@pytest.mark.parametrize(
    "kind", ["nested", "fifo", "zero", "infinite count", "entries not a list", "folder"]
)
def test_a_hostile_baseline_is_a_configuration_error(kind: str, tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD, encoding="utf-8")
    _hostile_json(tmp_path / "baseline.json", kind)
    completed = run_process(
        "check", "--isolated", "--no-cache", "--baseline", "baseline.json", "a.py", cwd=tmp_path
    )
    assert completed.returncode == 2, completed.stderr.decode()[-2000:]
    assert b"Traceback" not in completed.stderr
    assert b"baseline" in completed.stderr


# ------------------------------------------------------------------------------ the cache


def _the_entry(cache_dir: Path) -> Path:
    (entry,) = sorted(cache_dir.glob("v*/*/*.json"))
    return entry


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
@pytest.mark.parametrize("kind", ["nested", "fifo", "zero", "huge"])
def test_a_hostile_cache_entry_is_a_miss(kind: str, tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD, encoding="utf-8")
    args = (
        "check",
        "--isolated",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--output-format",
        "json",
        "a.py",
    )
    first = run_process(*args, cwd=tmp_path)
    entry = _the_entry(tmp_path / "cache")
    entry.unlink()
    if kind == "nested":
        entry.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    elif kind == "fifo":
        os.mkfifo(entry)
    elif kind == "zero":
        entry.symlink_to("/dev/zero")
    else:
        with entry.open("wb") as file:
            file.truncate(64 * 1024 * 1024)  # sparse: no disk used
    second = run_process(*args, cwd=tmp_path)  # would hang or fill the memory before
    assert second.returncode == first.returncode == 1, second.stderr.decode()[-2000:]
    assert second.stdout == first.stdout


def test_the_cache_never_claims_a_folder_it_did_not_make(tmp_path: Path) -> None:
    """`--cache-dir .` once wrote a `.gitignore` of `*` into the project: every later
    `kerlint check .` then skipped every file and passed."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(BAD, encoding="utf-8")
    for _ in range(2):
        completed = run_process("check", "--isolated", "--cache-dir", ".", ".", cwd=project)
        assert completed.returncode == 1, completed.stderr.decode()
        assert b"train.py:4:1: KL008" in completed.stdout
    assert not (project / ".gitignore").exists()
    assert not (project / "CACHEDIR.TAG").exists()
    assert (project / CACHE_DIR_NAME / ".gitignore").read_text() == "# Created by kerlint.\n*\n"
    assert list((project / CACHE_DIR_NAME).glob("v*/*/*.json"))


def test_a_folder_the_cache_made_stays_its_own(tmp_path: Path) -> None:
    cache, _ = Cache.open(tmp_path / "made", salt="t")
    assert cache is not None and cache.directory == tmp_path / "made"
    again, _ = Cache.open(tmp_path / "made", salt="t")
    assert again is not None and again.directory == tmp_path / "made"
    (tmp_path / "existing").mkdir()
    elsewhere, _ = Cache.open(tmp_path / "existing", salt="t")
    assert elsewhere is not None and elsewhere.directory == tmp_path / "existing" / CACHE_DIR_NAME
    assert list((tmp_path / "existing").iterdir()) == [tmp_path / "existing" / CACHE_DIR_NAME]


# ------------------------------------------------------------------------------ stdin


@pytest.mark.parametrize("mode", ["--fix", "--diff", None])
def test_fixing_a_closed_stdin_is_a_kl000(mode: str | None, tmp_path: Path) -> None:
    import subprocess

    args = [sys.executable, "-m", "kerlint", "check", "--isolated", "-"]
    if mode:
        args.insert(-1, mode)
    completed = subprocess.run(
        args,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        pass_fds=(),
        close_fds=True,
        preexec_fn=lambda: os.close(0),
    )
    assert completed.returncode in (0, 1), completed.stderr.decode()[-2000:]
    assert b"Traceback" not in completed.stderr
    if mode != "--diff":
        assert b"KL000 cannot read standard input" in completed.stdout


# ------------------------------------------------------------------------------ valid code


@pytest.mark.parametrize("parts", [3_500, 10_000])
@pytest.mark.parametrize("layout", ["one line", "one per line"])
def test_long_implicit_concatenations_are_checked(parts: int, layout: str) -> None:
    """LibCST reads at most 3,000 strings in a row; the middle ones are blanked for it."""
    strings = ["'a'", "b'x'"[1:], '"c"  # a comment'] * (parts // 3 + 1)
    if layout == "one line":
        run = "x = " + " ".join(s.split("  #")[0] for s in strings[:parts]) + "\n"
    else:
        run = "x = (\n" + "\n".join("    " + s for s in strings[:parts]) + "\n)\n"
    text = run + BAD + run
    (diagnostic,) = check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics
    assert diagnostic.code == "KL008"
    assert diagnostic.location.row == run.count("\n") + BAD_ROW


def test_a_fix_beside_a_long_concatenation_is_applied(tmp_path: Path) -> None:
    run = "x = (\n" + "\n".join(["    'a'"] * 4_000) + "\n)\n"
    path = tmp_path / "t.py"
    path.write_text(run + BAD, encoding="utf-8")
    completed = run_process("check", "--isolated", "--no-cache", "--fix", "t.py", cwd=tmp_path)
    assert completed.returncode == 0, (completed.stdout, completed.stderr)
    assert path.read_text(encoding="utf-8") == run + CLEAN


def test_too_many_comprehension_clauses_are_checked() -> None:
    """LibCST reads at most 3,000 `for` clauses; the facts come from CPython's tree."""
    text = BAD + "x = [a " + " ".join(["for a in b"] * 3_500) + "]\n"
    (diagnostic,) = check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics
    assert diagnostic.code == "KL008" and diagnostic.location.row == BAD_ROW


@pytest.mark.parametrize(
    "spelling", ["\uff4dodel", "\uff4d\uff4f\uff44\uff45\uff4c", "\U0001d426odel", "model"]
)
def test_identifiers_are_read_as_python_reads_them(spelling: str) -> None:
    """A fullwidth `m` is `m` to Python (NFKC): the finding is the same, the fix keeps the text."""
    import unicodedata

    assert unicodedata.normalize("NFKC", spelling) == "model"
    text = BAD.replace(
        'model.layers[0].trainable = "False"', f'{spelling}.layers[0].trainable = "False"  # café'
    )
    source = Source(Path("t.py"), "t.py", text)
    (diagnostic,) = check_source(source, ALL).diagnostics
    assert (diagnostic.code, diagnostic.location.row, diagnostic.location.column) == ("KL008", 4, 1)
    (edit,) = diagnostic.fix.edits
    start = len(spelling) + len(".layers[0].trainable = ") + 1
    assert (edit.content, edit.location.column, edit.end_location.column) == (
        "False",
        start,
        start + 7,
    )


def test_a_name_whose_normal_form_is_longer_is_left_as_written() -> None:
    text = BAD + "\ufb01t = 1\nx = \ufb01t\n"  # `ﬁt` is `fit`: two characters for one
    assert [d.code for d in check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics] == [
        "KL008"
    ]


@pytest.mark.parametrize(
    "statement",
    ["(x): int = 1", "(a.b): int = 1", "((x)): int", "( x ) : int = 1", "(é): str = 'é'"],
)
def test_a_parenthesized_annotated_target_is_valid_code(statement: str) -> None:
    """Python accepts `(x): int = 1`; LibCST does not: the brackets are taken out for it."""
    text = statement + "\n" + BAD + "if True:\n    " + statement + "\n"
    found = check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics
    assert [(d.code, d.location.row) for d in found] == [("KL008", BAD_ROW + 1)]


@settings(max_examples=150, deadline=None)
@given(
    indents=st.lists(st.text(alphabet=" \t", min_size=1, max_size=6), min_size=3, max_size=3),
    docstring_tab=st.booleans(),
)
def test_tab_and_space_mixes_python_accepts_are_checked(indents, docstring_tab) -> None:
    """Python accepts a tab/space mix that is unambiguous at tab sizes 8 and 1; LibCST
    needed each block's indentation to start with its parent's. Spaced out one for one,
    every row and column stays (a tab inside a docstring is left as it is)."""
    a, b, c = indents
    block = f"def f():\n{a}'''doc\n\tline'''\n{a}if y:\n{b}z = 2\n{c}w = 3\n"
    text = BAD + (block if docstring_tab else block.replace("\tline", "line"))
    try:
        compile(text, "t.py", "exec", flags=ast.PyCF_ONLY_AST)
    except SyntaxError:
        return  # not Python: nothing to hold kerlint to
    found = check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics
    assert [(d.code, d.location.row) for d in found] == [("KL008", BAD_ROW)]


# A program with findings on nested rows (KL002, KL001 and KL008 inside `if` blocks).
FORM_FEED_PROGRAM = """import keras
def train(x, y):
    base = keras.applications.ResNet50(weights=None, include_top=False)
    model = keras.Sequential([base, keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    if x:
        base.trainable = False
        if y:
            model.layers[0].trainable = "no"
        model.fit(x, y)
    return model
"""


@settings(max_examples=150, deadline=None)
@given(
    prefixes=st.lists(
        st.one_of(st.just(""), st.text(alphabet=" \t", max_size=5).map(lambda t: t + "\f")),
        min_size=12,
        max_size=12,
    ),
)
@example(prefixes=["", "", "  \f", "", "", "", "", "\f", "\t\f", "", "", ""])
def test_form_feeds_in_indentation_are_read_as_python_reads_them(prefixes) -> None:
    """Python restarts the indentation count at a form feed (`"  \\f    x"` is indented by
    four); LibCST rejected such blocks or re-indented them and gave columns of text it had
    changed. The same findings, at the same text, with or without them."""
    rows = FORM_FEED_PROGRAM.splitlines(keepends=True)
    text = "".join(prefix + row for prefix, row in zip(prefixes, rows, strict=True))
    compile(text, "t.py", "exec", flags=ast.PyCF_ONLY_AST)  # the same program to Python
    plain = check_source(Source(Path("t.py"), "t.py", FORM_FEED_PROGRAM), ALL).diagnostics
    found = check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics
    assert [d.code for d in found] == [d.code for d in plain] and "KL000" not in str(found)
    lines = text.split("\n")  # not splitlines(): it breaks at form feeds too
    for mine, theirs in zip(found, plain, strict=True):
        row, column = mine.location.row, mine.location.column
        assert row == theirs.location.row
        assert (
            lines[row - 1][column - 1 :] == rows[row - 1].rstrip("\n")[theirs.location.column - 1 :]
        )
        # A fix offered edits the same text (its span comes from CPython's tree of this
        # text); one built from LibCST's tree is not offered where LibCST reads it otherwise.
        if mine.fix is None:
            continue
        assert theirs.fix is not None
        for edit, same in zip(mine.fix.edits, theirs.fix.edits, strict=True):
            assert edit.content == same.content and edit.location.row == same.location.row
            start, end = edit.location.column - 1, edit.end_location.column - 1
            theirs_start, theirs_end = same.location.column - 1, same.end_location.column - 1
            assert (
                lines[edit.location.row - 1][start:end]
                == rows[same.location.row - 1][theirs_start:theirs_end]
            )


def test_a_form_feed_block_libcst_rejected_is_checked() -> None:
    text = BAD + "if x:\n  if y:\n\f    z = 2\n    w = 3\n"
    found = check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics
    assert [(d.code, d.location.row) for d in found] == [("KL008", BAD_ROW)]


@pytest.mark.parametrize("literal", ["0x" + "f" * 5_000, "1" + "0" * 4_200, "-0b" + "1" * 20_000])
def test_a_huge_integer_literal_is_reported_not_an_internal_error(literal: str) -> None:
    """Past 4,300 decimal digits `repr(int)` raises: the message shows the number cut short."""
    text = BAD.replace('"False"', literal)
    (diagnostic,) = check_source(Source(Path("t.py"), "t.py", text), ALL).diagnostics
    assert diagnostic.code == "KL008" and diagnostic.location.row == BAD_ROW
    assert "..." in diagnostic.message and len(diagnostic.message) < 300
