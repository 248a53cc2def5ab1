"""Running work on a thread with a deep stack: for code deep enough to exhaust the usual one.

LibCST's native parser recurses on the C stack, and kerlint's analysis in Python: both are
retried here, where a deep but valid file fits.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

# Reserved address space; only the touched pages are used.
DEEP_STACK_BYTES = 256 * 1024 * 1024
# LibCST also recurses in Python, and so do its metadata visitors and kerlint's analysis:
# ~3 frames per level of the tree, so 1,000 parts of a dotted name or 350 `and` terms
# exceed Python's default limit of 1,000 frames. On the deep stack the limit is raised to
# this: at the ~160 bytes of C stack a frame measured there (2 KiB even where every frame
# passes through C), it holds many times over.
DEEP_RECURSION_LIMIT = 60_000

_deep = threading.local()
_T = TypeVar("_T")


def on_a_deep_stack() -> bool:
    return getattr(_deep, "active", False)


def on_deep_stack(work: Callable[[], _T]) -> _T:
    """Run `work` on a fresh thread with a DEEP_STACK_BYTES stack and Python's recursion
    limit raised to DEEP_RECURSION_LIMIT; its exception is re-raised.

    Where no such thread can be had: RecursionError (a KL000), never a risk to the process.
    """
    outcome: list[object] = []

    def run() -> None:
        _deep.active = True
        limit = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(max(limit, DEEP_RECURSION_LIMIT))
            outcome.append(work())
        except BaseException as exc:  # handed to the caller below
            outcome.append(exc)
        finally:
            sys.setrecursionlimit(limit)

    try:
        previous = threading.stack_size(DEEP_STACK_BYTES)
    except (ValueError, RuntimeError) as exc:  # the platform refuses
        raise RecursionError(NO_DEEP_STACK) from exc
    try:
        thread = threading.Thread(target=run, name="kerlint-deep-stack", daemon=True)
        thread.start()
    except RuntimeError as exc:  # cannot start a thread (address space)
        raise RecursionError(NO_DEEP_STACK) from exc
    finally:
        threading.stack_size(previous)
    thread.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result  # type: ignore[return-value]


NO_DEEP_STACK = "no thread with a deep enough stack could be started"
