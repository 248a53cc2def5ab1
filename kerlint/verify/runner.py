"""Build targets in a child process so nothing a target does can crash or hang kerlint.

One child imports keras once (about a second) and builds the targets one after the other,
resetting keras' global state between them so auto-generated layer names do not depend on
what was built before. Every target gets `timeout` seconds; importing keras gets its own
budget of at least `IMPORT_TIMEOUT`. When a target raises or calls `sys.exit`, the child
reports it and goes on. When it kills the process (a segfault, `os.abort()`, `os._exit()`)
or hangs past its timeout, the parent reports that target, kills the child's whole process
group, and starts a new child for the targets that are left.

The child talks through an events file of JSON lines (see `child.py`); its stdout and
stderr (user prints, keras warnings) go to a log whose tail explains a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerlint.verify.targets import Target

DEFAULT_TIMEOUT = 120.0
# Importing keras is not a target: it gets at least this long, however short --timeout is.
IMPORT_TIMEOUT = 120.0
INSTALL_HINT = "pip install 'kerlint[verify]'"
_KERLINT_ROOT = str(Path(__file__).resolve().parent.parent.parent)
_BACKEND_PACKAGES = {
    "numpy": "scipy and jax",
    "jax": "jax",
    "torch": "torch",
    "tensorflow": "tensorflow",
}


@dataclass
class BuildError:
    """Why one target produced no report."""

    kind: str  # exception | exit | crash | timeout | not_a_model | not_found | load_failed | ...
    message: str
    detail: str = ""  # a traceback, or the tail of the child's output

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "detail": self.detail}


@dataclass
class Outcome:
    """What became of one target: a report from the child, or an error."""

    target: Target
    report: dict[str, Any] | None = None
    error: BuildError | None = None


@dataclass
class Session:
    """What the child said once keras was imported."""

    keras_version: str = ""
    backend: str = ""
    import_seconds: float = 0.0
    python: str = ""
    children: int = 0  # how many child processes the run needed


class FatalError(Exception):
    """Nothing can be built: keras or the backend is missing, or cannot be imported."""

    def __init__(self, message: str, detail: str = "", kind: str = "fatal") -> None:
        super().__init__(message)
        self.detail = detail
        self.kind = kind


def child_env(backend: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: the chosen backend, and kerlint importable from source."""
    env = dict(os.environ if base is None else base)
    if backend:
        env["KERAS_BACKEND"] = backend
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _KERLINT_ROOT + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _fatal_from_event(event: dict[str, Any], backend: str | None) -> FatalError:
    kind = event.get("kind")
    detail = event.get("traceback", "")
    if kind == "keras_missing":
        return FatalError(
            f"keras is not installed here; kerlint verify needs it: {INSTALL_HINT}",
            kind="keras_missing",
        )
    if kind == "backend_missing":
        chosen = event.get("backend") or backend or "tensorflow"
        needs = _BACKEND_PACKAGES.get(chosen, chosen)
        return FatalError(
            f"keras cannot import its {chosen} backend (no module named {event.get('module')!r}; "
            f"the {chosen} backend needs {needs}): pass --backend numpy, which needs only "
            f"{INSTALL_HINT}, or install {needs}",
            kind="backend_missing",
        )
    if kind == "graph_unavailable":
        return FatalError(
            f"--graph needs pydot and Graphviz: {event.get('message')}. Install them with "
            "`pip install pydot` and your system's graphviz package (apt install graphviz, "
            "brew install graphviz, conda install graphviz)",
        )
    return FatalError(f"importing keras failed: {event.get('message')}", detail)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the child process was killed by {name}"
    return f"the child process exited with code {returncode}"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child and anything it started (it leads its own process group)."""
    if proc.poll() is None:
        try:
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover - Windows
                proc.kill()
        except ProcessLookupError:  # pragma: no cover - it just ended
            pass
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


class _EventReader:
    """Reads whole JSON lines appended to the events file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        events = []
        for line in lines:
            if line.strip():
                with contextlib.suppress(json.JSONDecodeError):
                    events.append(json.loads(line))
        return events


