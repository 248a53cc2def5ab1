"""Version sets of the packages that decide which Keras runs, kept as sets of sample versions.

The decision only ever asks one kind of question: does every version a declaration allows lie
below (or at or above) a threshold, such as TensorFlow 2.16 or Keras 3? So a declaration is
represented by the set of sample releases it allows (every minor release with a low, a middle
and a high patch number, plus a few versions beyond today's newest), and intersecting two
declarations is intersecting two sets. Specifiers are read by `packaging`, imported only when
a relevant pin is actually seen (it costs ~5 ms, more than the rest of the detection).
"""

from __future__ import annotations

import re
from functools import lru_cache

# The families of packages that decide the Keras (RESULTS.md §5.3 step 1.3), by PEP 503 name.
TF, KERAS, TF_KERAS, PYTHON = "tensorflow", "keras", "tf-keras", "python"
FAMILY_OF = {
    "tensorflow": TF,
    "tensorflow-cpu": TF,
    "tensorflow-gpu": TF,
    "tensorflow-intel": TF,
    "tensorflow-macos": TF,
    "tensorflow-aarch64": TF,
    "tensorflow-rocm": TF,
    "intel-tensorflow": TF,
    "keras": KERAS,
    "keras-nightly": KERAS,
    "tf-keras": TF_KERAS,
    "tf-keras-nightly": TF_KERAS,
}
# An unpinned nightly installs today's newest: TensorFlow >= 2.16, Keras >= 3.
NIGHTLY_FROM = {
    "tf-nightly": ">=2.16.0.dev0",
    "keras-nightly": ">=3.0.0.dev0",
    "tf-keras-nightly": ">=2.16.0.dev0",
}
# tensorflow-gpu was last released as 2.12: whatever it pins, TensorFlow is older than 2.13.
GPU_ONLY_UP_TO = "<2.13"

_TF_SAMPLES = tuple(
    [f"1.{m}.{p}" for m in range(16) for p in (0, 1, 99)]
    + [f"2.{m}.{p}" for m in range(40) for p in (0, 1, 99)]
    + ["3.0.0", "3.1.0", "4.0.0"]
)
_KERAS_SAMPLES = tuple(
    ["0.9.0"]
    + [f"1.{m}.{p}" for m in range(3) for p in (0, 1, 99)]
    + [f"2.{m}.{p}" for m in range(20) for p in (0, 1, 99)]
    + [f"3.{m}.{p}" for m in range(40) for p in (0, 1, 99)]
    + ["4.0.0", "5.0.0"]
)
_PYTHON_SAMPLES = tuple(
    ["2.7.0", "2.7.18"] + [f"3.{m}.{p}" for m in range(20) for p in (0, 1, 99)] + ["4.0.0"]
)
SAMPLES = {TF: _TF_SAMPLES, KERAS: _KERAS_SAMPLES, TF_KERAS: _TF_SAMPLES, PYTHON: _PYTHON_SAMPLES}

_NAME = re.compile(r"[-_.]+")


def normalise(name: str) -> str:
    """PEP 503: `TF_Keras` and `tf.keras` are both `tf-keras`."""
    return _NAME.sub("-", name).lower()


def family(name: str) -> str | None:
    """The family of a distribution name; tf-nightly and its variants count as TensorFlow."""
    canonical = normalise(name)
    if canonical in FAMILY_OF:
        return FAMILY_OF[canonical]
    if canonical.startswith("tf-nightly"):
        return TF
    return None


@lru_cache(maxsize=512)
def allowed(kind: str, specifier: str) -> frozenset[str] | None:
    """The sample versions of `kind` a PEP 440 specifier allows; None when it is unreadable.

    An empty specifier allows everything. Pre-releases count (`==2.16.0rc0` is a 2.16).
    """
    if not specifier.strip():
        return frozenset(SAMPLES[kind])  # no need for packaging to read "anything"
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    chosen = frozenset(text for text, version in _parsed(kind) if spec.contains(version, True))
    if not chosen and specifier.strip():
        # `==2.15.0` is one exact release; the samples hold 2.15.0 but not every patch.
        exact = _exact_versions(spec)
        if exact:
            chosen = frozenset(exact)
    return chosen


@lru_cache(maxsize=8)
def _parsed(kind: str) -> list:
    """The samples of a family as packaging Versions, parsed once per run."""
    from packaging.version import Version

    return [(text, Version(text)) for text in SAMPLES[kind]]


def _exact_versions(spec) -> list[str]:
    """The versions named by `==X` (no wildcard) in a specifier set, when they satisfy it."""
    found = []
    for item in spec:
        exact = item.operator in ("==", "===") and not item.version.endswith(".*")
        if exact and spec.contains(item.version, prereleases=True):
            found.append(item.version)
    return found


