"""The result cache: a file's diagnostics, kept under the hash of everything they depend on.

What a file's diagnostics depend on is its bytes, its suffix (notebook or not), the codes
selected for it, and kerlint itself (its version and its code: the fingerprint of every
module of the package, so that an editable install that changes a rule never reads an old
answer), the LibCST version and the Python version (the CPython pre-parse decides some
KL000s). The key is a hash of all of that; the entry is JSON under `<dir>/v1/<ab>/<key>.json`.

Only files that are parsed are cached: for every other file the prefilter (read, decode, a
few substring tests) is cheaper than a cache lookup would be.

Robustness, because a cache must never be the reason a run fails or lies:
- an entry that cannot be read, is not JSON, has the wrong shape or another key is a miss
  (and is written again after the check);
- entries are written to a temporary file in the same folder, then `os.replace`d into
  place: a reader sees the old entry or the new one, never half of one, and two runs that
  write the same entry at once both write the same content;
- a folder that cannot be created or written turns the cache off for the run (with one
  warning), it never stops the check.

The folder ignores itself for git (a `.gitignore` holding `*`) and carries a CACHEDIR.TAG so
that backup tools skip it, as ruff's and pytest's do. It does so only in a folder kerlint made
(the tag says so): given a folder that already exists, such as the project itself, the cache
lives in a `.kerlint_cache` inside it instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from kerlint import __version__
from kerlint.diagnostics import Diagnostic, Edit, Fix, Location
from kerlint.source import SourceError, read_regular_file

CACHE_DIR_NAME = ".kerlint_cache"
ENV_CACHE_DIR = "KERLINT_CACHE_DIR"
FORMAT = 1  # bump when the entry layout changes
# An entry is a few diagnostics: one larger than this was not written by kerlint.
MAX_ENTRY_BYTES = 16 * 1024 * 1024
_OWN_MARK = "created by kerlint"

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by kerlint.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


class Cache:
    """Per-file diagnostics on disk; every method fails soft (a miss, or nothing written)."""

    def __init__(self, directory: Path, salt: str | None = None) -> None:
        self.directory = directory
        self.entries = directory / f"v{FORMAT}"
        self.salt = (salt if salt is not None else environment_fingerprint()).encode()
        self.hits = 0
        self.misses = 0
        self.write_errors = 0

    @classmethod
    def open(cls, directory: Path, salt: str | None = None) -> tuple[Cache | None, str | None]:
        """The cache in `directory`, created if needed; (None, why) when it cannot be used."""
        try:
            owned = _owned_folder(directory)
            if owned is None:
                return (
                    None,
                    f"{directory} holds a folder named {CACHE_DIR_NAME} kerlint did not make",
                )
            directory = owned
            directory.mkdir(parents=True, exist_ok=True)
            _write_once(directory / ".gitignore", "# Created by kerlint.\n*\n")
            _write_once(directory / "CACHEDIR.TAG", _CACHEDIR_TAG)
            (directory / f"v{FORMAT}").mkdir(exist_ok=True)
            if not os.access(directory / f"v{FORMAT}", os.W_OK):
                return None, f"{directory} is not writable"
        except OSError as exc:
            return None, f"cannot create {directory}: {exc.strerror or exc}"
        return cls(directory, salt), None

    def key(self, data: bytes, codes: frozenset[str], suffix: str, keras: str = "") -> str:
        """`keras`: the file's Keras decision (its version, upgrade target and reason)."""
        digest = hashlib.blake2b(digest_size=20)
        digest.update(self.salt)
        digest.update(b"\0" + ",".join(sorted(codes)).encode() + b"\0")
        digest.update(suffix.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(keras.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def dependent_key(self, key: str, dependencies) -> str:
        """`key` (of the file itself) extended by the bytes of every project module it
        imports, directly or not: editing `models.py` invalidates `train.py`."""
        if not dependencies:
            return key
        digest = hashlib.blake2b(key.encode(), digest_size=20)
        for record in dependencies:
            digest.update(b"\0" + str(record.file.path).encode("utf-8", "surrogateescape"))
            digest.update(b"\0" + record.data)
        return digest.hexdigest()

    def blob_key(self, kind: str, data: bytes) -> str:
        """The key of something derived from `data` alone (a dependency's parsed module)."""
        digest = hashlib.blake2b(digest_size=20)
        digest.update(self.salt + b"\0" + kind.encode() + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def get_blob(self, key: str) -> bytes | None:
        try:
            return (self.entries / key[:2] / f"{key}.bin").read_bytes()
        except OSError:
            return None

    def put_blob(self, key: str, data: bytes) -> None:
        target = self.entries / key[:2] / f"{key}.bin"
        try:
            target.parent.mkdir(exist_ok=True)
            _atomic_write(target, data)
        except OSError:
            self.write_errors += 1

    def _path(self, key: str) -> Path:
        return self.entries / key[:2] / f"{key}.json"

    def get(self, key: str, display: str) -> tuple[list[Diagnostic], bool] | None:
        """(diagnostics named `display`, parsed) for `key`, or None on any kind of miss."""
        try:
            # A regular file of bounded size only: an entry swapped for a FIFO or a link to
            # /dev/zero must not hang the run or fill its memory.
            entry = json.loads(read_regular_file(self._path(key), MAX_ENTRY_BYTES))
            if not isinstance(entry, dict) or entry.get("key") != key:
                raise ValueError("not this entry")
            diagnostics = [_load(item, display) for item in entry["diagnostics"]]
            parsed = entry["parsed"]
            if not isinstance(parsed, bool):
                raise ValueError("parsed is not a bool")
        except (
            OSError,
            SourceError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            IndexError,
            OverflowError,
            RecursionError,  # an entry nested 100,000 deep
        ):
            self.misses += 1
            return None
        self.hits += 1
        return diagnostics, parsed

    def put(self, key: str, diagnostics: list[Diagnostic], parsed: bool) -> None:
        if not cacheable(diagnostics):
            return
        entry = {"key": key, "parsed": parsed, "diagnostics": [_dump(d) for d in diagnostics]}
        target = self._path(key)
        try:
            target.parent.mkdir(exist_ok=True)
            _atomic_write(target, json.dumps(entry, separators=(",", ":")).encode())
        except OSError:
            self.write_errors += 1


def default_cache_dir(config_file: Path | None) -> Path:
    """$KERLINT_CACHE_DIR, else beside the configuration file, else in the working folder."""
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        return Path(override)
    base = config_file.parent if config_file is not None else Path.cwd()
    return base / CACHE_DIR_NAME


def cacheable(diagnostics: list[Diagnostic]) -> bool:
    """An internal error or an exhausted resource may not happen next time: never kept."""
    return not any(
        d.code == "KL000" and ("internal error" in d.message or "MemoryError" in d.message)
        for d in diagnostics
    )


def environment_fingerprint() -> str:
    """Everything besides the file and the selection that a result depends on."""
    package = Path(__file__).resolve().parent
    stats = []
    for folder, folders, files in os.walk(package):
        folders[:] = sorted(f for f in folders if f != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                try:
                    status = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                relative = os.path.relpath(os.path.join(folder, name), package)
                stats.append(f"{relative}:{status.st_size}:{status.st_mtime_ns}")
    code = hashlib.blake2b("\n".join(stats).encode(), digest_size=16).hexdigest()
    python = "{}.{}".format(*sys.version_info[:2])
    return f"kerlint={__version__};code={code};libcst={_libcst_version()};python={python}"


def _libcst_version() -> str:
    """Which LibCST builds the fixes, without importing it (~0.1 s; a check with no fix to
    build never imports it): the digest of its version module."""
    import importlib.util

    spec = importlib.util.find_spec("libcst")
    if spec is None or spec.origin is None:
        return "?"
    try:
        data = (Path(spec.origin).parent / "_version.py").read_bytes()
    except OSError:
        return "?"
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _owned_folder(directory: Path) -> Path | None:
    """The folder the cache may own: `directory` when kerlint made it (now or before), else
    its subfolder `.kerlint_cache`; None when that too exists and is not kerlint's.

    The cache writes a `.gitignore` holding `*` into its folder: in a folder that holds a
    project (`--cache-dir .`) that would hide every file from git and every later
    `kerlint check .` (discovery honours `.gitignore`) would pass without checking anything.
    """
    for candidate in (directory, directory / CACHE_DIR_NAME):
        if _made_by_kerlint(candidate):
            return candidate
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return candidate
    return None


def _made_by_kerlint(directory: Path) -> bool:
    try:
        tag = read_regular_file(directory / "CACHEDIR.TAG", 4096)
    except SourceError:
        return False
    return _OWN_MARK in tag.decode("utf-8", "replace")


def _write_once(path: Path, content: str) -> None:
    if not path.exists():
        _atomic_write(path, content.encode())


def _atomic_write(target: Path, data: bytes) -> None:
    """Write beside `target`, then rename over it: readers never see a partial file.

    The temporary name is unique to this process and call (O_EXCL makes sure), so that
    concurrent runs never write into one another's file; `tempfile` is not used because
    importing it costs the pre-commit run more than the write itself.
    """
    global _writes
    _writes += 1
    temporary = target.parent / f".tmp-{os.getpid()}-{_writes}-{time.monotonic_ns()}.part"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


_writes = 0


def _location(location: Location) -> list[int]:
    return [location.row, location.column]


def _dump(diagnostic: Diagnostic) -> dict[str, Any]:
    fix = diagnostic.fix
    return {
        "code": diagnostic.code,
        "message": diagnostic.message,
        "location": _location(diagnostic.location),
        "end": _location(diagnostic.end_location),
        "cell": diagnostic.cell,
        "keras": diagnostic.keras,
        "origin": diagnostic.origin,
        "fix": None
        if fix is None
        else {
            "message": fix.message,
            "applicability": fix.applicability,
            "edits": [
                [edit.content, *_location(edit.location), *_location(edit.end_location)]
                for edit in fix.edits
            ],
        },
    }


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError("not an int")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a str")
    return value


def _load_location(value: object) -> Location:
    if not isinstance(value, list) or len(value) != 2:
        raise TypeError("not a location")
    return Location(_int(value[0]), _int(value[1]))


def _load(item: dict[str, Any], display: str) -> Diagnostic:
    """One diagnostic back from JSON, checked field by field (a hand-edited entry is a miss)."""
    raw_fix = item["fix"]
    fix = None
    if raw_fix is not None:
        applicability = _str(raw_fix["applicability"])
        if applicability not in ("safe", "unsafe"):
            raise ValueError("unknown applicability")
        edits = []
        for edit in raw_fix["edits"]:
            content, row, column, end_row, end_column = edit
            edits.append(
                Edit(
                    _str(content),
                    Location(_int(row), _int(column)),
                    Location(_int(end_row), _int(end_column)),
                )
            )
        fix = Fix(_str(raw_fix["message"]), tuple(edits), applicability)  # type: ignore[arg-type]
    cell = item["cell"]
    keras = item.get("keras")
    if keras is not None and not (
        isinstance(keras, dict) and all(isinstance(k, str) for k in keras)
    ):
        raise TypeError("not a keras decision")
    return Diagnostic(
        _str(item["code"]),
        _str(item["message"]),
        display,
        _load_location(item["location"]),
        _load_location(item["end"]),
        fix,
        None if cell is None else _int(cell),
        keras=keras,
        origin=_origin(item.get("origin")),
    )


def _origin(value: object) -> dict | None:
    """A finding's place in an imported module, checked field by field."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError("not an origin")
    _str(value["path"]), _str(value["filename"])
    _load_location(value["location"]), _load_location(value["end"])
    return value
