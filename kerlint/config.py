"""Settings from `[tool.kerlint]` (pyproject.toml, kerlint.toml, .kerlint.toml) and the command line.

As in ruff, configuration is per file: each file gets the settings of the nearest
configuration file above it (found once per folder), `extend = "../pyproject.toml"` chains
files, and the command line is a last layer over whichever file applies.

Selection follows ruff: `select` replaces the set so far, `extend-select` adds to it,
`ignore` removes from it; a code, a prefix (`KL00`, `KL`, `ALL`) or a rule name may be
given, and within one layer the most specific selector wins (`--select KL001 --ignore
KL00` keeps KL001; at equal specificity `ignore` wins).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KNOWN_KEYS = {
    "extend",
    "select",
    "ignore",
    "extend-select",
    "extend-ignore",
    "exclude",
    "extend-exclude",
    "force-exclude",
    "respect-gitignore",
    "per-file-ignores",
    "extend-per-file-ignores",
    "unfixable",
    "verify",
    "keras",
    "target-keras",
}
_LIST_KEYS = (
    "select",
    "ignore",
    "extend-select",
    "extend-ignore",
    "exclude",
    "extend-exclude",
    "unfixable",
)
_BOOL_KEYS = ("force-exclude", "respect-gitignore")

# What kerlint checks: a path with one of these suffixes is taken for a file.
_SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")

# The files a folder's configuration may live in, in ruff's order of precedence.
CONFIG_NAMES = (".kerlint.toml", "kerlint.toml", "pyproject.toml")

# Which Keras the code runs: "auto" infers it per file from the project (kerlint.keras_version).
KERAS_CHOICES = ("auto", "2", "3")
TARGET_KERAS_CHOICES = ("3",)

DEFAULT_EXCLUDES = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".kerlint_cache",
    "__pypackages__",
    "__pycache__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)


# Marks a code selected only for files that run Keras 2 (or an unknown Keras).
KERAS2_ONLY = "@keras2"


class ConfigError(Exception):
    """A configuration or usage mistake: the CLI prints it and exits 2."""


def _read_toml(path: Path) -> tuple[dict | None, str]:
    """The parsed file and its text; a file that is not TOML gives (None, text) only when it
    cannot be ours (a pyproject.toml that never mentions kerlint)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        if path.name == "pyproject.toml" and "kerlint" not in text:
            return None, text  # someone else's broken file: it cannot be our configuration
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def _tool_table(data: dict, path: Path) -> dict | None:
    """`[tool.kerlint]` of a parsed file, None when there is none; a wrong type is an error."""
    tool = data.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: `tool` must be a table, got {type(tool).__name__}")
    table = tool.get("kerlint")
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: `tool.kerlint` must be a table, got {type(table).__name__}")
    return table


def _holds_configuration(path: Path) -> bool:
    """A kerlint.toml always does; a pyproject.toml when it has a [tool.kerlint] table."""
    if path.name != "pyproject.toml":
        return True
    data, _ = _read_toml(path)
    return data is not None and _tool_table(data, path) is not None


def config_file_in(directory: Path) -> Path | None:
    """The configuration file of one folder (not its parents), in ruff's precedence."""
    for name in CONFIG_NAMES:
        candidate = directory / name
        if candidate.is_file() and _holds_configuration(candidate):
            return candidate
    return None


def find_config_file(start: Path) -> Path | None:
    """The nearest configuration file at or above `start` (a folder, or a file's folder)."""
    start = start.resolve()
    for directory in (start, *start.parents) if start.is_dir() else start.parents:
        found = config_file_in(directory)
        if found is not None:
            return found
    return None


def load_table(path: Path) -> dict:
    """The kerlint table of a configuration file: `[tool.kerlint]` of a pyproject.toml, the
    top level of any other file (or its `[tool.kerlint]` when that is all it has)."""
    data, _ = _read_toml(path)
    if data is None:
        raise ConfigError(f"{path}: invalid TOML")
    table = _tool_table(data, path)
    if path.name == "pyproject.toml":
        return table or {}
    if table is not None and set(data) == {"tool"}:
        return table
    return data


