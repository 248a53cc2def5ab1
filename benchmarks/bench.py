"""kerlint's speed and memory against its targets, on real source trees, in one run.

    python benchmarks/bench.py              # 3 rounds of everything (a few minutes)
    python benchmarks/bench.py --rounds 5 --output table.md
    KERLINT_KERAS_IO=/path/to/keras-io python benchmarks/bench.py   # also an ML repository

What it does:
1. Downloads the source distributions of keras 3.15.1 and keras-hub 0.32.0 from the
   package index once (`pip download --no-deps --no-binary :all:`) into
   `benchmarks/.cache/sdist/` and unpacks them into `benchmarks/.cache/src/` (git-ignored).
   An empty `.git` folder there makes that folder a repository root for discovery, so the
   repository's own `.gitignore` (which ignores `benchmarks/.cache/`) does not hide the trees
   from kerlint or ruff.
2. Times, in rounds that interleave the commands (so that a busy moment hits them all),
   with medians: `kerlint check` cold (`--no-cache`), warm (the cache filled beforehand,
   nothing changed), on one file (the pre-commit case, `--no-cache`: the file changed),
   `ruff check --no-cache --select ALL`, `flake8`, and `python -c "import libcst, click"`.
   With a keras-io snapshot (the repository of keras.io: `examples/` and `guides/`, as
   `.py` and `.ipynb`; see benchmarks/realworld.toml), the cold run is also timed on that
   tree, shaped like an ML repository, with two processes and with one, against ruff.
   And a generated small project (`benchmarks/.cache/project/`): one file that imports three
   project modules, checked alone.
3. Reports wall time (median and minimum), CPU time (user + system of the process and its
   children, from `wait4`) and peak memory (the largest resident set of the process or of
   any of its workers), then the ratios against the targets.

Bytecode: the children run with PYTHONDONTWRITEBYTECODE unset and one unmeasured run first,
so kerlint's modules are loaded from `.pyc` files as they are from an installed wheel (pip
compiles on install); otherwise every run would compile kerlint anew (~0.1 s).

Only the standard library is used; ruff and flake8 are taken from the interpreter's
`bin` folder (install flake8 with `pip install flake8`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
SDISTS = {"keras": "3.15.1", "keras-hub": "0.32.0"}
# The pre-commit case: one real, mid-sized file that the prefilter lets through, so the
# whole pipeline runs (parse, facts, flow analysis, rules).
ONE_FILE = ("keras_hub-0.32.0", "keras_hub/src/models/image_classifier.py")

# (name, limit, numerator, denominator, what the target says)
TARGETS = [
    ("cold <= 2x ruff ALL", 2.0, "kerlint cold", "ruff --select ALL"),
    ("cold <= 1/4 flake8", 0.25, "kerlint cold", "flake8"),
    ("warm <= 1/2 ruff cold", 0.5, "kerlint warm", "ruff --select ALL"),
    ("one file <= 1.3x import libcst, click", 1.3, "kerlint one file", "import libcst, click"),
    (
        "keras-io cold <= 3x ruff ALL",
        3.0,
        "keras-io: kerlint cold, -j 2",
        "keras-io: ruff --select ALL",
    ),
    (
        "one file, 3 project imports, cold <= 2.5x import libcst, click",
        2.5,
        "kerlint one file, 3 project imports",
        "import libcst, click",
    ),
]
MEMORY_LIMIT_MB = 250.0
# The keras.io repository (examples and guides): $KERLINT_KERAS_IO, else benchmarks/.cache/
# keras-io, else the realworld sweep's unpacked snapshot (benchmarks/realworld.py).
KERAS_IO_PARTS = ("examples", "guides")
KERAS_IO_SNAPSHOT = "chenmoneygithub+keras-io"
QUICK = {
    "kerlint warm",
    "kerlint one file",
    "kerlint one file, 3 project imports",
    "import libcst, click",
}


@dataclass
class Case:
    name: str
    command: list[str]
    cwd: Path | None = None  # default: the folder of the unpacked sdists
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    outputs: set[str] = field(default_factory=set)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)


def bin_tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def fetch_trees() -> list[Path]:
    """The unpacked trees, downloading and unpacking what is missing."""
    sdist_dir, src_dir = CACHE / "sdist", CACHE / "src"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    src_dir.mkdir(parents=True, exist_ok=True)
    (src_dir / ".git").mkdir(exist_ok=True)  # a repository root: see the module docstring
    trees = []
    for project, version in SDISTS.items():
        stem = f"{project.replace('-', '_')}-{version}"
        tree = src_dir / stem
        if not tree.is_dir():
            archive = sdist_dir / f"{stem}.tar.gz"
            if not archive.exists():
                print(f"downloading {project}=={version} ...", file=sys.stderr)
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "--quiet",
                        "--no-deps",
                        "--no-binary",
                        ":all:",
                        "--dest",
                        str(sdist_dir),
                        f"{project}=={version}",
                    ],
                    check=True,
                )
            with tarfile.open(archive) as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(src_dir, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    tar.extractall(src_dir)
        trees.append(tree)
    return trees


def tree_stats(trees: list[Path], pattern: str = "*.py") -> tuple[int, int]:
    files = lines = 0
    for tree in trees:
        for path in tree.rglob(pattern):
            files += 1
            with open(path, "rb") as handle:
                lines += handle.read().count(b"\n")
    return files, lines


def keras_io_tree() -> Path | None:
    """The keras.io repository (with examples/ and guides/), wherever it was put; else None."""
    candidates = [
        os.environ.get("KERLINT_KERAS_IO"),
        str(CACHE / "keras-io"),
        str(Path(os.environ.get("KERLINT_REALWORLD", "/work/realworld")) / KERAS_IO_SNAPSHOT),
    ]
    for candidate in candidates:
        if candidate and all((Path(candidate) / part).is_dir() for part in KERAS_IO_PARTS):
            return Path(candidate)
    return None


# A small project: train.py imports three of its modules, each with Keras in it, so that
# a one-file check of train.py also reads what it imports (when the project is analysed).
# train.py passes the prefilter itself (it says `keras` and sets `.trainable`), so it is
# parsed and analysed; across the modules it is a KL003 (MobileNetV2's BN above layer 100).
PROJECT_FILES = {
    "proj/__init__.py": "",
    "proj/data.py": """\
