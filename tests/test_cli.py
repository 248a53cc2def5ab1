"""The command line as users drive it: output, exit codes, selection, config, suppression."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import BAD, CLEAN, run_process


def test_exit_codes_and_concise_output(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    (project / "clean.py").write_text(CLEAN)
    result = run_cli("check", "clean.py")
    assert result.exit_code == 0
    assert "All checks passed!" in result.output
    result = run_cli("check", "bad.py")
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("bad.py:4:1: KL008 [*] ")
    assert "Found 1 error." in result.output
    assert run_cli("check", "bad.py", "--exit-zero").exit_code == 0


def test_usage_error_exits_2(project: Path, run_cli) -> None:
    assert run_cli("check", "missing.py").exit_code == 2
    assert run_cli("check", "--output-format", "nope").exit_code == 2


def test_json_output_has_ruff_fields(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    result = run_cli("check", "bad.py", "--output-format", "json")
    [item] = json.loads(result.output)
    assert item["code"] == "KL008"
    assert item["filename"] == "bad.py"
    assert item["location"] == {"row": 4, "column": 1}
    assert item["end_location"]["row"] == 4
    assert item["url"].endswith("KL008-trainable-not-bool.md")
    edit = item["fix"]["edits"][0]
    assert edit["content"] == "False"
    assert item["fix"]["applicability"] == "safe"


def test_quiet_statistics_and_no_color(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    quiet = run_cli("check", "bad.py", "-q")
    assert "Found" not in quiet.output and "KL008" in quiet.output
    stats = run_cli("check", "bad.py", "--statistics")
    assert stats.output.split() == ["1", "KL008", "[*]", "trainable-not-bool"]
    colored = run_cli("check", "bad.py", env={"FORCE_COLOR": "1"})
    assert "\x1b[" in colored.output
    plain = run_cli("check", "bad.py", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in plain.output


def test_select_ignore_and_prefixes(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    assert run_cli("check", "bad.py", "--ignore", "KL008").exit_code == 0
    assert run_cli("check", "bad.py", "--select", "KL001").exit_code == 0
    assert run_cli("check", "bad.py", "--select", "KL00").exit_code == 1
    assert run_cli("check", "bad.py", "--select", "KL").exit_code == 1
    unknown = run_cli("check", "bad.py", "--select", "KL999")
    assert unknown.exit_code == 2
    assert "unknown rule code" in unknown.output


def test_pyproject_configuration(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    (project / "pyproject.toml").write_text('[tool.kerlint]\nignore = ["KL008"]\n')
    assert run_cli("check", "bad.py").exit_code == 0
    (project / "pyproject.toml").write_text(
        '[tool.kerlint]\nper-file-ignores = {"bad.py" = ["KL008"]}\n'
    )
    assert run_cli("check", ".").exit_code == 0
    (project / "pyproject.toml").write_text('[tool.kerlint]\nextend-exclude = ["bad.py"]\n')
    assert run_cli("check", ".").exit_code == 0
    assert run_cli("check", "bad.py").exit_code == 1, "a file named explicitly is always checked"
    assert run_cli("check", "bad.py", "--isolated").exit_code == 1


def test_kerlint_toml_and_config_errors(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    (project / "kerlint.toml").write_text('select = ["KL001"]\n')
    assert run_cli("check", "bad.py").exit_code == 0
    (project / "kerlint.toml").write_text('selct = ["KL001"]\n')
    result = run_cli("check", "bad.py")
    assert result.exit_code == 2
    assert "unknown key" in result.output and "selct" in result.output
    (project / "kerlint.toml").write_text('ignore = ["XX1"]\n')
    assert run_cli("check", "bad.py").exit_code == 2
    (project / "kerlint.toml").write_text("ignore = [\n")
    assert run_cli("check", "bad.py").exit_code == 2
    (project / "kerlint.toml").unlink()
    (project / "pyproject.toml").write_text("[tool.kerlint]\nignore = [\n")
    broken = run_cli("check", "bad.py")
    assert broken.exit_code == 2 and "invalid TOML" in broken.output


def test_noqa_comments(project: Path, run_cli) -> None:
    line = 'model.layers[0].trainable = "False"'
    for suffix, expected in [
        ("  # noqa", 0),
        ("  # noqa: KL008", 0),
        ("  # noqa: KL001", 1),
        ("  # NOQA:KL001,KL008", 0),
    ]:
        (project / "bad.py").write_text(BAD.replace(line, line + suffix))
        assert run_cli("check", "bad.py").exit_code == expected, suffix
    (project / "bad.py").write_text("# kerlint: noqa: KL008\n" + BAD)
    assert run_cli("check", "bad.py").exit_code == 0
    (project / "bad.py").write_text("# kerlint: noqa: KL001\n" + BAD)
    assert run_cli("check", "bad.py").exit_code == 1
    (project / "bad.py").write_text("# kerlint: noqa\n" + BAD)
    assert run_cli("check", "bad.py").exit_code == 0


def test_stdin(project: Path, run_cli) -> None:
    result = run_cli("check", "-", "--stdin-filename", "pkg/train.py", input=BAD)
    assert result.exit_code == 1
    assert result.output.startswith("pkg/train.py:4:1: KL008")
    assert run_cli("check", "-", input=CLEAN).exit_code == 0


def test_discovery_respects_gitignore_and_default_excludes(project: Path, run_cli) -> None:
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("generated/\n*_tmp.py\n")
    for folder in ("src", "generated", ".venv", "build", "node_modules", "src/__pycache__"):
        (project / folder).mkdir(parents=True, exist_ok=True)
    (project / "src" / "a.py").write_text(BAD)
    (project / "src" / "b.pyi").write_text(BAD)
    (project / "src" / "c_tmp.py").write_text(BAD)
    for folder in ("generated", ".venv", "build", "node_modules", "src/__pycache__"):
        (project / folder / "x.py").write_text(BAD)
    result = run_cli("check", ".", "--output-format", "json")
    files = sorted(item["filename"] for item in json.loads(result.output))
    assert files == ["src/a.py", "src/b.pyi"]
    assert run_cli("check", "generated/x.py").exit_code == 1
    result = run_cli("check", ".", "--extend-exclude", "src/b.pyi", "--output-format", "json")
    assert [item["filename"] for item in json.loads(result.output)] == ["src/a.py"]


def test_bad_files_give_kl000_and_the_run_goes_on(project: Path, run_cli) -> None:
    (project / "a_syntax.py").write_text("import keras\ndef broken(:\n    m.trainable = 0\n")
    (project / "b_bytes.py").write_bytes(b"import keras\nx = '\xff\xfe'\n")
    (project / "c_bad.py").write_text(BAD)
    result = run_cli("check", ".")
    lines = result.output.splitlines()
    assert lines[0].startswith("a_syntax.py:2:") and " KL000 " in lines[0]
    assert lines[1].startswith("b_bytes.py:2:") and " KL000 " in lines[1]
    assert lines[2].startswith("c_bad.py:4:1: KL008")
    assert result.exit_code == 1


def test_files_that_cannot_matter_are_not_parsed(project: Path, run_cli) -> None:
    """The prefilter: no `keras` (or no rule's text) in the file means no parse, so no KL000."""
    (project / "plain.py").write_text("def broken(:\n    pass\n")
    assert run_cli("check", "plain.py").exit_code == 0


def test_rules_and_explain(run_cli) -> None:
    listing = json.loads(run_cli("rules", "--format", "json").output)
    by_code = {rule["code"]: rule for rule in listing}
    assert by_code["KL012"]["default"] is False
    assert by_code["KL008"]["fixable"] is True
    assert by_code["KL002"]["fixable"] is False
    text = run_cli("rules").output
    assert "KL003" in text and "batchnorm-unfrozen" in text
    assert run_cli("explain", "KL999").exit_code == 2


def test_check_never_imports_frameworks(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(BAD)
    code = (
        "import sys\n"
        "from kerlint.cli import main\n"
        "try:\n"
        f"    main(['check', {str(tmp_path / 'bad.py')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_python_dash_m(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(BAD)
    done = run_process("check", "bad.py", cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 1
    assert done.stdout.decode().startswith("bad.py:4:1: KL008")


# ----------------------------------------------------------- everyday habits, as ruff does


def _ruff() -> str:
    import shutil

    import pytest

    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed")
    return found


def _ruff_run(*args: str, cwd: Path, input: bytes | None = None):
    return subprocess.run(
        [_ruff(), *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


F401 = "import os\n"


def test_output_file_in_a_missing_folder_is_made_as_ruff_does(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    (project / "f.py").write_text(F401)
    result = run_cli("check", "bad.py", "-o", "reports/deep/x.sarif", "--output-format", "sarif")
    assert result.exit_code == 1
    assert json.loads((project / "reports/deep/x.sarif").read_text())["version"] == "2.1.0"
    ruff = _ruff_run("check", "--isolated", "f.py", "-o", "ruff/deep/x.txt", cwd=project)
    assert ruff.returncode == 1 and (project / "ruff/deep/x.txt").is_file()


def test_output_file_that_cannot_be_written_is_an_error(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    (project / "f.py").write_text(F401)
    proc = run_process("check", "bad.py", "-o", "/dev/full", cwd=project)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr
    assert b"cannot write the report to /dev/full" in proc.stderr
    assert _ruff_run("check", "--isolated", "f.py", "-o", "/dev/full", cwd=project).returncode == 2
    (project / "a_folder").mkdir()
    folder = run_process("check", "bad.py", "-o", "a_folder", cwd=project)
    assert folder.returncode == 2 and b"Traceback" not in folder.stderr


def test_output_file_is_written_whole_or_not_at_all(project: Path, run_cli, monkeypatch) -> None:
    (project / "bad.py").write_text(BAD)
    (project / "report.json").write_text("the previous report\n")
    (project / "kerlint-baseline.json").write_text("{}\n")

    def refuse(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    result = run_cli(
        "check", "bad.py", "-o", "report.json", "--output-format", "json", "--no-cache"
    )
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert (project / "report.json").read_text() == "the previous report\n"
    baseline = run_cli("check", "bad.py", "--write-baseline", "kerlint-baseline.json", "--no-cache")
    assert baseline.exit_code == 2
    assert (project / "kerlint-baseline.json").read_text() == "{}\n"
    assert sorted(p.name for p in project.iterdir()) == [
        "bad.py",
        "kerlint-baseline.json",
        "report.json",
    ]


def test_a_new_output_file_gets_the_usual_permissions(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    run_cli("check", "bad.py", "-o", "report.txt")
    umask = os.umask(0)
    os.umask(umask)
    assert (project / "report.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_stdin_filename_alone_reads_stdin_as_ruff_does(project: Path, run_cli) -> None:
    result = run_cli("check", "--stdin-filename", "pkg/t.py", input=BAD)
    assert result.exit_code == 1 and result.output.startswith("pkg/t.py:4:1: KL008")
    ruff = _ruff_run(
        "check", "--isolated", "--stdin-filename", "x.py", cwd=project, input=b"import os\n"
    )
    assert ruff.returncode == 1 and b"x.py" in ruff.stdout


def test_statistics_as_json_like_ruff(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    (project / "f.py").write_text(F401)
    result = run_cli("check", "bad.py", "--statistics", "--output-format", "json")
    [record] = json.loads(result.output)
    ruff = _ruff_run(
        "check", "--isolated", "f.py", "--statistics", "--output-format", "json", cwd=project
    )
    [theirs] = json.loads(ruff.stdout)
    assert set(record) == set(theirs)
    assert record == {
        "code": "KL008",
        "name": "trainable-not-bool",
        "count": 1,
        "fixable": True,
        "fixable_count": 1,
    }


def test_quiet_quiets_full_and_diff(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    full = run_cli("check", "bad.py", "-q", "--output-format", "full")
    assert "KL008" in full.output and "Found" not in full.output and "fixable" not in full.output
    diff = run_process("check", "bad.py", "-q", "--diff", cwd=project)
    assert diff.returncode == 1 and b"+model.layers[0].trainable = False" in diff.stdout
    assert diff.stderr == b""


def test_nothing_to_check_warns_as_ruff_does(project: Path, run_cli) -> None:
    (project / "empty").mkdir()
    (project / "empty" / "notes.txt").write_text("no python here")
    proc = run_process("check", "empty", cwd=project)
    assert proc.returncode == 0 and b"no Python files found" in proc.stderr
    assert b"0 files checked" in proc.stderr
    ruff = _ruff_run("check", "--isolated", "empty", cwd=project)
    assert ruff.returncode == 0 and b"No Python files found" in ruff.stderr


def test_a_parent_gitignore_hiding_the_folder_is_said(project: Path) -> None:
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("generated/\n")
    (project / "generated").mkdir()
    (project / "generated" / "model.py").write_text(BAD)
    proc = run_process("check", "generated", cwd=project)
    assert proc.returncode == 0 and b"0 files checked" in proc.stderr
    assert b".gitignore" in proc.stderr


def test_undecodable_file_without_keras_is_never_decoded(project: Path, run_cli) -> None:
    (project / "latin.py").write_bytes(b'name = "caf\xe9"\n')
    (project / "first.py").write_bytes(b"\xff\xfe = 1\nimport keras\n")
    assert run_cli("check", "latin.py").exit_code == 0
    result = run_cli("check", "first.py")
    assert result.exit_code == 1 and "not valid utf-8" in result.output
    assert "encoding declaration" not in result.output


def test_internal_error_exits_2_even_with_exit_zero(project: Path, run_cli, monkeypatch) -> None:
    import kerlint.engine

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(kerlint.engine, "FileFacts", broken)
    (project / "bad.py").write_text(BAD)
    result = run_cli("check", "bad.py", "--no-cache", "--exit-zero", "-j", "1")
    assert result.exit_code == 2 and "KL000 internal error" in result.output
    (project / "broken.py").write_text("import keras\nx.trainable = (\n")
    # A file's own syntax error is a finding (1), not a crash.
    assert run_cli("check", "broken.py", "--no-cache").exit_code == 1


def test_show_files_lists_what_would_be_checked(project: Path, run_cli) -> None:
    (project / "a.py").write_text(BAD)
    (project / "n.ipynb").write_text("{}")
    (project / "venv").mkdir()
    (project / "venv" / "x.py").write_text(BAD)
    result = run_cli("check", "--show-files", ".")
    assert result.exit_code == 0 and result.output.split() == ["a.py", "n.ipynb"]


def test_fix_only_and_exit_non_zero_on_fix(project: Path, run_cli) -> None:
    unfixable = "\nfor layer in model.layers:\n    layer.trainable == False\n"
    (project / "bad.py").write_text(BAD)
    result = run_cli("check", "bad.py", "--fix-only")
    assert result.exit_code == 0 and result.output.strip() == "Fixed 1 error."
    assert 'trainable = "False"' not in (project / "bad.py").read_text()
    (project / "bad.py").write_text(BAD)
    assert run_cli("check", "bad.py", "--fix", "--exit-non-zero-on-fix").exit_code == 1
    (project / "bad.py").write_text(BAD + unfixable.replace("==", "="))
    assert run_cli("check", "bad.py", "--fix").exit_code == 0
    (project / "bad.py").write_text(BAD)
    assert run_cli("check", "bad.py", "--fix-only", "--exit-non-zero-on-fix").exit_code == 1


def test_unfixable_codes_are_neither_fixed_nor_marked(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    result = run_cli("check", "bad.py", "--unfixable", "KL008")
    assert "[*]" not in result.output
    assert run_cli("check", "bad.py", "--fix", "--unfixable", "trainable-not-bool").exit_code == 1
    assert (project / "bad.py").read_text() == BAD
    (project / "pyproject.toml").write_text("[tool.kerlint]\nunfixable = ['KL00']\n")
    assert run_cli("check", "bad.py", "--fix").exit_code == 1
    assert (project / "bad.py").read_text() == BAD


def test_show_fixes_lists_what_was_fixed(project: Path, run_cli) -> None:
    (project / "bad.py").write_text(BAD)
    result = run_cli("check", "bad.py", "--fix", "--show-fixes")
    assert result.exit_code == 0
    assert "Fixed 1 error:\n- bad.py:\n    1 × KL008 (trainable-not-bool)" in result.output  # noqa: RUF001


def test_explain_json_all_and_names(run_cli) -> None:
    one = json.loads(run_cli("explain", "KL008", "--output-format", "json").output)
    assert one["code"] == "KL008" and one["explanation"].startswith("# KL008: trainable-not-bool")
    assert run_cli("explain", "trainable-not-bool").output.startswith("# KL008")
    every = json.loads(run_cli("explain", "--all", "--output-format", "json").output)
    assert [r["code"] for r in every][:2] == ["KL001", "KL002"] and len(every) >= 13
    text = run_cli("explain", "--all").output
    assert "# KL001: " in text and "# KL900: unused-noqa" in text
    assert run_cli("explain").exit_code == 2


def test_rules_output_format_and_its_alias(run_cli) -> None:
    new = json.loads(run_cli("rules", "--output-format", "json").output)
    old = json.loads(run_cli("rules", "--format", "json").output)
    assert new == old and any(r["code"] == "KL900" and r["default"] is False for r in new)


def test_readme_quick_start_output_is_a_real_run(monkeypatch, run_cli) -> None:
    """The README shows what `kerlint check examples/` prints: keep the two in step."""
    import re

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    shown = re.search(r"kerlint check examples/\n```\n\n```text\n(.*?)```", quick, re.S)
    assert shown, "the quick start shows the output of `kerlint check examples/`"
    monkeypatch.chdir(root)
    result = run_cli("check", "examples/", "--no-cache", env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    assert result.stdout == shown.group(1)
