"""Whole-project analysis: the index, imports followed into project modules, placement, cache.

Every case builds a small project in `tmp_path` (a `pyproject.toml` or `.git` marks its
root) and checks it as a run would.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from textwrap import dedent

import pytest

from kerlint.cache import Cache
from kerlint.engine import check_file
from kerlint.parallel import check_paths
from kerlint.project import Project, ProjectIndex, find_root
from kerlint.rules import registry

ALL = frozenset(rule.code for rule in registry.all_rules())

MODELS = """\
import keras


def build():
    base = keras.applications.ResNet50(include_top=False)
    model = keras.Sequential([base, keras.layers.Dense(1)])
    return model, base


def freeze(model):
    model.trainable = False


def unfreeze(base):
    base.trainable = True
"""


def write(root: Path, files: dict[str, str], marker: str = "pyproject.toml") -> Path:
    if marker == ".git":
        (root / marker).mkdir()
    else:
        (root / marker).write_text("")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
    return root


def check(root: Path, *names: str, jobs: int = 1, cache: Cache | None = None, project=None):
    """Check `names` (relative to root) as one run, from the root: ({file: {(row, code)}},
    every diagnostic)."""
    previous = os.getcwd()
    os.chdir(root)
    try:
        paths = [Path(name) for name in names]
        project = project or Project.for_paths(paths)
        results = check_paths(paths, lambda path: ALL, jobs, cache, project)
    finally:
        os.chdir(previous)
    reported = {
        str(result.path): {(d.location.row, d.code) for d in result.diagnostics}
        for result in results
    }
    return reported, [d for result in results for d in result.diagnostics]


# ---------------------------------------------------------------------- the index
@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.py", "setup.cfg", ".git"])
def test_the_root_is_the_nearest_folder_with_a_marker(tmp_path: Path, marker: str) -> None:
    write(tmp_path, {"a/b/train.py": "x = 1\n"}, marker)
    assert find_root(tmp_path / "a" / "b" / "train.py") == tmp_path
    assert find_root(tmp_path / "a") == tmp_path


def test_modules_are_named_from_the_layout(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/models.py": "",
            "src/lib/__init__.py": "",
            "src/lib/nets.py": "",
            "src/ns/part/tools.py": "",  # namespace packages: no __init__.py
            "train.py": "",
        },
    )
    index = ProjectIndex(tmp_path)
    assert index.module_of(tmp_path / "pkg/sub/models.py").name == "pkg.sub.models"
    assert index.module_of(tmp_path / "pkg/sub/__init__.py").name == "pkg.sub"
    assert index.module_of(tmp_path / "pkg/sub/__init__.py").package == "pkg.sub"
    assert index.module_of(tmp_path / "pkg/sub/models.py").package == "pkg.sub"
    assert index.module_of(tmp_path / "src/lib/nets.py").name == "lib.nets"
    assert index.module_of(tmp_path / "src/ns/part/tools.py").name == "ns.part.tools"
    assert index.module_of(tmp_path / "train.py").name == "train"
    importer = tmp_path / "train.py"
    assert index.find_module("pkg.sub.models", importer).path == tmp_path / "pkg/sub/models.py"
    assert index.find_module("lib.nets", importer).path == tmp_path / "src/lib/nets.py"
    assert index.find_module("ns.part.tools", importer).path == tmp_path / "src/ns/part/tools.py"
    assert index.find_module("pkg", importer).path == tmp_path / "pkg/__init__.py"


def test_scripts_and_notebooks_import_their_neighbours(tmp_path: Path) -> None:
    write(tmp_path, {"experiments/run.py": "", "experiments/helpers.py": ""})
    index = ProjectIndex(tmp_path)
    found = index.find_module("helpers", tmp_path / "experiments" / "run.ipynb")
    assert found is not None and found.path == tmp_path / "experiments/helpers.py"
    assert index.find_module("helpers", tmp_path / "train.py") is None


def test_the_standard_library_third_party_and_keras_are_never_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "keras/__init__.py": "",  # the Keras repository itself: keras is Keras's API
            "keras_hub/__init__.py": "",
            "train.py": "import os, json\nimport numpy as np\nfrom keras import layers\n"
            "from keras_hub import models\nfrom typing import Any\n",
        },
    )
    project = Project.for_paths([tmp_path / "train.py"])
    text = (tmp_path / "train.py").read_text()
    assert project.closure(tmp_path / "train.py", text) == []
    assert project.index.find_module("os", tmp_path / "train.py") is None
    assert project.resolver(tmp_path / "train.py")("keras.layers.Dense") is None


def test_relative_and_absolute_imports_resolve_to_the_same_definition(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from .models import freeze\n",
            "pkg/models.py": MODELS,
            "pkg/train.py": "",
        },
    )
    project = Project.for_paths([tmp_path])
    resolve = project.resolver(tmp_path / "pkg" / "train.py")
    direct, reexported = resolve("pkg.models.freeze"), resolve("pkg.freeze")
    assert direct is not None and reexported is not None
    assert direct.value.node is reexported.value.node
    assert resolve("pkg.models.nothing_here") is None
    assert resolve("os.path.join") is None
    assert project.parses == 2  # each module parsed once


# ---------------------------------------------------------------------- following imports
def test_the_pre_commit_case_follows_the_import_into_the_package(tmp_path: Path) -> None:
    """Only train.py changed and is passed: the freeze in models.py still counts."""
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/models.py": MODELS,
            "pkg/train.py": """\
                from .models import build
                from pkg.models import freeze

                model, base = build()
                freeze(model)
                model.compile(optimizer="adam", loss="mse")
                model.fit(x, y)
            """,
        },
    )
    reported, diagnostics = check(tmp_path, "pkg/train.py")
    assert reported == {"pkg/train.py": {(7, "KL002")}}
    assert "line 11 of pkg/models.py" in diagnostics[0].message
    # without the project the helpers are unknown and nothing is claimed
    assert check_file(tmp_path / "pkg/train.py", ALL).diagnostics == []


def test_a_finding_in_an_imported_module_is_reported_at_the_call_naming_both(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "models.py": MODELS,
            "train.py": """\
                from models import build, unfreeze

                model, base = build()
                base.trainable = False
                model.compile(optimizer="adam", loss="mse")
                model.fit(x, y)
                unfreeze(base)
                model.fit(x, y)
            """,
        },
    )
    reported, diagnostics = check(tmp_path, "train.py")
    assert reported == {"train.py": {(7, "KL001"), (7, "KL003")}}
    for diagnostic in diagnostics:
        assert "At line 15 of models.py, reached through the call at line 7 of train.py" in (
            diagnostic.message
        )
        assert diagnostic.fix is None  # a fix would have to edit the other module
    # models.py checked too: reported there, at the assignment, once
    reported, diagnostics = check(tmp_path, "train.py", "models.py")
    assert reported == {"train.py": set(), "models.py": {(15, "KL001"), (15, "KL003")}}
    assert all("line 7 of train.py" in d.message for d in diagnostics)


def test_a_finding_reached_from_two_files_is_reported_once(tmp_path: Path) -> None:
    script = """\
        from models import build, unfreeze

        model, base = build()
        base.trainable = False
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        unfreeze(base)
        model.fit(x, y)
    """
    write(tmp_path, {"models.py": MODELS, "a.py": script, "b.py": script})
    reported, _ = check(tmp_path, "a.py", "b.py", "models.py")
    assert reported == {"a.py": set(), "b.py": set(), "models.py": {(15, "KL001"), (15, "KL003")}}
    reported, _ = check(tmp_path, "a.py", "b.py")
    assert reported == {"a.py": {(7, "KL001"), (7, "KL003")}, "b.py": {(7, "KL001"), (7, "KL003")}}


def test_a_file_without_keras_matters_through_its_imports(tmp_path: Path) -> None:
    """The prefilter is a property of the import closure."""
    write(
        tmp_path,
        {
            "models.py": MODELS,
            "train.py": """\
                import models

                model, base = models.build()
                models.freeze(model)
                model.fit(x, y)
            """,
            "plain.py": "import os\nprint(os.sep)\n",
        },
    )
    project = Project.for_paths([tmp_path])
    paths = [tmp_path / "train.py", tmp_path / "plain.py"]
    results = check_paths(paths, lambda path: ALL, 1, None, project)
    assert [(d.location.row, d.code) for d in results[0].diagnostics] == [(5, "KL002")]
    assert results[0].parsed and not results[1].parsed


def test_a_helper_called_with_two_models_is_analysed_per_call(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "models.py": MODELS,
            "train.py": """\
                from models import build, freeze

                d, _ = build()
                g, _ = build()
                freeze(d)
                d.fit(x, y)
                g.fit(x, y)
            """,
        },
    )
    reported, _ = check(tmp_path, "train.py")
    assert reported == {"train.py": {(6, "KL002")}}


def test_classes_of_another_module_subclassed_models_and_trainers(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "nets.py": """\
                import keras


                class Base(keras.Model):
                    pass


                class Trainer:
                    def __init__(self, model):
                        self.model = model

                    def freeze(self):
                        self.model.trainable = False

                    def train(self, x):
                        self.model.fit(x)
            """,
            "main.py": """\
                import keras
                from nets import Base, Trainer


                class Mine(Base):
                    pass


                m = Mine()
                m.trainable = False
                m.fit(1)
                t = Trainer(keras.Sequential([keras.layers.Dense(1)]))
                t.freeze()
                t.train(1)
            """,
        },
    )
    reported, _ = check(tmp_path, "main.py")
    assert reported == {"main.py": {(11, "KL002"), (14, "KL002")}}
    reported, _ = check(tmp_path, "main.py", "nets.py")
    assert reported == {"main.py": {(11, "KL002")}, "nets.py": {(16, "KL002")}}


def test_unknown_stays_unknown(tmp_path: Path) -> None:
    """A loaded model, a helper of a broken module, a missing module: nothing is claimed."""
    write(
        tmp_path,
        {
            "broken.py": "def freeze(m):\n    m.trainable = False\n  oops(\n",
            "train.py": """\
                import keras
                from broken import freeze
                from missing import freeze_all

                m = keras.models.load_model("x.keras")
                m.fit(1)
                n = keras.Sequential([keras.layers.Dense(1)])
                n.trainable = False
                freeze(n)
                freeze_all(n)
                n.trainable = True
                n.fit(1)
            """,
        },
    )
    reported, _ = check(tmp_path, "train.py")
    assert reported == {"train.py": set()}


def test_import_cycles_terminate(tmp_path: Path) -> None:
    """Modules importing each other, a class based on itself, mutual recursion: the walk
    ends; the recursive helper is unknown (silent), the other is followed."""
    write(
        tmp_path,
        {
            "a.py": """\
                import keras
                from b import noop, ping


                def freeze(m):
                    m.trainable = False
                    return noop(m)


                def pong(m, n):
                    m.trainable = False
                    return ping(m, n - 1)
            """,
            "b.py": """\
                from a import freeze, pong
                from b import Loop


                class Loop(Loop):
                    pass


                def noop(m):
                    return m


                def ping(m, n):
                    return pong(m, n - 1)
            """,
            "train.py": """\
                import keras
                from a import freeze, pong

                m = keras.Sequential([keras.layers.Dense(1)])
                freeze(m)
                m.fit(1)
                n = keras.Sequential([keras.layers.Dense(1)])
                pong(n, 10)
                n.fit(1)
            """,
        },
    )
    reported, _ = check(tmp_path, "train.py", "a.py", "b.py")
    assert reported == {"train.py": {(6, "KL002")}, "a.py": set(), "b.py": set()}


def test_each_dependency_is_parsed_once_per_run(tmp_path: Path) -> None:
    files = {"models.py": MODELS}
    for index in range(4):
        files[f"train{index}.py"] = (
            "from models import build, freeze\nm, b = build()\nfreeze(m)\nm.fit(1)\n"
        )
    write(tmp_path, files)
    project = Project.for_paths([tmp_path])
    reported, _ = check(tmp_path, *(f"train{i}.py" for i in range(4)), project=project)
    assert all(found == {(4, "KL002")} for found in reported.values())
    assert project.parses == 1


def test_a_pool_gives_the_same_results(tmp_path: Path, monkeypatch) -> None:
    import kerlint.parallel

    files = {"models.py": MODELS}
    for index in range(6):
        files[f"train{index}.py"] = (
            "from models import build, freeze\nm, b = build()\nfreeze(m)\nm.fit(1)\n"
        )
    write(tmp_path, files)
    names = sorted(files)
    serial, _ = check(tmp_path, *names, jobs=1)
    monkeypatch.setattr(kerlint.parallel, "POOL_MIN_BYTES_FORK", 0)
    pooled, _ = check(tmp_path, *names, jobs=2)
    assert pooled == serial
    assert serial["train0.py"] == {(4, "KL002")}


# ---------------------------------------------------------------------- the cache
def _cache(tmp_path: Path) -> Cache:
    cache, problem = Cache.open(tmp_path / "cache", salt="test")
    assert cache is not None, problem
    return cache


def test_editing_a_dependency_invalidates_its_dependents(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "models.py": MODELS,
            "train.py": "from models import build, freeze\nm, b = build()\nfreeze(m)\nm.fit(1)\n",
        },
    )
    cache = _cache(tmp_path)
    first, _ = check(tmp_path, "train.py", cache=cache)
    again, _ = check(tmp_path, "train.py", cache=cache)
    assert first == again == {"train.py": {(4, "KL002")}}
    assert cache.hits == 1
    models = tmp_path / "models.py"
    models.write_text(MODELS.replace("model.trainable = False", "pass"), encoding="utf-8")
    edited, _ = check(tmp_path, "train.py", cache=cache)
    assert edited == {"train.py": set()}
    assert cache.hits == 1  # a miss: the dependency's bytes are in the key
    models.write_text(MODELS, encoding="utf-8")
    back, _ = check(tmp_path, "train.py", cache=cache)
    assert back == first and cache.hits == 2


def test_a_warm_run_parses_nothing(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "models.py": MODELS,
            "train.py": "from models import build, freeze\nm, b = build()\nfreeze(m)\nm.fit(1)\n",
        },
    )
    cache = _cache(tmp_path)
    cold, _ = check(tmp_path, "train.py", "models.py", cache=cache)
    project = Project.for_paths([tmp_path])
    warm, _ = check(tmp_path, "train.py", "models.py", cache=cache, project=project)
    assert warm == cold == {"train.py": {(4, "KL002")}, "models.py": set()}
    assert project.parses == 0


# ---------------------------------------------------------------------- realistic projects
PROJECTS = Path(__file__).parent / "fixtures" / "realistic" / "projects"
MARKER = re.compile(r"#\s*(?P<kind>error|alone):\s*(?P<codes>KL\d{3}(?:\s*,\s*KL\d{3})*)")


def _markers(folder: Path, kind: str) -> set[tuple[str, int, str]]:
    found = set()
    for path in sorted(folder.rglob("*.py")):
        for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in MARKER.finditer(line):
                if match.group("kind") == kind:
                    for code in re.split(r"\s*,\s*", match.group("codes")):
                        found.add((path.relative_to(folder).as_posix(), row, code))
    return found


@pytest.mark.parametrize("folder", sorted(PROJECTS.iterdir()), ids=lambda p: p.name)
def test_realistic_project_reports_exactly_the_marked_lines(folder: Path) -> None:
    """A whole project checked at once reports each `# error:` line, in its own file; each
    file checked alone (pre-commit) reports its `# alone:` lines: its own findings, and the
    calls that lead to a finding in a module that was not checked."""
    names = [path.relative_to(folder).as_posix() for path in sorted(folder.rglob("*.py"))]
    _, diagnostics = check(folder, *names)
    reported = {(d.filename, d.location.row, d.code) for d in diagnostics}
    assert reported == _markers(folder, "error")
    expected_alone = _markers(folder, "alone")
    for name in names:
        _, diagnostics = check(folder, name)
        alone = {(d.filename, d.location.row, d.code) for d in diagnostics}
        assert alone == {marker for marker in expected_alone if marker[0] == name}, name


def test_a_package_module_never_imports_its_neighbour_implicitly(tmp_path: Path) -> None:
    """`import math` in pkg/core.py is the standard library's even beside pkg/math.py."""
    write(tmp_path, {"pkg/__init__.py": "", "pkg/math.py": "", "pkg/core.py": "import math\n"})
    project = Project.for_paths([tmp_path])
    core = tmp_path / "pkg" / "core.py"
    assert project.closure(core, core.read_text()) == []
    assert project.index.find_module("pkg.math", core).path == tmp_path / "pkg" / "math.py"


