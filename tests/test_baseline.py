"""Baselines: record today's diagnostics, hide them later, survive edits that shift lines."""

from __future__ import annotations

import json
from pathlib import Path

from kerlint.baseline import fingerprint

SOURCE = """\
import keras

model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
model.layers[0].trainable = "False"
model.layers[1].trainabel = False
"""


def _write(project: Path, text: str, name: str = "train.py") -> Path:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_write_baseline_records_sorted_readable_entries(project: Path, run_cli) -> None:
    _write(project, SOURCE)
    _write(project, SOURCE, "pkg/other.py")
    result = run_cli("check", "--isolated", "--write-baseline", "kerlint-baseline.json", ".")
    assert result.exit_code == 0, result.output
    assert "Recorded 4 diagnostics in kerlint-baseline.json." in result.stderr
    assert "4 known error(s) hidden by the baseline." in result.stdout
    document = json.loads((project / "kerlint-baseline.json").read_text(encoding="utf-8"))
    assert document["kerlint_baseline"] == 1
    entries = document["entries"]
    assert [(e["file"], e["code"], e["count"]) for e in entries] == [
        ("pkg/other.py", "KL008", 1),
        ("pkg/other.py", "KL009", 1),
        ("train.py", "KL008", 1),
        ("train.py", "KL009", 1),
    ]
    assert entries[0]["line"] == 'model.layers[0].trainable = "False"'


def test_baseline_hides_known_errors_across_line_shifts(project: Path, run_cli) -> None:
    path = _write(project, SOURCE)
    run_cli("check", "--isolated", "--write-baseline", "baseline.json", ".")
    # Unrelated edits above and between: every line moves.
    shifted = SOURCE.replace(
        "import keras\n", '"""A docstring."""\n\nimport os\n\nimport keras\n\n\n'
    ).replace("\nmodel.layers[1]", "\nprint(os.getcwd())\nmodel.layers[1]")
    path.write_text(shifted, encoding="utf-8")
    result = run_cli("check", "--isolated", "--baseline", "baseline.json", ".")
    assert result.exit_code == 0, result.output
    assert "2 known error(s) hidden by the baseline." in result.output
    assert "no longer match" not in result.output
    # A new problem is reported; the known ones stay hidden.
    path.write_text(shifted + "model.trainable = None\n", encoding="utf-8")
    result = run_cli("check", "--isolated", "--baseline", "baseline.json", ".")
    assert result.exit_code == 1
    assert result.output.count("train.py:") == 1
    assert "train.py:13:1: KL008 [*] `trainable` is set to None" in result.output


def test_fixed_entries_are_reported_as_stale(project: Path, run_cli) -> None:
    path = _write(project, SOURCE)
    run_cli("check", "--isolated", "--write-baseline", "baseline.json", ".")
    path.write_text(SOURCE.replace('"False"', "False"), encoding="utf-8")
    result = run_cli("check", "--isolated", "--baseline", "baseline.json", ".")
    assert result.exit_code == 0
    assert "1 known error(s) hidden by the baseline." in result.output
    assert "1 baseline entry no longer match" in result.output


def test_duplicates_are_counted(project: Path, run_cli) -> None:
    twice = SOURCE + 'model.layers[0].trainable = "False"\n'
    path = _write(project, twice)
    run_cli("check", "--isolated", "--write-baseline", "baseline.json", ".")
    entries = json.loads((project / "baseline.json").read_text())["entries"]
    assert sorted(e["count"] for e in entries if e["code"] == "KL008") == [1, 1]
    path.write_text(twice + 'model.layers[0].trainable = "False"\n', encoding="utf-8")
    result = run_cli("check", "--isolated", "--baseline", "baseline.json", ".")
    assert result.exit_code == 1
    assert result.output.count("KL008") == 1  # only the third copy is new


def test_identical_lines_in_identical_context_share_an_entry(project: Path, run_cli) -> None:
    block = 'model.layers[0].trainable = "False"\n\n'
    path = _write(project, SOURCE.split("model.layers[0]")[0] + block * 4)
    run_cli("check", "--isolated", "--write-baseline", "baseline.json", ".")
    entries = json.loads((project / "baseline.json").read_text())["entries"]
    # The first has another line above, the last nothing below; the middle two are alike.
    assert sorted(e["count"] for e in entries) == [1, 1, 2]
    path.write_text(path.read_text() + block, encoding="utf-8")
    result = run_cli("check", "--isolated", "--baseline", "baseline.json", ".")
    assert result.output.count("KL008") == 1