def find_pyproject_table(start: Path) -> tuple[Path | None, dict]:
    """The raw kerlint table nearest to `start` (for `verify`, which reads its own sub-table)."""
    path = find_config_file(start)
    return (path, load_table(path)) if path else (None, {})


@dataclass
class Settings:
    """Everything a run needs to decide, for the files under one configuration, which rules."""

    root: Path
    config_file: Path | None = None
    select: frozenset[str] = frozenset()
    # Selected only for files that run Keras 2 or an unknown Keras (KL012 by default).
    select_keras2: frozenset[str] = frozenset()
    exclude: pathspec.PathSpec = field(
        default_factory=lambda: pathspec.GitIgnoreSpec.from_lines([])
    )
    per_file_ignores: list[tuple[pathspec.PathSpec, frozenset[str]]] = field(default_factory=list)
    verify: dict = field(default_factory=dict)
    # "auto", "2" or "3": the Keras the code is judged by (per-file pragmas still win).
    keras: str = "auto"
    # "3": also report what changes silently on the upgrade to Keras 3 (None: no upgrade view).
    target_keras: str | None = None
    respect_gitignore: bool = True
    # Apply `exclude` to files named on the command line too (what pre-commit passes).
    force_exclude: bool = False
    unfixable: frozenset[str] = frozenset()
    # For --show-settings: every file that contributed (the chain of `extend`), and the
    # patterns as written.
    sources: tuple[Path, ...] = ()
    exclude_patterns: tuple[str, ...] = ()
    per_file_ignore_patterns: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def settings_for(self, path: Path) -> Settings:
        """One Settings serves every file (`--config FILE`, `--isolated`, a test)."""
        return self

    @property
    def default(self) -> Settings:
        """As SettingsResolver.default: the settings of the working folder (the cache's)."""
        return self

    def codes_for(self, path: Path) -> frozenset[str]:
        """The selected codes minus the per-file ignores matching this path; the codes
        selected for Keras 2 files only come as `KL012@keras2` (resolved once the file's
        Keras is known, `engine.codes_for_mode`)."""
        ignored: set[str] = set()
        if self.per_file_ignores:
            relative = _relative(path, self.root)
            for spec, codes in self.per_file_ignores:
                if spec.match_file(relative) or spec.match_file(path.name):
                    ignored |= codes
        keras2 = {f"{code}{KERAS2_ONLY}" for code in self.select_keras2 - ignored}
        return (self.select - ignored) | keras2 if keras2 else self.select - ignored

    def is_excluded(self, path: Path) -> bool:
        relative = _relative(path, self.root)
        return self.exclude.match_file(relative) or self.exclude.match_file(path.name)

    def is_force_excluded(self, path: Path) -> bool:
        """A file named on the command line, with `force-exclude`: it or a folder above it
        (up to the root) matches an exclude pattern."""
        if not self.force_exclude:
            return False
        if self.is_excluded(path):
            return True
        relative = _relative(path, self.root)
        parts = relative.split("/")[:-1]
        return any(
            self.exclude.match_file("/".join(parts[: i + 1]) + "/")
            or self.exclude.match_file(parts[i])
            for i in range(len(parts))
        )

    def describe(self) -> str:
        """--show-settings: every resolved setting and the files it came from."""
        from kerlint.rules import registry

        names = {rule.code: rule.name for rule in registry.all_rules()}
        lines = [
            f"Settings path: {self.config_file if self.config_file else '(none: defaults)'}",
            *(f"  extends: {source}" for source in reversed(self.sources[:-1])),
            f"root = {self.root}",
            f"keras = {self.keras!r}",
            f"target-keras = {self.target_keras!r}",
            "select = [",
            *(f"    {code!r},  # {names.get(code, '')}" for code in sorted(self.select)),
            *(
                f"    {code!r},  # {names.get(code, '')} (files that run Keras 2 only)"
                for code in sorted(self.select_keras2)
            ),
            "]",
            f"unfixable = {sorted(self.unfixable)!r}",
            "per-file-ignores = {",
            *(f"    {p!r} = {list(c)!r}," for p, c in self.per_file_ignore_patterns),
            "}",
            f"exclude = {list(self.exclude_patterns)!r}",
            f"respect-gitignore = {str(self.respect_gitignore).lower()}",
            f"force-exclude = {str(self.force_exclude).lower()}",
            f"verify = {self.verify!r}",
        ]
        return "\n".join(lines)