def test_a_one_file_run_reads_unchanged_dependencies_from_the_cache(tmp_path: Path) -> None:
    """Pre-commit with the cache: train.py changed, models.py did not: models.py's parse is
    loaded, not parsed again; a damaged entry is parsed again."""
    train = "from models import build, freeze\nm, b = build()\nfreeze(m)\nm.fit(1)\n"
    write(tmp_path, {"models.py": MODELS, "train.py": train})
    cache = _cache(tmp_path)
    first = Project.for_paths([tmp_path])
    check(tmp_path, "train.py", cache=cache, project=first)
    assert first.parses == 1
    (tmp_path / "train.py").write_text(train + "m.fit(2)\n", encoding="utf-8")
    second = Project.for_paths([tmp_path])
    reported, _ = check(tmp_path, "train.py", cache=cache, project=second)
    # Every training call of the frozen model is reported: the old one and the new one.
    assert reported == {"train.py": {(4, "KL002"), (5, "KL002")}} and second.parses == 0
    for blob in (tmp_path / "cache").rglob("*.bin"):
        blob.write_bytes(b"damaged")
    (tmp_path / "train.py").write_text(train + "m.fit(3)\n", encoding="utf-8")
    third = Project.for_paths([tmp_path])
    reported, _ = check(tmp_path, "train.py", cache=cache, project=third)
    assert reported == {"train.py": {(4, "KL002"), (5, "KL002")}} and third.parses == 1


