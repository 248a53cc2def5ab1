"""Which Keras each file runs: Keras 2, Keras 3, or unknown, and the evidence.

The steps are those of `keras-semantics/keras2/RESULTS.md` §5.3:
0. explicit: a `# kerlint: keras=2|3|auto` pragma in the file, then `configured`
   (`[tool.kerlint] keras`, `--keras`);
1. the versions the project allows of TensorFlow, Keras and tf-keras (lockfiles first, then
   declarations, the Python bound and what each package implies of the others);
2. the legacy switch `TF_USE_LEGACY_KERAS`, in the code (where it is set relative to the first
   TensorFlow import matters) or outside it (Dockerfile `ENV`, `.env`, scripts, CI);
3. each import root the file uses, resolved from 1 and 2 (`tf_keras` is always Keras 2);
4. for a root still unknown, the file's Keras-2-only / Keras-3-only APIs.

Project files are found upward from each file up to the project root (the nearest folder with
`.git`); the nearest folder that declares TensorFlow, Keras or tf-keras gives the pins (so a
monorepo is judged per package), the nearest folder that says so gives the Python bound and
the switch. Each folder is read once per run. In a process pool, call `project_files` for the
folders in the parent before forking: the workers inherit what was read (and do not warn again).
Nothing here imports keras, runs user code or asks the installed environment: the packages
installed where kerlint runs are not the project's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from kerlint.facts.mode import KerasMode, KerasVersion
from kerlint.keras_version.code import (
    ATTRIBUTE_ROOT,
    INTERNAL_ROOT,
    KERAS_CORE_ROOT,
    KERAS_ROOT,
    MODULE_PATH_ROOT,
    TF_KERAS_ROOT,
    CodeFacts,
    add_notebook,
    cell_starts,
    may_have_hints,
    needs_parse,
    pragma,
    read_code,
    scan_code,
)
from kerlint.keras_version.project import (
    LEGACY_VARIABLE,
    Declaration,
    FolderFacts,
    FolderReader,
    LegacySwitch,
)
from kerlint.keras_version.requirements import marker_can_apply
from kerlint.keras_version.versions import (
    KERAS,
    PYTHON,
    TF,
    TF_KERAS,
    Evidence,
    Span,
    implied_tf,
    union,
)

__all__ = ["KerasDetector"]

ROOT_FAMILY = {
    TF_KERAS_ROOT: TF_KERAS,
    KERAS_ROOT: KERAS,
    KERAS_CORE_ROOT: KERAS,
    MODULE_PATH_ROOT: TF,
    ATTRIBUTE_ROOT: TF,
    INTERNAL_ROOT: TF,
}
NO_PIN = "no pin of tensorflow or keras found"


def _default_warn(message: str) -> None:
    import click

    click.echo(f"kerlint: warning: {message}", err=True)


class Project:
    """The facts that decide the Keras of the files in one folder."""

    __slots__ = ("declarations", "files", "kerlint_keras", "legacy", "python", "spans")

    def __init__(self) -> None:
        self.declarations: list[Declaration] = []
        self.python: list[Declaration] = []
        self.legacy: list[LegacySwitch] = []
        self.kerlint_keras: tuple[str, Evidence] | None = None
        self.files: list[Path] = []
        self.spans: dict[str, Span] | None = None  # without a notebook's own installs


class _Legacy:
    """Whether the switch holds for one spelling of tensorflow.keras."""

    __slots__ = ("because", "note", "on")

    def __init__(self, on: bool | None, because: str, note: str = "") -> None:
        self.on = on  # None: set to a value kerlint cannot read
        self.because = because
        self.note = note  # set too late for this spelling: said when the answer is Keras 3


class KerasDetector:
    """One per run. Reads project files once per folder; decides per file."""

    def __init__(self, warn: Callable[[str], None] | None = None) -> None:
        self._warn = warn or _default_warn
        self._warned: set[str] = set()
        self._folders: dict[str, FolderFacts] = {}
        self._roots: dict[str, str] = {}
        self._projects: dict[str, Project] = {}

    # -- the interface --------------------------------------------------------------------

    def decide(
        self,
        path: Path,
        text: str,
        *,
        configured: str = "auto",
        target: str | None = None,
        notebook_cells: Sequence[str] | None = None,
        notebook: dict | None = None,
        configured_because: str | None = None,
    ) -> KerasMode:
        """configured: Settings.keras ("auto"|"2"|"3"); the pragma in `text` beats it; then auto.

        `notebook`: the parsed .ipynb (Source.notebook), for its raw cells, outputs and metadata.
        `configured_because`: how to name where `configured` came from (default: the project's
        `[tool.kerlint] keras` when it says the same, else `--keras X`).
        """
        target_version = _target(target)
        chosen = pragma(text)
        if chosen in ("2", "3"):
            bound = self._optimizers_bound_here(path, text) if chosen == "2" else None
            because = f"# kerlint: keras={chosen} pragma"
            return KerasMode(chosen, because, target_version, bound)  # type: ignore[arg-type]
        if chosen is None and configured in ("2", "3"):
            because = configured_because or self._configured_because(path, configured)
            bound = self._optimizers_bound_here(path, text) if configured == "2" else None
            return KerasMode(configured, because, target_version, bound)  # type: ignore[arg-type]
        roots = self.decide_roots(
            path, text, target=target, notebook_cells=notebook_cells, notebook=notebook
        )
        return _combine(roots, target_version)

    def decide_source(
        self, source, configured: str = "auto", target: str | None = None
    ) -> KerasMode:
        """`decide` for a read file (`kerlint.source.Source`): its text, and its notebook's
        cells, outputs and metadata when it is one."""
        return self.decide(
            source.path, source.text, configured=configured, target=target, notebook=source.notebook
        )

    def decide_roots(
        self,
        path: Path,
        text: str,
        *,
        target: str | None = None,
        notebook_cells: Sequence[str] | None = None,
        notebook: dict | None = None,
    ) -> dict[str, KerasMode]:
        """The Keras of each import root the file uses (auto detection only: no pragma, no
        configuration). Roots: `tf_keras`, `keras`, `keras_core`, `tensorflow.keras` (the
        module path: `from tensorflow.keras.layers import Dense`), `tf.keras` (attribute
        access: `tf.keras.X`, `from tensorflow import keras`), `tensorflow.python.keras`.
        A file that imports none gets `{"keras": <the project's decision for keras>}`.

        Never raises: a bug here makes the file's Keras unknown (`KERLINT_DEBUG=1` raises)."""
        try:
            return self._decide_roots(path, text, target, notebook_cells, notebook)
        except Exception as exc:
            if os.environ.get("KERLINT_DEBUG"):
                raise
            because = f"kerlint could not decide (internal error: {type(exc).__name__}: {exc})"
            return {KERAS_ROOT: KerasMode(None, because, _target(target))}

    def _decide_roots(
        self,
        path: Path,
        text: str,
        target: str | None,
        notebook_cells: Sequence[str] | None,
        notebook: dict | None,
    ) -> dict[str, KerasMode]:
        target_version = _target(target)
        path = Path(os.path.abspath(path))
        if notebook is None and notebook_cells is None and path.suffix == ".ipynb":
            notebook = _read_notebook(path)
        if notebook_cells is None and notebook is not None:
            notebook_cells = _code_cells(notebook)
        project = self._project(path.parent)
        starts = cell_starts(notebook_cells) if notebook_cells is not None else None
        code = read_code(text, starts) if needs_parse(text) else scan_code(text, starts)
        while True:
            add_notebook(code, notebook_cells, notebook)
            spans = _spans(project, code)
            roots = [r for r in code.roots if not self._fallback_dropped(r, code, spans)]
            resolved = {
                root: _resolve(root, spans, project, code) for root in roots or [KERAS_ROOT]
            }
            settled = all(version is not None for version, _ in resolved.values())
            if code.parsed or settled or not may_have_hints(text):
                break
            code = read_code(text, starts)  # a root is unknown: the APIs the code uses may tell
        decided: dict[str, KerasMode] = {}
        for root, (version, because) in resolved.items():
            if version is None:
                version, because = _hints(code, because)
            bound = _optimizers_bound(root, spans) if version == "2" else None
            decided[root] = KerasMode(version, because, target_version, bound)
        return decided

    def _optimizers_bound_here(self, path: Path, text: str) -> bool | None:
        """For a file declared Keras 2: what the project's pins say of its optimizers."""
        try:
            path = Path(os.path.abspath(path))
            code = scan_code(text, None)
            spans = _spans(self._project(path.parent), code)
            roots = code.roots or [KERAS_ROOT]
            verdicts = {_optimizers_bound(root, spans) for root in roots}
        except Exception:
            if os.environ.get("KERLINT_DEBUG"):
                raise
            return None
        return verdicts.pop() if len(verdicts) == 1 else None

    def project_files(self, path: Path) -> list[Path]:
        """The files the decision for this folder read (from its folder up to the project root)."""
        path = Path(os.path.abspath(path))
        folder = path if path.is_dir() else path.parent
        return list(self._project(folder).files)

    # -- folders --------------------------------------------------------------------------

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._warn(message)

    def _root_of(self, folder: str) -> str:
        """The project root: the nearest folder with `.git`, else the filesystem root."""
        walked = []
        current = folder
        while True:
            if current in self._roots:
                root = self._roots[current]
                break
            walked.append(current)
            if os.path.exists(os.path.join(current, ".git")):
                root = current
                break
            parent = os.path.dirname(current)
            if parent == current:
                root = current
                break
            current = parent
        for seen in walked:
            self._roots[seen] = root
        return root

    def _folder(self, folder: str, root: str) -> FolderFacts:
        facts = self._folders.get(folder)
        if facts is None:
            facts = FolderReader(Path(folder), Path(root), self._warn_once).read()
            self._folders[folder] = facts
        return facts

    def _project(self, folder: Path) -> Project:
        key = str(folder)
        project = self._projects.get(key)
        if project is not None:
            return project
        root = self._root_of(key)
        chain = []
        current = key
        while True:
            chain.append(self._folder(current, root))
            parent = os.path.dirname(current)
            if current == root or parent == current:
                break
            current = parent
        project = Project()
        for facts in chain:
            project.files.extend(facts.files)
        pins = next((facts for facts in chain if facts.declares), None)
        if pins is not None:
            project.declarations = list(pins.declarations)
        python = next((facts for facts in chain if facts.python), None)
        if python is not None:
            project.python = list(python.python)
        legacy = next((facts for facts in chain if facts.legacy), None)
        if legacy is not None:
            project.legacy = list(legacy.legacy)
        project.kerlint_keras = next((f.kerlint_keras for f in chain if f.kerlint_keras), None)
        self._projects[key] = project
        return project

    def _configured_because(self, path: Path, configured: str) -> str:
        project = self._project(Path(os.path.abspath(path)).parent)
        if project.kerlint_keras and project.kerlint_keras[0] == configured:
            return project.kerlint_keras[1].describe()
        return f"--keras {configured}"

    def _fallback_dropped(self, root: str, code: CodeFacts, spans: dict[str, Span]) -> bool:
        """`try: import tf_keras as keras / except ImportError: import keras`: the fallback
        does not run when the project declares the package of the first choice."""
        primary = code.fallbacks.get(root)
        return primary is not None and spans[ROOT_FAMILY.get(primary, TF)].declared


