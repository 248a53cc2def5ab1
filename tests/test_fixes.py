"""Fixes: `--fix`, `--diff`, `--unsafe-fixes`, and the proof that fixes are safe to apply.

The proof runs on every rule fixture (`tests/fixtures/KLnnn_*.py`), every rule page's bad
example (`rules/*.md`), and this file's own inputs (`tests/data/fixes`, notebooks): with
every fix applied (unsafe ones too) the code parses, the fixed diagnostics are gone, and
a second round changes nothing.
"""

from __future__ import annotations

import ast
import os
import re
import stat
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest

from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.engine import FileResult, check_file
from kerlint.fixes import apply_fixes, atomic_write, fix_file, unified_diff
from kerlint.rules import registry
from kerlint.source import read_source

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
ALL = frozenset(rule.code for rule in registry.all_rules())
BAD_EXAMPLE = re.compile(r"^## Bad example\s*\n+```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _edit(content: str, start: tuple[int, int], end: tuple[int, int]) -> Fix:
    return Fix("test", (Edit(content, Location(*start), Location(*end)),))


# ---------------------------------------------------------------------------- edits


def test_edits_apply_in_place_and_overlaps_wait_for_the_next_pass() -> None:
    text = "a = 1\nb = 2\n"
    fixes = [
        _edit("x", (1, 1), (1, 2)),
        _edit("y", (1, 1), (1, 6)),  # overlaps the first: left for the next pass
        _edit("\nc = 3", (2, 6), (2, 6)),  # an insertion at the end of row 2
        _edit("\nd = 4", (2, 6), (2, 6)),  # a second insertion at the same point waits
    ]
    fixed, applied = apply_fixes(text, fixes)
    assert fixed == "x = 1\nb = 2\nc = 3\n"
    assert applied == [0, 2]


def test_identical_fixes_count_once_and_a_blocked_row_is_left_alone() -> None:
    text = "a = 1\nb = 2\n"
    same = _edit("z", (2, 1), (2, 2))
    fixed, applied = apply_fixes(text, [same, same, _edit("q", (1, 1), (1, 2))], frozenset({1}))
    assert fixed == "a = 1\nz = 2\n"
    assert sorted(applied) == [0, 1]


def test_edits_on_crlf_text_count_rows_as_libcst_does() -> None:
    fixed, _ = apply_fixes("a = 1\r\nb = 2\r\n", [_edit("B", (2, 1), (2, 2))])
    assert fixed == "a = 1\r\nB = 2\r\n"


def test_unified_diff_marks_a_missing_final_newline() -> None:
    diff = unified_diff("f.py", "a\nb", "a\nc")
    assert diff.startswith("--- f.py\n+++ f.py\n")
    assert "-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n" in diff


# ---------------------------------------------------------------------------- the CLI


SAFE_FIXED = (DATA / "fixes" / "safe_mix.py").read_text(encoding="utf-8")


def test_fix_writes_the_safe_fixes_and_reports_what_remains(project: Path, run_cli) -> None:
    target = project / "safe_mix.py"
    target.write_text(SAFE_FIXED, encoding="utf-8")
    result = run_cli("check", "--isolated", "--fix", "safe_mix.py")
    assert result.exit_code == 0, result.output
    assert "Fixed 6 errors." in result.output
    assert "All checks passed!" in result.output
    fixed = target.read_text(encoding="utf-8")
    assert "model.layers[0].trainable = False   # a string: always truthy (é)" in fixed
    assert "model.layers[1].trainable = False  # misspelled" in fixed
    assert "model.layers[1].trainable = False  # compared, not assigned" in fixed
    assert "model.trainable = False\n" in fixed
    assert "        model.trainable_weights,  # all of them\n" in fixed
    assert "zip(grads, model.trainable_weights)" in fixed
    again = run_cli("check", "--isolated", "--fix", "safe_mix.py")
    assert again.exit_code == 0 and "Fixed" not in again.output
    assert target.read_text(encoding="utf-8") == fixed


def test_diff_writes_nothing_and_exits_1_when_something_would_change(
    project: Path, run_cli
) -> None:
    target = project / "safe_mix.py"
    target.write_text(SAFE_FIXED, encoding="utf-8")
    result = run_cli("check", "--isolated", "--diff", "safe_mix.py")
    assert result.exit_code == 1
    assert result.stdout.startswith("--- safe_mix.py\n+++ safe_mix.py\n")
    assert '-model.layers[0].trainable = "False"' in result.stdout
    assert "+model.layers[0].trainable = False" in result.stdout
    assert "Would fix 6 errors." in result.stderr
    assert target.read_text(encoding="utf-8") == SAFE_FIXED
    (project / "safe_mix.py").write_text("import keras\n", encoding="utf-8")
    assert run_cli("check", "--isolated", "--diff", "safe_mix.py").exit_code == 0


def test_unsafe_fixes_need_the_flag(project: Path, run_cli) -> None:
    source = (DATA / "fixes" / "unsafe_tf_keras.py").read_text(encoding="utf-8")
    target = project / "train.py"
    target.write_text(source, encoding="utf-8")
    plain = run_cli("check", "--isolated", "train.py")
    assert "[*]" not in plain.output
    assert "more fixable with the `--unsafe-fixes` option" in plain.output
    assert (
        "[*] 2 fixable with the `--fix` option."
        in run_cli("check", "--isolated", "--unsafe-fixes", "train.py").output
    )
    assert run_cli("check", "--isolated", "--fix", "train.py").exit_code == 1
    assert target.read_text(encoding="utf-8") == source
    result = run_cli("check", "--isolated", "--fix", "--unsafe-fixes", "train.py")
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").endswith(
        "base.trainable = True\n"
        "for layer in base.layers:\n"
        "    if isinstance(layer, tf.keras.layers.BatchNormalization):\n"
        "        layer.trainable = False\n"
        'model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")\n'
        "model.fit(x, y)\n"
    )


