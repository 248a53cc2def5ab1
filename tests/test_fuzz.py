"""Property-based: whatever the source, checking never raises and every format stays valid.

Two sources of input:
- hypothesmith's grammar-generated Python (valid or nearly so), with a Keras freeze in front
  so that the prefilter lets it through and the whole pipeline runs;
- the rule fixtures (real Keras freeze patterns, every rule's findings), mutated line by line
  and token by token: half-edited code, the state an editor integration sees on every
  keystroke.

Bounded (100-200 examples, no deadline) so that the suite stays fast.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import hypothesmith
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerlint.cli import main
from kerlint.engine import check_source
from kerlint.reporters import ReportContext, names, render
from kerlint.rules import registry
from kerlint.source import Source

ALL = frozenset(rule.code for rule in registry.all_rules())
FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("KL*.py"))
SEEDS = [path.read_text(encoding="utf-8") for path in FIXTURES]
PREAMBLE = (
    "import keras\n"
    "model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])\n"
    "model.trainable = False\n"
    "model.fit(x, y)\n"
)
TOKENS = [
    "(", ")", "[", "]", "{", "}", ":", ",", ".", "=", "==", "\\", "\n", "\t", "    ", "#",
    "'", '"', '"""', "lambda", "trainable", "False", "None", "model", "fit", "compile",
    "for", "in", "if", "else", "def", "class", "return", "yield", "await", "async",
    "with", "*", "**", "@", "->", ";", "\r", "\x0c", "é", "\U0001f600", "0x", "1e",
]  # fmt: skip


def bounded(examples: int) -> settings:
    """No deadline (a LibCST parse varies), no example database written into the tree."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )


def _valid_output(name: str, output: str, diagnostics: list) -> None:
    if name in ("json", "sarif", "gitlab", "rdjson"):
        json.loads(output)
    elif name in ("json-lines", "github", "pylint", "azure"):  # one line a diagnostic
        lines = output.splitlines()
        if name == "json-lines":
            assert all(isinstance(json.loads(line), dict) for line in lines)
        assert bool(lines) == bool(diagnostics)
        if None not in diagnostics:  # the CLI test knows only whether there were some
            assert len(lines) == len(diagnostics)
    elif name == "junit":
        ET.fromstring(output.encode("utf-8"))
    else:
        assert output


def _check_and_render(text: str) -> None:
    source = Source(Path("fuzz.py"), "fuzz.py", text)
    result = check_source(source, ALL)
    for diagnostic in result.diagnostics:
        assert diagnostic.code in ALL or diagnostic.code == "KL000"
        assert "internal error" not in diagnostic.message, diagnostic.message
        assert diagnostic.location.row >= 1 and diagnostic.location.column >= 1
    context = ReportContext(files_checked=1, sources={"fuzz.py": text}, checked_files=["fuzz.py"])
    for name in names():
        _valid_output(name, render(name, result.diagnostics, context), result.diagnostics)


# hypothesmith compiles what it generates ("'int' object is not callable; perhaps you missed
# a comma?"): those SyntaxWarnings are the generator's, not kerlint's, which silences its own.
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@bounded(150)
@given(hypothesmith.from_grammar())
def test_generated_python_never_breaks_the_check(code: str) -> None:
    _check_and_render(PREAMBLE + code)


@st.composite
def mutated_snippets(draw) -> str:
    """A fixture with a few edits: lines dropped, doubled, swapped, re-indented, tokens
    inserted or removed, a line cut in two."""
    lines = draw(st.sampled_from(SEEDS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            lines = ["\n"]
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        kind = draw(
            st.sampled_from(
                ["drop", "double", "swap", "indent", "dedent", "insert", "delete", "cut"]
            )
        )
        if kind == "drop":
            del lines[index]
        elif kind == "double":
            lines.insert(index, line)
        elif kind == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind == "indent":
            lines[index] = "    " + line
        elif kind == "dedent":
            lines[index] = line.lstrip(" ")
        else:
            at = draw(st.integers(0, len(line)))
            if kind == "insert":
                lines[index] = line[:at] + draw(st.sampled_from(TOKENS)) + line[at:]
            elif kind == "delete":
                end = draw(st.integers(at, len(line)))
                lines[index] = line[:at] + line[end:]
            else:
                lines[index] = line[:at] + "\n" + line[at:]
    return "".join(lines)


@bounded(200)
@given(mutated_snippets())
def test_mutated_keras_code_never_breaks_the_check(code: str) -> None:
    _check_and_render(code)


@bounded(30)
@given(mutated_snippets(), st.sampled_from(["concise", "full", "json", "sarif", "github",
                                             "gitlab", "junit"]))  # fmt: skip
def test_the_cli_on_stdin_never_breaks(code: str, fmt: str) -> None:
    result = CliRunner().invoke(
        main,
        ["check", "--isolated", "--output-format", fmt, "--stdin-filename", "x.py", "-"],
        input=code.encode("utf-8", "surrogatepass"),
        catch_exceptions=False,
    )
    assert result.exit_code in (0, 1), result.output
    assert "internal error" not in result.stdout
    # The CLI adds the summary line and a final newline; the report itself must be valid.
    _valid_output(fmt, result.stdout, [None] if result.exit_code else [])
