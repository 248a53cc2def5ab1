"""Jupyter notebooks: found by default, reported by cell, fixed in place without collateral.

`tests/data/notebooks/finetune.ipynb` is written as Jupyter writes (1-space indent, sorted
keys, a final newline) with magics, a `%%time` cell, outputs, cell metadata and non-ASCII
text; `broken.ipynb` is the same file cut short.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerlint.engine import check_file
from kerlint.notebook import _Scanner, detect_indent, magic_rows, write_back
from kerlint.source import neutralise_magics

NOTEBOOKS = Path(__file__).parent / "data" / "notebooks"
FINETUNE = (NOTEBOOKS / "finetune.ipynb").read_bytes()


def _without_sources(notebook: dict) -> dict:
    copy = json.loads(json.dumps(notebook))
    for cell in copy["cells"]:
        cell.pop("source", None)
    return copy


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    import difflib

    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def test_a_folder_walk_finds_notebooks_and_reports_by_cell(project: Path, run_cli) -> None:
    (project / "nb").mkdir()
    (project / "nb" / "finetune.ipynb").write_bytes(FINETUNE)
    result = run_cli("check", "--isolated", ".")
    assert result.exit_code == 1
    assert "nb/finetune.ipynb:cell 3:2:1: KL008 [*]" in result.output
    data = json.loads(run_cli("check", "--isolated", "--output-format", "json", ".").output)
    assert [(d["code"], d["cell"], d["location"]["row"]) for d in data] == [("KL008", 3, 2)]


def test_a_broken_notebook_is_kl000_and_the_run_goes_on(project: Path, run_cli) -> None:
    (project / "broken.ipynb").write_bytes((NOTEBOOKS / "broken.ipynb").read_bytes())
    (project / "good.ipynb").write_bytes(FINETUNE)
    result = run_cli("check", "--isolated", ".")
    assert "broken.ipynb:1:1: KL000 notebook is not valid JSON" in result.output
    assert "good.ipynb:cell 3:2:1: KL008" in result.output


def test_a_notebook_of_another_language_is_skipped(project: Path, run_cli) -> None:
    notebook = json.loads(FINETUNE)
    notebook["metadata"]["language_info"]["name"] = "R"
    (project / "r.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    assert run_cli("check", "--isolated", ".").exit_code == 0


@pytest.mark.parametrize("indent", [1, 2, None])
@pytest.mark.parametrize("final_newline", [True, False])
def test_fix_changes_only_the_fixed_source_lines(
    project: Path, run_cli, indent: int | None, final_newline: bool
) -> None:
    notebook = json.loads(FINETUNE)
    text = json.dumps(notebook, indent=indent, sort_keys=True, ensure_ascii=False)
    text += "\n" if final_newline else ""
    target = project / "finetune.ipynb"
    target.write_text(text, encoding="utf-8")
    result = run_cli("check", "--isolated", "--fix", "--unsafe-fixes", "finetune.ipynb")
    assert result.exit_code == 0, result.output
    assert "Fixed 2 errors." in result.output
    after = target.read_text(encoding="utf-8")
    fixed = json.loads(after)
    assert _without_sources(fixed) == _without_sources(notebook)  # outputs, metadata, counts
    assert list(fixed) == list(notebook)  # key order
    assert after.endswith("\n") == final_newline
    if indent is not None:
        assert detect_indent(after) == indent
        removed, added = _changed_lines(text, after)
        pad = " " * (indent * 4)
        assert removed == [pad + '"base.trainable = \\"False\\"  # KL008\\n",']
        assert added == [
            pad + '"base.trainable = False  # KL008\\n",',
            pad + '"for layer in base.layers:\\n",',
            pad + '"    if isinstance(layer, keras.layers.BatchNormalization):\\n",',
            pad + '"        layer.trainable = False\\n",',
        ]
    sources = ["".join(cell["source"]) for cell in fixed["cells"]]
    assert sources[1].startswith("%matplotlib inline\n!pip install keras\n")  # magics kept
    assert sources[2].startswith("%%time\n")
    assert sources[5].endswith("model.fit(x, y)\nmodel.evaluate?")  # no final newline added
    again = run_cli("check", "--isolated", "--fix", "--unsafe-fixes", "finetune.ipynb")
    assert again.exit_code == 0 and "Fixed" not in again.output
    assert target.read_text(encoding="utf-8") == after


def test_diff_shows_notebook_changes_by_cell(project: Path, run_cli) -> None:
    (project / "finetune.ipynb").write_bytes(FINETUNE)
    result = run_cli("check", "--isolated", "--diff", "finetune.ipynb")
    assert result.exit_code == 1
    assert result.stdout.startswith("--- finetune.ipynb:cell 3\n+++ finetune.ipynb:cell 3\n")
    assert (project / "finetune.ipynb").read_bytes() == FINETUNE


def test_a_fix_never_touches_a_magic_line() -> None:
    cell = "%time base.trainable = 'False'\nbase.trainable = 'False'\n!ls"
    assert magic_rows(cell) == {1, 3}
    from kerlint.diagnostics import Edit, Fix, Location
    from kerlint.fixes import _fix_cell

    fixes = [
        Fix("f", (Edit("False", Location(1, 22), Location(1, 29)),)),
        Fix("f", (Edit("False", Location(2, 18), Location(2, 25)),)),
    ]
    fixed, applied = _fix_cell(cell, fixes)
    assert applied == [1]
    assert fixed == "%time base.trainable = 'False'\nbase.trainable = False\n!ls"


def test_write_back_keeps_a_string_source_and_escapes() -> None:
    raw = (
        b'{"cells": [{"cell_type": "code", "source": "a = \\u00e9\\nb = 1", "outputs": []}],'
        b' "metadata": {"x": 1.50}, "nbformat": 4}'
    )
    new = write_back(raw, {0: "a = \u00e9\nb = 2"})
    assert new == raw.replace(b"b = 1", b"b = 2")


def test_write_back_keeps_unchanged_lines_byte_for_byte() -> None:
    raw = b'{\n "cells": [\n  {\n   "source": [\n    "caf\\u00e9 = 1\\n",\n    "x = 2"\n   ]\n  }\n ]\n}\n'
    new = write_back(raw, {0: "caf\u00e9 = 1\nx = 3\ny = 4\n"})
    assert new == (
        b'{\n "cells": [\n  {\n   "source": [\n    "caf\\u00e9 = 1\\n",\n'
        b'    "x = 3\\n",\n    "y = 4\\n"\n   ]\n  }\n ]\n}\n'
    )


def test_the_scanner_finds_every_value() -> None:
    text = FINETUNE.decode("utf-8")
    root = _Scanner(text).value(0)
    cells = root.members["cells"].items
    assert len(cells) == len(json.loads(text)["cells"])
    for node, cell in zip(cells, json.loads(text)["cells"], strict=True):
        source = node.members["source"]
        assert json.loads(text[source.start : source.end]) == cell["source"]


def test_messages_name_other_places_by_cell(tmp_path: Path) -> None:
    """`compiled at cell 3, line 3`, not a row of the joined program the user never sees."""
    import json

    cells = [
        "%matplotlib inline\nimport keras\nfrom keras import layers",
        "base = keras.applications.VGG16(weights=None, include_top=False)\nbase.trainable = False",
        "inputs = keras.Input((32, 32, 3))\n"
        "model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(base(inputs))))\n"
        "model.compile('adam', 'mse')\nmodel.fit(x, y)",
        "base.trainable = True\nmodel.fit(x, y)",
    ]
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
    path = tmp_path / "finetune.ipynb"
    path.write_text(json.dumps(notebook))
    from kerlint.engine import check_file

    [diagnostic] = check_file(path, frozenset({"KL001"})).diagnostics
    assert (diagnostic.cell, diagnostic.location.row) == (4, 1)
    assert "started at cell 3, line 4 (compiled at cell 3, line 3" in diagnostic.message
    assert "trained again at cell 4, line 2" in diagnostic.message


# Valid notebooks the real-code sweep read as KL000 (docs/sweep.md): a freeze mistake in the
# first cell must still be found whatever the second cell holds.
_FREEZE = (
    "import keras\nbase = keras.applications.ResNet50(include_top=False)\n"
    "base.trainable = False\nmodel = keras.Sequential([base, keras.layers.Dense(1)])\n"
    "model.compile(loss='mse', optimizer='adam')\nmodel.fit(x, y)\n"
    "base.trainable = True\nmodel.fit(x, y)\n"
)


@pytest.mark.parametrize(
    "cell",
    [
        'print(\n    "%d samples"\n    % len(x)\n)\n',
        "keep = [v for v in x\n    != 0]\n",
        "!wget -q \\\n    -O /tmp/data.csv https://example.com/x\n",
        "%pip install -q \\\n    tensorflow\n",
        "pip install -q tensorflow\n",
        "x = 3  # is this redundant?\n",
    ],
    ids=[
        "percent-operator",
        "not-equal",
        "shell-backslash",
        "magic-backslash",
        "automagic",
        "comment-?",
    ],
)
def test_python_and_shell_lines_that_look_alike_are_read_as_ipython_does(
    tmp_path: Path, cell: str
) -> None:
    cells = [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": c}
        for c in (_FREEZE, cell)
    ]
    path = tmp_path / "nb.ipynb"
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}),
        encoding="utf-8",
    )
    result = check_file(path, frozenset({"KL001", "KL003"}))
    assert {d.code for d in result.diagnostics} == {"KL001", "KL003"}, result.diagnostics


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "x = 1",
                "  y = f(a,  # why?",
                "  b)",
                "%time z = 2",
                "!ls",
                "pip install keras",
                "cd = 3",
                "model?",
                "a = !pwd",
                "'''",
                "s = '''",
                "x != 1",
                "\f%matplotlib inline",
                "    pass",
                "print(1) \\",
                "  2",
                "%%capture",
                "",
            ]
        ),
        max_size=8,
    )
)
def test_the_fast_path_leaves_exactly_what_the_scan_would(lines: list[str]) -> None:
    """A cell no line of which may be IPython is returned as it is: the same as the scan."""
    import re

    import kerlint.source

    cell = "\n".join(lines)
    fast = neutralise_magics(cell)
    everything = re.compile("")  # the scan for every cell
    original = kerlint.source._MAYBE_IPYTHON
    kerlint.source._MAYBE_IPYTHON = everything
    try:
        assert fast == neutralise_magics(cell)
    finally:
        kerlint.source._MAYBE_IPYTHON = original


def _notebook(*cells: str) -> bytes:
    return json.dumps(
        {
            "cells": [{"cell_type": "code", "source": cell, "metadata": {}} for cell in cells],
            "metadata": {"language_info": {"name": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    ).encode()


def test_a_cell_indented_as_a_whole_runs_as_ipython_runs_it(tmp_path: Path) -> None:
    """IPython takes a cell's leading indentation off every line that has it (its
    `leading_indent`): such a cell runs, so it is checked, columns as written, no fix."""
    path = tmp_path / "indented.ipynb"
    path.write_bytes(
        _notebook(
            "import keras\nmodel = keras.Sequential([keras.layers.Dense(2)])\n",
            '\n  for _ in range(3):\n      model.trainable = "False"\n      model.fit(x, y)\n',
            'model.trainable = "False"\n',
        )
    )
    result = check_file(path, frozenset({"KL008"}))
    found = [(d.cell, d.location.row, d.location.column, d.fix is None) for d in result.diagnostics]
    # Cell 2: the assignment stands at column 7 as written (5 once IPython takes 2 off).
    assert found == [(2, 3, 7, True), (3, 1, 1, False)]


def test_leading_indent_takes_only_the_first_lines_indentation() -> None:
    from kerlint.source import leading_indent

    assert leading_indent("x = 1\n  y") == ("x = 1\n  y", 0, [])
    assert leading_indent("\n\t  a\n\t  b\n  c\n") == ("\na\nb\n  c\n", 3, [1, 2])
