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
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerlint.verify import processes
from kerlint.verify.protocol import MALFORMED, Malformed, escape_controls, validate_event
from kerlint.verify.targets import Target

DEFAULT_TIMEOUT = 120.0
# The parent keeps at most this much of the child's output (the tail that explains a crash)
# and of one event line (a 10,000-layer report is about 5 MB).
TAIL_BYTES = 64 * 1024
MAX_EVENT_BYTES = 256 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
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
    keras_name: str = "keras"  # the implementation that built the models: keras or tf_keras
    network: str = ""  # "namespace", "python" (sockets patched), "allowed" (--weights keep)
    network_note: str = ""  # why there is no namespace, when there is none


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


_GRAPH_PROBE = """
import importlib.util, json, shutil
has_pydot = importlib.util.find_spec("pydot") is not None
runs_dot = shutil.which("dot") is not None
if has_pydot:
    try:
        import pydot
        pydot.Dot.create(pydot.Dot())  # what keras' check_graphviz does
        runs_dot = True
    except Exception:
        runs_dot = False
print(json.dumps([has_pydot, runs_dot]))
"""


def graph_tools_problem(
    backend: str | None = None, env: dict[str, str] | None = None, python: str = sys.executable
) -> str | None:
    """Why `--graph` cannot draw (pydot, Graphviz's `dot`, or both missing), else None.

    Asked of the child's interpreter and environment, in a process that imports pydot but
    never keras, so a missing tool is reported before anything is built.
    """
    try:
        probe = subprocess.run(
            [python, "-c", _GRAPH_PROBE],
            env=child_env(backend, env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        has_pydot, runs_dot = json.loads(probe.stdout.decode().strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return "could not check for pydot and Graphviz"
    if not has_pydot and not runs_dot:
        return "pydot is not installed, and Graphviz's `dot` program was not found"
    if not has_pydot:
        return "pydot is not installed"
    if not runs_dot:
        return "pydot is installed but Graphviz's `dot` program was not found or does not run"
    return None


def graph_fatal(problem: str) -> FatalError:
    return _fatal_from_event({"kind": "graph_unavailable", "message": problem}, None)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the child process was killed by {name}"
    return f"the child process exited with code {returncode}"


class _Tree:
    """The child and what it started: killed as a whole (see `processes.py`)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.known_children = processes.children_of_me()

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if not hasattr(os, "killpg") and proc.poll() is None:  # pragma: no cover - Windows
            proc.kill()
        processes.kill_tree(proc.pid, self.token, self.known_children)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        processes.kill_tree(None, self.token, self.known_children)  # orphans it left


class _EventReader:
    """Reads whole JSON lines appended to the events file since the last read.

    Reads at most `_READ_CHUNK` bytes a call and holds at most `MAX_EVENT_BYTES` of an
    unfinished line. A line that is not JSON ends the list as a Malformed item, a too long
    one raises Malformed: the child writes whole lines, so only something else writing to
    the file produces them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def has_more(self) -> bool:
        try:
            return self.path.stat().st_size > self.offset
        except OSError:
            return False

    def read(self) -> list[Any]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(_READ_CHUNK)
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        if len(self.partial) > MAX_EVENT_BYTES:
            raise Malformed(f"an event line is longer than {MAX_EVENT_BYTES} bytes")
        events = []
        for line in lines:
            if line.strip():
                try:
                    events.append(json.loads(line))
                except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
                    events.append(Malformed(f"an event line is not JSON ({error})"))
                    break  # the events before it still count
        return events


def _tail(path: Path, start: int = 0, lines: int = 15) -> str:
    """The last lines the child printed after `start`, reading at most TAIL_BYTES."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(start, size - TAIL_BYTES))
            text = f.read(TAIL_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""
    return escape_controls("\n".join(text.rstrip().splitlines()[-lines:]), keep_lines=True)


class _Terminated(SystemExit):
    """SIGTERM or SIGHUP while children run: clean up on the way out, exit 128 + signal."""


@contextlib.contextmanager
def _cleanup_on_signals() -> Any:
    """Turn SIGTERM/SIGHUP into an exception, so the child tree and folder are removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated(128 + signum)

    previous = {}
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            with contextlib.suppress(OSError, ValueError):
                previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(sig, old)


def run_targets(
    targets: Sequence[Target],
    *,
    backend: str | None,
    timeout: float = DEFAULT_TIMEOUT,
    weights: str = "none",
    mode: str = "verify",
    graph: bool = False,
    max_memory: int | None = None,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
    poll: float = 0.02,
    on_outcome: Callable[[int, Outcome], None] | None = None,
    session: Session | None = None,
) -> tuple[list[Outcome], Session]:
    """Build every target; return one Outcome per target, in order, and the session.

    Raises FatalError when no target can be built at all. `on_outcome(index, outcome)` is
    called as each target finishes, for progress output; `session` (filled in once keras
    is imported) can be passed in to read it from there. `max_memory` (bytes) limits the
    child's address space. Targets are built by the Keras their `keras` field names
    (`keras` or `tf_keras`), one child per implementation.
    """
    outcomes: dict[int, Outcome] = {}
    session = session if session is not None else Session()
    pending = list(range(len(targets)))
    processes.remove_stale_folders()
    if weights == "keep":
        session.network, prefix = "allowed", ()
    else:
        base_env = os.environ if env is None else env
        prefix, why = processes.network_isolation(base_env.get(processes.NETNS_VARIABLE, "1"))
        session.network, session.network_note = ("namespace", "") if prefix else ("python", why)
    previous_subreaper = processes.set_subreaper(True)
    try:
        with (
            _cleanup_on_signals(),
            tempfile.TemporaryDirectory(prefix=processes.FOLDER_PREFIX) as tmp,
        ):
            workdir = Path(tmp)
            token = f"{os.getpid()}-{uuid.uuid4().hex}"
            processes.write_owner(workdir, token)

            def emit(index: int, outcome: Outcome) -> None:
                outcomes[index] = outcome
                if on_outcome is not None:
                    on_outcome(index, outcome)

            while pending:
                session.children += 1
                before = len(outcomes)
                keras_impl = targets[pending[0]].keras
                batch = [i for i in pending if targets[i].keras == keras_impl]
                child_environment = child_env(backend, env)
                child_environment[processes.TOKEN_VARIABLE] = token
                child_environment[processes.PARENT_VARIABLE] = str(os.getpid())
                if keras_impl == "tf_keras":  # `tf.keras` is tf_keras too, as in Keras 2
                    child_environment["TF_USE_LEGACY_KERAS"] = "1"
                _run_child(
                    targets,
                    batch,
                    workdir / f"child{session.children}",
                    session,
                    emit,
                    backend=backend,
                    timeout=timeout,
                    request_extra={
                        "weights": weights,
                        "mode": mode,
                        "graph": graph,
                        "max_memory": max_memory,
                        "keras": keras_impl,
                        "network": session.network,
                    },
                    command=[*prefix, python, "-m", "kerlint.verify.child"],
                    env=child_environment,
                    tree=_Tree(token),
                    poll=poll,
                )
                if len(outcomes) == before:  # no progress at all: never loop on the same target
                    emit(
                        batch[0],
                        Outcome(
                            targets[batch[0]],
                            error=BuildError(
                                "crash", "the child process stopped before building it"
                            ),
                        ),
                    )
                pending = [i for i in pending if i not in outcomes]
    finally:
        if previous_subreaper is False:
            processes.set_subreaper(False)
    return [outcomes[i] for i in range(len(targets))], session


class _Conversation:
    """The state of one child's event stream: which target it is on, what it may send next."""

    def __init__(self, indices: list[int], mode: str) -> None:
        self.expected = list(indices)  # targets not started yet, in the order sent
        self.mode = mode
        self.current: int | None = None
        self.last_answered: int | None = None
        self.ready = False

    def accept(self, raw: Any) -> dict[str, Any]:
        """The validated event, or Malformed when it is not one the child could send now."""
        event = validate_event(raw, self.mode)
        kind = event["event"]
        if kind in ("ready", "fatal"):
            if self.ready:
                raise Malformed(f"a second {kind!r} event")
            self.ready = kind == "ready"
        elif not self.ready:
            raise Malformed(f"a {kind!r} event before keras was imported")
        elif kind == "start":
            if self.current is not None or not self.expected or event["id"] != self.expected[0]:
                raise Malformed(f"an unexpected start of target {event['id']}")
            self.current = self.expected.pop(0)
        elif kind in ("result", "error"):
            if event["id"] != self.current:
                raise Malformed(f"a {kind} for target {event['id']}, which is not being built")
            self.current, self.last_answered = None, self.current
        elif kind == "done" and (self.current is not None or self.expected):
            raise Malformed("'done' before every target was built")
        return event


def _run_child(
    targets: Sequence[Target],
    indices: list[int],
    workdir: Path,
    session: Session,
    emit: Callable[[int, Outcome], None],
    *,
    backend: str | None,
    timeout: float,
    request_extra: dict[str, Any],
    command: list[str],
    env: dict[str, str],
    tree: _Tree,
    poll: float,
) -> None:
    """Run one child over `indices`, emitting an outcome for each target it got to.

    A target that was started but never answered (crash, timeout, malformed events) gets an
    error outcome; targets after it get none, so the caller runs them in a new child.
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
        "sys_path": sys_path,
        **request_extra,
    }
    request_path.write_text(json.dumps(request), encoding="utf-8")
    events_path.touch()
    reader = _EventReader(events_path)
    talk = _Conversation(indices, request_extra.get("mode", "verify"))
    emitted = 0
    current_log_start = 0

    with open(log_path, "wb") as log:
        popen_kwargs: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {}
        proc = subprocess.Popen(
            [*command, str(request_path), str(events_path)],
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
                raw_events: list[Any] = []
                try:
                    raw_events += reader.read()
                    while exited and reader.has_more():  # everything it wrote before exiting
                        raw_events += reader.read()
                except Malformed as problem:
                    raw_events.append(problem)
                for raw in raw_events:
                    try:
                        if isinstance(raw, Malformed):
                            raise raw
                        event = talk.accept(raw)
                    except Malformed as problem:
                        tree.kill(proc)
                        if not talk.ready:
                            raise FatalError(
                                f"{MALFORMED} before keras was imported ({problem})"
                            ) from None
                        culprit = talk.current
                        if (
                            culprit is None
                            and isinstance(raw, dict)
                            and raw.get("event") in ("result", "error")
                            and raw.get("id") == talk.last_answered
                        ):
                            # A second answer for the target just answered: one of the two
                            # was forged, so the one already reported cannot be trusted.
                            culprit = talk.last_answered
                        if culprit is None and talk.expected and not emitted:
                            culprit = talk.expected[0]  # nothing else could have sent it
                        if culprit is not None:
                            error = BuildError(
                                "malformed",
                                f"{MALFORMED} while building it ({escape_controls(str(problem))})",
                                _tail(log_path, current_log_start),
                            )
                            emit(culprit, Outcome(targets[culprit], error=error))
                        return
                    kind = event["event"]
                    if kind == "fatal":
                        tree.kill(proc)
                        raise _fatal_from_event(event, backend)
                    if kind == "ready":
                        session.keras_version = event["keras_version"]
                        session.backend = event["backend"]
                        session.import_seconds = event["import_seconds"]
                        session.python = event["python"]
                        session.keras_name = event.get("keras_name") or "keras"
                        deadline = time.monotonic() + timeout
                    elif kind == "start":
                        current_log_start = log_path.stat().st_size
                        deadline = time.monotonic() + timeout
                    elif kind == "result":
                        emit(event["id"], Outcome(targets[event["id"]], report=event["report"]))
                        emitted += 1
                    elif kind == "error":
                        error = BuildError(
                            str(event.get("kind", "exception")),
                            event["message"],
                            str(event.get("traceback", "")),
                        )
                        emit(event["id"], Outcome(targets[event["id"]], error=error))
                        emitted += 1
                    elif kind == "done":
                        finished = True
                        break
                if finished:
                    break
                if exited:
                    # Events written just before the exit were read above; anything else is lost.
                    why = _describe_exit(proc.returncode)
                    if not talk.ready:
                        raise FatalError(f"{why} before keras was imported", _tail(log_path))
                    if talk.current is not None:
                        tail = _tail(log_path, current_log_start)
                        error = BuildError("crash", f"{why} while building it", tail)
                        emit(talk.current, Outcome(targets[talk.current], error=error))
                    elif not emitted:
                        raise FatalError(f"{why} before building any target", _tail(log_path))
                    break
                if time.monotonic() > deadline:
                    tree.kill(proc)
                    if not talk.ready:
                        raise FatalError(
                            f"importing keras took longer than {max(timeout, IMPORT_TIMEOUT):g} s",
                            _tail(log_path),
                        )
                    if talk.current is not None:
                        message = f"building it took longer than the timeout ({timeout:g} s); the child and everything it started were killed"
                        error = BuildError("timeout", message, _tail(log_path, current_log_start))
                        emit(talk.current, Outcome(targets[talk.current], error=error))
                    break
                time.sleep(poll)
        except BaseException:
            tree.kill(proc)
            raise
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)  # a "done" child only has to exit; stray threads get killed
        tree.kill(proc)