def test_a_changed_neighbour_still_matches_by_the_line(project: Path, run_cli) -> None:
    path = _write(project, SOURCE)
    run_cli("check", "--isolated", "--write-baseline", "baseline.json", ".")
    path.write_text(SOURCE.replace("Dense(3)", "Dense(30)"), encoding="utf-8")
    result = run_cli("check", "--isolated", "--baseline", "baseline.json", ".")
    assert result.exit_code == 0, result.output


def test_baseline_paths_are_relative_to_the_baseline_file(
    project: Path, run_cli, monkeypatch
) -> None:
    _write(project, SOURCE, "src/train.py")
    run_cli("check", "--isolated", "--write-baseline", "ci/baseline.json", "src")
    entries = json.loads((project / "ci" / "baseline.json").read_text())["entries"]
    assert {e["file"] for e in entries} == {"../src/train.py"}
    monkeypatch.chdir(project / "src")
    result = run_cli("check", "--isolated", "--baseline", "../ci/baseline.json", "train.py")
    assert result.exit_code == 0, result.output


def test_notebook_diagnostics_are_baselined(project: Path, run_cli) -> None:
    notebook = Path(__file__).parent / "data" / "notebooks" / "finetune.ipynb"
    (project / "finetune.ipynb").write_bytes(notebook.read_bytes())
    run_cli("check", "--isolated", "--write-baseline", "baseline.json", ".")
    result = run_cli("check", "--isolated", "--baseline", "baseline.json", ".")
    assert result.exit_code == 0
    assert "1 known error(s) hidden" in result.output


def test_a_missing_or_invalid_baseline_is_a_usage_error(project: Path, run_cli) -> None:
    _write(project, SOURCE)
    assert run_cli("check", "--isolated", "--baseline", "missing.json", ".").exit_code == 2
    (project / "bad.json").write_text("{not json", encoding="utf-8")
    result = run_cli("check", "--isolated", "--baseline", "bad.json", ".")
    assert result.exit_code == 2 and "cannot read the baseline" in result.output
    (project / "other.json").write_text('{"entries": []}', encoding="utf-8")
    assert run_cli("check", "--isolated", "--baseline", "other.json", ".").exit_code == 2


def test_parse_errors_are_never_baselined(project: Path, run_cli) -> None:
    _write(project, "import keras\nx.trainable = (\n")
    result = run_cli("check", "--isolated", "--write-baseline", "baseline.json", ".")
    assert result.exit_code == 1 and "KL000" in result.output
    assert json.loads((project / "baseline.json").read_text())["entries"] == []


def test_fingerprint_ignores_whitespace_but_not_text() -> None:
    lines = ["a = 1", "", "x.trainable  =  'False'", "b = 2"]
    same = ["a = 1", "x.trainable = 'False'  ", "b = 2"]
    assert fingerprint("KL008", lines, 3) == fingerprint("KL008", same, 2)
    assert fingerprint("KL008", lines, 3).line != fingerprint("KL009", lines, 3).line
    assert fingerprint("KL008", lines, 3) != fingerprint("KL008", ["a = 1", "x = 2"], 2)


def test_fingerprints_read_a_file_whose_result_has_no_text(project: Path, monkeypatch) -> None:
    """A cached result without its source still gets its lines for the baseline."""
    from kerlint.config import resolve_settings
    from kerlint.engine import FileResult, check_file
    from kerlint.runner import CheckRequest, RunResult, _report_context

    path = _write(project, SOURCE)
    checked = check_file(path, frozenset({"KL008", "KL009"}), display="train.py")
    result = RunResult(checked.diagnostics, [FileResult(path, checked.diagnostics)])
    settings = resolve_settings(start=project, isolated=True)
    context = _report_context(CheckRequest([project], settings), result, 0)
    assert context.lines_of("train.py") == SOURCE.splitlines()
