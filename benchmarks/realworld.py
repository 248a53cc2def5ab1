"""The real-code sweep: kerlint over public Keras training code, one summary per repository.

    python benchmarks/realworld.py unpack            # git snapshots -> working trees
    python benchmarks/realworld.py run               # kerlint --select ALL on each tree
    python benchmarks/realworld.py run --only ageron # repositories whose name contains this

The repositories, their commits and the paths worth reading are listed in
`benchmarks/realworld.toml` (metadata only: the code itself never enters this repository).
Trees live outside the repository, in `$KERLINT_REALWORLD` (default `/work/realworld`), one
folder per repository named `owner+name`; a repository whose folder is missing is skipped.

`unpack` fills those folders from bare git snapshots in `$KERLINT_MIRRORS` (default
`/work/.mirror/owner+name/repo`). Snapshots may lack their largest blobs (data files,
weights), and `git archive` stops at the first missing one, so the tree is written blob by
blob from `git cat-file --batch`, skipping what is absent; an empty `.git` folder is added
at the top, as in a clone (kerlint's project index and `.gitignore` handling look for the
repository root: without it, `sys.path.append("..")`-style imports of a top-level package
are not followed).

`run` calls `python -m kerlint check --output-format json --no-cache --isolated --select ALL
--exit-zero` on each tree (the kerlint found first on `PYTHONPATH`, so
`PYTHONPATH=/work/main python benchmarks/realworld.py run` sweeps the merged main) and writes
`benchmarks/.cache/realworld/<owner+name>.json` (every diagnostic) and
`benchmarks/.cache/realworld/summary.txt` (counts per rule, then every finding as
`repo path:row: CODE message`), both git-ignored. Nothing here runs in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "realworld.toml"
OUTPUT = HERE / ".cache" / "realworld"


def trees_root() -> Path:
    return Path(os.environ.get("KERLINT_REALWORLD", "/work/realworld"))


def mirrors_root() -> Path:
    return Path(os.environ.get("KERLINT_MIRRORS", "/work/.mirror"))


def load_manifest() -> list[dict]:
    with open(MANIFEST, "rb") as handle:
        return tomllib.load(handle)["repository"]


def folder_name(repo: str) -> str:
    return repo.replace("/", "+")


def git_dir(repo: str) -> Path | None:
    """The bare snapshot of repo (fetch puts it at .../repo or .../repo/.git)."""
    base = mirrors_root() / folder_name(repo) / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "HEAD").exists():
            return candidate
    return None


def unpack(repo: str, commit: str, dest: Path) -> tuple[int, int]:
    """Write the blobs of commit that the snapshot has into dest; (written, missing)."""
    source = git_dir(repo)
    if source is None:
        raise FileNotFoundError(f"no snapshot of {repo} under {mirrors_root()}")
    listing = subprocess.run(
        ["git", f"--git-dir={source}", "ls-tree", "-r", "-z", commit],
        check=True,
        capture_output=True,
    ).stdout
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000":  # no symlinks: they may point anywhere
            entries.append((sha.decode(), os.fsdecode(path)))
    batch = subprocess.Popen(
        ["git", f"--git-dir={source}", "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert batch.stdin is not None and batch.stdout is not None
    written = missing = 0
    root = dest.resolve()
    for sha, path in entries:
        batch.stdin.write(sha.encode() + b"\n")
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            missing += 1
            continue
        data = batch.stdout.read(int(header[2]))
        batch.stdout.read(1)  # the newline after each object
        target = (root / path).resolve()
        if root not in target.parents:  # a path that climbs out of the tree
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    batch.stdin.close()
    batch.wait()
    # A clone has a .git folder: it makes the tree its own project root (the project index,
    # .gitignore), as it is for the repository's users.
    (root / ".git").mkdir(exist_ok=True)
    return written, missing


def run_kerlint(tree: Path) -> tuple[list[dict], float]:
    command = [
        *(sys.executable, "-m", "kerlint", "check"),
        *("--output-format", "json", "--no-cache", "--isolated"),
        *("--select", "ALL", "--exit-zero", "--quiet"),
        str(tree),
    ]
    env = dict(os.environ, NO_COLOR="1")
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tree)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"kerlint exited {completed.returncode}: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout or "[]"), elapsed


def summarize(repo: str, tree: Path, diagnostics: list[dict]) -> list[str]:
    lines = []
    for d in sorted(diagnostics, key=lambda d: (d["filename"], d["location"]["row"])):
        path = os.path.relpath(d["filename"], tree)
        cell = f"cell {d['cell']}:" if d.get("cell") else ""
        lines.append(f"{repo} {path}:{cell}{d['location']['row']}: {d['code']} {d['message']}")
    return lines


def command_unpack(args: argparse.Namespace) -> int:
    for entry in load_manifest():
        repo = entry["repo"]
        if args.only and args.only.lower() not in repo.lower():
            continue
        dest = trees_root() / folder_name(repo)
        if dest.exists() and not args.force:
            print(f"{repo}: present", file=sys.stderr)
            continue
        try:
            written, missing = unpack(repo, entry["commit"], dest)
        except (FileNotFoundError, subprocess.CalledProcessError) as error:
            print(f"{repo}: skipped ({error})", file=sys.stderr)
            continue
        print(f"{repo}: {written} files, {missing} missing from the snapshot", file=sys.stderr)
    return 0


def command_run(args: argparse.Namespace) -> int:
    output = args.out
    output.mkdir(parents=True, exist_ok=True)
    report, totals = [], Counter()
    for entry in load_manifest():
        repo = entry["repo"]
        if args.only and args.only.lower() not in repo.lower():
            continue
        tree = trees_root() / folder_name(repo)
        if not tree.is_dir():
            print(f"{repo}: not unpacked, skipped", file=sys.stderr)
            continue
        diagnostics, elapsed = run_kerlint(tree)
        (output / f"{folder_name(repo)}.json").write_text(
            json.dumps(diagnostics, indent=1), encoding="utf-8"
        )
        counts = Counter(d["code"] for d in diagnostics)
        totals.update(counts)
        per_rule = ", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "none"
        report.append(f"## {repo} @ {entry['commit'][:12]}: {per_rule} ({elapsed:.1f} s)")
        report += summarize(repo, tree, diagnostics)
        print(f"{repo}: {per_rule}", file=sys.stderr)
    header = ", ".join(f"{code} {n}" for code, n in sorted(totals.items())) or "none"
    text = "\n".join([f"# realworld sweep, --select ALL: {header}", "", *report]) + "\n"
    (output / "summary.txt").write_text(text, encoding="utf-8")
    print(f"wrote {output / 'summary.txt'}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    unpack_parser = commands.add_parser("unpack", help="snapshots -> trees")
    unpack_parser.add_argument("--force", action="store_true", help="unpack again")
    run_parser = commands.add_parser("run", help="kerlint on every tree")
    run_parser.add_argument("--out", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    for sub in (unpack_parser, run_parser):
        sub.add_argument("--only", help="repositories whose name contains this")
    args = parser.parse_args()
    return command_unpack(args) if args.command == "unpack" else command_run(args)


if __name__ == "__main__":
    sys.exit(main())
