"""The project index: where the project starts, which file is which module, what imports reach.

The root is the nearest folder above a checked path holding `pyproject.toml`, `setup.py`,
`setup.cfg` or `.git`. Module names follow the file layout, as Python finds them:
- the folder above a package's topmost `__init__.py` is where its name starts;
- `src/` layouts and namespace packages (folders without `__init__.py`) are named from the
  root, or from `root/src` when the file lies there;
- a script's (or notebook's) own folder is searched first, as `python train.py` puts it first
  on `sys.path`: `from models import build` next to `train.py` is `models.py` beside it (not
  for a module inside a package: there `import math` is the standard library's).

Only files under these bases are ever project modules: the standard library and installed
packages are never found here, so they are never read. Keras's own names (keras, tf.keras,
keras_hub, ...) are never project modules either, even in the Keras repository itself: the
builder knows them as Keras's API.

Everything is looked up on demand (a few `stat` calls per import), never by walking the tree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from kerlint.facts import names
from kerlint.facts.syntax import absolute_import

ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
MODULE_SUFFIXES = (".py",)
# Never project modules, whatever the tree holds: Keras's API and the frameworks under it.
NOT_PROJECT_ROOTS = frozenset(
    {"tensorflow", "tf", "jax", "torch", "numpy", "__future__", *names.KERAS_FAMILY_ROOTS}
)


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` with a project marker, or None."""
    folder = start if start.is_dir() else start.parent
    folder = Path(os.path.abspath(folder))
    for candidate in (folder, *folder.parents):
        if any(os.path.exists(candidate / marker) for marker in ROOT_MARKERS):
            return candidate
    return None


def is_project_name(qualified: str) -> bool:
    """Could this name be a project module? Keras's and the frameworks' never are."""
    top = qualified.split(".", 1)[0]
    return bool(top) and top not in NOT_PROJECT_ROOTS and names.canonical(qualified) is None


