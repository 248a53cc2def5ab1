"""The rule pages in `rules/` are well formed, and each page's proof holds against real Keras.

Every `rules/KL*.md` page follows one skeleton (the headings below, in order) and ends with a
`## Proof`: a short program that asserts, with Keras, the behaviour its rule rests on. Its
first line names the backend it needs:

    # kerlint-proof: backend=numpy     (no training: numpy cannot fit)
    # kerlint-proof: backend=torch     (fit / train_on_batch)

Each proof runs in its own interpreter with `KERAS_BACKEND` set, so the backend of the pytest
process (and of the other tests) never matters. The Bad / Good examples are checked against
the linter elsewhere; this file does not run them.

A page may add a second block, the Keras 2 proof, whose first line is

    # kerlint-proof: keras2

It runs with the `tf_keras` package (`import tf_keras as keras`; the `proofs-keras2` extra
installs it with TensorFlow), in its own interpreter too, and is skipped when tf_keras is
not installed (pytest marker `keras2`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
PAGES = sorted(RULES_DIR.glob("KL*.md"))

HEADINGS = [
    "## What it flags",
    "## Why it is wrong",
    "## When it applies",
    "## When it does not apply",
    "## How to fix",
    "## Bad example",
    "## Good example",
    "## Proof",
    "## Summary",
]
META_KEYS = ("Default", "Autofix", "Reported at")
TITLE_RE = re.compile(r"^# (KL\d{3}): ([a-z0-9]+(?:-[a-z0-9]+)*)$")
PROOF_HEADER_RE = re.compile(r"^# kerlint-proof: backend=(\w+)\s*$")
KERAS2_HEADER_RE = re.compile(r"^# kerlint-proof: keras2\s*$")
PROOF_TIMEOUT_S = 120

# What a proof needs importable for its backend. The numpy backend of Keras imports scipy and
# jax (RESULTS.md, experiment 11).
BACKEND_NEEDS = {
    "numpy": ("keras", "numpy", "scipy", "jax"),
    "torch": ("keras", "numpy", "torch"),
    "tensorflow": ("keras", "numpy", "tensorflow"),
}


def _split(text: str) -> tuple[list[str], dict[str, str]]:
    """The page's level-1/2 headings in order and the body under each `## ` heading.

    Lines inside fenced code blocks are never headings (a `# comment` in a Python example
    is not a title).
    """
    headings: list[str] = []
    bodies: dict[str, list[str]] = {}
    current: str | None = None
    fence: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif fence is None and (line.startswith("# ") or line.startswith("## ")):
            headings.append(line.rstrip())
            if line.startswith("## "):
                current = line.rstrip()
                bodies[current] = []
                continue
        if current is not None:
            bodies[current].append(line)
    return headings, {k: "\n".join(v) for k, v in bodies.items()}


def _code_blocks(body: str) -> list[tuple[str, str]]:
    """(info string, code) for every fenced block in a section body."""
    return [
        (m.group(1).strip(), m.group(2))
        for m in re.finditer(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", body, re.S | re.M)
    ]


def _proof_blocks(page: Path) -> list[tuple[str, str]]:
    """The fenced blocks of the page's `## Proof`: the Keras 3 proof, then maybe a Keras 2 one."""
    _, sections = _split(page.read_text(encoding="utf-8"))
    blocks = _code_blocks(sections.get("## Proof", ""))
    assert len(blocks) in (1, 2), (
        f"{page.name}: `## Proof` must hold one code block, or two (the second a Keras 2 proof)"
    )
    return blocks


def _keras2_proof(page: Path) -> str | None:
    """The code of the page's Keras 2 proof (the second block), or None when it has none."""
    blocks = _proof_blocks(page)
    if len(blocks) < 2:
        return None
    info, code = blocks[1]
    assert info == "python", f"{page.name}: the Keras 2 proof must be ```python, got {info!r}"
    first = code.splitlines()[0] if code.strip() else ""
    assert KERAS2_HEADER_RE.match(first), (
        f"{page.name}: the second proof block's first line must be `# kerlint-proof: keras2`"
    )
    assert re.search(r"^import tf_keras as keras\b", code, re.M), (
        f"{page.name}: the Keras 2 proof must `import tf_keras as keras`"
    )
    return code