def test_unsafe_fixes_use_the_modules_own_names(project: Path, run_cli) -> None:
    for name in ("unsafe_bn_alias.py", "unsafe_from_layers.py"):
        (project / name).write_text((DATA / "fixes" / name).read_text(encoding="utf-8"))
    result = run_cli("check", "--isolated", "--fix", "--unsafe-fixes", ".")
    assert result.exit_code == 0, result.output
    alias = (project / "unsafe_bn_alias.py").read_text(encoding="utf-8")
    # `layer` is taken in that module; BatchNormalization is imported as BN; the
    # optimizer's learning-rate change is carried into the new instance.
    assert (
        "    base.trainable = True  # unfreeze\n"
        "    for layer_ in base.layers:\n"
        "        if isinstance(layer_, BN):\n"
        "            layer_.trainable = False\n"
    ) in alias
    assert 'model.compile(optimizer=SGD(learning_rate=1e-4, momentum=0.9), loss="mse")' in alias
    loop = (project / "unsafe_from_layers.py").read_text(encoding="utf-8")
    assert (
        "    for layer in base.layers[-30:]:\n"
        "        layer.trainable = True\n"
        "        if isinstance(layer, layers.BatchNormalization):\n"
        "            layer.trainable = False\n"
    ) in loop


def test_stdin_fix_prints_the_fixed_code(run_cli) -> None:
    result = run_cli(
        "check", "--isolated", "--fix", "--stdin-filename", "x.py", "-", input=SAFE_FIXED
    )
    assert result.stdout.startswith("# -*- coding: utf-8 -*-")
    assert "model.trainable = False\n" in result.stdout
    assert "Fixed 6 errors." in result.stderr


# ---------------------------------------------------------------------------- bytes kept

CRLF_SOURCE = (
    'import keras\r\n\r\nm = keras.Sequential([keras.layers.Dense(1)])\r\nm.trainable = "False"\r\n'
)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("crlf.py", CRLF_SOURCE.encode(), CRLF_SOURCE.replace('"False"', "False").encode()),
        (
            "bom.py",
            b"\xef\xbb\xbf" + CRLF_SOURCE.replace("\r\n", "\n").encode(),
            b"\xef\xbb\xbf"
            + CRLF_SOURCE.replace("\r\n", "\n").replace('"False"', "False").encode(),
        ),
        (
            "latin1.py",
            ("# -*- coding: latin-1 -*-\n# café\n" + CRLF_SOURCE.replace("\r\n", "\n")).encode(
                "latin-1"
            ),
            ("# -*- coding: latin-1 -*-\n# café\n" + CRLF_SOURCE.replace("\r\n", "\n"))
            .replace('"False"', "False")
            .encode("latin-1"),
        ),
    ],
)
def test_fix_keeps_encoding_bom_and_line_endings(
    project: Path, run_cli, name: str, data: bytes, expected: bytes
) -> None:
    target = project / name
    target.write_bytes(data)
    assert run_cli("check", "--isolated", "--fix", name).exit_code == 0
    assert target.read_bytes() == expected


def test_crlf_insertions_use_crlf(project: Path, run_cli) -> None:
    source = (DATA / "fixes" / "unsafe_tf_keras.py").read_text(encoding="utf-8")
    target = project / "train.py"
    target.write_bytes(source.replace("\n", "\r\n").encode())
    assert run_cli("check", "--isolated", "--fix", "--unsafe-fixes", "train.py").exit_code == 0
    data = target.read_bytes()
    assert b"for layer in base.layers:\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_write_is_atomic_and_keeps_permissions_and_links(tmp_path: Path) -> None:
    target = tmp_path / "real.py"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    atomic_write(link, b"new\n")
    assert link.is_symlink() and target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.py", "real.py"]