def _relative(path: Path, root: Path) -> str:
    try:
        return _resolved(path).relative_to(root).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return path.as_posix()


def _resolved(path: Path) -> Path:
    """`path.resolve()`, its folder resolved once per process (a stat per folder level for
    every file of a folder: most of what discovery cost on a warm run)."""
    if path.is_symlink() or path.name in ("", ".", ".."):
        return path.resolve()
    return _resolved_folder(path.parent) / path.name


@functools.lru_cache(maxsize=4096)
def _resolved_folder(folder: Path) -> Path:
    return folder.resolve()


def _rule_codes() -> tuple[list[str], set[str], dict[str, str]]:
    """Every code, the default ones, and each rule's name -> its code."""
    from kerlint.rules import registry

    rules = registry.all_rules()
    return (
        [rule.code for rule in rules],
        {rule.code for rule in rules if rule.default},
        {rule.name: rule.code for rule in rules},
    )


def _keras2_defaults() -> set[str]:
    """Rules on by default only where a file runs Keras 2 (or an unknown Keras)."""
    from kerlint.rules import registry

    return {rule.code for rule in registry.all_rules() if rule.default_keras2}


def _selector(raw: str, all_codes: Sequence[str], origin: str) -> tuple[int, set[str]] | None:
    """A selector's specificity (ALL 0, then the prefix length; a code or a name the most)
    and the codes it names; None for KL000, which cannot be selected or ignored."""
    _, _, by_name = _rule_codes()
    text = raw.strip()
    if text.lower() in by_name:
        code = by_name[text.lower()]
        return len(code), {code}
    pattern = text.upper()
    if pattern == "KL000":
        return None
    if pattern == "ALL":
        return 0, set(all_codes)
    matched = {c for c in all_codes if c.startswith(pattern)}
    if not matched:
        raise ConfigError(f"{origin}: unknown rule code or prefix `{raw}`; see `kerlint rules`")
    return len(pattern), matched


def expand_codes(patterns: Iterable[str], all_codes: Sequence[str], origin: str) -> set[str]:
    """Turn codes, prefixes and rule names into codes; an unknown one is a ConfigError."""
    codes: set[str] = set()
    for raw in patterns:
        if not raw.strip():
            continue
        selector = _selector(raw, all_codes, origin)
        if selector is not None:
            codes |= selector[1]
    return codes


@dataclass
class _Layer:
    """One source of settings: a configuration file, the inline `--config`, or the flags."""

    table: dict
    origin: str
    base: Path  # relative paths in the layer are relative to this folder
    file: Path | None = None  # the configuration file it was read from


def _apply_selection(chosen: set[str], layer: _Layer, all_codes: Sequence[str]) -> set[str]:
    """ruff's rule selection for one layer: a `select` starts over; then, from the least to
    the most specific selector, the selected codes are added and the ignored ones removed."""
    table, origin = layer.table, layer.origin
    result = set() if "select" in table else set(chosen)
    steps: list[tuple[int, int, set[str]]] = []  # (specificity, 0 select / 1 ignore, codes)
    for key, kind in (("select", 0), ("extend-select", 0), ("ignore", 1), ("extend-ignore", 1)):
        for raw in table.get(key, []):
            selector = _selector(raw, all_codes, f"{origin}: `{key}`")
            if selector is not None:
                steps.append((selector[0], kind, selector[1]))
    for _, kind, codes in sorted(steps, key=lambda step: (step[0], step[1])):
        if kind == 0:
            result |= codes
        else:
            result -= codes
    return result