def _proof(page: Path) -> tuple[str, str]:
    """(backend, code) of the page's proof."""
    info, code = _proof_blocks(page)[0]
    assert info == "python", f"{page.name}: the proof block must be ```python, got {info!r}"
    first = code.splitlines()[0] if code.strip() else ""
    m = PROOF_HEADER_RE.match(first)
    assert m, f"{page.name}: the proof's first line must be `# kerlint-proof: backend=...`"
    backend = m.group(1)
    assert backend in BACKEND_NEEDS, f"{page.name}: unknown proof backend {backend!r}"
    return backend, code


def _require(module: str) -> None:
    # Like pytest.importorskip, but without importing: importing keras here would pick the
    # backend of ~/.keras/keras.json for the whole pytest process (and, when that backend is
    # not installed, raise ImportError and skip every proof for the wrong reason).
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def _run_proof(page: Path, code: str, tmp_path: Path, env: dict, what: str) -> None:
    """Run a proof in its own interpreter; it passes when it exits 0 within the time limit."""
    script = tmp_path / f"{page.stem}_proof.py"
    script.write_text(code, encoding="utf-8")
    env = dict(env, PYTHONDONTWRITEBYTECODE="1")
    try:
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=PROOF_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{page.name}: {what} ran over {PROOF_TIMEOUT_S} s")
    assert proc.returncode == 0, (
        f"{page.name}: {what} exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
    )


def test_there_are_pages():
    assert PAGES, f"no rule pages found in {RULES_DIR}"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_structure(page: Path):
    text = page.read_text(encoding="utf-8")
    headings, sections = _split(text)

    assert headings and TITLE_RE.match(headings[0]), (
        f"{page.name}: the first heading must be `# KLnnn: name`, got {headings[:1]}"
    )
    code, name = TITLE_RE.match(headings[0]).groups()
    assert page.stem == f"{code}-{name}", f"{page.name}: title says `{code}: {name}`"

    assert headings[1:] == HEADINGS, (
        f"{page.name}: headings must be exactly, in order:\n  "
        + "\n  ".join(HEADINGS)
        + "\ngot:\n  "
        + "\n  ".join(headings[1:])
    )

    preamble = text.split("\n## ", 1)[0]
    assert re.search(r"^> \S", preamble, re.M), f"{page.name}: missing the `> summary` line"
    for key in META_KEYS:
        assert re.search(rf"^\| {re.escape(key)} \| .+\|\s*$", preamble, re.M), (
            f"{page.name}: the table under the title has no `{key}` row"
        )

    for heading in ("## Bad example", "## Good example"):
        blocks = _code_blocks(sections[heading])
        assert len(blocks) == 1 and blocks[0][0] == "python", (
            f"{page.name}: `{heading}` must hold exactly one ```python block"
        )
    bad = _code_blocks(sections["## Bad example"])[0][1]
    good = _code_blocks(sections["## Good example"])[0][1]
    assert f"# error: {code}" in bad, f"{page.name}: the bad example marks no `# error: {code}`"
    assert "# error:" not in good, f"{page.name}: the good example must mark no error"

    _proof(page)
    _keras2_proof(page)


@pytest.mark.keras
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_proof_passes(page: Path, tmp_path: Path):
    backend, code = _proof(page)
    for module in BACKEND_NEEDS[backend]:
        _require(module)

    env = dict(os.environ, KERAS_BACKEND=backend)
    _run_proof(page, code, tmp_path, env, f"proof (backend={backend})")


KERAS2_PAGES = [page for page in PAGES if _keras2_proof(page) is not None]


def test_there_is_a_keras2_proof():
    assert KERAS2_PAGES, "no rule page has a `# kerlint-proof: keras2` block"


@pytest.mark.keras2
@pytest.mark.parametrize("page", KERAS2_PAGES, ids=[p.stem for p in KERAS2_PAGES])
def test_keras2_proof_passes(page: Path, tmp_path: Path):
    code = _keras2_proof(page)
    assert code is not None
    for module in ("tf_keras", "tensorflow", "numpy"):
        _require(module)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("KERAS_BACKEND", None)
    env.pop("TF_USE_LEGACY_KERAS", None)
    _run_proof(page, code, tmp_path, env, "the Keras 2 proof")
