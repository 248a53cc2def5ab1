"""Settings from `[tool.kerlint]` (pyproject.toml or kerlint.toml) and the command line.

Selection follows ruff: `select` replaces the default set, `extend-select` adds to it,
`ignore` removes from it; a code or a prefix (`KL00`, `KL`, `ALL`) may be given.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KNOWN_KEYS = {
    "select",
    "ignore",
    "extend-select",
    "exclude",
    "extend-exclude",
    "per-file-ignores",
    "verify",
    "keras",
    "target-keras",
}

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


class ConfigError(Exception):
    """A configuration or usage mistake: the CLI prints it and exits 2."""


def find_config_file(start: Path) -> Path | None:
    """The nearest kerlint.toml, or pyproject.toml with a [tool.kerlint] table, at or above start."""
    start = start.resolve()
    for directory in (start, *start.parents) if start.is_dir() else start.parents:
        own = directory / "kerlint.toml"
        if own.is_file():
            return own
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
            except tomllib.TOMLDecodeError as exc:
                if "kerlint" in pyproject.read_text(encoding="utf-8", errors="replace"):
                    raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from exc
                continue  # someone else's broken file: it cannot be our configuration
            if "kerlint" in data.get("tool", {}):
                return pyproject
    return None


def load_table(path: Path) -> dict:
    """The kerlint table of a config file (top level of kerlint.toml)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    if path.name == "kerlint.toml":
        return data.get("tool", {}).get("kerlint", data)
    return data.get("tool", {}).get("kerlint", {})


def find_pyproject_table(start: Path) -> tuple[Path | None, dict]:
    """The raw kerlint table nearest to `start` (for `verify`, which reads its own sub-table)."""
    path = find_config_file(start)
    return (path, load_table(path)) if path else (None, {})


@dataclass
class Settings:
    """Everything a run needs to decide which files and which rules."""

    root: Path
    config_file: Path | None = None
    select: frozenset[str] = frozenset()
    exclude: pathspec.PathSpec = field(
        default_factory=lambda: pathspec.GitIgnoreSpec.from_lines([])
    )
    per_file_ignores: list[tuple[pathspec.PathSpec, frozenset[str]]] = field(default_factory=list)
    verify: dict = field(default_factory=dict)
    # "auto", "2" or "3": the Keras the code is judged by (per-file pragmas still win).
    keras: str = "auto"
    # "3": also report what changes silently on the upgrade to Keras 3 (None: no upgrade view).
    target_keras: str | None = None

    def codes_for(self, path: Path) -> frozenset[str]:
        """The selected codes minus the per-file ignores matching this path."""
        if not self.per_file_ignores:
            return self.select
        relative = _relative(path, self.root)
        ignored: set[str] = set()
        for spec, codes in self.per_file_ignores:
            if spec.match_file(relative) or spec.match_file(path.name):
                ignored |= codes
        return self.select - ignored

    def is_excluded(self, path: Path) -> bool:
        relative = _relative(path, self.root)
        return self.exclude.match_file(relative) or self.exclude.match_file(path.name)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return path.as_posix()


def expand_codes(patterns: Iterable[str], all_codes: Sequence[str], origin: str) -> set[str]:
    """Turn codes and prefixes into codes; an unknown one is a ConfigError."""
    codes: set[str] = set()
    for raw in patterns:
        pattern = raw.strip().upper()
        if not pattern:
            continue
        matched = (
            list(all_codes) if pattern == "ALL" else [c for c in all_codes if c.startswith(pattern)]
        )
        if pattern in ("KL000",):
            continue
        if not matched:
            raise ConfigError(f"{origin}: unknown rule code or prefix `{raw}`; see `kerlint rules`")
        codes.update(matched)
    return codes


def _string_list(table: dict, key: str, origin: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{origin}: `{key}` must be a list of strings")
    return value


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
    """Merge the config file (if any) and the command line into Settings."""
    from kerlint.rules import registry

    table: dict = {}
    if not isolated:
        config_path = config_path or find_config_file(start)
        if config_path is not None:
            table = load_table(config_path)
    origin = str(config_path) if config_path else "configuration"
    unknown = set(table) - KNOWN_KEYS
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key(s) in [tool.kerlint]: {', '.join(sorted(unknown))}; "
            f"known keys: {', '.join(sorted(KNOWN_KEYS))}"
        )
    all_codes = [rule.code for rule in registry.all_rules()]
    defaults = {rule.code for rule in registry.all_rules() if rule.default}

    chosen = set(defaults)
    if "select" in table:
        chosen = expand_codes(_string_list(table, "select", origin), all_codes, origin)
    chosen |= expand_codes(_string_list(table, "extend-select", origin), all_codes, origin)
    chosen -= expand_codes(_string_list(table, "ignore", origin), all_codes, origin)
    if select is not None:
        chosen = expand_codes(select, all_codes, "--select")
    chosen |= expand_codes(extend_select, all_codes, "--extend-select")
    chosen -= expand_codes(ignore, all_codes, "--ignore")

    patterns = list(DEFAULT_EXCLUDES)
    if exclude is not None:
        patterns = list(exclude)
    elif "exclude" in table:
        patterns = _string_list(table, "exclude", origin)
    patterns += _string_list(table, "extend-exclude", origin) + list(extend_exclude)

    pfi_table = table.get("per-file-ignores", {})
    if not isinstance(pfi_table, dict):
        raise ConfigError(f"{origin}: `per-file-ignores` must be a table of pattern = [codes]")
    pfi_items: list[tuple[str, list[str], str]] = [
        (pattern, codes if isinstance(codes, list) else [codes], origin)
        for pattern, codes in pfi_table.items()
    ]
    for item in per_file_ignores:
        pattern, sep, codes = item.rpartition(":")
        if not sep:
            raise ConfigError(f"--per-file-ignores: expected PATTERN:CODES, got `{item}`")
        pfi_items.append((pattern, codes.split(","), "--per-file-ignores"))
    pfi = [
        (
            pathspec.GitIgnoreSpec.from_lines([pattern]),
            frozenset(expand_codes(codes, all_codes, where)),
        )
        for pattern, codes, where in pfi_items
    ]

    verify = table.get("verify", {})
    if not isinstance(verify, dict):
        raise ConfigError(f"{origin}: `verify` must be a table")
    keras_value = _choice(table, "keras", KERAS_CHOICES, origin, keras) or "auto"
    target_value = _choice(table, "target-keras", TARGET_KERAS_CHOICES, origin, target_keras)
    root = config_path.parent.resolve() if config_path else start.resolve()
    if root.is_file():
        root = root.parent
    return Settings(
        root=root,
        config_file=config_path,
        select=frozenset(chosen),
        exclude=pathspec.GitIgnoreSpec.from_lines(patterns),
        per_file_ignores=pfi,
        verify=verify,
        keras=keras_value,
        target_keras=target_value,
    )


def _choice(
    table: dict, key: str, choices: Sequence[str], origin: str, override: str | None
) -> str | None:
    """A setting that takes one of a few strings: the command line's value, else the file's."""
    if override is not None:
        value, where = override, f"--{key}"
    elif key in table:
        value, where = table[key], origin
    else:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"{where}: `{key}` must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
        )
    return value
