"""Benchmark: `kerlint verify` on ResNet50 against the bare cost of keras doing the same.

Not a test. Each round starts fresh processes, per backend:

- `import keras`:  `python -c "import keras"`;
- `bare build`:    import keras, build `keras.applications.ResNet50(weights=None)` and count
                   its trainable weights, in one process: the least any tool can do;
- `kerlint verify`: the whole command (`verify --format json` on a factory returning the
                   same model): CLI start-up, the child process, the hooks, the per-layer
                   analysis, the runtime checks and the JSON report.

It prints medians over the rounds (and every run), plus the overhead of `kerlint verify`
over the bare build. Run from the repository root:

    python benchmarks/verify_resnet50.py --rounds 5 --backends numpy,jax,torch
"""

from __future__ import annotations

import argparse
import json
import os
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


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    """Wall time of one fresh process, and its stdout (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd[:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return wall, done.stdout


def bench_backend(backend: str, rounds: int, work: Path) -> dict[str, list[float]]:
    env = dict(os.environ, KERAS_BACKEND=backend, KERAS_HOME=str(work / "keras_home"))
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    target = f"{work / 'factory.py'}:resnet50"
    runs: dict[str, list[float]] = {k: [] for k in ("import", "bare", "verify", "child_build")}
    for _ in range(rounds):
        runs["import"].append(timed([sys.executable, "-c", "import keras"], env, work)[0])
        runs["bare"].append(timed([sys.executable, "-c", BARE_BUILD], env, work)[0])
        wall, out = timed([sys.executable, "-c", VERIFY, target], env, work)
        runs["verify"].append(wall)
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

    def med(values: list[float]) -> float:
        return statistics.median(values)

    header = (
        "backend",
        "import keras",
        "bare build",
        "kerlint verify",
        "overhead",
        "build in child",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for backend, runs in rows:
        overhead = med(runs["verify"]) - med(runs["bare"])
        print(
            f"| {backend} | {med(runs['import']):.2f} s | {med(runs['bare']):.2f} s | "
            f"{med(runs['verify']):.2f} s | {overhead:+.2f} s | {med(runs['child_build']):.2f} s |"
        )
    print()
    for backend, runs in rows:
        for key in ("import", "bare", "verify", "child_build"):
            print(f"{backend:<6} {key:<12} " + ", ".join(f"{v:.2f}" for v in runs[key]))
    print(
        f"\nmedians of {args.rounds} rounds; python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
