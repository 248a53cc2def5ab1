"""The server's pure parts, without a client: positions, noqa placement, edits, sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from kerlint.engine import check_source
from kerlint.server.actions import minimal_change, noqa_edit
from kerlint.server.documents import Cell, notebook_source, python_source
from kerlint.server.positions import UTF8, UTF16, UTF32, LineIndex
from kerlint.server.project import ProjectSettings, check_document
from kerlint.source import SourceError, read_source


def _apply(text: str, change) -> str:
    return text[: change.start] + change.content + text[change.end :]


# ---------------------------------------------------------------------------- positions


@pytest.mark.parametrize(("encoding", "expected"), [(UTF8, 9), (UTF16, 7), (UTF32, 6)])
def test_a_column_after_an_emoji_is_counted_in_the_client_units(encoding, expected) -> None:
    text = 'a = 1\nx = "😀"; y\n'
    index = LineIndex(text)
    # kerlint's row 2, column 10 (1-based code points) is the `y`: 9 characters before it.
    offset = index.offset(2, 10)
    assert text[offset] == "y"
    line, character = index.to_client(offset, encoding)
    assert line == 1
    assert character == {UTF8: 12, UTF16: 10, UTF32: 9}[encoding]
    assert index.from_client(1, character, encoding) == offset
    # The closing quote: after the emoji.
    quote = text.index('";')
    assert index.to_client(quote, encoding) == (1, expected)


def test_line_breaks_are_the_three_the_protocol_and_libcst_count() -> None:
    text = "a\r\nb\rc\nd\x0ce\u2028f"
    index = LineIndex(text)
    assert [index.line(i) for i in range(index.line_count)] == ["a", "b", "c", "d\x0ce\u2028f"]
    assert index.to_client(text.index("f"), UTF16) == (3, 4)


def test_client_positions_past_a_line_or_inside_a_pair_are_clamped() -> None:
    index = LineIndex("😀x\nab\n")
    assert index.from_client(0, 1, UTF16) == 0  # inside the surrogate pair: before the emoji
    assert index.from_client(0, 2, UTF16) == 1
    assert index.from_client(1, 99, UTF16) == len("😀x\nab")
    assert index.from_client(99, 0, UTF16) == len("😀x\nab\n")


# ---------------------------------------------------------------------------- noqa


def test_noqa_goes_on_the_first_line_of_a_multi_line_statement() -> None:
    text = 'import keras\nconfigure(model,\n          trainable="False")\nz = 1\n'
    change = noqa_edit(text, 3, "KL008")
    assert _apply(text, change).splitlines()[1] == "configure(model,  # noqa: KL008"


def test_noqa_goes_on_the_last_line_when_the_first_cannot_hold_a_comment() -> None:
    backslash = "x = 1 + \\\n    model.trainable\n"
    assert _apply(backslash, noqa_edit(backslash, 2, "KL010")).splitlines() == [
        "x = 1 + \\",
        "    model.trainable  # noqa: KL010",
    ]
    in_string = 'f(model, """doc\nmore""", trainable="no")\n'
    assert _apply(in_string, noqa_edit(in_string, 1, "KL008")).splitlines()[1] == (
        'more""", trainable="no")  # noqa: KL008'
    )


def test_noqa_extends_an_existing_list_and_keeps_other_comments() -> None:
    text = "model.trainable = 0  # noqa: KL001\n"
    assert (
        _apply(text, noqa_edit(text, 1, "KL008")) == "model.trainable = 0  # noqa: KL001, KL008\n"
    )
    assert noqa_edit("model.trainable = 0  # noqa: KL008\n", 1, "KL008") is None
    assert noqa_edit("model.trainable = 0  # noqa\n", 1, "KL008") is None
    other = "model.trainable = 0  # why: it was\n"
    assert _apply(other, noqa_edit(other, 1, "KL008")) == (
        "model.trainable = 0  # why: it was  # noqa: KL008\n"
    )
    hash_in_string = 'model.trainable = "#no"   \n'
    assert _apply(hash_in_string, noqa_edit(hash_in_string, 1, "KL008")) == (
        'model.trainable = "#no"  # noqa: KL008\n'
    )


def test_noqa_in_a_cell_with_magics_and_after_a_syntax_error() -> None:
    cell = "%matplotlib inline\nmodel.trainable = 0\n"
    assert _apply(cell, noqa_edit(cell, 2, "KL008")).endswith(
        "model.trainable = 0  # noqa: KL008\n"
    )
    broken = "model.trainable = 0\nx = (\n"
    assert _apply(broken, noqa_edit(broken, 1, "KL008")).startswith(
        "model.trainable = 0  # noqa: KL008\n"
    )
    assert noqa_edit("x = 1\n", 5, "KL008") is None


# ---------------------------------------------------------------------------- edits


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("abc", "abc"),
        ("a = 1\nb = 2\n", "a = 1\nb = 3\n"),
        ("x\r\ny\r\n", "x\r\nz\r\ny\r\n"),
        ("", "new"),
        ("old", ""),
        ("aaaa", "aa"),
    ],
)
def test_minimal_change_turns_one_text_into_the_other(before: str, after: str) -> None:
    change = minimal_change(before, after)
    if before == after:
        assert change is None
        return
    assert _apply(before, change) == after
    for at in (change.start, change.end):  # never between \r and \n
        assert not (0 < at < len(before) and before[at - 1] == "\r" and before[at] == "\n")


# ---------------------------------------------------------------------------- sources


