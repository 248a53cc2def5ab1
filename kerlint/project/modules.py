"""The project's modules as the builder sees them: parsed once, with their globals.

A module a checked file imports is read, parsed and summarised by its module-level
definitions only (imports, functions, classes): its globals. A function or class the
builder asks for comes back as an `Imported` with those globals, and is spliced in at the
call site like a function of the checked file. Module-level code of a dependency is never
run: what it builds at import time stays unknown, and unknown silences.

Per run (and per worker process) every module is read and parsed at most once, however
many files import it; the import closure of a file (for the prefilter and the cache key)
is found from the text alone, without parsing. With the cache, a dependency's parsed
module is kept there under the hash of its bytes (pickled: loading it is about four times
faster than parsing), so a one-file run after a change of that file alone parses nothing
else (CPython's tree: unpickling it takes about 60% of parsing it). The entries are written
by kerlint into its own cache folder, as Python's `__pycache__` is; one that cannot be
loaded is parsed again.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from kerlint.engine import _python_tree_or_error
from kerlint.facts import names
from kerlint.facts.model import Class, Function, Ref, Value
from kerlint.facts.positions import SourceText
from kerlint.facts.records import (
    STAR_IMPORTS,
    UNBOUND,
    Env,
    Imported,
    ProjectStar,
    Unbound,
    bind_import,
    bind_star_import,
    bound_by_stars,
    class_base,
)
from kerlint.facts.syntax import TRY_STATEMENTS, absolute_import, dotted_name
from kerlint.project.index import ModuleFile, ProjectIndex, imported_modules
from kerlint.source import SourceError, read_bytes, read_source

if TYPE_CHECKING:
    from kerlint.cache import Cache

# Re-exports followed (`from .models import build` in a package's `__init__`) before giving up.
MAX_REEXPORTS = 8
# Parsed dependencies kept in memory at once (the least recently used are dropped): a parse
# takes about 35 times its text, so 2 MiB of text is some 70 MB, whatever the project's size.
MAX_PARSED = 128
MAX_PARSED_TEXT = 2 * 1024 * 1024


@dataclass(eq=False)
class ModuleRecord:
    """One project module read for its dependents: text, parse, globals, positions."""

    file: ModuleFile
    display: str
    data: bytes = field(repr=False)
    text: str = field(repr=False)
    module: ast.Module | None = field(default=None, repr=False)
    globals: Env = field(default_factory=dict, repr=False)

    @cached_property
    def source(self) -> SourceText:
        """To place and quote its nodes, only when a finding lies here."""
        return SourceText(self.text)

    @cached_property
    def _nodes(self) -> set[int]:
        return {id(node) for node in ast.walk(self.module)} if self.module is not None else set()

    def holds(self, node: ast.AST) -> bool:
        return id(node) in self._nodes

    def line(self, node: ast.AST) -> int:
        return getattr(node, "lineno", 0) if self.holds(node) else 0

    @property
    def digest(self) -> str:
        return hashlib.blake2b(self.data, digest_size=16).hexdigest()


def display_name(path: Path) -> str:
    """How a dependency is named in messages: relative to the working folder when inside."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