def _target(target: str | None) -> KerasVersion | None:
    return target if target in ("2", "3") else None  # type: ignore[return-value]


def _read_notebook(path: Path) -> dict | None:
    from kerlint.source import SourceError, read_source

    try:
        return read_source(path).notebook
    except SourceError:
        return None


def _code_cells(notebook: dict) -> list[str]:
    cells = notebook.get("cells")
    out = []
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            raw = cell.get("source", "")
            text = "".join(raw) if isinstance(raw, list) else raw
            if isinstance(text, str):
                out.append(text)
    return out


# -- step 1: version spans -----------------------------------------------------------------


def _span(declarations: list[Declaration], kind: str, python: frozenset[str] | None) -> Span:
    """What the declarations of one family allow together: lock pins beat declarations;
    unconditional ones all hold; alternatives (extras, markers) are a union."""
    relevant = [d for d in declarations if d.family == kind]
    locked = [d for d in relevant if d.locked]
    if locked:
        relevant = locked
    span = Span()
    groups: dict[tuple[str, str], Span] = {}
    for declaration in relevant:
        group = declaration.group
        if declaration.marker:
            applies = marker_can_apply(declaration.marker, python)
            if applies is False:
                continue
            group = group or f"marker {declaration.marker}"
        if group is None:
            span = span.narrow(declaration.versions, declaration.evidence, kind=kind)
        else:
            key = (declaration.evidence.where, group)
            alternative = groups.get(key, Span())
            groups[key] = alternative.narrow(declaration.versions, declaration.evidence, kind=kind)
    if groups:
        joined = union([g.versions for g in groups.values()])
        evidence = [e for g in groups.values() for e in g.evidence]
        span = span.narrow(joined, *evidence, kind=kind)
    return span