# ---------------------------------------------------------------------- the command line
TRAIN = "from models import build, freeze\nm, b = build()\nfreeze(m)\nm.fit(1)\n"


def test_the_cli_follows_imports_with_and_without_the_cache(project: Path, run_cli) -> None:
    write(project, {"models.py": MODELS, "train.py": TRAIN})
    for args in (["--no-cache"], [], []):  # cold, then written, then read from the cache
        result = run_cli("check", *args, "train.py")
        assert result.exit_code == 1, result.output
        assert result.output.startswith("train.py:4:1: KL002 ")
        assert "line 11 of models.py" in result.output
    result = run_cli("check", "--no-cache", "--output-format", "json", ".")
    found = [(d["filename"], d["location"]["row"], d["code"]) for d in json.loads(result.output)]
    assert found == [("train.py", 4, "KL002")]


def test_stdin_follows_imports_of_the_file_it_stands_for(project: Path, run_cli) -> None:
    write(project, {"models.py": MODELS})
    result = run_cli("check", "-", "--stdin-filename", "train.py", input=TRAIN)
    assert result.exit_code == 1 and "KL002" in result.output and "models.py" in result.output


def test_a_hostile_dependency_is_unknown_not_a_crash(tmp_path: Path) -> None:
    """Nesting that would overflow LibCST's native parser, undecodable bytes, a NUL byte."""
    write(
        tmp_path,
        {
            "deep.py": "def freeze(m):\n    m.trainable = False\nx = " + "(" * 5000 + ")" * 5000,
            "train.py": """\
                import keras
                from deep import freeze
                from nul import freeze_nul
                from latin import freeze_latin

                m = keras.Sequential([keras.layers.Dense(1)])
                freeze(m)
                freeze_nul(m)
                freeze_latin(m)
                m.trainable = True
                m.fit(1)
            """,
        },
    )
    (tmp_path / "nul.py").write_bytes(b"def freeze_nul(m):\n    m.trainable = False\0\n")
    (tmp_path / "latin.py").write_bytes(b"def freeze_latin(m):\n    m.trainable = '\xff'\n")
    reported, _ = check(tmp_path, "train.py")
    assert reported == {"train.py": set()}