def _validate(table: dict, origin: str) -> dict:
    """Reject unknown keys and values of the wrong type; lists given as one string are lists."""
    unknown = set(table) - KNOWN_KEYS
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key(s) in [tool.kerlint]: {', '.join(sorted(unknown))}; "
            f"known keys: {', '.join(sorted(KNOWN_KEYS))}"
        )
    clean = dict(table)
    for key in _LIST_KEYS:
        if key in clean:
            clean[key] = _string_list(clean, key, origin)
    for key in _BOOL_KEYS:
        if key in clean and not isinstance(clean[key], bool):
            raise ConfigError(f"{origin}: `{key}` must be true or false, got {clean[key]!r}")
    if "extend" in clean and not isinstance(clean["extend"], str):
        raise ConfigError(f"{origin}: `extend` must be the path of a configuration file")
    for key in ("per-file-ignores", "extend-per-file-ignores"):
        if key not in clean:
            continue
        value = clean[key]
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: `{key}` must be a table of pattern = [codes]")
        checked = {}
        for pattern, codes in value.items():
            if isinstance(codes, str):
                codes = [codes]
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise ConfigError(
                    f"{origin}: `{key}`: the codes for `{pattern}` must be a list of strings, "
                    f"got {codes!r}"
                )
            checked[pattern] = codes
        clean[key] = checked
    if "verify" in clean and not isinstance(clean["verify"], dict):
        raise ConfigError(f"{origin}: `verify` must be a table")
    return clean


