"""`# noqa` read from comment tokens, multi-line statements, file-level directives, KL900."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kerlint.engine import check_source
from kerlint.fixes import fix_file
from kerlint.rules import registry
from kerlint.source import Source
from kerlint.suppress import find_suppressions

HEAD = "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2)])\n"
ALL = frozenset(rule.code for rule in registry.all_rules())
BAD_LINE = 'model.layers[0].trainable = "False"'


def reported(text: str, codes: frozenset[str] = ALL) -> list[tuple[int, str]]:
    result = check_source(Source(Path("t.py"), "t.py", HEAD + text), codes)
    return [(d.location.row - 3, d.code) for d in result.diagnostics]


@pytest.mark.parametrize(
    "comment, suppressed",
    [
        ("# noqa", True),
        ("# noqa: KL008", True),
        ("#noqa:KL008", True),
        ("# NOQA: KL001,KL008", True),
        ("# noqa: KL001", False),
        ("# noqa: KL0080", False),
        ("# some reason # noqa: KL008", True),
    ],
)
def test_line_directives(comment: str, suppressed: bool) -> None:
    found = reported(f"{BAD_LINE}  {comment}\n", frozenset({"KL008"}))
    assert (found == []) is suppressed


def test_noqa_inside_a_string_is_not_a_comment() -> None:
    text = f'{BAD_LINE}; note = "# noqa: KL008"\n'
    assert reported(text, frozenset({"KL008"})) == [(1, "KL008")]
    # Nor a file-level directive written in a string or a docstring.
    doc = f'"""\n# kerlint: noqa\n"""\n{BAD_LINE}\n'
    assert reported(doc, frozenset({"KL008"})) == [(4, "KL008")]


def test_noqa_on_the_first_or_last_line_of_a_multi_line_statement() -> None:
    formatted = 'model.layers[0].trainable = (\n    "False"\n)'
    codes = frozenset({"KL008"})
    assert reported(formatted + "\n", codes) == [(1, "KL008")]
    assert reported(formatted + "  # noqa: KL008\n", codes) == []  # where ruff format puts it
    first = formatted.replace("(\n", "(  # noqa: KL008\n", 1)
    assert reported(first + "\n", codes) == []
    middle = formatted.replace('"False"', '"False"  # noqa: KL008')
    assert reported(middle + "\n", codes) == [(1, "KL008")]


def test_statement_rows_follow_libcst_line_breaks() -> None:
    """A file with CR line endings counts rows as LibCST does."""
    text = HEAD.replace("\n", "\r") + BAD_LINE + "  # noqa: KL008\r"
    result = check_source(Source(Path("t.py"), "t.py", text), frozenset({"KL008"}))
    assert result.diagnostics == []


def test_file_level_directives_only_from_comments_on_their_own_line() -> None:
    codes = frozenset({"KL008"})
    assert reported(f"# kerlint: noqa\n{BAD_LINE}\n", codes) == []
    assert reported(f"# kerlint: noqa: KL008\n{BAD_LINE}\n", codes) == []
    assert reported(f"# ruff: noqa: KL008\n{BAD_LINE}\n", codes) == []
    # A bare file-level noqa for ruff (or flake8) speaks of their rules: kerlint reports.
    assert reported(f"# ruff: noqa\n{BAD_LINE}\n", codes) == [(2, "KL008")]
    assert reported(f"# flake8: noqa\n{BAD_LINE}\n", codes) == [(2, "KL008")]
    assert reported(f"x = 1  # kerlint: noqa\n{BAD_LINE}\n", codes) == [(2, "KL008")]


def test_unreadable_tokens_keep_the_directives_read_before() -> None:
    suppressions = find_suppressions("x = 1  # noqa: KL008\ny = (\n")
    assert [d.codes for d in suppressions.directives()] == [("KL008",)]


def test_kl900_unused_and_unknown_codes() -> None:
    codes = frozenset({"KL008", "KL001", "KL900"})
    assert reported(f"{BAD_LINE}  # noqa: KL008\n", codes) == []
    assert reported("model.trainable = False  # noqa: KL008\n", codes) == [(1, "KL900")]
    assert reported("model.trainable = False  # noqa: KL999\n", codes) == [(1, "KL900")]
    assert reported(f"{BAD_LINE}  # noqa: KL008, KL001\n", codes) == [(1, "KL900")]
    # Silent: a bare noqa, other tools' codes, codes not selected, KL900 named, --ignore-noqa.
    for comment in ("# noqa", "# noqa: E501", "# noqa: KL003", "# noqa: KL999, KL900"):
        assert reported(f"model.trainable = False  {comment}\n", codes) == [], comment
    assert reported("# kerlint: noqa: KL900\nmodel.trainable = False  # noqa: KL008\n", codes) == []