@dataclass(frozen=True)
class ModuleFile:
    """A project module: its dotted name and file (`__init__.py` for a package)."""

    name: str
    path: Path

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    @property
    def package(self) -> str:
        """What a relative import in this module is relative to."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass
class ProjectIndex:
    """The root and the module map of one project, filled lazily."""

    root: Path | None
    _found: dict[tuple[Path, str], Path | None] = field(default_factory=dict)
    _names: dict[Path, ModuleFile] = field(default_factory=dict)
    # Like the two above, what the file system said once in this run: a warm run asks the
    # same of every file's folder (1,700 files: ~17,000 stats without these).
    _packages: dict[Path, tuple[tuple[str, ...], Path]] = field(default_factory=dict)
    _bases: list[Path] | None = None
    _search: dict[Path, list[Path]] = field(default_factory=dict)

    @classmethod
    def for_paths(cls, paths: list[Path]) -> ProjectIndex:
        """The index of the project the first checked path lies in (its root found upward)."""
        start = paths[0] if paths else Path.cwd()
        return cls(find_root(start))

    # -------------------------------------------------------------- names of files
    def bases(self) -> list[Path]:
        """Where top-level project names start: `root/src` first (a src layout), then root."""
        if self._bases is None:
            if self.root is None:
                self._bases = []
            else:
                src = self.root / "src"
                self._bases = [src, self.root] if src.is_dir() else [self.root]
        return self._bases

    def module_of(self, path: Path) -> ModuleFile:
        """The module a file is, named from the layout (a script is named by its stem)."""
        path = Path(os.path.abspath(path))
        known = self._names.get(path)
        if known is not None:
            return known
        packages, folder = self._packages_above(path.parent)
        parts = [*packages] if path.stem == "__init__" else [*packages, path.stem]
        # Namespace packages: folders without `__init__.py` between a base and the package.
        for base in self.bases():
            if folder == base or base in folder.parents:
                relative = folder.relative_to(base).parts
                if all(part.isidentifier() for part in relative):
                    parts = [*relative, *parts]
                break
        module = ModuleFile(".".join(parts) or path.stem, path)
        self._names[path] = module
        return module

    def _packages_above(self, folder: Path) -> tuple[tuple[str, ...], Path]:
        """The package names from the topmost package folder down to `folder` (each has an
        `__init__.py`), and the folder above them."""
        known = self._packages.get(folder)
        if known is None:
            if (folder / "__init__.py").is_file() and folder.parent != folder:
                above, top = self._packages_above(folder.parent)
                known = ((*above, folder.name), top)
            else:
                known = ((), folder)
            self._packages[folder] = known
        return known

    def search_path(self, importer: Path | None) -> list[Path]:
        """The folders an import in `importer` is looked up in, first match wins."""
        if importer is None:
            return list(self.bases())
        importer = Path(os.path.abspath(importer))
        known = self._search.get(importer)
        if known is None:
            known = self._search[importer] = self._search_path(importer)
        return known

    def _search_path(self, importer: Path) -> list[Path]:
        folders: list[Path] = []
        if not (importer.parent / "__init__.py").is_file():
            # A script's own folder is sys.path[0]; a package module's never is (no
            # implicit relative imports: `import math` beside `math.py` is the stdlib's).
            folders.append(importer.parent)
        module = self.module_of(importer)
        # The folder the importer's own top-level package sits in.
        depth = module.name.count(".") + (1 if module.is_package else 0)
        top = importer.parent
        for _ in range(depth):
            top = top.parent
        folders.append(top)
        folders.extend(self.bases())
        unique: list[Path] = []
        for folder in folders:
            if folder not in unique:
                unique.append(folder)
        return unique

    # -------------------------------------------------------------- imports
    def find_module(
        self, dotted: str, importer: Path | None, search: list[Path] | None = None
    ) -> ModuleFile | None:
        """The project file of module `dotted` as `importer` would import it, or None.
        `search`: the importer's `search_path`, when the caller has it already."""
        if not is_project_name(dotted):
            return None
        for base in search if search is not None else self.search_path(importer):
            path = self._file_in(base, dotted)
            if path is not None:
                found = self.module_of(path)
                if found.name != dotted:  # found beside a script: named as imported there
                    found = ModuleFile(dotted, path)
                return found
        return None

    def _file_in(self, base: Path, dotted: str) -> Path | None:
        key = (base, dotted)
        if key in self._found:
            return self._found[key]
        parts = dotted.split(".")
        folder = base.joinpath(*parts)
        found: Path | None = None
        for candidate in (folder / "__init__.py", folder.with_name(parts[-1] + ".py")):
            try:
                if candidate.is_file():
                    found = candidate
                    break
            except OSError:  # a name too long for the file system (a 6,000-part import)
                break
        self._found[key] = found
        return found

    def split(
        self, qualified: str, importer: Path | None, search: list[Path] | None = None
    ) -> tuple[ModuleFile, list[str]] | None:
        """`pkg.models.build` -> (the module `pkg.models`, ["build"]): the longest module."""
        if not is_project_name(qualified):
            return None
        if search is None:
            search = self.search_path(importer)
        parts = qualified.split(".")
        if self.find_module(parts[0], importer, search) is None and not any(
            _is_dir(base / parts[0]) for base in search
        ):
            return None  # no project module or package starts it: nothing longer is one
        for cut in range(len(parts), 0, -1):
            module = self.find_module(".".join(parts[:cut]), importer, search)
            if module is not None:
                return module, parts[cut:]
        return None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long for the file system
        return False


_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<dots>\.*)[ \t]*(?P<from>[\w.]*)[ \t]+import[ \t]*"
    r"(?P<names>\([^)]*\)|(?:[^\n#\\]|\\\n)*)"  # `(a,\n b)` and `a, \\\n b` span lines
    r"|import[ \t]+(?P<modules>[^\n#;]+))",
    re.MULTILINE,
)


def imported_modules(text: str, package: str | None) -> list[tuple[str, tuple[str, ...]]]:
    """The modules a file's text imports (module, names) found without parsing it.

    An over-approximation that only decides what else to read: a string that merely looks
    like an import costs a `stat`, never a finding.
    """
    found: list[tuple[str, tuple[str, ...]]] = []
    if "import" not in text:
        return found
    for match in _IMPORT.finditer(text):
        modules = match.group("modules")
        if modules is not None:
            for part in modules.split(","):
                name = part.strip().split(" ")[0].strip()
                if name:
                    found.append((name, ()))
            continue
        absolute = absolute_import(package, len(match.group("dots")), match.group("from") or None)
        if absolute is None:
            continue
        text_names = re.sub(r"#[^\n]*", "", match.group("names")).strip("() \t\n")
        imported = tuple(
            name.split()[0]
            for name in text_names.replace("\\\n", " ").split(",")
            if name.strip() and name.strip() != "*"
        )
        found.append((absolute, imported))
    return found