import keras


def load(batch_size=32):
    (x, y), _ = keras.datasets.mnist.load_data()
    return x[..., None] / 255.0, y
""",
    "proj/models.py": """\
import keras
from keras import layers


def build(num_classes=10):
    base = keras.applications.MobileNetV2(include_top=False, weights=None)
    base.trainable = False
    inputs = keras.Input((96, 96, 3))
    x = base(inputs, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs), base
""",
    "proj/training.py": """\
import keras


def fit(model, x, y, learning_rate=1e-3, epochs=1):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model.fit(x, y, epochs=epochs)
""",
    "train.py": """\
import keras

from proj import data, models, training

keras.utils.set_random_seed(0)
x, y = data.load()
model, base = models.build()
training.fit(model, x, y)
base.trainable = True
for layer in base.layers[:100]:
    layer.trainable = False
training.fit(model, x, y, learning_rate=1e-5)
""",
}


def make_project() -> Path:
    root = CACHE / "project"
    for name, text in PROJECT_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    (root / ".git").mkdir(exist_ok=True)  # its own root, whatever encloses it
    return root


def autogroup_note() -> str:
    """Linux groups a session's processes for CPU fairness: a pool gains nothing when busy."""
    try:
        enabled = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return ""
    if not enabled:
        return ""
    return (
        "The kernel's autogroup scheduling is on: this benchmark's processes share one "
        "session's CPU share, so on a machine busy with other sessions two workers get what "
        "one would, and -j 2 cannot beat -j 1 by wall time; compare CPU times then."
    )


