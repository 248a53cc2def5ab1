"""Benchmark: `kerlint verify` on ResNet50 against the bare cost of keras doing the same.

Not a test. Each round starts fresh processes, per backend:

- `import keras`:  `python -c "import keras"`;
- `bare build`:    import keras, build `keras.applications.ResNet50(weights=None)` and count
                   its trainable weights, in one process: the least any tool can do;
- `kerlint verify`: the whole command (`verify --format json` on a factory returning the
                   same model): CLI start-up, the child process, the hooks, the per-layer
                   analysis, the runtime checks and the JSON report.

It prints, per column, the median and the minimum wall time over the rounds (the minimum is
the least disturbed by other work on a shared machine), the CPU time of the process tree
(user + system, which other processes' load barely changes), every run, and the overhead of
`kerlint verify` over the bare build. Run from the repository root:

    python benchmarks/verify_resnet50.py --rounds 5 --backends numpy,jax,torch
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACTORY = """\
import keras


def resnet50():
    return keras.applications.ResNet50(weights=None)
"""
BARE_BUILD = (
    "import keras; m = keras.applications.ResNet50(weights=None); "
    "n = len(m.trainable_weights); assert n == 214, n"
)
VERIFY = (
    "import sys; from kerlint.verify.command import verify; "
    "verify(['--format', 'json', '--expect', 'trainable_weights=214', sys.argv[1]])"
)


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU time of one fresh process tree, and its stdout (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd[:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return wall, cpu, done.stdout


def bench_backend(backend: str, rounds: int, work: Path) -> dict[str, list[float]]:
    env = dict(os.environ, KERAS_BACKEND=backend, KERAS_HOME=str(work / "keras_home"))
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    target = f"{work / 'factory.py'}:resnet50"
    runs: dict[str, list[float]] = {
        k: []
        for k in ("import", "bare", "verify", "import_cpu", "bare_cpu", "verify_cpu", "child_build")
    }
    for _ in range(rounds):
        for key, cmd in (
            ("import", [sys.executable, "-c", "import keras"]),
            ("bare", [sys.executable, "-c", BARE_BUILD]),
            ("verify", [sys.executable, "-c", VERIFY, target]),
        ):
            wall, cpu, out = timed(cmd, env, work)
            runs[key].append(wall)
            runs[f"{key}_cpu"].append(cpu)
        report = json.loads(out)
        assert report["backend"] == backend, report["backend"]
        runs["child_build"].append(report["targets"][0]["build_seconds"])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="numpy,jax,torch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kerlint-bench-") as tmp:
        work = Path(tmp)
        (work / "factory.py").write_text(FACTORY)
        rows = []
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            print(f"{backend}: {args.rounds} rounds ...", file=sys.stderr, flush=True)
            runs = bench_backend(backend, args.rounds, work)
            rows.append((backend, runs))

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s ({min(values):.2f})"

    header = (
        "backend",
        "import keras",
        "bare build",
        "kerlint verify",
        "overhead",
        "build in child",
    )
    print("wall time, median (min) of the rounds:\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for backend, runs in rows:
        overhead = statistics.median(runs["verify"]) - statistics.median(runs["bare"])
        least = min(runs["verify"]) - min(runs["bare"])
        print(
            f"| {backend} | {cell(runs['import'])} | {cell(runs['bare'])} | {cell(runs['verify'])} | "
            f"{overhead:+.2f} s ({least:+.2f}) | {cell(runs['child_build'])} |"
        )
    print("\nCPU time (user + system of the process tree), median:\n")
    print("| backend | import keras | bare build | kerlint verify | overhead |")
    print("|---|---|---|---|---|")
    for backend, runs in rows:
        med = {k: statistics.median(runs[f"{k}_cpu"]) for k in ("import", "bare", "verify")}
        print(
            f"| {backend} | {med['import']:.2f} s | {med['bare']:.2f} s | {med['verify']:.2f} s | "
            f"{med['verify'] - med['bare']:+.2f} s |"
        )
    print()
    for backend, runs in rows:
        for key in ("import", "bare", "verify", "child_build"):
            print(f"{backend:<6} {key:<12} " + ", ".join(f"{v:.2f}" for v in runs[key]))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\nmedians of {args.rounds} rounds; python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average at the end {load:.2f}"
    )


if __name__ == "__main__":
    main()