@pytest.mark.parametrize(
    "bad",
    [
        "x = (",  # LibCST rejects it
        "def f(a, a): pass",  # LibCST takes it, CPython's compiler does not
    ],
)
def test_a_fix_that_breaks_the_code_is_not_written(project: Path, bad: str) -> None:
    path = project / "x.py"
    path.write_text("import keras\nx = 1\n", encoding="utf-8")
    source = read_source(path)
    broken = Diagnostic(
        "KL008",
        "test",
        "x.py",
        Location(2, 1),
        Location(2, 6),
        Fix("break it", (Edit(bad, Location(2, 1), Location(2, 6)),)),
    )
    outcome = fix_file(FileResult(path, [broken], source, True), ALL, unsafe=False)
    assert outcome is not None and not outcome.changed
    assert "unparsable" in outcome.warnings[0]
    assert path.read_text(encoding="utf-8") == "import keras\nx = 1\n"


# ---------------------------------------------------------------------------- the proof


def _inputs() -> list[Path]:
    found = sorted((ROOT / "tests" / "fixtures").glob("KL[0-9][0-9][0-9]_*.py"))
    found += sorted((DATA / "fixes").glob("*.py"))
    found += sorted((DATA / "notebooks").glob("finetune*.ipynb"))
    return found


def _page_examples() -> list[tuple[str, str]]:
    examples = []
    for page in sorted((ROOT / "rules").glob("KL*.md")):
        match = BAD_EXAMPLE.search(page.read_text(encoding="utf-8"))
        if match:
            examples.append((page.stem, match.group(1)))
    return examples


def _line_texts(result: FileResult, diagnostics: list[Diagnostic]) -> set[tuple[str, str]]:
    """(code, reported line) pairs: an insertion fix leaves the line, not the diagnostic."""
    source = result.source
    assert source is not None
    lines = source.text.splitlines()
    spans = {span.cell: span for span in source.cells or []}
    found = set()
    for diagnostic in diagnostics:
        row = diagnostic.location.row
        if diagnostic.cell is not None:
            row += spans[diagnostic.cell].first_row - 1
        found.add((diagnostic.code, lines[row - 1].strip()))
    return found


def _prove(path: Path) -> None:
    before = check_file(path, ALL)
    fixable = [d for d in before.diagnostics if d.fix is not None]
    outcome = fix_file(before, ALL, unsafe=True)
    if outcome is None:
        assert not fixable
        return
    assert not outcome.warnings, outcome.warnings
    assert outcome.changed, f"{len(fixable)} fixable diagnostics and nothing changed"
    path.write_bytes(outcome.data or b"")
    after = check_file(path, ALL)
    cst.parse_module(read_source(path).text)  # the fixed code parses
    assert after.diagnostics == outcome.result.diagnostics
    assert not [d for d in after.diagnostics if d.fix is not None], "fixable ones remain"
    assert not _line_texts(before, fixable) & _line_texts(after, after.diagnostics)
    remaining = Counter(d.code for d in after.diagnostics)
    original = Counter(d.code for d in before.diagnostics)
    for code, count in outcome.fixed.items():
        assert remaining[code] <= max(0, original[code] - count) or original[code] == 0
    assert fix_file(after, ALL, unsafe=True) is None, "a second round still changes something"