def _tail(path: Path, start: int = 0, lines: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_targets(
    targets: Sequence[Target],
    *,
    backend: str | None,
    timeout: float = DEFAULT_TIMEOUT,
    weights: str = "none",
    mode: str = "verify",
    graph: bool = False,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
    poll: float = 0.02,
    on_outcome: Callable[[int, Outcome], None] | None = None,
    session: Session | None = None,
) -> tuple[list[Outcome], Session]:
    """Build every target; return one Outcome per target, in order, and the session.

    Raises FatalError when no target can be built at all. `on_outcome(index, outcome)` is
    called as each target finishes, for progress output; `session` (filled in once keras
    is imported) can be passed in to read it from there.
    """
    outcomes: dict[int, Outcome] = {}
    session = session if session is not None else Session()
    pending = list(range(len(targets)))
    with tempfile.TemporaryDirectory(prefix="kerlint-verify-") as tmp:
        workdir = Path(tmp)

        def emit(index: int, outcome: Outcome) -> None:
            outcomes[index] = outcome
            if on_outcome is not None:
                on_outcome(index, outcome)

        while pending:
            session.children += 1
            before = len(outcomes)
            _run_child(
                targets,
                pending,
                workdir / f"child{session.children}",
                session,
                emit,
                backend=backend,
                timeout=timeout,
                weights=weights,
                mode=mode,
                graph=graph,
                env=child_env(backend, env),
                python=python,
                poll=poll,
            )
            if len(outcomes) == before:  # no progress at all: never loop on the same target
                emit(
                    pending[0],
                    Outcome(
                        targets[pending[0]],
                        error=BuildError("crash", "the child process stopped before building it"),
                    ),
                )
            pending = [i for i in pending if i not in outcomes]
    return [outcomes[i] for i in range(len(targets))], session


def _run_child(
    targets: Sequence[Target],
    indices: list[int],
    workdir: Path,
    session: Session,
    emit: Callable[[int, Outcome], None],
    *,
    backend: str | None,
    timeout: float,
    weights: str,
    mode: str,
    graph: bool,
    env: dict[str, str],
    python: str,
    poll: float,
) -> None:
    """Run one child over `indices`, emitting an outcome for each target it got to.

    A target that was started but never answered (crash, timeout) gets an error outcome;
    targets after it get none, so the caller runs them in a new child.
    """
    workdir.mkdir()
    request_path, events_path, log_path = (
        workdir / "request.json",
        workdir / "events.jsonl",
        workdir / "log.txt",
    )
    sys_path = list(dict.fromkeys(p for i in indices for p in targets[i].sys_path))
    request = {
        "targets": [targets[i].request(i) for i in indices],
        "weights": weights,
        "mode": mode,
        "graph": graph,
        "sys_path": sys_path,
    }
    request_path.write_text(json.dumps(request), encoding="utf-8")
    events_path.touch()
    reader = _EventReader(events_path)
    emitted = 0
    current: int | None = None
    current_log_start = 0
    ready = False

    with open(log_path, "wb") as log:
        popen_kwargs: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {}
        proc = subprocess.Popen(
            [python, "-m", "kerlint.verify.child", str(request_path), str(events_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            **popen_kwargs,
        )
        deadline = time.monotonic() + max(timeout, IMPORT_TIMEOUT)
        try:
            finished = False
            while not finished:
                exited = proc.poll() is not None
                for event in reader.read():
                    kind = event.get("event")
                    if kind == "fatal":
                        _kill(proc)
                        raise _fatal_from_event(event, backend)
                    if kind == "ready":
                        ready = True
                        session.keras_version = event.get("keras_version", "")
                        session.backend = event.get("backend", "")
                        session.import_seconds = event.get("import_seconds", 0.0)
                        session.python = event.get("python", "")
                        deadline = time.monotonic() + timeout
                    elif kind == "start":
                        current = event["id"]
                        current_log_start = log_path.stat().st_size
                        deadline = time.monotonic() + timeout
                    elif kind == "result":
                        emit(event["id"], Outcome(targets[event["id"]], report=event["report"]))
                        emitted += 1
                        current = None
                    elif kind == "error":
                        error = BuildError(
                            event.get("kind", "exception"),
                            event["message"],
                            event.get("traceback", ""),
                        )
                        emit(event["id"], Outcome(targets[event["id"]], error=error))
                        emitted += 1
                        current = None
                    elif kind == "done":
                        finished = True
                if finished:
                    break
                if exited:
                    # Events written just before the exit were read above; anything else is lost.
                    why = _describe_exit(proc.returncode)
                    if not ready:
                        raise FatalError(f"{why} before keras was imported", _tail(log_path))
                    if current is not None:
                        tail = _tail(log_path, current_log_start)
                        error = BuildError("crash", f"{why} while building it", tail)
                        emit(current, Outcome(targets[current], error=error))
                    elif not emitted:
                        raise FatalError(f"{why} before building any target", _tail(log_path))
                    break
                if time.monotonic() > deadline:
                    _kill(proc)
                    if not ready:
                        raise FatalError(
                            f"importing keras took longer than {max(timeout, IMPORT_TIMEOUT):g} s",
                            _tail(log_path),
                        )
                    if current is not None:
                        message = f"building it took longer than the timeout ({timeout:g} s); the child was killed"
                        error = BuildError("timeout", message, _tail(log_path, current_log_start))
                        emit(current, Outcome(targets[current], error=error))
                    break
                time.sleep(poll)
        except BaseException:
            _kill(proc)
            raise
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)  # a "done" child only has to exit; stray threads get killed
        _kill(proc)