def test_kl900_message_as_ruff_writes_it() -> None:
    codes = frozenset({"KL008", "KL900"})
    text = HEAD + "model.trainable = False  # noqa: KL008, KL777\n"
    [diagnostic] = check_source(Source(Path("t.py"), "t.py", text), codes).diagnostics
    assert diagnostic.message.startswith(
        "Unused `noqa` directive (unused: `KL008`; unknown: `KL777`)"
    )
    assert diagnostic.location.column == len("model.trainable = False  ") + 1


@pytest.mark.parametrize(
    "line, fixed",
    [
        ("model.trainable = False  # noqa: KL008\n", "model.trainable = False\n"),
        (
            "model.trainable = False  # noqa: KL008, E501\n",
            "model.trainable = False  # noqa: E501\n",
        ),
        (
            "model.trainable = False  # noqa: KL008  # kept reason\n",
            "model.trainable = False  # kept reason\n",
        ),
        (
            "model.trainable = False  # type: ignore  # noqa: KL008\n",
            "model.trainable = False  # type: ignore\n",
        ),
    ],
)
def test_kl900_fix_removes_the_directive_or_the_codes(
    tmp_path: Path, line: str, fixed: str
) -> None:
    path = tmp_path / "t.py"
    path.write_text(HEAD + line)
    codes = frozenset({"KL008", "KL900"})
    from kerlint.engine import check_file

    outcome = fix_file(check_file(path, codes), codes, unsafe=False)
    assert outcome is not None and outcome.data is not None
    assert outcome.data.decode() == HEAD + fixed
    assert outcome.result.diagnostics == []


def test_kl900_in_a_notebook_points_at_the_cell(tmp_path: Path) -> None:
    from kerlint.engine import check_file

    cells = [HEAD, "model.trainable = False  # noqa: KL008\n"]
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": c,
                "outputs": [],
                "execution_count": None,
            }
            for c in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(notebook))
    [diagnostic] = check_file(path, frozenset({"KL008", "KL900"})).diagnostics
    assert (diagnostic.code, diagnostic.cell, diagnostic.location.row) == ("KL900", 2, 1)


def test_ignore_noqa_reports_what_comments_hide(tmp_path: Path, monkeypatch, run_cli) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.py").write_text(HEAD + BAD_LINE + "  # noqa: KL008\n")
    assert run_cli("check", "t.py").exit_code == 0
    result = run_cli("check", "t.py", "--ignore-noqa")
    assert result.exit_code == 1 and "KL008" in result.output
    # The cache keeps the two apart.
    assert run_cli("check", "t.py").exit_code == 0
    assert run_cli("check", "t.py", "--ignore-noqa", "--extend-select", "KL900").exit_code == 1


def test_kl900_reads_and_fixes_as_ruff_100_does(tmp_path: Path) -> None:
    """The same directive, a stale code in it: ruff's RUF100 and KL900 report the same column
    and message shape, and their fixes leave the same line."""
    import os
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    theirs = tmp_path / "theirs.py"
    theirs.write_text("import sys  # noqa: F401, F811\nprint(sys)\n")
    ours = HEAD + "model.trainable = False  # noqa: KL008, KL001\n"
    env = {**os.environ, "NO_COLOR": "1"}
    base = [ruff, "check", "--isolated", "--select", "F401,F811,RUF100", str(theirs)]
    report = subprocess.run([*base, "--output-format", "json"], capture_output=True, env=env)
    [ruff_finding] = json.loads(report.stdout)
    codes = frozenset({"KL008", "KL001", "KL900"})
    [finding] = check_source(Source(Path("t.py"), "t.py", ours), codes).diagnostics
    assert ruff_finding["message"].startswith("Unused `noqa` directive (unused: `F401`, `F811`)")
    assert finding.message.startswith("Unused `noqa` directive (unused: `KL008`, `KL001`)")
    assert ruff_finding["location"]["column"] == len("import sys  ") + 1
    assert finding.location.column == len("model.trainable = False  ") + 1
    subprocess.run([*base, "--fix"], capture_output=True, env=env)
    assert theirs.read_text().splitlines()[0] == "import sys"
    path = tmp_path / "ours.py"
    path.write_text(ours)
    from kerlint.engine import check_file

    outcome = fix_file(check_file(path, codes), codes, unsafe=False)
    assert outcome is not None and outcome.data is not None
    assert outcome.data.decode().splitlines()[-1] == "model.trainable = False"