@pytest.mark.parametrize("path", _inputs(), ids=lambda p: p.name)
def test_all_fixes_parse_clear_their_diagnostics_and_are_stable(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    _prove(copy)


@pytest.mark.parametrize(
    ("name", "code"), _page_examples() or [pytest.param("none", "", marks=pytest.mark.skip)]
)
def test_rule_page_bad_examples_fix_safely(name: str, code: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name.replace('-', '_')}.py"
    path.write_text(code, encoding="utf-8")
    _prove(path)


def test_the_proof_covers_every_fixable_rule() -> None:
    """Each rule that offers a fix has it applied at least once by the inputs above."""
    applied: Counter[str] = Counter()
    for path in _inputs():
        result = check_file(path, ALL)
        outcome = fix_file(result, ALL, unsafe=True)
        if outcome is not None:
            applied.update(outcome.fixed)
    fixable = {rule.code for rule in registry.all_rules() if rule.fix is not None}
    assert fixable <= set(applied), f"never applied: {sorted(fixable - set(applied))}"


def test_a_result_without_its_source_is_read_again(tmp_path: Path) -> None:
    """Results from a cache may come without their text: fixing reads the file again."""
    path = tmp_path / "safe_mix.py"
    path.write_text(SAFE_FIXED, encoding="utf-8")
    checked = check_file(path, ALL)
    outcome = fix_file(FileResult(path, checked.diagnostics), ALL, unsafe=False)
    assert outcome is not None and outcome.changed and outcome.count == 6


def test_a_file_changed_while_fixing_is_not_overwritten(tmp_path: Path) -> None:
    from kerlint.fixes import write_outcome

    path = tmp_path / "safe_mix.py"
    path.write_text(SAFE_FIXED, encoding="utf-8")
    outcome = fix_file(check_file(path, ALL), ALL, unsafe=False)
    assert outcome is not None and outcome.changed
    path.write_text(SAFE_FIXED + "# edited meanwhile\n", encoding="utf-8")
    assert "changed while kerlint was fixing it" in (write_outcome(outcome) or "")
    assert path.read_text(encoding="utf-8").endswith("# edited meanwhile\n")


def test_an_unwritten_fix_reports_the_original_diagnostics(
    project: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kerlint.fixes.write_outcome", lambda outcome: "x.py: disk full")
    (project / "x.py").write_text(SAFE_FIXED, encoding="utf-8")
    result = run_cli("check", "--isolated", "--fix", "x.py")
    assert result.exit_code == 1
    assert "kerlint: warning: x.py: disk full" in result.stderr
    assert "Fixed" not in result.stdout and "Found 6 errors." in result.stdout


KL005_PAIRINGS = """\
import keras
import tensorflow as tf

model = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])
optimizer = keras.optimizers.Adam()


def pairs_made_outside_the_call(x, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.mse(y, model(x, training=True))
    grads = tape.gradient(loss, model.weights)
    pairs = zip(grads, model.weights)
    optimizer.apply_gradients(pairs)


def both_in_the_calls(x, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.mse(y, model(x, training=True))
    grads = tape.gradient(loss, model.weights)
    optimizer.apply_gradients(zip(grads, model.weights))


def paired_by_hand(x, y):
    with tf.GradientTape() as tape:
        loss = keras.losses.mse(y, model(x, training=True))
    grads = tape.gradient(loss, model.variables)
    for gradient, variable in zip(grads, model.variables):
        variable.assign_sub(0.1 * gradient)
"""


def test_kl005_is_fixed_only_with_every_list_its_gradients_are_paired_with(tmp_path: Path) -> None:
    """Renaming `.weights` in `tape.gradient` but not in a `zip(grads, model.weights)` made
    outside the call (or in a loop) would pair each gradient with the wrong variable."""
    path = tmp_path / "train.py"
    path.write_text(KL005_PAIRINGS, encoding="utf-8")
    result = check_file(path, ALL)
    fixable = {d.location.row: d.fix is not None for d in result.diagnostics if d.code == "KL005"}
    assert fixable == {11: False, 13: False, 19: True, 20: True, 26: False}
    outcome = fix_file(result, ALL, unsafe=False)
    assert outcome is not None and outcome.count == 2
    fixed = outcome.data.decode()
    assert fixed.count("trainable_weights") == 2 and fixed.count("model.weights") == 2
    assert "grads = tape.gradient(loss, model.trainable_weights)\n    optimizer" in fixed


KEYWORD_CALLS = [
    "BinaryAccuracy()",
    "BinaryAccuracy( )",
    "BinaryAccuracy(name='acc')",
    "BinaryAccuracy(name='acc',)",
    "BinaryAccuracy(\n    name='acc',  # the name\n)",
    "BinaryAccuracy(\n    name='acc'  # the name, (not code)\n)",
    "BinaryAccuracy(threshold=0.5)",
    "BinaryAccuracy(name='é', threshold = 0.5 )",
    "f(a, *rest)",
    "f(a, **kw)",
    "f((a))",
    "(f)()",
    "f(  # c\n)",
    "g(y, f(a))",
    "f(a)(b)",
]


@pytest.mark.parametrize("call", KEYWORD_CALLS)
def test_a_keyword_added_from_the_text_means_what_libcst_would_write(call: str) -> None:
    """KL102's and KL103's fixes set a keyword without LibCST where the text is plain (its
    import costs more than a file's check): the call gets exactly that keyword, comments
    kept; what is not plain is left to LibCST."""
    from kerlint.facts import FileFacts
    from kerlint.rules import kl1_heads

    source = f"m = {call}\n"
    tree = ast.parse(source)
    node = tree.body[0].value
    by_text = kl1_heads._with_keyword_by_text(FileFacts(tree, source), node, "threshold", "0.0")
    if by_text is None:
        assert call in ("f((a))", "(f)()")
        return
    expected = ast.parse(call, mode="eval").body
    expected.keywords = [k for k in expected.keywords if k.arg != "threshold"]
    expected.keywords.append(ast.keyword("threshold", ast.Constant(0.0)))
    assert ast.dump(ast.parse(by_text, mode="eval")) == ast.dump(ast.Expression(expected))
    for comment in ("# the name", "# c"):
        assert (comment in by_text) == (comment in call)