def test_methods_inherited_from_project_classes(tmp_path: Path) -> None:
    """A trainer subclassed in another module (whose base lies in a third), and a model
    subclass whose base class defines train_step."""
    write(
        tmp_path,
        {
            "base.py": """\
                class BaseTrainer:
                    def __init__(self, model):
                        self.model = model

                    def freeze(self):
                        self.model.trainable = False

                    def train(self, x):
                        self.model.fit(x)
            """,
            "trainers.py": """\
                from base import BaseTrainer


                class Trainer(BaseTrainer):
                    def warm_up(self, x):
                        self.freeze()
                        self.train(x)
            """,
            "main.py": """\
                import keras
                from trainers import Trainer


                class Local(Trainer):
                    pass


                t = Local(keras.Sequential([keras.layers.Dense(1)]))
                t.warm_up(1)
            """,
        },
    )
    reported, diagnostics = check(tmp_path, "main.py")
    assert reported == {"main.py": {(10, "KL002")}}
    assert "line 6 of base.py" in diagnostics[0].message
    reported, _ = check(tmp_path, "main.py", "base.py", "trainers.py")
    assert reported == {"main.py": set(), "base.py": {(9, "KL002")}, "trainers.py": set()}


def test_a_notebook_imports_the_modules_of_its_folder(tmp_path: Path) -> None:
    cells = [
        "from models import build, freeze",
        "model, base = build()\nfreeze(model)",
        "%time x = 1\nmodel.fit(x)",
    ]
    notebook = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": cell, "outputs": []} for cell in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write(tmp_path, {"notebooks/models.py": MODELS})
    (tmp_path / "notebooks" / "explore.ipynb").write_text(json.dumps(notebook))
    _, diagnostics = check(tmp_path, "notebooks/explore.ipynb")
    assert [(d.cell, d.location.row, d.code) for d in diagnostics] == [(3, 2, "KL002")]
    assert "line 11 of notebooks/models.py" in diagnostics[0].message


