"""How `kerlint check` scales with a file's length and its loop nesting.

Generates, in a temporary folder:
- files of 1,000, 10,000 and 50,000 lines of `m_i = keras.layers.Dense(i); m_i.trainable = False`;
- files whose freeze sits under 1 to 30 nested `for` loops;
and checks each with `kerlint check --no-cache` in a child process, printing the wall time
and the child's peak resident memory (wait4's ru_maxrss). A check that takes longer than the
timeout (60 s; `--timeout`) is killed and printed as "timeout".

    python benchmarks/scaling.py [--timeout 60] [--lines 1000,10000,50000] [--depths 1-30]

The numbers measure the analysis (kerlint's facts and flow), not parsing alone: every file
passes the prefilter.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "import keras\n\n"


def flat_file(lines: int) -> str:
    body = "".join(
        f"m_{i} = keras.layers.Dense({i}); m_{i}.trainable = False\n" for i in range(lines)
    )
    return HEADER + body


def nested_file(depth: int) -> str:
    text = HEADER + "model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])\n"
    for level in range(depth):
        text += "    " * level + f"for i{level} in range(2):\n"
    text += "    " * depth + "model.layers[0].trainable = False\n"
    text += "    " * depth + "model.fit(x, y)\n"
    return text


def measure(path: Path, timeout: float) -> tuple[str, str]:
    """(wall seconds, peak RSS in MB) of `kerlint check --no-cache path`, or ("timeout", "")."""
    command = [sys.executable, "-m", "kerlint", "check", "--isolated", "--no-cache", str(path)]
    start = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            os.killpg(child.pid, signal.SIGKILL)
            os.wait4(child.pid, 0)
            return "timeout", ""
        time.sleep(0.02)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    note = "" if code in (0, 1) else f" (exit {code})"
    return f"{wall:.2f}{note}", f"{rss:.0f}"


def _sizes(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part]


def _range(value: str) -> list[int]:
    first, _, last = value.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--lines", type=_sizes, default=[1_000, 10_000, 50_000])
    parser.add_argument("--depths", type=_range, default=list(range(1, 31)))
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kerlint-scaling-") as folder:
        root = Path(folder)
        print(f"{'input':<28} {'wall (s)':>10} {'peak RSS (MB)':>14}")
        for lines in options.lines:
            path = root / f"flat_{lines}.py"
            path.write_text(flat_file(lines), encoding="utf-8")
            wall, rss = measure(path, options.timeout)
            print(f"{f'{lines:,} lines':<28} {wall:>10} {rss:>14}", flush=True)
        for depth in options.depths:
            path = root / f"nested_{depth}.py"
            path.write_text(nested_file(depth), encoding="utf-8")
            wall, rss = measure(path, options.timeout)
            print(f"{f'{depth} nested loops':<28} {wall:>10} {rss:>14}", flush=True)


if __name__ == "__main__":
    main()
