"""Reading one requirement, one pip command line, one Poetry or conda version.

Only the requirement's name is cut out here (a regular expression, to know whether it is one
of the few packages that matter before paying for `packaging`); the specifier and the marker
are read by `packaging`. Poetry's `^` / `~` and conda's `=2.10` are translated to PEP 440.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kerlint.keras_version.versions import (
    GPU_ONLY_UP_TO,
    NIGHTLY_FROM,
    PYTHON,
    SAMPLES,
    allowed,
    family,
    normalise,
)

_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(?P<rest>.*)$"
)
_HASH = re.compile(r"\s--hash[=\s]\S+")


class Requirement:
    """A requirement on a package of one family: its PEP 440 specifier and marker."""

    __slots__ = ("family", "marker", "name", "specifier", "text")

    def __init__(self, family: str, name: str, specifier: str, marker: str, text: str) -> None:
        self.family = family
        self.name = name
        self.specifier = specifier  # "" allows every version
        self.marker = marker  # "" when unconditional
        self.text = text  # the requirement as written, for messages

    def __repr__(self) -> str:
        return f"Requirement({self.text!r}, marker={self.marker!r})"

    @property
    def versions(self) -> frozenset[str] | None:
        return allowed(self.family, self.specifier)

    @property
    def exact(self) -> bool:
        return self.specifier.startswith("==") and "," not in self.specifier


def parse(line: str) -> Requirement | None:
    """A PEP 508 requirement on tensorflow, keras or tf-keras; None for anything else.

    A URL requirement (`tensorflow @ https://...`) says nothing about the version.
    """
    line = _HASH.sub("", line).strip()
    match = _REQUIREMENT.match(line)
    if not match:
        return None
    name = match.group("name")
    kind = family(name)
    if kind is None:
        return None
    rest = match.group("rest").strip()
    marker = ""
    if ";" in rest:
        rest, marker = (part.strip() for part in rest.split(";", 1))
    if rest.startswith("@"):
        rest = ""
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1].strip()
    if rest and rest[0] not in "<>=!~":
        return None  # not a requirement line after all (`tensorflow is great`)
    text = f"{name}{rest}" if rest else name
    specifier = rest.replace(" ", "")
    canonical = normalise(name)
    if canonical.startswith("tf-nightly"):
        canonical = "tf-nightly"
    if canonical == "tensorflow-gpu":
        specifier = f"{specifier},{GPU_ONLY_UP_TO}" if specifier else GPU_ONLY_UP_TO
    elif not specifier and canonical in NIGHTLY_FROM:
        specifier = NIGHTLY_FROM[canonical]  # a nightly is the newest: today's versions
    return Requirement(kind, name, specifier, marker, text)


@lru_cache(maxsize=256)
def marker_can_apply(marker: str, python: frozenset[str] | None) -> bool | None:
    """Whether some interpreter (within the project's Python bound) and platform meets it.

    None: the marker cannot be read. `extra == "gpu"` applies (the extra may be installed).
    """
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison

    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return None
    # Without a bound, any Python 3 (no Keras 2.4+ or TensorFlow 2 ran on Python 2).
    pythons = sorted(python) if python else [v for v in SAMPLES[PYTHON] if v.startswith("3.")]
    extras = re.findall(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker) or [""]
    for version in pythons:
        short = ".".join(version.split(".")[:2])
        for platform, system in (("linux", "Linux"), ("darwin", "Darwin"), ("win32", "Windows")):
            for extra in extras:
                env = {
                    "python_version": short,
                    "python_full_version": version,
                    "sys_platform": platform,
                    "platform_system": system,
                    "os_name": "nt" if platform == "win32" else "posix",
                    "extra": extra,
                }
                try:
                    if parsed.evaluate(env):
                        return True
                except (UndefinedComparison, ValueError, TypeError):
                    return True
    return False


def poetry_to_pep440(constraint: str) -> str | None:
    """Poetry's `^2.12`, `~2.12.1`, `2.15.0`, `>=2.1 <2.16`, `*` as a PEP 440 specifier.

    `||` (either) is not translated: None, the caller treats it as unreadable-but-harmless.
    """
    constraint = constraint.strip()
    if "||" in constraint:
        return None
    parts = [p for p in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", constraint) if p]
    out = []
    for part in parts:
        part = part.strip()
        if part in ("*", ""):
            continue
        if part.startswith("^"):
            out.extend(_caret(part[1:]))
        elif part.startswith("~") and not part.startswith("~="):
            out.extend(_tilde(part[1:]))
        elif part[0].isdigit():
            out.append(f"=={part}")
        else:
            out.append(part)
    return ",".join(out)


def _numbers(version: str) -> list[int] | None:
    try:
        return [int(p) for p in version.strip().rstrip(".*").split(".")]
    except ValueError:
        return None


def _caret(version: str) -> list[str]:
    """`^2.12.1` -> `>=2.12.1,<3`; `^0.2.3` -> `>=0.2.3,<0.3`; `^0.0.3` -> `<0.0.4`."""
    numbers = _numbers(version)
    if not numbers:
        return [f"=={version}"]
    index = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
    upper = [*numbers[:index], numbers[index] + 1]
    return [f">={version}", "<" + ".".join(map(str, upper))]


def _tilde(version: str) -> list[str]:
    """`~2.12.1` -> `>=2.12.1,<2.13`; `~2.12` -> `>=2.12,<2.13`; `~2` -> `>=2,<3`."""
    numbers = _numbers(version)
    if not numbers:
        return [f"=={version}"]
    upper = [numbers[0] + 1] if len(numbers) == 1 else [numbers[0], numbers[1] + 1]
    return [f">={version}", "<" + ".".join(map(str, upper))]


def conda_to_requirement(item: str) -> tuple[str, str] | None:
    """A conda spec (`tensorflow=2.10.0=mkl_py38`, `keras==2.10`, `python=3.8`, `tensorflow 2.12.*`)
    as (name, PEP 440 specifier). conda's `=2.10` means 2.10 and its patches (`==2.10.*`)."""
    item = item.strip().strip("'\"").split("::")[-1].strip()
    if not item:
        return None
    if " " in item:
        name, spec = item.split(None, 1)
        spec = spec.split()[0]
        if spec[:1].isdigit() or spec.startswith("*"):
            spec = "=" + spec
    else:
        cut = next((i for i, c in enumerate(item) if c in "=<>!~"), len(item))
        name, spec = item[:cut], item[cut:]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        return None
    if spec.startswith("=="):
        return name, "==" + spec[2:].split("=", 1)[0]
    if spec[:1] in ("<", ">", "!", "~"):
        return name, spec
    if spec.startswith("="):
        version = spec[1:].split("=", 1)[0]
        if not version or version == "*":
            return name, ""
        return name, f"=={version}" if version.endswith("*") else f"=={version}.*"
    return name, ""


_PIP_COMMAND = (  # compiled on first use (by `re`'s cache): only notebooks and Docker need it
    r"(?:^|[\s;&|(`])(?:[\w./-]*python[\d.]*\s+-m\s+)?(?:uv\s+)?pip[\d.]*\s+install\s+(?P<args>[^;&|`#\n)]*)"
)
# pip options whose value is the next word.
_PIP_VALUE_OPTIONS = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target",
    "--prefix", "--root", "--trusted-host", "--platform", "--python-version",
    "--implementation", "--abi", "--src", "--cache-dir", "--progress-bar", "-e", "--editable",
}  # fmt: skip


