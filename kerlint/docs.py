"""Finding the rule pages: inside the wheel (`kerlint/_rules`) or in a source checkout (`rules/`)."""

from __future__ import annotations

from pathlib import Path

from kerlint.rules import registry


def pages_dir() -> Path | None:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    return None


def page_path(code: str) -> Path | None:
    rule = registry.get(code)
    folder = pages_dir()
    if rule is None or folder is None:
        return None
    path = folder / f"{rule.code}-{rule.name}.md"
    return path if path.is_file() else None


def rule_page(code: str) -> str | None:
    path = page_path(code)
    return path.read_text(encoding="utf-8") if path else None
