"""Rule fixtures: the lines marked `# error: CODE` are exactly the ones reported.

Each `tests/fixtures/KLnnn_*.py` is checked with its own rule selected, once in every Keras
mode; the inline markers are the expectations (pylint functional tests, mypy test data).
A marker holds in every mode unless it names its modes: `# error[3]: KL002` only when the
file runs Keras 3, `# error[2,?]: KL013` in Keras 2 and when the version is unknown (the
portable reading), `# error[2>3]: KL002` in Keras 2 with the upgrade view
(`target-keras = "3"`). So each fixture reproduces the catalog's per-mode table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kerlint.engine import check_file
from kerlint.facts.mode import KerasMode

FIXTURES = Path(__file__).parent / "fixtures"
MARKER = re.compile(r"#\s*error(?:\[(?P<modes>[^\]]*)\])?:\s*(?P<codes>KL\d{3}(?:\s*,\s*KL\d{3})*)")
MODES = {
    "3": KerasMode("3", "fixture"),
    "2": KerasMode("2", "fixture", optimizers_bound=True),  # TensorFlow 2.11-2.15
    "?": KerasMode(None, "fixture"),
    "2>3": KerasMode("2", "fixture", target="3", optimizers_bound=True),
}


def expected_errors(text: str, mode: str | None = None) -> set[tuple[int, str]]:
    """The marked (row, code) pairs; with `mode`, only those that hold in that mode."""
    expected = set()
    for row, line in enumerate(text.splitlines(), start=1):
        for match in MARKER.finditer(line):
            modes = match.group("modes")
            if (
                mode is not None
                and modes is not None
                and mode not in {m.strip() for m in modes.split(",")}
            ):
                continue
            for code in re.split(r"\s*,\s*", match.group("codes")):
                expected.add((row, code))
    return expected


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("KL[0-9][0-9][0-9]_*.py"))


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.stem)
def test_fixture_reports_exactly_the_marked_lines(path: Path, mode: str) -> None:
    code = path.name[:5]
    result = check_file(path, frozenset({code}), mode=MODES[mode])
    reported = {(d.location.row, d.code) for d in result.diagnostics}
    expected = expected_errors(path.read_text(encoding="utf-8"), mode)
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
@pytest.mark.parametrize("mode", list(MODES))
def test_realistic_script_reports_exactly_the_marked_lines(path: Path, mode: str) -> None:
    """Whole programs (transfer learning, GANs, custom loops, helpers), every rule selected."""
    from kerlint.rules import registry

    codes = frozenset(rule.code for rule in registry.all_rules())
    result = check_file(path, codes, mode=MODES[mode])
    reported = {(d.location.row, d.code) for d in result.diagnostics}
    assert reported == expected_errors(path.read_text(encoding="utf-8"), mode)