def _spans(project: Project, code: CodeFacts) -> dict[str, Span]:
    if not code.pip_requirements:
        if project.spans is None:
            project.spans = _compute_spans(project, code)
        return project.spans
    return _compute_spans(project, code)


def _compute_spans(project: Project, code: CodeFacts) -> dict[str, Span]:
    python = _span(project.python, PYTHON, None)
    declarations = list(project.declarations)
    if code.pip_requirements:
        # A notebook's own `!pip install` is what runs: it replaces the project's pins of
        # the families it installs.
        installed = {r.family for r in code.pip_requirements}
        declarations = [d for d in declarations if d.family not in installed]
        for requirement in code.pip_requirements:
            declarations.append(
                Declaration(
                    requirement.family,
                    requirement.versions,
                    Evidence(requirement.text, "the notebook"),
                    None,
                    True,
                )
            )
    spans = {kind: _span(declarations, kind, python.versions) for kind in (TF, KERAS, TF_KERAS)}
    tf = spans[TF]
    for kind, span in ((KERAS, spans[KERAS]), (TF_KERAS, spans[TF_KERAS]), (PYTHON, python)):
        implied = implied_tf(kind, span.versions) if span.limits else None
        if implied is not None:
            tf = tf.narrow(implied, *(span.limits or span.evidence))
    spans[TF] = tf
    spans[PYTHON] = python
    return spans


