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
