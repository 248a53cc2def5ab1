"""Leave nothing behind: the child's whole process tree, and its folder, go when it ends.

A target may start processes of its own: a forked helper survives its parent, a
`setsid()` one leaves the child's process group, a double fork reparents to init. On
Linux the parent therefore

- becomes a *subreaper* (`prctl(PR_SET_CHILD_SUBREAPER)`) while it runs children, so
  orphans of the tree are reparented to it instead of to init;
- marks the child's environment with a token (`KERLINT_VERIFY_TOKEN`) that every
  descendant inherits, and at the end kills every process that is below the child in
  the process table, carries the token, or was reparented to it since the child started;
- records its pid (and start time, against pid reuse) and the token in the run's
  `kerlint-verify-*` folder, so that a later run removes the folders of owners that died
  without cleaning up (`kill -KILL`) and kills what those left running.

The child itself asks for SIGKILL when its parent dies (`PR_SET_PDEATHSIG`, see
`child.py`). Elsewhere (macOS, Windows) only the child's process group is killed.

`network_isolation()` finds how to start the child without a network: a new network
namespace (`unshare --net`, with a user namespace when not root), where available.

Runs in the parent: no keras here.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

TOKEN_VARIABLE = "KERLINT_VERIFY_TOKEN"
PARENT_VARIABLE = "KERLINT_VERIFY_PARENT"
NETNS_VARIABLE = "KERLINT_VERIFY_NETNS"  # "0": do not use a network namespace
FOLDER_PREFIX = "kerlint-verify-"
OWNER_FILE = "owner.json"
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_PROC = Path("/proc")


def _linux() -> bool:
    return sys.platform.startswith("linux") and _PROC.is_dir()


@functools.lru_cache(maxsize=1)
def _prctl() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not _linux():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None


def set_subreaper(on: bool) -> bool | None:
    """Make this process the subreaper of its descendants (or stop); returns the old value."""
    prctl = _prctl()
    if prctl is None:
        return None
    old = ctypes.c_int(0)
    prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(old), 0, 0, 0)
    prctl(_PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)
    return bool(old.value)


def die_with_parent(expected_parent: int | None) -> None:
    """In the child: be killed when the parent dies, even by SIGKILL (Linux only)."""
    prctl = _prctl()
    if prctl is None:
        return
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if expected_parent and os.getppid() != expected_parent:
        # Started through a wrapper that forked (the signal then follows the wrapper), or
        # the parent died before the request was made: then nobody is listening.
        try:
            os.kill(expected_parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass


# -- the process table ---------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process, from /proc/PID/stat."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[1]), fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _table() -> dict[int, tuple[int, str]]:
    table = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                table[int(entry.name)] = (stat[0], stat[1])
    return table


def _carries(pid: int, token: str) -> bool:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"{TOKEN_VARIABLE}={token}".encode() in environ.split(b"\0")


def children_of_me() -> set[int]:
    """The current children of this process (to tell reparented orphans from them later)."""
    if not _linux():
        return set()
    me = os.getpid()
    return {pid for pid, (ppid, _) in _table().items() if ppid == me}


def _tree(table: dict[int, tuple[int, str]], roots: Iterable[int]) -> set[int]:
    below: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        below.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(below.get(pid, ()))
    return found


def kill_tree(
    root: int | None, token: str, known_children: set[int], *, reap_root: bool = False
) -> int:
    """SIGKILL the child `root` and everything it started; returns how many were killed.

    Found by parent links from `root`, by the token in their environment, and as children
    of this process that were not there before the child started (orphans reparented to
    the subreaper). Repeated until none is left alive, so a process that forks while it
    is being killed is caught on the next pass. Killed orphans are reaped; `root` itself
    is left to its `Popen` unless `reap_root`.
    """
    if root is not None and hasattr(os, "killpg"):
        with contextlib.suppress(OSError):
            os.killpg(root, signal.SIGKILL)
    if not _linux():
        return 0
    me = os.getpid()
    killed: set[int] = set()
    for _ in range(100):
        table = _table()
        roots = [root] if root is not None and root in table else []
        roots += [
            pid
            for pid, (ppid, _) in table.items()
            if (ppid == me and pid not in known_children) or _carries(pid, token)
        ]
        alive = [
            pid for pid in _tree(table, roots) if pid != me and table.get(pid, (0, "Z"))[1] != "Z"
        ]
        for pid in alive:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        killed.update(alive)
        for pid, (ppid, _) in table.items():
            if ppid == me and pid in killed and (pid != root or reap_root):
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
        if not alive:
            break
        time.sleep(0.005)
    return len(killed)


# -- the run's folder ----------------------------------------------------------------------


def _start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return None if stat is None else stat[2]


def write_owner(folder: Path, token: str) -> None:
    """Record who owns a `kerlint-verify-*` folder, for `remove_stale_folders`."""
    owner = {"pid": os.getpid(), "start": _start_time(os.getpid()), "token": token}
    (folder / OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")


def _owner_alive(owner: dict[str, object]) -> bool:
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return owner.get("start") is None or _start_time(pid) == owner.get("start")


def remove_stale_folders(base: Path | None = None) -> int:
    """Remove the folders of earlier runs whose owner died, and kill what those left.

    Only folders with an owner record are touched; returns how many were removed.
    """
    if not _linux():
        return 0
    base = Path(tempfile.gettempdir()) if base is None else base
    removed = 0
    for folder in base.glob(FOLDER_PREFIX + "*"):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(owner, dict) or _owner_alive(owner):
            continue
        token = owner.get("token")
        if isinstance(token, str) and token:
            kill_tree(None, token, children_of_me())
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


# -- the network ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def network_isolation(enabled: str = "1") -> tuple[tuple[str, ...], str]:
    """The command prefix that starts the child in an empty network namespace, and why not.

    Returns `(("unshare", "--net", ...), "")` when that works here, else `((), reason)`.
    `enabled` is the value of KERLINT_VERIFY_NETNS ("0" turns the namespace off).
    """
    if enabled == "0":
        return (), f"{NETNS_VARIABLE}=0"
    if not _linux():
        return (), "network namespaces are Linux only"
    unshare = shutil.which("unshare")
    if unshare is None:
        return (), "the unshare program (util-linux) is not installed"
    if os.geteuid() == 0:
        prefix: tuple[str, ...] = (unshare, "--net")
    else:
        prefix = (unshare, "--user", "--map-current-user", "--net")
    try:
        probe = subprocess.run(
            [
                *prefix,
                shutil.which("true") or sys.executable,
                *([] if shutil.which("true") else ["-c", ""]),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return (), f"unshare failed: {error}"
    if probe.returncode != 0:
        why = probe.stderr.decode("utf-8", "replace").strip().splitlines()
        return (), f"unshare failed: {why[-1] if why else f'exit code {probe.returncode}'}"
    return prefix, ""