class Project:
    """The index and the modules read so far, shared by every file checked in one process."""

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self._texts: dict[Path, ModuleRecord | None] = {}
        self._parsed: dict[Path, ModuleRecord] = {}
        self._parsed_text = 0  # characters of the parsed modules kept
        self._imports: dict[Path, list[ModuleFile]] = {}
        self._building: set[Path] = set()
        # Names that are no project definition, per search path: most names a file calls are
        # not the project's (numpy.random.rand, ...); each costs a few stats, once. (Found
        # definitions are not kept here: they would keep their modules past MAX_PARSED.)
        self._unresolved: set[tuple[tuple[Path, ...], str]] = set()
        # Every module-level function and class of a parsed module, by id of its node.
        self._by_node: dict[int, Imported] = {}
        self.parses = 0  # how many dependencies were parsed (tests hold this down)
        self.cache: Cache | None = None  # where parsed dependencies are kept between runs

    @classmethod
    def for_paths(cls, paths: list[Path]) -> Project:
        return cls(ProjectIndex.for_paths(paths))

    # -------------------------------------------------------------- reading
    def record(self, file: ModuleFile) -> ModuleRecord | None:
        """The module's bytes and text (None when it cannot be read as Python)."""
        path = file.path
        if path in self._texts:
            return self._texts[path]
        try:
            data = read_bytes(path)
            source = read_source(path, str(path), data)
        except SourceError:
            record = None
        else:
            record = ModuleRecord(file, display_name(path), data, source.text)
        self._texts[path] = record
        return record

    def parsed(self, file: ModuleFile) -> ModuleRecord | None:
        """The module parsed and summarised, or None (unreadable, unparsable, a cycle)."""
        path = file.path
        found = self._parsed.get(path)
        if found is not None:
            self._parsed[path] = self._parsed.pop(path)  # most recently used last
            return found
        record = self.record(file)
        if record is None or path in self._building:
            return None
        record.module = self._load_or_parse(record)
        if record.module is None:
            return None
        self._building.add(path)
        try:
            record.globals = self._globals(record)
        finally:
            self._building.discard(path)
        self._parsed[path] = record
        self._parsed_text += len(record.text)
        for values in record.globals.values():
            for value in values:
                if isinstance(value, Function | Class):
                    self._by_node[id(value.node)] = Imported(value, record.globals, record)
        while len(self._parsed) > 1 and (
            len(self._parsed) > MAX_PARSED or self._parsed_text > MAX_PARSED_TEXT
        ):
            dropped = self._parsed.pop(next(iter(self._parsed)))
            self._parsed_text -= len(dropped.text)
            # The text stays known; the parse lives on only while a check still uses it.
            self._texts[dropped.file.path] = ModuleRecord(
                dropped.file, dropped.display, dropped.data, dropped.text
            )
            for values in dropped.globals.values():
                for value in values:
                    if isinstance(value, Function | Class):
                        self._by_node.pop(id(value.node), None)
        return record

    def definition_of(self, node: ast.AST) -> Imported | None:
        """The module-level function or class `node` of a parsed module, with its globals."""
        return self._by_node.get(id(node))

    def _load_or_parse(self, record: ModuleRecord) -> ast.Module | None:
        """The parsed module: from the cache when it holds these bytes' parse, else parsed
        (None: a dependency CPython rejects is unknown)."""
        key = self.cache.blob_key("ast", record.data) if self.cache is not None else None
        if key is not None:
            import pickle

            blob = self.cache.get_blob(key)  # type: ignore[union-attr]
            if blob is not None:
                try:
                    module = pickle.loads(blob)
                except Exception:  # damaged or from another Python: parse it again
                    module = None
                if isinstance(module, ast.Module):
                    return module
        module, _ = _python_tree_or_error(record.text)
        if not isinstance(module, ast.Module):
            return None
        self.parses += 1
        if key is not None:
            import pickle

            try:
                blob = pickle.dumps(module, protocol=pickle.HIGHEST_PROTOCOL)
            except (RecursionError, pickle.PicklingError):
                return module
            self.cache.put_blob(key, blob)  # type: ignore[union-attr]
        return module

    # -------------------------------------------------------------- the import closure
    def direct_imports(self, path: Path, text: str) -> list[ModuleFile]:
        """The project modules the file's text imports (from the text; no parse)."""
        path = Path(os.path.abspath(path))
        known = self._imports.get(path)
        if known is not None:
            return known
        package = self.index.module_of(path).package
        found: list[ModuleFile] = []
        for module, imported in imported_modules(text, package):
            target = self.index.find_module(module, path)
            if target is not None and target.path != path:
                found.append(target)
            for name in imported:  # `from pkg import models`: a submodule
                sub = self.index.find_module(f"{module}.{name}", path)
                if sub is not None and sub.path != path:
                    found.append(sub)
        unique = list({module.path: module for module in found}.values())
        self._imports[path] = unique
        return unique

    def closure(self, path: Path, text: str) -> list[ModuleRecord]:
        """Every project module the file imports, directly or not (cycles end), readable ones."""
        path = Path(os.path.abspath(path))
        seen: set[Path] = {path}
        result: list[ModuleRecord] = []
        todo = list(self.direct_imports(path, text))
        while todo:
            module = todo.pop()
            if module.path in seen:
                continue
            seen.add(module.path)
            record = self.record(module)
            if record is None:
                continue
            result.append(record)
            todo.extend(self.direct_imports(module.path, record.text))
        result.sort(key=lambda record: str(record.file.path))
        return result

    # -------------------------------------------------------------- resolution
    def resolver(self, importer: Path | None, text: str | None = None) -> Resolver:
        """The resolver for a file; given its text, it only reaches the modules of its import
        closure, which are exactly those its cache key covers."""
        allowed = None
        if importer is not None and text is not None:
            allowed = {record.file.path for record in self.closure(importer, text)}
        return Resolver(self, importer, allowed)

    def package_of(self, path: Path) -> str:
        return self.index.module_of(path).package

    def _globals(self, record: ModuleRecord) -> Env:
        assert record.module is not None
        env: Env = {}
        resolver = Resolver(self, record.file.path)
        _define(record.module.body, env, record.file.package, resolver)
        return env


