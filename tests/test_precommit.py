"""The pre-commit hook, run for real with `pre-commit try-repo` on a throwaway repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import BAD, CLEAN

ROOT = Path(__file__).resolve().parents[1]


def test_hook_definition_matches_the_cli() -> None:
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "kerlint"
    # --force-exclude: pre-commit names each staged file, and `exclude` must still apply.
    assert hook["entry"] == "kerlint check --force-exclude"
    assert hook["language"] == "python"
    assert {"python", "pyi", "jupyter"} <= set(hook["types_or"])
    # types_or needs pre-commit 2.9; the hook says so instead of failing obscurely.
    minimum = tuple(int(part) for part in hook["minimum_pre_commit_version"].split("."))
    assert minimum >= (2, 9, 0)


@pytest.mark.slow
def test_try_repo_fails_on_bad_file_and_passes_on_clean(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of kerlint")
    repo = tmp_path / "user-repo"
    repo.mkdir()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "NO_COLOR": "1",
    }

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)

    git("init", "-q")
    (repo / "bad.py").write_text(BAD)
    (repo / "clean.py").write_text(CLEAN)
    (repo / "generated").mkdir()
    (repo / "generated" / "model.py").write_text(BAD)
    (repo / "pyproject.toml").write_text('[tool.kerlint]\nextend-exclude = ["generated/"]\n')
    git("add", ".")

    def try_repo(file: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "kerlint", "--files", file],
            cwd=repo,
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )

    bad = try_repo("bad.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "KL008" in bad.stdout
    clean = try_repo("clean.py")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # pre-commit names the excluded file itself: the hook's --force-exclude skips it.
    excluded = try_repo("generated/model.py")
    assert excluded.returncode == 0, excluded.stdout + excluded.stderr
    assert "KL008" not in excluded.stdout
