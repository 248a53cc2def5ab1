"""Rule fixtures: the lines marked `# error: CODE` are exactly the ones reported.

Each `tests/fixtures/KLnnn_*.py` is checked with its own rule selected; the
inline markers are the expectations (pylint functional tests, mypy test data).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kerlint.engine import check_file

FIXTURES = Path(__file__).parent / "fixtures"
MARKER = re.compile(r"#\s*error:\s*(?P<codes>KL\d{3}(?:\s*,\s*KL\d{3})*)")


def expected_errors(text: str) -> set[tuple[int, str]]:
    expected = set()
    for row, line in enumerate(text.splitlines(), start=1):
        match = MARKER.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group("codes")):
                expected.add((row, code))
    return expected


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("KL[0-9][0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.stem)
def test_fixture_reports_exactly_the_marked_lines(path: Path) -> None:
    code = path.name[:5]
    result = check_file(path, frozenset({code}))
    reported = {(d.location.row, d.code) for d in result.diagnostics}
    expected = expected_errors(path.read_text(encoding="utf-8"))
    missing = sorted(expected - reported)
    unexpected = sorted(reported - expected)
    messages = {(d.location.row, d.code): d.message for d in result.diagnostics}
    assert not missing and not unexpected, (
        f"missing: {missing}\nunexpected: {[(r, c, messages[(r, c)]) for r, c in unexpected]}"
    )


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.stem)
def test_fixture_has_bad_and_at_least_as_many_clean_cases(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    marked = len(expected_errors(text))
    assert marked >= 1
    clean_part = text.split("clean cases", 1)
    assert len(clean_part) == 2, "a fixture separates its clean cases with a `clean cases` comment"
    clean_cases = len(re.findall(r"^(?:def|class) ", clean_part[1], re.MULTILINE))
    bad_cases = len(re.findall(r"^(?:def|class) ", clean_part[0], re.MULTILINE))
    assert clean_cases >= bad_cases, f"{clean_cases} clean cases for {bad_cases} bad ones"


def test_every_rule_has_a_fixture() -> None:
    from kerlint.rules import registry

    have = {path.name[:5] for path in fixture_files()}
    assert {rule.code for rule in registry.all_rules()} <= have


@pytest.mark.parametrize(
    "path", sorted((FIXTURES / "realistic").glob("*.py")), ids=lambda p: p.stem
)
def test_realistic_script_reports_exactly_the_marked_lines(path: Path) -> None:
    """Whole programs (transfer learning, GANs, custom loops, helpers), every rule selected."""
    from kerlint.rules import registry

    result = check_file(path, frozenset(rule.code for rule in registry.all_rules()))
    reported = {(d.location.row, d.code) for d in result.diagnostics}
    assert reported == expected_errors(path.read_text(encoding="utf-8"))
