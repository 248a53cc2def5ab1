"""Rule pages and code agree: each page's bad example gives exactly its marked diagnostics,
its good example none, and `kerlint explain` prints it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_rule_fixtures import expected_errors

from kerlint.docs import page_path, pages_dir
from kerlint.engine import check_source
from kerlint.keras_version import KerasDetector
from kerlint.rules import registry
from kerlint.source import Source

ROOT = Path(__file__).resolve().parents[1]
RULES = registry.all_rules()
ALL_CODES = frozenset(rule.code for rule in RULES)


def code_block(page: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\s*\n+```python\n(.*?)^```", page, re.S | re.M)
    assert match, f"no python block under `## {heading}`"
    return match.group(1)


def check_text(text: str, name: str) -> set[tuple[int, str]]:
    """The example checked as `kerlint check` would: its Keras decided from its own pragma or
    imports (a temporary name outside any project, so no pins apply)."""
    path = Path("/nonexistent-kerlint-page") / name
    mode = KerasDetector(warn=lambda message: None).decide(path, text)
    result = check_source(Source(path, name, text), ALL_CODES, mode=mode)
    return {(d.location.row, d.code) for d in result.diagnostics}


def test_pages_folder_is_found() -> None:
    assert pages_dir() is not None


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_each_rule_has_a_page_named_after_it(rule) -> None:
    path = page_path(rule.code)
    assert path is not None and path.name == f"{rule.code}-{rule.name}.md"
    assert path.read_text(encoding="utf-8").startswith(f"# {rule.code}: {rule.name}")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_bad_example_gives_exactly_the_marked_diagnostics(rule) -> None:
    page = page_path(rule.code).read_text(encoding="utf-8")
    bad = code_block(page, "Bad example")
    expected = expected_errors(bad)
    assert any(code == rule.code for _, code in expected), "the bad example marks its own rule"
    assert check_text(bad, f"{rule.code}_bad.py") == expected


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_good_example_is_clean(rule) -> None:
    page = page_path(rule.code).read_text(encoding="utf-8")
    good = code_block(page, "Good example")
    assert check_text(good, f"{rule.code}_good.py") == set()


def test_explain_prints_the_page(run_cli) -> None:
    result = run_cli("explain", "kl008")
    assert result.exit_code == 0
    assert result.output.startswith("# KL008: trainable-not-bool")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_page_states_the_rules_default_and_autofix(rule) -> None:
    page = page_path(rule.code).read_text(encoding="utf-8")
    default = re.search(r"^\| Default \| (.*) \|$", page, re.M).group(1)
    autofix = re.search(r"^\| Autofix \| (.*) \|$", page, re.M).group(1)
    assert default.startswith("on") == rule.default
    assert autofix.split()[0] == (rule.fix or "none")
