"""What to build: target strings, `[tool.kerlint.verify]`, and the default backend.

Runs in the parent process: no keras here.

The configuration table (paths are relative to the file that holds it):

    [tool.kerlint.verify]
    backend = "numpy"                 # numpy | jax | torch | tensorflow
    timeout = 120                     # seconds per target
    weights = "none"                  # or "keep": load pretrained weights (needs network)
    max-memory = "4G"                 # the child's address space (RLIMIT_AS); --max-memory
    snapshot = "kerlint-verify.json"  # the lock file; --snapshot overrides it
    ignore = ["KL012"]                # runtime checks not to report

    [[tool.kerlint.verify.targets]]
    target = "models.py:build"        # or "package.module:build", or "exported/model.keras"
    name = "resnet-head"              # its label in reports and the snapshot (optional)
    kwargs = { num_classes = 10 }
    expect = { trainable_weights = 4, frozen = ["resnet50*"], trainable = ["head*"] }

`targets` can also be written inline, `targets = ["models.py:small", { target = ... }]`,
each inline table on one line (TOML does not allow line breaks inside them).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import click

from kerlint.verify.expectations import Expectations

BACKENDS = ("numpy", "jax", "torch", "tensorflow")
SAVED_SUFFIXES = (".keras", ".h5", ".hdf5")
TABLE_KEYS = {"backend", "timeout", "weights", "snapshot", "ignore", "targets", "max-memory"}
TARGET_KEYS = {"target", "name", "kwargs", "expect"}
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

TARGET_HELP = (
    "TARGET is path/to/file.py:function, package.module:function (a factory that returns "
    "a model) or a saved .keras file"
)


class VerifyConfigError(click.UsageError):
    """A bad target, option or `[tool.kerlint.verify]` entry: printed, exit code 2."""


@dataclass
class Target:
    """One thing to build, as the child needs it and as the report names it."""

    label: str  # how reports, expectations and the snapshot refer to it
    kind: Literal["file", "module", "saved"]
    path: str | None = None  # absolute, for "file" and "saved"
    module: str | None = None
    function: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    expect: Expectations = field(default_factory=Expectations)
    sys_path: list[str] = field(default_factory=list)
    graph: str | None = None
    keras: str = "keras"  # the implementation that builds it: "keras" or "tf_keras"
    keras_because: str = ""  # why that one (for the report)

    def request(self, ident: int) -> dict[str, Any]:
        """The JSON the child reads for this target."""
        return {
            "id": ident,
            "label": self.label,
            "kind": self.kind,
            "path": self.path,
            "module": self.module,
            "function": self.function,
            "kwargs": self.kwargs,
            "graph": self.graph,
        }


def display_path(path: str | Path, cwd: Path | None = None) -> str:
    """A path relative to the working directory when it is below it, as linters print them."""
    path = Path(path)
    cwd = (cwd or Path.cwd()).resolve()
    try:
        return (
            os.path.relpath(path.resolve(), cwd)
            if path.resolve().is_relative_to(cwd)
            else str(path)
        )
    except (OSError, ValueError):
        return str(path)


def _kwargs_suffix(kwargs: dict[str, Any]) -> str:
    if not kwargs:
        return ""
    return "(" + ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in kwargs.items()) + ")"


def parse_target(
    text: str,
    *,
    base: Path,
    kwargs: dict[str, Any] | None = None,
    name: str | None = None,
    expect: Expectations | None = None,
) -> Target:
    """Turn `file.py:func`, `pkg.mod:func` or `model.keras` into a Target.

    `base` is the directory relative paths start from: the working directory for the
    command line, the config file's directory for `[tool.kerlint.verify]`. It is also put
    on the child's `sys.path`, so `package.module` targets import from there.
    """
    kwargs = dict(kwargs or {})
    stripped = text.strip()
    if not stripped:
        raise VerifyConfigError(f"empty target; {TARGET_HELP}")
    if stripped.lower().endswith(SAVED_SUFFIXES):
        if kwargs:
            raise VerifyConfigError(f"{stripped}: a saved model takes no kwargs")
        return Target(
            label=name or stripped,
            kind="saved",
            path=str((base / stripped).resolve()),
            expect=expect or Expectations(),
            sys_path=[str(base.resolve())],
        )
    if ":" not in stripped:
        raise VerifyConfigError(f"cannot read target {text!r}: {TARGET_HELP}")
    where, function = stripped.rsplit(":", 1)
    if not _DOTTED.match(function):
        raise VerifyConfigError(f"cannot read target {text!r}: {function!r} is not a function name")
    label = name or stripped + _kwargs_suffix(kwargs)
    common = {
        "label": label,
        "function": function,
        "kwargs": kwargs,
        "expect": expect or Expectations(),
        "sys_path": [str(base.resolve())],
    }
    if where.endswith(".py") or "/" in where or os.sep in where:
        return Target(kind="file", path=str((base / where).resolve()), **common)
    if _DOTTED.match(where):
        return Target(kind="module", module=where, **common)
    raise VerifyConfigError(f"cannot read target {text!r}: {TARGET_HELP}")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`4G`, `512M`, `1.5GiB` or a number of bytes, as bytes (powers of 1024)."""
    match = _SIZE.match(str(text))
    if not match:
        raise VerifyConfigError(f"--max-memory takes a size like 4G or 512M, got {text!r}")
    number, unit = match.groups()
    value = int(float(number) * 1024 ** " kmgt".index(unit.lower() or " "))
    if value < 64 * 1024 * 1024:
        raise VerifyConfigError(f"--max-memory {text} is too small to import keras (at least 64M)")
    return value


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """`--kwargs '{"num_classes": 10}'`: a JSON object."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VerifyConfigError(f"--kwargs is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise VerifyConfigError("--kwargs must be a JSON object, like '{\"num_classes\": 10}'")
    return value


# -- configuration --------------------------------------------------------------------------


@dataclass
class VerifyConfig:
    """The validated `[tool.kerlint.verify]` table."""

    path: Path | None = None
    backend: str | None = None
    timeout: float | None = None
    weights: str | None = None
    max_memory: int | None = None  # bytes (`max-memory = "4G"`)
    snapshot: Path | None = None
    ignore: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)


def _load_raw(start: Path) -> tuple[Path | None, dict[str, Any]]:
    """The raw `[tool.kerlint]` table, through the shared loader of `kerlint.config`."""
    try:
        from kerlint.config import find_pyproject_table
    except ImportError:  # pragma: no cover - only while kerlint.config is missing
        return _own_find_table(start)
    try:
        return find_pyproject_table(start)
    except Exception as exc:  # kerlint.config.ConfigError: a bad file
        raise VerifyConfigError(str(exc)) from exc


def _own_find_table(start: Path) -> tuple[Path | None, dict[str, Any]]:  # pragma: no cover
    try:
        import tomllib
    except ImportError:
        import tomli as tomllib  # type: ignore[no-redef]
    start = start.resolve()
    for directory in (start, *start.parents):
        for name in ("kerlint.toml", "pyproject.toml"):
            candidate = directory / name
            if not candidate.is_file():
                continue
            data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            table = data.get("tool", {}).get("kerlint")
            if name == "kerlint.toml":
                return candidate, table if table is not None else data
            if table is not None:
                return candidate, table
    return None, {}


def _load_file(path: Path) -> tuple[Path, dict[str, Any]]:
    """The raw `[tool.kerlint]` table of the one file given with `--config`."""
    try:
        from kerlint.config import load_table
    except ImportError:  # pragma: no cover - only while kerlint.config is missing
        found, table = _own_find_table(path.parent)
        return path, table if found == path else {}
    try:
        return path, load_table(path)
    except Exception as exc:  # kerlint.config.ConfigError: a bad file
        raise VerifyConfigError(str(exc)) from exc


def load_config(start: Path, *, file: Path | None = None) -> VerifyConfig:
    """Read and validate `[tool.kerlint.verify]`: from `file` when given, else from the
    config nearest to `start`."""
    path, table = _load_file(file) if file is not None else _load_raw(start)
    raw = table.get("verify", {}) if isinstance(table, dict) else {}
    where = f"{path}: [tool.kerlint.verify]" if path else "[tool.kerlint.verify]"
    if not isinstance(raw, dict):
        raise VerifyConfigError(f"{where} must be a table")
    unknown = sorted(set(raw) - TABLE_KEYS)
    if unknown:
        raise VerifyConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(TABLE_KEYS))}"
        )
    base = path.parent if path else start
    config = VerifyConfig(path=path)
    if "backend" in raw:
        if raw["backend"] not in BACKENDS:
            raise VerifyConfigError(f"{where}: backend must be one of {', '.join(BACKENDS)}")
        config.backend = raw["backend"]
    if "timeout" in raw:
        if (
            isinstance(raw["timeout"], bool)
            or not isinstance(raw["timeout"], (int, float))
            or raw["timeout"] <= 0
        ):
            raise VerifyConfigError(f"{where}: timeout must be a positive number of seconds")
        config.timeout = float(raw["timeout"])
    if "max-memory" in raw:
        try:
            config.max_memory = parse_size(str(raw["max-memory"]))
        except VerifyConfigError as error:
            raise VerifyConfigError(f"{where}: max-memory: {error}") from None
    if "weights" in raw:
        if raw["weights"] not in ("none", "keep"):
            raise VerifyConfigError(f'{where}: weights must be "none" or "keep"')
        config.weights = raw["weights"]
    if "snapshot" in raw:
        if not isinstance(raw["snapshot"], str):
            raise VerifyConfigError(f"{where}: snapshot must be a path")
        config.snapshot = base / raw["snapshot"]
    if "ignore" in raw:
        if not isinstance(raw["ignore"], list) or not all(
            isinstance(c, str) for c in raw["ignore"]
        ):
            raise VerifyConfigError(f"{where}: ignore must be a list of rule codes")
        config.ignore = [c.upper() for c in raw["ignore"]]
    entries = raw.get("targets", [])
    if not isinstance(entries, list):
        raise VerifyConfigError(f"{where}: targets must be an array")
    for i, entry in enumerate(entries):
        config.targets.append(_config_target(entry, base, f"{where} targets[{i}]"))
    return config


def _config_target(entry: Any, base: Path, where: str) -> Target:
    if isinstance(entry, str):
        return parse_target(entry, base=base)
    if not isinstance(entry, dict):
        raise VerifyConfigError(f"{where}: a target is a string or a table")
    unknown = sorted(set(entry) - TARGET_KEYS)
    if unknown:
        raise VerifyConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(TARGET_KEYS))}"
        )
    if not isinstance(entry.get("target"), str):
        raise VerifyConfigError(f"{where}: `target` (a string) is required")
    kwargs = entry.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise VerifyConfigError(f"{where}: kwargs must be a table")
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise VerifyConfigError(f"{where}: name must be a string")
    try:
        expect = Expectations.from_table(entry.get("expect", {}))
    except ValueError as exc:
        raise VerifyConfigError(f"{where}: expect: {exc}") from exc
    return parse_target(entry["target"], base=base, kwargs=kwargs, name=name, expect=expect)


# -- the backend ------------------------------------------------------------------------------


def configured_backend(env: dict[str, str] | None = None) -> tuple[str | None, str]:
    """The backend keras itself would pick, and where that choice comes from.

    Keras reads `KERAS_BACKEND`, then `$KERAS_HOME/keras.json` (default `~/.keras`), and
    falls back to tensorflow; `None` means "let keras decide".
    """
    env = dict(os.environ if env is None else env)
    if env.get("KERAS_BACKEND"):
        return env["KERAS_BACKEND"], "KERAS_BACKEND"
    home = Path(env["KERAS_HOME"]) if env.get("KERAS_HOME") else Path.home() / ".keras"
    config = home / "keras.json"
    try:
        backend = json.loads(config.read_text(encoding="utf-8")).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    if isinstance(backend, str) and backend:
        return backend, str(config)
    return None, "keras' default"
