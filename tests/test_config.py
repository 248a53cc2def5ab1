"""Configuration as ruff does it: per file, nearest file first, `extend`, inline `--config`,
the most specific selector wins, and every wrong value is a configuration error (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BAD

from kerlint.config import ConfigError, Overrides, SettingsResolver

BAD_KL008 = BAD  # one KL008 at line 4


def _codes(result) -> list[tuple[str, str]]:
    return sorted((d["filename"], d["code"]) for d in json.loads(result.output))


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_each_file_gets_its_nearest_configuration(project: Path, run_cli) -> None:
    _tree(
        project,
        {
            "pyproject.toml": "[tool.kerlint]\nselect = ['KL008']\n",
            "a/train.py": BAD_KL008,
            "b/kerlint.toml": "ignore = ['KL008']\n",
            "b/train.py": BAD_KL008,
            "c/.kerlint.toml": "select = ['KL001']\n",
            "c/kerlint.toml": "select = ['KL008']\n",  # .kerlint.toml wins, as .ruff.toml
            "c/train.py": BAD_KL008,
        },
    )
    expected = [("a/train.py", "KL008")]
    for order in (["a", "b", "c"], ["c", "b", "a"], ["."]):
        result = run_cli("check", *order, "--output-format", "json", "--no-cache")
        assert _codes(result) == expected, order
    # Argument order never matters, also for files named one by one.
    one = run_cli("check", "b/train.py", "a/train.py", "--output-format", "json", "--no-cache")
    assert _codes(one) == expected


def test_resolved_once_per_folder(project: Path, monkeypatch) -> None:
    import kerlint.config as config

    _tree(project, {"pyproject.toml": "[tool.kerlint]\n", "pkg/sub/x.py": ""})
    calls: list[Path] = []
    real = config.config_file_in
    monkeypatch.setattr(config, "config_file_in", lambda d: calls.append(d) or real(d))
    resolver = SettingsResolver()
    for _ in range(3):
        resolver.settings_for(project / "pkg/sub/x.py")
        resolver.settings_for(project / "pkg/sub/y.py")
    assert len(calls) == len(set(calls))


def test_extend_chains_files_and_cycles_are_errors(project: Path, run_cli) -> None:
    _tree(
        project,
        {
            "pyproject.toml": "[tool.kerlint]\nselect = ['KL008', 'KL009']\n",
            "sub/kerlint.toml": "extend = '../pyproject.toml'\nignore = ['KL009']\n",
            "sub/t.py": BAD_KL008,
        },
    )
    result = run_cli("check", "--show-settings", "sub/t.py")
    assert result.exit_code == 0
    assert "select = [\n    'KL008'," in result.output
    assert "KL009" not in result.output.split("select = [")[1].split("]")[0]
    assert f"extends: {project / 'pyproject.toml'}" in result.output
    (project / "pyproject.toml").write_text("[tool.kerlint]\nextend = 'sub/kerlint.toml'\n")
    cycle = run_cli("check", "sub/t.py")
    assert cycle.exit_code == 2 and "circle" in cycle.output


def test_show_settings_names_the_file_and_every_key(project: Path, run_cli) -> None:
    _tree(project, {"kerlint.toml": "keras = '2'\ntarget-keras = '3'\n", "t.py": ""})
    result = run_cli("check", "--show-settings", "t.py")
    assert result.exit_code == 0
    assert f"Settings path: {project / 'kerlint.toml'}" in result.output
    for line in ("keras = '2'", "target-keras = '3'", "respect-gitignore = true", "exclude = "):
        assert line in result.output
    settings = SettingsResolver().settings_for(project / "t.py")
    assert (settings.keras, settings.target_keras) == ("2", "3")


def test_config_file_of_any_name_is_checked_like_the_others(project: Path, run_cli) -> None:
    _tree(project, {"custom.toml": "select = ['KL009']\n", "t.py": BAD_KL008})
    assert run_cli("check", "--config", "custom.toml", "t.py").exit_code == 0
    (project / "custom.toml").write_text("selekt = ['KL009']\n")
    result = run_cli("check", "--config", "custom.toml", "t.py")
    assert result.exit_code == 2 and "unknown key(s)" in result.output and "selekt" in result.output
    missing = run_cli("check", "--config", "nope.toml", "t.py")
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_inline_config_overrides_the_file(project: Path, run_cli) -> None:
    _tree(project, {"pyproject.toml": "[tool.kerlint]\nselect = ['KL009']\n", "t.py": BAD})
    assert run_cli("check", "t.py").exit_code == 0
    assert run_cli("check", "--config", "select = ['KL008']", "t.py").exit_code == 1
    assert run_cli("check", "--config", "extend-select=['KL008']", "t.py").exit_code == 1
    bad = run_cli("check", "--config", "nonsense = [", "t.py")
    assert bad.exit_code == 2 and "neither a file nor a TOML" in bad.output
    unknown = run_cli("check", "--config", "colour = 'red'", "t.py")
    assert unknown.exit_code == 2 and "unknown key" in unknown.output


def test_isolated_with_a_config_file_is_an_error_as_in_ruff(project: Path, run_cli) -> None:
    # As ruff says: "The argument `--config=custom.toml` cannot be used with `--isolated`";
    # inline settings are allowed with --isolated.
    _tree(project, {"custom.toml": "select = ['KL008']\n", "t.py": BAD})
    result = run_cli("check", "--isolated", "--config", "custom.toml", "t.py")
    assert result.exit_code == 2 and "--isolated" in result.output
    assert run_cli("check", "--isolated", "--config", "select=['KL009']", "t.py").exit_code == 0


@pytest.mark.parametrize(
    "text",
    [
        '[tool.kerlint]\nper-file-ignores = {"t.py" = 5}\n',
        'tool = "kerlint"\n',
        "[tool]\nkerlint = 5\n",
        "tool = 5\n",
        "[tool.kerlint]\nselect = 'KL0' \nignore = 3\n",
        "[tool.kerlint]\nrespect-gitignore = 'yes'\n",
        "[tool.kerlint]\nextend = 5\n",
        "[tool.kerlint]\nverify = 1\n",
        "[tool.kerlint]\nkeras = 4\n",
        "[tool.kerlint]\nselect = ['KL999']\n",
    ],
)
def test_wrong_types_are_configuration_errors(project: Path, run_cli, text: str) -> None:
    (project / "pyproject.toml").write_text(text)
    (project / "t.py").write_text(BAD)
    for args in (["check", "t.py"], ["check", "--config", "pyproject.toml", "t.py"]):
        result = run_cli(*args)
        assert result.exit_code == 2, (text, result.output)
        assert result.output.startswith("kerlint: error: "), result.output


def test_most_specific_selector_wins(project: Path) -> None:
    def chosen(flags: dict) -> frozenset[str]:
        return SettingsResolver(Overrides(flags=flags), isolated=True).default.select

    assert "KL001" in chosen({"select": ["KL001"], "ignore": ["KL00"]})
    assert chosen({"select": ["KL00"], "ignore": ["KL001"]}) == chosen({"select": ["KL00"]}) - {
        "KL001"
    }
    assert chosen({"select": ["KL001"], "ignore": ["KL001"]}) == frozenset()  # a tie: ignore
    assert "KL003" in chosen({"select": ["ALL"], "ignore": ["KL"], "extend-select": ["KL003"]})


def test_rule_names_are_selectors(project: Path, run_cli) -> None:
    (project / "t.py").write_text(BAD)
    assert run_cli("check", "--select", "trainable-not-bool", "t.py").exit_code == 1
    assert run_cli("check", "--ignore", "trainable-not-bool", "t.py").exit_code == 0
    assert run_cli("check", "--extend-ignore", "KL008", "t.py").exit_code == 0
    assert run_cli("check", "--select", "no-such-rule", "t.py").exit_code == 2


def test_per_file_ignores_on_the_command_line(project: Path, run_cli) -> None:
    _tree(project, {"tests/t.py": BAD, "src/t.py": BAD})
    result = run_cli("check", ".", "--per-file-ignores", "tests/*:KL008", "--output-format", "json")
    assert _codes(result) == [("src/t.py", "KL008")]
    assert run_cli("check", ".", "--per-file-ignores", "KL008").exit_code == 2


def test_respect_gitignore_ignore_files_and_git_info_exclude(project: Path, run_cli) -> None:
    _tree(
        project,
        {
            ".git/info/exclude": "from_info.py\n",
            ".ignore": "from_ignore.py\n",
            ".gitignore": "from_gitignore.py\n",
            "from_info.py": BAD,
            "from_ignore.py": BAD,
            "from_gitignore.py": BAD,
            "kept.py": BAD,
        },
    )
    result = run_cli("check", "--show-files", ".")
    assert result.output.split() == ["kept.py"]
    every = run_cli("check", "--show-files", "--no-respect-gitignore", ".")
    assert every.output.split() == [
        "from_gitignore.py",
        "from_ignore.py",
        "from_info.py",
        "kept.py",
    ]
    (project / "pyproject.toml").write_text("[tool.kerlint]\nrespect-gitignore = false\n")
    assert len(run_cli("check", "--show-files", ".").output.split()) == 4


def test_force_exclude_applies_to_named_files(project: Path, run_cli) -> None:
    _tree(
        project,
        {"pyproject.toml": "[tool.kerlint]\nextend-exclude = ['generated/']\n"},
    )
    _tree(project, {"generated/model.py": BAD, "train.py": BAD})
    assert run_cli("check", "generated/model.py").exit_code == 1  # named: checked
    result = run_cli("check", "--force-exclude", "generated/model.py", "train.py")
    assert result.exit_code == 1 and "generated" not in result.output
    (project / "pyproject.toml").write_text(
        "[tool.kerlint]\nextend-exclude = ['generated/']\nforce-exclude = true\n"
    )
    assert run_cli("check", "generated/model.py").exit_code == 0


def test_resolver_raises_config_errors_early(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.kerlint]\nselect = 5\n")
    with pytest.raises(ConfigError):
        SettingsResolver()


def test_a_tree_deeper_than_the_recursion_limit_resolves(project: Path, monkeypatch) -> None:
    import inspect
    import sys

    (project / "pyproject.toml").write_text("[tool.kerlint]\nselect = ['KL008']\n")
    deep = project.joinpath(*["d"] * 200)
    deep.mkdir(parents=True)
    resolver = SettingsResolver()
    # A low limit keeps the tree small: the walk up must not need a frame per folder.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 100)
    try:
        settings = resolver.settings_for(deep / "t.py")
    finally:
        sys.setrecursionlimit(limit)
    assert settings.select == frozenset({"KL008"})


def _ruff() -> str:
    import shutil
    import sys

    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed")
    return found


def test_ignore_files_and_selection_side_by_side_with_ruff(project: Path, run_cli) -> None:
    """The same tree and the same selectors: kerlint and ruff keep the same files and codes."""
    import subprocess

    _tree(
        project,
        {
            ".git/info/exclude": "from_info.py\n",
            ".ignore": "from_ignore.py\n",
            ".gitignore": "from_gitignore.py\n",
        },
    )
    for name in ("from_info", "from_ignore", "from_gitignore", "kept"):
        (project / f"{name}.py").write_text("import os\n" + BAD)
    ruff = subprocess.run(
        [_ruff(), "check", "--isolated", "--show-files", "."], capture_output=True, text=True
    )
    theirs = sorted(Path(line).name for line in ruff.stdout.split())
    ours = sorted(Path(line).name for line in run_cli("check", "--show-files", ".").output.split())
    assert ours == theirs == ["kept.py"]

    def ruff_codes(*selection: str) -> set[str]:
        out = subprocess.run(
            [_ruff(), "check", "--isolated", *selection, "--output-format", "json", "kept.py"],
            capture_output=True,
            text=True,
        ).stdout
        return {d["code"] for d in json.loads(out)}

    def our_codes(*selection: str) -> set[str]:
        out = run_cli("check", *selection, "--output-format", "json", "kept.py").output
        return {d["code"] for d in json.loads(out)}

    # The most specific selector wins, in both.
    assert ruff_codes("--select", "F401", "--ignore", "F") == {"F401"}
    assert our_codes("--select", "KL008", "--ignore", "KL") == {"KL008"}
    assert ruff_codes("--select", "F", "--ignore", "F401") == set()
    assert our_codes("--select", "KL", "--ignore", "KL008") == set()
