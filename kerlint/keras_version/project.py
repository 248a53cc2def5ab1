"""What one folder's project files say: pins of TensorFlow / Keras / tf-keras, the Python
bound, the legacy switch set outside the code, and `[tool.kerlint] keras`.

Each folder is read once per run (`KerasDetector` memoizes by folder). A file that cannot be
read or is malformed is skipped with one warning naming it; nothing here raises.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from kerlint.keras_version.requirements import (
    Requirement,
    conda_install_requirements,
    conda_to_requirement,
    parse,
    pip_install_arguments,
    poetry_to_pep440,
)
from kerlint.keras_version.versions import PYTHON, Evidence, allowed, family

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LEGACY_VARIABLE = "TF_USE_LEGACY_KERAS"
# The only values TensorFlow reads as "use tf_keras" (measured: `TRUE`, `yes`, `0` are not).
LEGACY_ON = ("1", "true", "True")
MAX_PROJECT_FILE_BYTES = 4 * 1024 * 1024


class Malformed(Exception):
    """A project file that cannot be understood: skipped with a warning."""


class Declaration:
    """One requirement of a family (or the Python bound) found in a project file."""

    __slots__ = ("evidence", "family", "group", "locked", "marker", "versions")

    def __init__(
        self,
        family: str,
        versions: frozenset[str] | None,
        evidence: Evidence,
        group: str | None = None,
        locked: bool = False,
        marker: str = "",
    ) -> None:
        self.family = family
        self.versions = versions
        self.evidence = evidence
        self.group = group  # an alternative (an extra, a marker): None = always installed
        self.locked = locked  # from a lockfile or a pip freeze: exact, beats declarations
        self.marker = marker


class LegacySwitch:
    """`TF_USE_LEGACY_KERAS` set for the process; `on` None: to a value kerlint cannot read."""

    __slots__ = ("evidence", "on")

    def __init__(self, on: bool | None, evidence: Evidence) -> None:
        self.on = on
        self.evidence = evidence


class FolderFacts:
    """What the project files of one folder say, and which files were read."""

    __slots__ = ("declarations", "files", "folder", "kerlint_keras", "legacy", "python")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[Path] = []
        self.declarations: list[Declaration] = []
        self.python: list[Declaration] = []
        self.legacy: list[LegacySwitch] = []
        self.kerlint_keras: tuple[str, Evidence] | None = None

    @property
    def declares(self) -> bool:
        """The folder declares TensorFlow, Keras or tf-keras: it is a package of its own."""
        return bool(self.declarations)


def legacy_value(value: str) -> bool | None:
    value = value.strip().strip("'\"")
    if "$" in value or "{" in value:
        return None
    return value in LEGACY_ON


class FolderReader:
    """Reads the project files of one folder into FolderFacts."""

    def __init__(self, folder: Path, root: Path, warn: Callable[[str], None]) -> None:
        self.folder = folder
        self.root = root
        self.warn = warn
        self.facts = FolderFacts(folder)

    def read(self) -> FolderFacts:
        try:
            names = sorted(entry.name for entry in os.scandir(self.folder))
        except OSError:
            return self.facts
        for name in names:
            reader = _reader_for(name)
            if reader is None:
                continue
            path = self.folder / name
            if name == "requirements" and path.is_dir():
                for child in sorted(path.glob("*.txt")):
                    self._run(self._requirements, child)
                continue
            if name == ".github":
                for child in sorted((path / "workflows").glob("*.y*ml")):
                    self._run(self._environment_lines, child)
                continue
            if path.is_file():
                self._run(getattr(self, reader), path)
        return self.facts

    # -- plumbing -------------------------------------------------------------------------

    def _where(self, path: Path) -> str:
        """The file relative to the project root; with no root but the file system's (no
        `.git` above), relative to the working folder, as the user named the files."""
        if self.root.parent == self.root:
            return Path(self._display(path)).as_posix()
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def _display(self, path: Path) -> str:
        try:
            return os.path.relpath(path)
        except ValueError:
            return str(path)

    def _text(self, path: Path) -> str:
        with open(path, "rb") as file:
            data = file.read(MAX_PROJECT_FILE_BYTES + 1)
        if len(data) > MAX_PROJECT_FILE_BYTES:
            raise Malformed("larger than 4 MiB")
        return data.decode("utf-8-sig")

    def _run(self, reader: Callable[[Path], None], path: Path) -> None:
        self.facts.files.append(path)
        try:
            reader(path)
        except (OSError, UnicodeDecodeError) as exc:
            self.warn(
                f"cannot read {self._display(path)}: {getattr(exc, 'strerror', None) or exc}; skipped"
            )
        except (
            Malformed,
            ValueError,
            SyntaxError,
            TypeError,
            AttributeError,
            LookupError,
            RecursionError,
        ) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.warn(f"cannot understand {self._display(path)}: {reason}; skipped")

    def _requirement(
        self,
        requirement: Requirement,
        path: Path,
        group: str | None = None,
        locked: bool = False,
        text: str | None = None,
    ) -> None:
        versions = requirement.versions
        if versions is None and requirement.specifier:
            return  # an unreadable specifier: no information rather than a wrong one
        evidence = Evidence(text or requirement.text, self._where(path))
        self.facts.declarations.append(
            Declaration(requirement.family, versions, evidence, group, locked, requirement.marker)
        )

    def _pep508(
        self, line: str, path: Path, group: str | None = None, locked: bool = False
    ) -> None:
        requirement = parse(line)
        if requirement is not None:
            self._requirement(requirement, path, group, locked)

    def _python(self, specifier: str, path: Path, text: str, locked: bool = False) -> None:
        versions = allowed(PYTHON, specifier)
        if versions is not None:
            evidence = Evidence(text, self._where(path))
            self.facts.python.append(Declaration(PYTHON, versions, evidence, None, locked))

    def _legacy(self, value: str, path: Path, text: str) -> None:
        self.facts.legacy.append(
            LegacySwitch(legacy_value(value), Evidence(text, self._where(path)))
        )

    # -- requirements files ---------------------------------------------------------------

    def _requirements(self, path: Path) -> None:
        seen: set[Path] = set()
        lines = list(self._requirement_lines(path, seen))
        requirements = [line for line, _ in lines if not line.startswith("-")]
        # A pip freeze: every requirement an exact `==` pin. It is a lockfile.
        locked = len(requirements) >= 2 and all(
            re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*==\s*[^\s,;*]+(\s*;.*)?$", line)
            for line in requirements
        )
        for line, source in lines:
            if not line.startswith("-"):
                self._pep508(line, source, locked=locked)

    def _requirement_lines(self, path: Path, seen: set[Path]):
        """(line, file) of a requirements file and the files it includes with -r / -c."""
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        text = self._text(path)
        text = re.sub(r"\\\r?\n", " ", text)
        for raw in text.splitlines():
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if not line:
                continue
            match = re.match(r"^(-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)", line)
            if match:
                included = (path.parent / match.group(2)).resolve()
                if included.is_file():
                    if included != resolved and included not in self.facts.files:
                        self.facts.files.append(included)
                    yield from self._requirement_lines(included, seen)
                continue
            yield line, path

    # -- pyproject.toml, setup.py, setup.cfg, Pipfile --------------------------------------

    def _toml(self, path: Path) -> dict:
        try:
            return tomllib.loads(self._text(path))
        except tomllib.TOMLDecodeError as exc:
            raise Malformed(f"invalid TOML: {exc}") from exc

    def _pyproject(self, path: Path) -> None:
        data = self._toml(path)
        project = data.get("project", {})
        tool = data.get("tool", {})
        if isinstance(project, dict):
            for line in _strings(project.get("dependencies")):
                self._pep508(line, path)
            extras = project.get("optional-dependencies")
            if isinstance(extras, dict):
                for extra, lines in extras.items():
                    for line in _strings(lines):
                        self._pep508(line, path, group=f"extra {extra}")
            if isinstance(project.get("requires-python"), str):
                spec = project["requires-python"]
                self._python(spec, path, f"requires-python {spec}")
        groups = data.get("dependency-groups")
        if isinstance(groups, dict):
            for group, lines in groups.items():
                for line in _strings(lines):
                    self._pep508(line, path, group=f"group {group}")
        if not isinstance(tool, dict):
            return
        poetry = tool.get("poetry")
        if isinstance(poetry, dict):
            self._poetry(poetry, path)
        pdm = tool.get("pdm")
        if isinstance(pdm, dict):
            for key in ("dev-dependencies",):
                table = pdm.get(key)
                if isinstance(table, dict):
                    for group, lines in table.items():
                        for line in _strings(lines):
                            self._pep508(line, path, group=f"group {group}")
        kerlint = tool.get("kerlint")
        if isinstance(kerlint, dict) and isinstance(kerlint.get("keras"), str):
            value = kerlint["keras"]
            self.facts.kerlint_keras = (value, Evidence(f'keras = "{value}"', self._where(path)))
        pytest_table = tool.get("pytest", {})
        options = pytest_table.get("ini_options", {}) if isinstance(pytest_table, dict) else {}
        for line in _strings(options.get("env") if isinstance(options, dict) else None):
            self._environment_assignment(line, path)

    def _poetry(self, poetry: dict, path: Path) -> None:
        tables: list[tuple[str | None, object]] = [(None, poetry.get("dependencies"))]
        tables.append(("group dev", poetry.get("dev-dependencies")))
        groups = poetry.get("group")
        if isinstance(groups, dict):
            for name, group in groups.items():
                if isinstance(group, dict):
                    tables.append((f"group {name}", group.get("dependencies")))
        for group, table in tables:
            if not isinstance(table, dict):
                continue
            for name, value in table.items():
                constraints = value if isinstance(value, list) else [value]
                for constraint in constraints:
                    optional = isinstance(constraint, dict) and constraint.get("optional") is True
                    if isinstance(constraint, dict):
                        constraint = constraint.get("version", "*")
                    if not isinstance(constraint, str):
                        continue
                    spec = poetry_to_pep440(constraint)
                    if spec is None:
                        continue
                    text = f'{name} = "{constraint}"'
                    if name.lower() == "python":
                        self._python(spec, path, f"python {constraint}")
                        continue
                    kind = family(name)
                    if kind is None:
                        continue
                    requirement = Requirement(kind, name, spec, "", text)
                    where_group = group or ("extra" if optional else None)
                    if len(constraints) > 1:
                        where_group = f"{group or ''} alternative {constraint}"
                    self._requirement(requirement, path, where_group)

    def _setup_py(self, path: Path) -> None:
        tree = ast.parse(self._text(path), filename=str(path))
        literals: dict[str, object] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    with contextlib.suppress(
                        ValueError, TypeError, SyntaxError, MemoryError, RecursionError
                    ):
                        literals[target.id] = ast.literal_eval(node.value)

        def value_of(node: ast.expr) -> object:
            if isinstance(node, ast.Name):
                return literals.get(node.id)
            try:
                return ast.literal_eval(node)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return None

        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = (
                node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            )
            if name != "setup":
                continue
            for keyword in node.keywords:
                value = value_of(keyword.value)
                if keyword.arg == "install_requires":
                    for line in _strings(value):
                        self._pep508(line, path)
                elif keyword.arg == "extras_require" and isinstance(value, dict):
                    for extra, lines in value.items():
                        for line in _strings(lines if not isinstance(lines, str) else [lines]):
                            self._pep508(line, path, group=f"extra {extra}")
                elif keyword.arg == "python_requires" and isinstance(value, str):
                    self._python(value, path, f"python_requires {value}")

    def _setup_cfg(self, path: Path) -> None:
        import configparser

        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(self._text(path))
        except configparser.Error as exc:
            raise Malformed(str(exc)) from exc
        if parser.has_option("options", "install_requires"):
            for line in _cfg_list(parser.get("options", "install_requires")):
                self._pep508(line, path)
        if parser.has_option("options", "python_requires"):
            spec = parser.get("options", "python_requires").strip()
            self._python(spec, path, f"python_requires {spec}")
        for section in ("tool:pytest", "pytest"):  # pytest-env
            if parser.has_option(section, "env"):
                for line in _cfg_list(parser.get(section, "env")):
                    self._environment_assignment(line, path)
        if parser.has_section("options.extras_require"):
            for extra, value in parser.items("options.extras_require"):
                for line in _cfg_list(value):
                    self._pep508(line, path, group=f"extra {extra}")

    def _pipfile(self, path: Path) -> None:
        data = self._toml(path)
        for table, group in (("packages", None), ("dev-packages", "group dev")):
            packages = data.get(table)
            if not isinstance(packages, dict):
                continue
            for name, value in packages.items():
                spec = value.get("version", "*") if isinstance(value, dict) else value
                marker = value.get("markers", "") if isinstance(value, dict) else ""
                if not isinstance(spec, str):
                    continue
                spec = "" if spec.strip() == "*" else spec
                line = f"{name}{spec}" + (f"; {marker}" if marker else "")
                self._pep508(line, path, group=group)
        requires = data.get("requires")
        if isinstance(requires, dict):
            full = requires.get("python_full_version")
            short = requires.get("python_version")
            if isinstance(full, str):
                self._python(f"=={full}", path, f'python_full_version = "{full}"')
            elif isinstance(short, str):
                self._python(f"=={short}.*", path, f'python_version = "{short}"')

    # -- lockfiles ------------------------------------------------------------------------

    def _pipfile_lock(self, path: Path) -> None:
        try:
            data = json.loads(self._text(path))
        except json.JSONDecodeError as exc:
            raise Malformed(f"invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise Malformed("not a JSON object")
        for table in ("default", "develop"):
            packages = data.get(table)
            if not isinstance(packages, dict):
                continue
            for name, value in packages.items():
                if isinstance(value, dict) and isinstance(value.get("version"), str):
                    self._pep508(f"{name}{value['version']}", path, locked=True)
        meta = data.get("_meta", {})
        requires = meta.get("requires", {}) if isinstance(meta, dict) else {}
        if isinstance(requires, dict) and isinstance(requires.get("python_version"), str):
            short = requires["python_version"]
            self._python(f"=={short}.*", path, f"python {short}", locked=True)

    def _toml_lock(self, path: Path) -> None:
        data = self._toml(path)
        packages = data.get("package", [])
        if not isinstance(packages, list):
            raise Malformed("`package` is not a list")
        for package in packages:
            if isinstance(package, dict):
                name, version = package.get("name"), package.get("version")
                if isinstance(name, str) and isinstance(version, str):
                    self._pep508(f"{name}=={version}", path, locked=True)
        python = data.get("requires-python")
        metadata = data.get("metadata", {})
        if not isinstance(python, str) and isinstance(metadata, dict):
            python = metadata.get("requires_python")
            if not isinstance(python, str) and isinstance(metadata.get("python-versions"), str):
                python = poetry_to_pep440(metadata["python-versions"])
        if isinstance(python, str) and python:
            self._python(python, path, f"requires-python {python}")

    def _conda_lock(self, path: Path) -> None:
        name = version = None
        for line in [*self._text(path).splitlines(), "- name: "]:
            start = re.match(r"^\s*-\s+name:\s*['\"]?([^'\"\s]*)", line)
            if start:
                if name and version:
                    self._conda_package(name, version, path)
                name, version = start.group(1), None
                continue
            match = re.match(r"^\s+version:\s*['\"]?([^'\"\s]+)", line)
            if match and name:
                version = match.group(1)

    def _conda_package(self, name: str, version: str, path: Path) -> None:
        if name == "python":
            self._python(f"=={version}", path, f"python {version}", locked=True)
        else:
            self._pep508(f"{name}=={version}", path, locked=True)

    # -- conda, Docker, shell, environment ------------------------------------------------

    def _environment_yml(self, path: Path) -> None:
        pip_indent: int | None = None
        in_dependencies = False
        for raw in self._text(path).splitlines():
            line = re.sub(r"\s#.*$", "", raw).rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if re.match(r"^\S", line):
                in_dependencies = line.startswith("dependencies:")
                pip_indent = None
                continue
            item = re.match(r"^(\s*)-\s+(.*)$", line)
            if not in_dependencies or not item:
                continue
            indent, value = len(item.group(1)), item.group(2).strip().strip("'\"")
            if pip_indent is not None and indent > pip_indent:
                self._pep508(value, path)
                continue
            pip_indent = None
            if value.rstrip(":") == "pip" and value.endswith(":"):
                pip_indent = indent
                continue
            converted = conda_to_requirement(value)
            if converted is None:
                continue
            name, spec = converted
            if name == "python":
                if spec:
                    self._python(spec, path, value)
                continue
            requirement = parse(f"{name}{spec}")
            if requirement is not None:
                self._requirement(requirement, path, text=value)

    def _dockerfile(self, path: Path) -> None:
        text = re.sub(r"\\\r?\n", " ", self._text(path))
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keyword, _, rest = line.partition(" ")
            keyword = keyword.upper()
            if keyword == "FROM":
                self._docker_from(rest, path)
            elif keyword == "ENV":
                pairs = re.findall(r"(\w+)=(\"[^\"]*\"|'[^']*'|\S*)", rest)
                if not pairs:
                    parts = rest.split(None, 1)
                    pairs = [(parts[0], parts[1])] if len(parts) == 2 else []
                for key, value in pairs:
                    if key == LEGACY_VARIABLE:
                        self._legacy(value, path, f"ENV {key}={value.strip(chr(34) + chr(39))}")
            elif keyword == "RUN":
                self._pip_commands(rest, path)

    def _docker_from(self, rest: str, path: Path) -> None:
        words = [w for w in rest.split() if not w.startswith("--")]
        if not words:
            return
        image = words[0]
        name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
        text = f"FROM {image}"
        if name in ("tensorflow/tensorflow", "docker.io/tensorflow/tensorflow"):
            match = re.match(r"^(\d+\.\d+(?:\.\d+)?)", tag)
            if match:
                self._image_pin(f"tensorflow=={match.group(1)}", path, text)
        elif name == "nvcr.io/nvidia/tensorflow":
            match = re.match(r"^(\d+)\.(\d+)-tf(\d)", tag)
            if match:
                year, tf_major = int(match.group(1)), match.group(3)
                # NGC images of 2023 and before ship TensorFlow <= 2.14; tf1 images TF 1.15.
                spec = "<2" if tf_major == "1" else ("<2.16" if year <= 23 else None)
                if spec:
                    self._image_pin(f"tensorflow{spec}", path, text)
        elif name.split("/")[-1] == "python" and name in (
            "python",
            "library/python",
            "docker.io/library/python",
        ):
            match = re.match(r"^(\d+(?:\.\d+){0,2})(?![\d.])", tag)
            if match:
                version = match.group(1)
                spec = f"=={version}" if version.count(".") == 2 else f"=={version}.*"
                self._python(spec, path, text)

    def _image_pin(self, line: str, path: Path, text: str) -> None:
        """The TensorFlow a base image ships, named by its FROM line."""
        requirement = parse(line)
        if requirement is not None:
            self._requirement(requirement, path, text=text)

    def _pip_commands(self, text: str, path: Path) -> None:
        """`pip install` (following `-r` files kept elsewhere) and `conda install` commands."""
        for line, written in conda_install_requirements(text):
            requirement = parse(line)
            if requirement is not None:
                self._requirement(requirement, path, text=written)
        for kind, value in pip_install_arguments(text):
            if kind == "req":
                self._pep508(value, path)
            else:
                included = path.parent / value
                if included.is_file() and included.parent != self.folder:
                    self._run(self._requirements, included)

    def _shell(self, path: Path) -> None:
        text = self._text(path)
        code = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())
        self._pip_commands(code, path)
        self._environment_lines_of(code, path)

    def _environment_lines(self, path: Path) -> None:
        """`.env`, `tox.ini` setenv, CI workflow `env:` and shell exports of the switch."""
        self._environment_lines_of(self._text(path), path)

    def _environment_lines_of(self, text: str, path: Path) -> None:
        pattern = rf"(?:^|[\s\"'])(?:export\s+)?{LEGACY_VARIABLE}\s*[:=]\s*(\"[^\"]*\"|'[^']*'|[^\s\"'#]*)"
        for raw in text.splitlines():
            if raw.lstrip().startswith("#"):
                continue
            for value in re.findall(pattern, raw):
                self._legacy(value, path, f"{LEGACY_VARIABLE}={value.strip(chr(34) + chr(39))}")

    def _environment_assignment(self, line: str, path: Path) -> None:
        key, _, value = line.partition("=")
        if re.sub(r"^[DR]:", "", key.strip()) == LEGACY_VARIABLE:
            self._legacy(value, path, f"{LEGACY_VARIABLE}={value.strip()}")

    def _python_version_file(self, path: Path) -> None:
        for raw in self._text(path).splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            match = re.search(r"(\d+\.\d+(?:\.\d+)?)", line)
            if match:
                version = match.group(1)
                spec = f"=={version}" if version.count(".") == 2 else f"=={version}.*"
                self._python(spec, path, line)
            return

    def _kerlint_toml(self, path: Path) -> None:
        data = self._toml(path)
        if isinstance(data.get("keras"), str):
            value = data["keras"]
            self.facts.kerlint_keras = (value, Evidence(f'keras = "{value}"', self._where(path)))


def _strings(value: object) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, str)]
    return []


def _cfg_list(value: str) -> list[str]:
    return [
        line.strip()
        for line in re.split(r"[\n;]", value)
        if line.strip() and not line.strip().startswith("#")
    ]


_FIXED_NAMES = {
    "pyproject.toml": "_pyproject",
    "setup.py": "_setup_py",
    "setup.cfg": "_setup_cfg",
    "pytest.ini": "_setup_cfg",
    "Pipfile": "_pipfile",
    "Pipfile.lock": "_pipfile_lock",
    "poetry.lock": "_toml_lock",
    "uv.lock": "_toml_lock",
    "pdm.lock": "_toml_lock",
    "conda-lock.yml": "_conda_lock",
    "conda-lock.yaml": "_conda_lock",
    ".python-version": "_python_version_file",
    "runtime.txt": "_python_version_file",
    ".env": "_environment_lines",
    "tox.ini": "_environment_lines",
    "kerlint.toml": "_kerlint_toml",
    "requirements": "_requirements",
    ".github": "_environment_lines",
}


def _reader_for(name: str) -> str | None:
    """Which reader a file of this name needs; None for files that say nothing about Keras."""
    if name in _FIXED_NAMES:
        return _FIXED_NAMES[name]
    lower = name.lower()
    if re.fullmatch(r".*requirements.*\.(txt|in)|constraints.*\.txt", lower):
        return "_requirements"
    if re.fullmatch(r"(environment|conda|env)([-_.].*)?\.ya?ml", lower) and "lock" not in lower:
        return "_environment_yml"
    if (
        lower in ("dockerfile", "containerfile")
        or lower.startswith("dockerfile.")
        or lower.endswith(".dockerfile")
    ):
        return "_dockerfile"
    if lower.endswith(".sh"):
        return "_shell"
    return None