class Resolver:
    """The builder's `resolve` hook for one checked file (imports as that file sees them)."""

    def __init__(
        self, project: Project, importer: Path | None, allowed: set[Path] | None = None
    ) -> None:
        self.project = project
        self.allowed = allowed
        self.importer = Path(os.path.abspath(importer)) if importer is not None else None
        self.search = project.index.search_path(self.importer)
        self._key = tuple(self.search)

    @property
    def package(self) -> str | None:
        return self.project.package_of(self.importer) if self.importer is not None else None

    def definition_of(self, node: ast.AST) -> Imported | None:
        return self.project.definition_of(node)

    def exported(self, module: str) -> list[str]:
        """What `from module import *` binds of a project module's functions and classes
        (its `__all__` is not read: the names without a leading underscore)."""
        return sorted(self._exported(module, MAX_REEXPORTS))

    def _exported(self, module: str, hops: int) -> set[str]:
        found = self.project.index.find_module(module, self.importer, self.search)
        record = self.project.parsed(found) if found is not None else None
        if record is None or hops <= 0:
            return set()
        names = {
            name
            for name, values in record.globals.items()
            if not name.startswith("_")
            and len(values) == 1
            and isinstance(values[0], Function | Class)
        }
        for star in record.globals.get(STAR_IMPORTS, ()):  # what it re-exports with `*`
            if isinstance(star, Ref):
                names |= self._exported(star.name, hops - 1)
        return names

    def __call__(self, qualified: str) -> Imported | None:
        if (self._key, qualified) in self.project._unresolved:
            return None
        return self.definition(qualified, MAX_REEXPORTS)

    def definition(self, qualified: str, hops: int) -> Imported | None:
        if hops <= 0:
            return None
        split = self.project.index.split(qualified, self.importer, self.search)
        if split is None:  # no project module at all, from this file's folder
            self.project._unresolved.add((self._key, qualified))
            return None
        module, rest = split
        if not rest:  # a submodule, unless its package's `__init__` binds the name over it
            package, _, name = qualified.rpartition(".")
            above = self.project.index.split(package, self.importer, self.search)
            if not package or above is None or above[1]:
                return None
            module, rest = above[0], [name]
        if len(rest) != 1:  # an attribute of a definition
            return None
        if self.allowed is not None and module.path not in self.allowed:
            return None  # reached without an import naming it: not in the cache key either
        record = self.project.parsed(module)
        if record is None:
            return None
        values = record.globals.get(rest[0], ())
        if not values:  # not bound by name: perhaps by one of the module's `import *`
            return self._through_stars(record, rest[0], hops)
        if len(values) != 1:
            return None
        value = values[0]
        if isinstance(value, Function | Class):
            return Imported(value, record.globals, record)
        if isinstance(value, Ref) and value.name != qualified:
            return self.definition(value.name, hops - 1)  # a re-export
        return None

    def _through_stars(self, record: ModuleRecord, name: str, hops: int) -> Imported | None:
        """`name` as the module's `from .models import *` lines bind it (a package's
        `__init__` re-exporting its submodules)."""
        stars = record.globals.get(STAR_IMPORTS, ())
        found = bound_by_stars(name, stars, self._star_binder(hops)) if stars else None
        if isinstance(found, Ref):
            return self.definition(found.name, hops - 1)
        return None

    def star_binding(
        self, module: str, name: str, hops: int = MAX_REEXPORTS
    ) -> Value | Unbound | None:
        """What `from module import *` binds `name` to, for a project module: a reference
        to its definition, UNBOUND when the module binds no such name, None when it is not
        a project module (or what it binds is not known)."""
        found = self.project.index.find_module(module, self.importer, self.search)
        if hops <= 0 or found is None:
            return None
        if self.allowed is not None and found.path not in self.allowed:
            return None
        record = self.project.parsed(found)
        if record is None:
            return None
        values = record.globals.get(name)
        if values is None:
            stars = record.globals.get(STAR_IMPORTS, ())
            return bound_by_stars(name, stars, self._star_binder(hops)) if stars else UNBOUND
        if len(values) != 1:
            return None
        value = values[0]
        return Ref(f"{module}.{name}") if isinstance(value, Function | Class) else value

    def _star_binder(self, hops: int) -> ProjectStar:
        return lambda module, name: self.star_binding(module, name, hops - 1)