# -- step 2: the legacy switch -------------------------------------------------------------


def _project_legacy(project: Project) -> LegacySwitch | None:
    if not project.legacy:
        return None
    values = {switch.on for switch in project.legacy}
    if len(values) == 1:
        return project.legacy[-1]
    described = ", ".join(dict.fromkeys(s.evidence.describe() for s in project.legacy))
    return LegacySwitch(None, Evidence(f"{LEGACY_VARIABLE} set differently ({described})", ""))


def _legacy_for(root: str, project: Project, code: CodeFacts) -> _Legacy | None:
    """Whether the legacy switch holds for this spelling of tensorflow.keras, and why."""
    outside = _project_legacy(project)
    if root == ATTRIBUTE_ROOT:
        deadline = code.roots.get(ATTRIBUTE_ROOT)  # first `tf.keras` use
        late = f"after the first `tf.keras` use at {code.place(deadline or 0)}"
    else:
        deadline = code.first_tensorflow_import
        late = f"after `import tensorflow` at {code.place(deadline or 0)}"
    effective = None
    note = ""
    for switch in sorted(code.legacy, key=lambda s: s.row):
        if deadline is not None and switch.row >= deadline:
            if effective is None and switch.on:
                note = f"{switch.text} comes {late}, too late for this spelling"
            continue
        if switch.only_if_unset and (effective is not None or outside is not None):
            continue
        effective = switch
    if effective is not None:
        return _Legacy(effective.on, effective.text, note)
    if outside is not None:
        return _Legacy(outside.on, outside.evidence.describe(), note)
    return _Legacy(False, "", note) if note else None


# -- step 3: each root ---------------------------------------------------------------------