def test_a_notebook_is_joined_exactly_as_check_reads_the_file(tmp_path: Path) -> None:
    cells = [
        Cell("c0", False, "markdown", "# Title with keras"),
        Cell("c1", True, "python", "import keras\n%time\nmodel = keras.Sequential([])\n"),
        Cell("c2", True, "sql", "SELECT 1"),
        Cell("c3", True, "python", "model.trainable = 'False'"),
    ]
    source = notebook_source(tmp_path / "n.ipynb", "n.ipynb", cells)
    assert [(span.cell, span.index) for span in source.cells] == [(1, 1), (2, 3)]
    [diagnostic] = check_source(source, frozenset({"KL008"})).diagnostics
    assert (diagnostic.cell, diagnostic.location.row) == (2, 1)
    # The same program as `kerlint check` builds from the file on disk.
    import json

    on_disk = tmp_path / "disk.ipynb"
    on_disk.write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "markdown", "metadata": {}, "source": cells[0].text},
                    {"cell_type": "code", "metadata": {}, "source": cells[1].text, "outputs": []},
                    {"cell_type": "raw", "metadata": {}, "source": cells[2].text},
                    {"cell_type": "code", "metadata": {}, "source": cells[3].text, "outputs": []},
                ],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        ),
        encoding="utf-8",
    )
    assert read_source(on_disk).text == source.text


def test_python_text_is_refused_where_check_refuses_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    assert python_source(path, "a.py", "\ufeffimport keras\n").text == "import keras\n"
    assert python_source(path, "a.py", "a\r\nb\r\n").newline == "\r\n"
    with pytest.raises(SourceError, match="NUL"):
        python_source(path, "a.py", "x\n\x00")
    with pytest.raises(SourceError, match="surrogate"):
        python_source(path, "a.py", "x = '\ud800'")


def test_settings_follow_the_nearest_configuration_and_its_edits(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.kerlint]\nselect = ["KL008"]\n')
    path = tmp_path / "a.py"
    text = "import keras\nmodel = keras.Sequential([])\nmodel.trainable = 0\n"
    source = python_source(path, "a.py", text)
    project = ProjectSettings(tmp_path)
    assert [d.code for d in check_document(project, path, source).result.diagnostics] == ["KL008"]
    (tmp_path / "pyproject.toml").write_text('[tool.kerlint]\nselect = ["KL003"]\n')
    # An edited file is read again (its mtime moved) even without a watcher's notice.
    import os

    os.utime(tmp_path / "pyproject.toml", ns=(1, 1))
    assert check_document(project, path, source).result.diagnostics == []


# ---------------------------------------------------------------------------- reports


def _report(tmp_path: Path, text: str, encoding: str = "utf-16"):
    from kerlint.server.lsp import Snapshot, build_report

    path = tmp_path / "a.py"
    snapshot = Snapshot(path.as_uri(), 1, path, str(path), text=text)
    return build_report(ProjectSettings(tmp_path), snapshot, 0, encoding)


def _fix_all(report, text: str) -> str:
    from lsprotocol import types

    from kerlint.server.lsp import code_actions

    [uri] = report.targets
    params = types.CodeActionParams(
        types.TextDocumentIdentifier(uri),
        types.Range(types.Position(0, 0), types.Position(0, 0)),
        types.CodeActionContext(diagnostics=[], only=["source.fixAll"]),
    )
    [action] = code_actions(report, uri, params, "utf-16")
    [edit] = action.edit.changes[uri]
    lines = LineIndex(text)
    start = lines.from_client(edit.range.start.line, edit.range.start.character, UTF16)
    end = lines.from_client(edit.range.end.line, edit.range.end.character, UTF16)
    return text[:start] + edit.new_text + text[end:]


BAD = "import keras\nmodel = keras.Sequential([])\nname = 'é😀'; model.trainable = 0\n"


def test_a_bom_and_a_coding_cookie_keep_positions_and_fixes_right(tmp_path: Path) -> None:
    fixed = BAD.replace("trainable = 0", "trainable = False")
    for text, expected in (
        ("\ufeff" + BAD, "\ufeff" + fixed),
        ("# -*- coding: latin-1 -*-\n" + BAD.replace("😀", ""), None),
    ):
        report = _report(tmp_path, text)
        [target] = report.targets.values()
        [(diagnostic, lsp)] = target.found
        line = text.splitlines()[lsp.range.start.line]
        column = len(line[: line.index("model.trainable")].encode("utf-16-le")) // 2
        assert (diagnostic.code, lsp.range.start.character) == ("KL008", column)
        expected = expected or text.replace("trainable = 0", "trainable = False")
        assert _fix_all(report, text) == expected


def test_hover_shows_the_rule_page_on_a_finding_and_on_a_code_in_a_comment(tmp_path: Path) -> None:
    from lsprotocol import types

    from kerlint.docs import rule_page
    from kerlint.server.lsp import hover

    text = BAD + "x = 1  # noqa: KL003\n"
    report = _report(tmp_path, text)
    [uri] = report.targets
    on_finding = hover(report, uri, types.Position(2, 20), "utf-16")
    assert on_finding.contents.value == rule_page("KL008")
    on_code = hover(report, uri, types.Position(3, 17), "utf-16")
    assert on_code.contents.value == rule_page("KL003")
    assert (on_code.range.start.character, on_code.range.end.character) == (15, 20)
    assert hover(report, uri, types.Position(3, 2), "utf-16") is None