def compare(version: str, threshold: str) -> int:
    """-1, 0, 1 as `version` is below, equal to or above `threshold` (release parts only)."""
    left = _release(version)
    right = _release(threshold)
    width = max(len(left), len(right))
    left += (0,) * (width - len(left))
    right += (0,) * (width - len(right))
    return (left > right) - (left < right)


@lru_cache(maxsize=2048)
def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else (0,)


class Evidence:
    """One declaration that narrows a version set: what it said and where.

    (Plain classes, not dataclasses, here and in the sibling modules: a dataclass costs a
    compile at import, and the one-file run has ~5 ms for all of the detection.)
    """

    __slots__ = ("text", "where")

    def __init__(self, text: str, where: str) -> None:
        self.text = text  # `tensorflow==2.15.0`, `requires-python >=3.12`, `FROM python:3.12`
        self.where = where  # the file relative to the project root, or "" (the code itself)

    def __repr__(self) -> str:
        return f"Evidence({self.text!r}, {self.where!r})"

    def describe(self) -> str:
        return f"{self.text} in {self.where}" if self.where else self.text


class Span:
    """The versions of one family the project allows (None: anything), and what says so."""

    __slots__ = ("evidence", "limits", "versions")

    def __init__(
        self,
        versions: frozenset[str] | None = None,
        evidence: tuple[Evidence, ...] = (),
        limits: tuple[Evidence, ...] = (),
    ) -> None:
        self.versions = versions
        self.evidence = evidence
        # The evidence that limits the versions (an unpinned `tensorflow` only declares it).
        self.limits = limits

    @property
    def declared(self) -> bool:
        return bool(self.evidence)

    def narrow(self, versions: frozenset[str] | None, *evidence: Evidence, kind: str = "") -> Span:
        """Both this span's and the new declaration's limits hold."""
        everything = versions is None or (kind in SAMPLES and len(versions) == len(SAMPLES[kind]))
        limits = self.limits if everything else (*self.limits, *evidence)
        if versions is None:
            return Span(self.versions, (*self.evidence, *evidence), limits)
        joined = versions if self.versions is None else self.versions & versions
        return Span(joined, (*self.evidence, *evidence), limits)

    def below(self, threshold: str) -> bool:
        """Every allowed version is older than `threshold` (and some version is allowed)."""
        return _all_below(self.versions, threshold)

    def at_least(self, threshold: str) -> bool:
        return _all_at_least(self.versions, threshold)

    @property
    def contradictory(self) -> bool:
        return self.versions is not None and not self.versions

    def describe(self) -> str:
        """The declarations that limit the versions (or, when none does, all of them)."""
        return ", ".join(dict.fromkeys(e.describe() for e in self.limits or self.evidence))


@lru_cache(maxsize=256)
def _all_below(versions: frozenset[str] | None, threshold: str) -> bool:
    return bool(versions) and all(compare(v, threshold) < 0 for v in versions)  # type: ignore[union-attr]


@lru_cache(maxsize=256)
def _all_at_least(versions: frozenset[str] | None, threshold: str) -> bool:
    return bool(versions) and all(compare(v, threshold) >= 0 for v in versions)  # type: ignore[union-attr]


def union(sets: list[frozenset[str] | None]) -> frozenset[str] | None:
    """Alternatives (optional extras, requirements under different markers): any of them."""
    if any(s is None for s in sets):
        return None
    joined: frozenset[str] = frozenset()
    for s in sets:
        joined |= s  # type: ignore[operator]
    return joined


def implied_tf(kind: str, versions: frozenset[str] | None) -> frozenset[str] | None:
    """What a keras, tf-keras or Python version set says about TensorFlow (§5.3 step 1.4-5).

    keras < 3 needs TF <= 2.15 (TF 2.16 requires keras >= 3); tf-keras 2.X needs TF 2.X;
    Python >= 3.12 has TF >= 2.16 only, Python <= 3.8 TF <= 2.13.1 only (the wheels on PyPI).
    None: no limit.
    """
    if not versions:
        return None
    if kind == KERAS:
        if all(compare(v, "3") < 0 for v in versions):
            return frozenset(v for v in _TF_SAMPLES if compare(v, "2.16") < 0)
        return None
    if kind == TF_KERAS:
        minors = {_release(v)[:2] for v in versions}
        return frozenset(v for v in _TF_SAMPLES if _release(v)[:2] in minors)
    if kind == PYTHON:
        if all(compare(v, "3.12") >= 0 for v in versions):
            return frozenset(v for v in _TF_SAMPLES if compare(v, "2.16") >= 0)
        if all(compare(v, "3.9") < 0 for v in versions):
            return frozenset(v for v in _TF_SAMPLES if compare(v, "2.13.1") <= 0)
    return None