def _resolve(
    root: str, spans: dict[str, Span], project: Project, code: CodeFacts
) -> tuple[KerasVersion | None, str]:
    if root == TF_KERAS_ROOT:
        return "2", "import tf_keras"
    if root == KERAS_CORE_ROOT:
        return "3", "import keras_core"
    if root == INTERNAL_ROOT:
        return "2", "import tensorflow.python.keras (TensorFlow's own copy of Keras 2)"
    tf, keras, tf_keras = spans[TF], spans[KERAS], spans[TF_KERAS]
    if root == KERAS_ROOT:
        return _resolve_keras(tf, keras)
    legacy = _legacy_for(root, project, code)
    if legacy is not None and legacy.on:
        if tf_keras.declared or (tf.at_least("2.16") and TF_KERAS_ROOT in code.roots):
            evidence = tf_keras.describe() or "import tf_keras"
            return "2", f"{legacy.because} and {evidence}"
        return "2", f"{legacy.because}; tf_keras is not declared: tf.keras raises ImportError"
    version, because = _resolve_tensorflow(tf, keras)
    if legacy is not None and legacy.on is None and version != "2":
        return None, f"{legacy.because} (to a value kerlint cannot read)"
    if legacy is not None and legacy.note and version != "2":
        because = f"{because}; {legacy.note}"
    return version, because


def _resolve_keras(tf: Span, keras: Span) -> tuple[KerasVersion | None, str]:
    if keras.contradictory:
        return None, f"the pins of keras contradict each other ({keras.describe()})"
    if keras.at_least("3"):
        return "3", keras.describe()
    if keras.below("3"):
        return "2", keras.describe()
    if tf.contradictory:
        return None, f"the pins of tensorflow contradict each other ({tf.describe()})"
    if tf.below("2.16"):
        return "2", _join(tf, keras)
    if tf.at_least("2.16"):
        return "3", _join(tf, keras)
    return None, _undecided(tf, keras)


def _resolve_tensorflow(tf: Span, keras: Span) -> tuple[KerasVersion | None, str]:
    if keras.at_least("3") and not keras.contradictory:
        return "3", keras.describe()
    if keras.below("3"):
        return "2", keras.describe()
    if tf.contradictory:
        return None, f"the pins of tensorflow contradict each other ({tf.describe()})"
    if tf.below("2.16"):
        return "2", tf.describe()
    if tf.at_least("2.16"):
        return "3", tf.describe()
    return None, _undecided(tf, keras)


def _join(*spans: Span) -> str:
    return ", ".join(dict.fromkeys(s.describe() for s in spans if s.declared))


def _undecided(tf: Span, keras: Span) -> str:
    said = _join(tf, keras)
    return f"{said} allows Keras 2 and Keras 3" if said else NO_PIN


# -- step 4: hints -------------------------------------------------------------------------


def _hints(code: CodeFacts, because: str) -> tuple[KerasVersion | None, str]:
    if code.keras2_hints and code.keras3_hints:
        return (
            None,
            f"{because}; the code uses both {code.keras2_hints[0]} and {code.keras3_hints[0]}",
        )
    if code.keras2_hints:
        return "2", code.keras2_hints[0]
    if code.keras3_hints:
        return "3", code.keras3_hints[0]
    if code.colab:
        return (
            None,
            f"{because}; a Colab notebook: Colab runs Keras 3 since August 2024, Keras 2 before",
        )
    return None, because


def _optimizers_bound(root: str, spans: dict[str, Span]) -> bool | None:
    """Keras 2's default optimizers are bound to their variables from TensorFlow 2.11 on;
    before, and in multi-backend Keras (<= 2.3), any optimizer takes any variable."""
    tf, keras = spans[TF], spans[KERAS]
    if root == TF_KERAS_ROOT or spans[TF_KERAS].declared:
        return True  # tf_keras exists from TensorFlow 2.14 on
    if keras.declared and keras.below("2.4"):
        return False  # multi-backend Keras: its own optimizers, never bound
    if tf.at_least("2.11"):
        return True
    if tf.below("2.11"):
        return False
    return None


def _combine(roots: dict[str, KerasMode], target: KerasVersion | None) -> KerasMode:
    versions = {mode.version for mode in roots.values()}
    if len(versions) == 1:
        because = "; ".join(dict.fromkeys(mode.because for mode in roots.values()))
        bounds = {mode.optimizers_bound for mode in roots.values()}
        bound = bounds.pop() if len(bounds) == 1 else None
        return KerasMode(versions.pop(), because, target, bound)
    parts = [f"{root} is {mode.describe()}" for root, mode in roots.items()]
    return KerasMode(None, ", but ".join(parts), target)