def pip_install_arguments(text: str) -> list[tuple[str, str]]:
    """Every package argument of every `pip install` in a shell text, as (kind, value).

    kind "req" is a requirement, "file" a `-r`/`-c` file. `$VAR` arguments are skipped.
    """
    import shlex

    text = re.sub(r"\\\r?\n", " ", text)
    found: list[tuple[str, str]] = []
    for match in re.finditer(_PIP_COMMAND, text):
        try:
            words = shlex.split(match.group("args"), comments=False)
        except ValueError:
            words = match.group("args").split()
        index = 0
        while index < len(words):
            word = words[index]
            if word in ("-r", "--requirement", "-c", "--constraint"):
                if index + 1 < len(words):
                    found.append(("file", words[index + 1]))
                index += 2
                continue
            if word.startswith(("--requirement=", "--constraint=")):
                found.append(("file", word.split("=", 1)[1]))
            elif word in _PIP_VALUE_OPTIONS:
                index += 1
            elif not word.startswith("-") and "$" not in word:
                found.append(("req", word))
            index += 1
    return found


_CONDA_COMMAND = r"(?:^|[\s;&|(`])(?:conda|mamba|micromamba)\s+install\s+(?P<args>[^;&|`#\n)]*)"
_CONDA_VALUE_OPTIONS = {"-c", "--channel", "-n", "--name", "-p", "--prefix", "--file"}


def conda_install_requirements(text: str) -> list[tuple[str, str]]:
    """Every package of every `conda install` in a shell text, as (PEP 508 line, as written)."""
    import shlex

    text = re.sub(r"\\\r?\n", " ", text)
    found: list[tuple[str, str]] = []
    for match in re.finditer(_CONDA_COMMAND, text):
        try:
            words = shlex.split(match.group("args"))
        except ValueError:
            words = match.group("args").split()
        skip = False
        for word in words:
            if skip:
                skip = False
            elif word in _CONDA_VALUE_OPTIONS:
                skip = True
            elif not word.startswith("-") and "$" not in word:
                converted = conda_to_requirement(word)
                if converted is not None:
                    found.append((f"{converted[0]}{converted[1]}", word))
    return found