def test_loop_variables_over_a_parameters_layers_in_a_helper_module(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "helpers.py": """\
                import keras


                def freeze_all(model):
                    for layer in model.layers:
                        layer.trainable = 0
            """,
        },
    )
    reported, _ = check(tmp_path, "helpers.py")
    assert reported == {"helpers.py": {(6, "KL008")}}


def test_parsed_dependencies_are_bounded(tmp_path: Path, monkeypatch) -> None:
    import kerlint.project.modules

    monkeypatch.setattr(kerlint.project.modules, "MAX_PARSED", 2)
    files = {f"m{i}.py": MODELS for i in range(4)}
    files["train.py"] = (
        "".join(
            f"from m{i} import build as b{i}, freeze as f{i}\nx{i}, _ = b{i}()\nf{i}(x{i})\n"
            for i in range(4)
        )
        + "x0.fit(1)\nx3.fit(1)\n"
    )
    write(tmp_path, files)
    project = Project.for_paths([tmp_path])
    reported, diagnostics = check(tmp_path, "train.py", project=project)
    assert reported == {"train.py": {(13, "KL002"), (14, "KL002")}}
    assert len(project._parsed) == 2 and project.parses == 4
    assert "line 11 of m0.py" in diagnostics[0].message  # an evicted module still places