def _string_list(table: dict, key: str, origin: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{origin}: `{key}` must be a list of strings, got {value!r}")
    return value


def _file_layers(path: Path, seen: tuple[Path, ...] = ()) -> list[_Layer]:
    """The layers of a configuration file: those it extends first, then its own."""
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise ConfigError(f"{path}: `extend` goes round in a circle: {chain}")
    table = _validate(load_table(path), str(path))
    layers: list[_Layer] = []
    if "extend" in table:
        parent = (resolved.parent / Path(table["extend"]).expanduser()).resolve()
        if not parent.is_file():
            raise ConfigError(f"{path}: `extend`: no such file {parent}")
        layers = _file_layers(parent, (*seen, resolved))
    return [*layers, _Layer(table, str(path), resolved.parent, path)]


def parse_inline(text: str) -> dict:
    """`--config KEY=VALUE`: one line of TOML (ruff's inline configuration)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"--config: `{text}` is neither a file nor a TOML `key = value` ({exc})"
        ) from exc
    if set(data) == {"tool"} and isinstance(data["tool"], dict) and "kerlint" in data["tool"]:
        data = data["tool"]["kerlint"]
    return data


@dataclass(frozen=True)
class Overrides:
    """What the command line says, as a table in the configuration's own keys (the flags),
    and the inline `--config KEY=VALUE` tables; both are layered over the file."""

    flags: dict = field(default_factory=dict)
    inline: tuple[dict, ...] = ()
    per_file_ignores: tuple[str, ...] = ()  # --per-file-ignores PATTERN:CODES


def build_settings(layers: list[_Layer], root: Path, config_file: Path | None) -> Settings:
    """Fold the layers, the first the weakest, into one Settings."""
    all_codes, defaults, _ = _rule_codes()
    chosen = set(defaults)
    # The same selectors over the Keras 2 defaults: what a Keras 2 file gets besides.
    chosen_keras2 = defaults | _keras2_defaults()
    merged: dict = {}
    extend_exclude: list[str] = []
    pfi: dict[str, list[str]] = {}
    extend_pfi: list[tuple[str, list[str], str]] = []
    unfixable: set[str] = set()
    for layer in layers:
        chosen = _apply_selection(chosen, layer, all_codes)
        chosen_keras2 = _apply_selection(chosen_keras2, layer, all_codes)
        table = layer.table
        for key in ("exclude", "verify", "keras", "target-keras", *_BOOL_KEYS):
            if key in table:
                merged[key] = (table[key], layer.origin)
        extend_exclude += table.get("extend-exclude", [])
        if "per-file-ignores" in table:
            pfi = {p: c for p, c in table["per-file-ignores"].items()}
            pfi_origin = layer.origin
            extend_pfi = []
        extend_pfi += [
            (p, c, layer.origin) for p, c in table.get("extend-per-file-ignores", {}).items()
        ]
        unfixable |= expand_codes(table.get("unfixable", []), all_codes, layer.origin)
    patterns = list(merged["exclude"][0]) if "exclude" in merged else list(DEFAULT_EXCLUDES)
    patterns += extend_exclude
    pfi_items = [(p, c, pfi_origin) for p, c in pfi.items()] if pfi else []
    pfi_items += extend_pfi
    per_file = [
        (
            pathspec.GitIgnoreSpec.from_lines([pattern]),
            frozenset(expand_codes(codes, all_codes, f"{where}: `per-file-ignores`")),
        )
        for pattern, codes, where in pfi_items
    ]

    def choice(key: str, choices: Sequence[str]) -> str | None:
        if key not in merged:
            return None
        value, where = merged[key]
        return _check_choice(key, value, choices, where)

    return Settings(
        root=root,
        config_file=config_file,
        select=frozenset(chosen),
        select_keras2=frozenset(chosen_keras2 - chosen),
        exclude=pathspec.GitIgnoreSpec.from_lines(patterns),
        per_file_ignores=per_file,
        verify=merged["verify"][0] if "verify" in merged else {},
        keras=choice("keras", KERAS_CHOICES) or "auto",
        target_keras=choice("target-keras", TARGET_KERAS_CHOICES),
        respect_gitignore=merged.get("respect-gitignore", (True,))[0],
        force_exclude=merged.get("force-exclude", (False,))[0],
        unfixable=frozenset(unfixable),
        sources=tuple(layer.file for layer in layers if layer.file is not None),
        exclude_patterns=tuple(patterns),
        per_file_ignore_patterns=tuple((p, tuple(c)) for p, c, _ in pfi_items),
    )


def _override_layers(overrides: Overrides, base: Path) -> list[_Layer]:
    layers = [_Layer(_validate(table, "--config"), "--config", base) for table in overrides.inline]
    flags = dict(overrides.flags)
    extra_pfi: dict[str, list[str]] = {}
    for item in overrides.per_file_ignores:
        pattern, sep, codes = item.rpartition(":")
        if not sep or not pattern:
            raise ConfigError(f"--per-file-ignores: expected PATTERN:CODES, got `{item}`")
        extra_pfi.setdefault(pattern, []).extend(c for c in codes.split(",") if c.strip())
    if extra_pfi:
        flags["extend-per-file-ignores"] = extra_pfi
    layers.append(_Layer(_validate(flags, "the command line"), "the command line", base))
    return layers


class SettingsResolver:
    """The settings of each file: those of the nearest configuration file above it, with the
    command line over them. Found once per folder and built once per configuration file,
    so the result never depends on the order of the paths given."""

    def __init__(
        self,
        overrides: Overrides | None = None,
        *,
        config_path: Path | None = None,
        isolated: bool = False,
        cwd: Path | None = None,
    ) -> None:
        self.overrides = overrides or Overrides()
        self.config_path = config_path
        self.isolated = isolated
        self.cwd = (cwd or Path.cwd()).resolve()
        self._by_folder: dict[Path, Settings] = {}
        self._by_file: dict[Path | None, Settings] = {}
        self._fixed: Settings | None = None
        if isolated and config_path is not None:
            raise ConfigError(
                f"--config {config_path} cannot be used with --isolated, which ignores every "
                "configuration file"
            )
        if config_path is not None or isolated:
            self._fixed = self._build(config_path)
        # The settings of files with no configuration above them: those of the working
        # folder (as ruff does); also where the cache lives. Built now, so that a broken
        # configuration is reported before any file is read.
        self.default = self._fixed or self._for_folder(self.cwd)

    def _build(self, config_file: Path | None) -> Settings:
        key = config_file.resolve() if config_file is not None else None
        if key in self._by_file:
            return self._by_file[key]
        layers = _file_layers(config_file) if config_file is not None else []
        root = config_file.resolve().parent if config_file is not None else self.cwd
        layers += _override_layers(self.overrides, self.cwd)
        settings = build_settings(layers, root, config_file)
        self._by_file[key] = settings
        return settings

    def _for_folder(self, folder: Path) -> Settings:
        """Up the folders until one is known or has a configuration file (a loop, not
        recursion: a tree may be deeper than Python's recursion limit)."""
        unknown: list[Path] = []
        settings = self._by_folder.get(folder)
        while settings is None:
            unknown.append(folder)
            own = config_file_in(folder)
            if own is not None:
                settings = self._build(own)
            elif folder.parent == folder:
                settings = self._build(None)
            else:
                folder = folder.parent
                settings = self._by_folder.get(folder)
        for seen in unknown:
            self._by_folder[seen] = settings
        return settings

    def settings_for(self, path: Path) -> Settings:
        """The settings for a file (or a folder: those of the files directly in it)."""
        if self._fixed is not None:
            return self._fixed
        absolute = Path(os.path.abspath(path))
        if absolute in self._by_folder:
            folder = absolute
        elif absolute.suffix in _SOURCE_SUFFIXES:  # a file (no stat: this runs per file)
            folder = absolute.parent
        else:
            try:
                folder = absolute if absolute.is_dir() else absolute.parent
            except OSError:
                folder = absolute.parent
        settings = self._for_folder(folder)
        if settings.config_file is None and self.default.config_file is not None:
            return self.default  # no configuration above: the working folder's
        return settings

    def codes_for(self, path: Path) -> frozenset[str]:
        return self.settings_for(path).codes_for(path)

    def all_settings(self) -> Iterator[Settings]:
        yield self.default
        yield from (s for s in self._by_file.values() if s is not self.default)


def resolve_settings(
    *,
    start: Path,
    config_path: Path | None = None,
    isolated: bool = False,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
    exclude: Sequence[str] | None = None,
    extend_exclude: Sequence[str] = (),
    per_file_ignores: Sequence[str] = (),
    keras: str | None = None,
    target_keras: str | None = None,
) -> Settings:
    """One Settings for the configuration nearest to `start` (or `config_path`), with these
    command-line values over it: for tests and callers that check one tree."""
    flags: dict = {}
    if select is not None:
        flags["select"] = list(select)
    for key, value in (
        ("ignore", ignore),
        ("extend-select", extend_select),
        ("extend-exclude", extend_exclude),
    ):
        if value:
            flags[key] = list(value)
    if exclude is not None:
        flags["exclude"] = list(exclude)
    if keras is not None:
        flags["keras"] = keras
    if target_keras is not None:
        flags["target-keras"] = target_keras
    overrides = Overrides(flags=flags, per_file_ignores=tuple(per_file_ignores))
    if not isolated and config_path is None:
        config_path = find_config_file(start)
    start = start.resolve()
    resolver = SettingsResolver(
        overrides,
        config_path=config_path,
        isolated=isolated and config_path is None,
        cwd=start if start.is_dir() else start.parent,
    )
    if config_path is None:
        return resolver._build(None)
    return resolver.default


def _check_choice(key: str, value: object, choices: Sequence[str], where: str) -> str:
    """A setting that takes one of a few strings (`keras = 3` means "3")."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"{where}: `{key}` must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
        )
    return value