def _define(body: Iterable[ast.stmt], env: Env, package: str, resolver: Resolver) -> None:
    """Module-level imports, functions and classes (also under `if` and `try`): the globals."""
    for statement in body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                bind_import(alias, env)
        elif isinstance(statement, ast.ImportFrom):
            _define_from(statement, env, package)
        elif (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):  # `build = build_model`: an alias; anything else is unknown
            alias_of = dotted_name(statement.value)
            env[statement.targets[0].id] = _lookup(alias_of, env, resolver) if alias_of else ()
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            env[statement.name] = (Function(statement),)
        elif isinstance(statement, ast.ClassDef):
            bases: list[str] = []
            parents: list[Class] = []
            for base in _class_bases(statement, env, resolver):
                if isinstance(base, Class):
                    parents.append(base)
                    if base.keras_base:
                        bases.append(base.keras_base)
                else:
                    bases.append(base)
            env[statement.name] = (Class(statement, tuple(bases), tuple(parents)),)
        elif isinstance(statement, ast.If):
            _define(statement.body, env, package, resolver)
            _define(statement.orelse, env, package, resolver)
        elif isinstance(statement, TRY_STATEMENTS):
            _define(statement.body, env, package, resolver)
            for other in (*statement.handlers, *statement.orelse, *statement.finalbody):
                _bind_unknown(other, env)
        else:
            _bind_unknown(statement, env)


def _bind_unknown(statement: ast.AST, env: Env) -> None:
    """Names a statement binds in a way not followed (`a, b = ...`, `for`, `with`): bound
    to something unknown, so that a star import never reads them as unbound."""
    todo = [statement]
    while todo:
        node = todo.pop()
        if isinstance(node, _OWN_SCOPES):
            if isinstance(node, ast.stmt):  # a def or class (its body is its own scope)
                env.setdefault(node.name, ())
            continue
        bound = None
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound = node.id
        elif isinstance(node, ast.alias) and node.name != "*":
            bound = node.asname or node.name.split(".")[0]
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            bound = node.name
        if bound:
            env.setdefault(bound, ())
        todo.extend(ast.iter_child_nodes(node))


_OWN_SCOPES = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
    ast.DictComp, ast.GeneratorExp,
)  # fmt: skip


def _define_from(node: ast.ImportFrom, env: Env, package: str) -> None:
    module = absolute_import(package, node.level, node.module) if node.level else node.module
    if module is None:
        return
    if node.names and node.names[0].name == "*":
        bind_star_import(module, env)
        return
    for alias in node.names:
        env[alias.asname or alias.name] = (Ref(f"{module}.{alias.name}"),)


def _lookup(dotted: str, env: Env, resolver: Resolver) -> tuple:
    head, _, rest = dotted.partition(".")
    values = env.get(head)
    if values is None:  # perhaps bound by a star import (`from keras.models import *`)
        stars = env.get(STAR_IMPORTS)
        found = bound_by_stars(head, stars, resolver.star_binding) if stars else None
        values = (found,) if found is not None and not isinstance(found, Unbound) else ()
    if not rest:
        return values
    if len(values) == 1 and isinstance(values[0], Ref):
        return (Ref(f"{values[0].name}.{rest}"),)
    return ()


def _class_bases(node: ast.ClassDef, env: Env, resolver: Resolver) -> Iterable[str | Class]:
    """The bases of a class: canonical Keras names, and the project's own classes."""
    for base_node in node.bases:
        dotted = dotted_name(base_node)
        if dotted is None:
            continue
        for value in _lookup(dotted, env, resolver):
            if isinstance(value, Class):
                yield value
            elif isinstance(value, Ref):
                canonical = names.canonical(value.name)
                if canonical:
                    yield class_base(canonical)
                elif names.is_keras_family(value.name):
                    yield "keras.Model"
                else:
                    found = resolver(value.name)
                    if found is not None and isinstance(found.value, Class):
                        yield found.value