def test_messages_name_the_file_only_beside_another_modules_place(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "models.py": MODELS,
            "train.py": """\
                from models import build, freeze

                d, _ = build()
                g, _ = build()
                freeze(d)
                d.fit(x, y)
                g.trainable = False
                g.fit(x, y)
            """,
        },
    )
    _, diagnostics = check(tmp_path, "train.py")
    messages = {d.location.row: d.message for d in diagnostics}
    assert "(set at line 11 of models.py)" in messages[6]
    assert "(set at line 7)" in messages[8]


def test_a_star_import_of_a_project_module(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"models.py": MODELS, "train.py": "from models import *\n" + TRAIN.split("\n", 1)[1]},
    )
    reported, _ = check(tmp_path, "train.py")
    assert reported == {"train.py": {(4, "KL002")}}


def test_a_package_re_exports_its_submodules_with_star_imports(tmp_path: Path) -> None:
    """`from .models import *` in a package's `__init__` (two levels deep), and a function
    named like the submodule that defines it: the package's binding wins, as in Python."""
    write(
        tmp_path,
        {
            "utils/__init__.py": "from .nets import *\nfrom .loops import *\n",
            "utils/nets/__init__.py": "from .models import *\n",
            "utils/nets/models.py": MODELS,
            "utils/loops/__init__.py": "from .fit_all import *\n",
            "utils/loops/fit_all.py": "def fit_all(m):\n    m.fit(1)\n",
            "train.py": """\
                from utils.nets import build, freeze
                from utils.loops import fit_all
                m, b = build()
                freeze(m)
                fit_all(m)
            """,
            "train_top.py": "from utils import *\nm, b = build()\nfreeze(m)\nfit_all(m)\n",
        },
    )
    reported, _ = check(tmp_path, "train.py", "train_top.py")
    assert reported == {"train.py": {(5, "KL002")}, "train_top.py": {(4, "KL002")}}


