"""The wheel carries the rule pages, so `kerlint explain` works from an installed package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_package_and_rule_pages(tmp_path: Path) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("kerlint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "kerlint/cli.py" in names
    assert "kerlint/_rules/KL008-trainable-not-bool.md" in names
    pages = {Path(n).name for n in names if n.startswith("kerlint/_rules/KL")}
    assert pages == {p.name for p in (ROOT / "rules").glob("KL*.md")}
    # The measurements the pages cite travel with them.
    assert "kerlint/_rules/evidence/keras3.md" in names
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Provides-Extra: verify" in text
    assert "Requires-Dist: keras" in text and "extra == 'verify'" in text