def run(case: Case, env: dict[str, str], cwd: Path) -> None:
    """One measured run: wall time, and CPU and peak memory of the process tree (wait4).

    Linux folds the parent's high-water resident size into a child's at exec, so this
    process must stay small: the output goes to a file and is hashed in chunks, never held.
    """
    output_file = CACHE / "last-output.txt"
    with open(output_file, "wb") as sink:
        start = time.perf_counter()
        process = subprocess.Popen(
            case.command, stdout=sink, stderr=subprocess.DEVNULL, env=env, cwd=case.cwd or cwd
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    digest = hashlib.sha256()
    with open(output_file, "rb") as produced:
        for chunk in iter(lambda: produced.read(1 << 16), b""):
            digest.update(chunk)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{case.name}: exit code {process.returncode}: {' '.join(case.command)}")
    case.walls.append(wall)
    case.cpus.append(usage.ru_utime + usage.ru_stime)
    # Linux reports KiB, macOS bytes.
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    case.peak_mb = max(case.peak_mb, usage.ru_maxrss / scale)
    case.outputs.add(digest.hexdigest())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flake8-rounds", type=int, default=None, help="default: --rounds")
    parser.add_argument("--output", type=Path, help="also write the markdown here")
    args = parser.parse_args()

    trees = fetch_trees()
    cwd = CACHE / "src"
    names = [tree.name for tree in trees]
    kerlint_cache = CACHE / "kerlint_cache"
    shutil.rmtree(kerlint_cache, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("KERLINT_CACHE_DIR", None)
    env["NO_COLOR"] = "1"

    kerlint = bin_tool("kerlint")
    kerlint_cmd = [kerlint] if kerlint else [sys.executable, "-m", "kerlint"]
    check = [*kerlint_cmd, "check", "--exit-zero", "--isolated"]
    one_file = str(Path(ONE_FILE[0]) / ONE_FILE[1])
    cases = [
        Case("kerlint cold", [*check, "--no-cache", *names]),
        Case("kerlint warm", [*check, "--cache-dir", str(kerlint_cache), *names]),
        Case("kerlint cold, -j 1", [*check, "--no-cache", "-j", "1", *names]),
        Case("kerlint one file", [*check, "--no-cache", one_file]),
        Case("import libcst, click", [sys.executable, "-c", "import libcst, click"]),
    ]
    project = make_project()
    cases.append(
        Case("kerlint one file, 3 project imports", [*check, "--no-cache", "train.py"], project)
    )
    ruff = bin_tool("ruff")
    ruff_options = ["--isolated", "--no-cache", "--select", "ALL", "--exit-zero", "--quiet"]
    if ruff:
        cases.append(Case("ruff --select ALL", [ruff, "check", *ruff_options, *names]))
    keras_io = keras_io_tree()
    if keras_io:
        parts = list(KERAS_IO_PARTS)
        cases.append(
            Case(
                "keras-io: kerlint cold, -j 2", [*check, "--no-cache", "-j", "2", *parts], keras_io
            )
        )
        cases.append(
            Case(
                "keras-io: kerlint cold, -j 1", [*check, "--no-cache", "-j", "1", *parts], keras_io
            )
        )
        if ruff:
            cases.append(
                Case(
                    "keras-io: ruff --select ALL", [ruff, "check", *ruff_options, *parts], keras_io
                )
            )
    flake8 = bin_tool("flake8")
    if flake8:
        cases.append(Case("flake8", [flake8, "--isolated", "--exit-zero", *names]))
    missing = [tool for tool, found in (("ruff", ruff), ("flake8", flake8)) if not found]

    # Unmeasured: writes kerlint's .pyc files and fills the cache for the warm runs.
    run(Case("warm-up", cases[1].command), env, cwd)
    for round_number in range(args.rounds):
        for case in cases:
            if case.name == "flake8" and round_number >= (args.flake8_rounds or args.rounds):
                continue
            # Sub-second commands are noisier: five samples a round each (one, when a
            # busy machine has made the first sample take over a second anyway).
            quick = case.name in QUICK and (not case.walls or case.walls[0] < 1.0)
            for _ in range(5 if quick else 1):
                run(case, env, cwd)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)

    by_name = {case.name: case for case in cases}
    files, lines = tree_stats(trees)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    out = [
        f"Trees: {', '.join(names)} ({files:,} Python files, {lines:,} lines). "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.rounds} rounds; "
        f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.",
    ]
    if keras_io:
        io_parts = [keras_io / part for part in KERAS_IO_PARTS]
        py_files, py_lines = tree_stats(io_parts)
        notebooks, _ = tree_stats(io_parts, "*.ipynb")
        out.append(
            f"keras-io: {keras_io} ({', '.join(KERAS_IO_PARTS)}: {py_files} Python files, "
            f"{py_lines:,} lines, and {notebooks} notebooks)."
        )
    else:
        out.append("keras-io: not found (set KERLINT_KERAS_IO), not measured.")
    out += [
        "",
        "| command | wall median (s) | wall min (s) | CPU median (s) | peak memory (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for case in cases:
        out.append(
            f"| {case.name} | {case.wall:.2f} | {min(case.walls):.2f} | {case.cpu:.2f} "
            f"| {case.peak_mb:.0f} |"
        )
    out += ["", "| target | measured (wall medians) | met |", "|---|---:|:---:|"]
    all_met = True
    for label, limit, numerator, denominator in TARGETS:
        if numerator not in by_name or denominator not in by_name:
            out.append(f"| {label} | (not measured: {denominator} missing) | ? |")
            all_met = False
            continue
        ratio = by_name[numerator].wall / by_name[denominator].wall
        met = ratio <= limit
        all_met &= met
        out.append(f"| {label} | {ratio:.2f}x | {'yes' if met else 'NO'} |")
    peak = max(c.peak_mb for c in cases if "kerlint" in c.name)
    out.append(
        f"| peak memory < {MEMORY_LIMIT_MB:.0f} MB (every tree) | {peak:.0f} MB | "
        f"{'yes' if peak < MEMORY_LIMIT_MB else 'NO'} |"
    )
    all_met &= peak < MEMORY_LIMIT_MB
    same = by_name["kerlint cold"].outputs | by_name["kerlint warm"].outputs
    same |= by_name["kerlint cold, -j 1"].outputs
    out.append("")
    out.append(
        "Cold (pool), cold (one process) and warm (cache) runs printed the same report."
        if len(same) == 1
        else "WARNING: cold, one-process and warm runs printed different reports."
    )
    consistent = len(same) == 1
    if keras_io:
        two, one = by_name["keras-io: kerlint cold, -j 2"], by_name["keras-io: kerlint cold, -j 1"]
        out.append(
            f"keras-io, -j 2 vs -j 1: wall {two.wall:.2f} s vs {one.wall:.2f} s "
            f"({one.wall / two.wall:.2f}x faster with two), CPU {two.cpu:.2f} s vs {one.cpu:.2f} s."
        )
        if len(two.outputs | one.outputs) != 1:
            out.append("WARNING: keras-io -j 2 and -j 1 printed different reports.")
            consistent = False
        note = autogroup_note()
        if note and one.wall / two.wall < 1.2:
            out.append(note)
    if missing:
        out.append(f"Not found, not measured: {', '.join(missing)}.")
    text = "\n".join(out)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0 if all_met and consistent else 1


if __name__ == "__main__":
    sys.exit(main())