def test_a_name_two_star_imports_could_bind_is_unknown(tmp_path: Path) -> None:
    """Which `freeze` a package re-exports from two modules is not guessed; nor is a star
    import of a module that is not the project's."""
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import *\nfrom .b import *\nfrom os.path import *\n",
            "pkg/a.py": MODELS,
            "pkg/b.py": "def freeze(model):\n    pass\n",
            "train.py": """\
                import keras
                from pkg import freeze, join
                m = keras.Sequential([keras.layers.Dense(1)])
                m.compile("adam", "mse")
                freeze(m)
                join(m)
                m.fit(1)
            """,
        },
    )
    reported, _ = check(tmp_path, "train.py")
    assert reported == {"train.py": set()}


def test_a_dependency_written_with_keras_star_imports(tmp_path: Path) -> None:
    """`from keras.layers import *` in a module of the project: its builder makes known
    layers, its class a Keras model, and a star import of it re-exports Keras's names."""
    write(
        tmp_path,
        {
            "models.py": """\
                from keras.models import *
                from keras.layers import *


                def build():
                    base = Sequential([Dense(4), BatchNormalization()])
                    return Sequential([base, Dense(1)]), base


                class Net(Model):
                    pass
            """,
            "train.py": """\
                from models import *

                m, b = build()
                b.trainable = False
                m.compile("adam", "mse")
                m.fit(1)
                b.trainable = True
                m.fit(1)
                n = Sequential([Dense(2), BatchNormalization()])
                n.trainable = False
                n.fit(1)
            """,
        },
    )
    reported, _ = check(tmp_path, "train.py")
    assert reported == {"train.py": {(7, "KL001"), (7, "KL003"), (11, "KL002")}}


def test_fix_keeps_the_findings_that_lie_in_other_modules(project: Path, run_cli) -> None:
    """After --fix the fixed files are checked again with their imports followed, and the
    findings in checked dependencies are placed there again (once)."""
    script = """\
        from models import build, unfreeze

        model, base = build()
        base.trainable = False
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        unfreeze(base)
        model.fit(x, y)
        model.layers[1].trainable = "False"
    """
    models = MODELS + '\n\ndef other(m):\n    m.layers[1].trainable = "True"\n'
    write(project, {"models.py": models, "train.py": script})
    result = run_cli("check", "--no-cache", "--fix", "train.py")
    assert result.exit_code == 1
    assert "train.py:7:1: KL001 " in result.output and "train.py:7:1: KL003 " in result.output
    assert "Fixed 1 error." in result.output
    write(project, {"models.py": models, "train.py": script})
    result = run_cli("check", "--no-cache", "--fix", "train.py", "models.py")
    found = sorted(line.split(" ", 2)[:2] for line in result.output.splitlines() if ": KL" in line)
    assert found == [["models.py:15:5:", "KL001"], ["models.py:15:5:", "KL003"]]
    assert "Fixed 2 errors." in result.output
    assert "trainable = True" in (project / "models.py").read_text()


def test_the_closure_sees_imports_over_several_lines(tmp_path: Path) -> None:
    """What the cache key covers: `from pkg import (\\n models,\\n)` names pkg/models.py."""
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/models.py": MODELS,
            "pkg/utils.py": "",
            "pkg/extra.py": "",
            "train.py": "from pkg import (\n    models,  # nets\n    utils as u,\n)\n"
            "from pkg.utils import a, \\\n    b\nimport pkg.extra as e\n",
        },
    )
    project = Project.for_paths([tmp_path])
    train = tmp_path / "train.py"
    names = [record.file.name for record in project.closure(train, train.read_text())]
    assert names == ["pkg", "pkg.extra", "pkg.models", "pkg.utils"]


def test_only_modules_the_imports_reach_are_followed(tmp_path: Path) -> None:
    """`import pkg; pkg.models.freeze(m)` reaches models only when pkg imports it (as in
    Python); what is followed is exactly what the cache key covers."""
    body = "import keras\nimport pkg\nm = keras.Sequential([])\npkg.models.freeze(m)\nm.fit(1)\n"
    write(tmp_path, {"pkg/__init__.py": "", "pkg/models.py": MODELS, "train.py": body})
    assert check(tmp_path, "train.py")[0] == {"train.py": set()}
    (tmp_path / "pkg" / "__init__.py").write_text("from . import models\n")
    assert check(tmp_path, "train.py")[0] == {"train.py": {(5, "KL002")}}
