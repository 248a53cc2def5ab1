"""`--fix` writes only the bytes: links, owner, group, attributes and read-only files stay as
they were, a signal leaves no temporary file behind, and `--diff` is a patch git applies.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BAD, CLEAN, run_process

from kerlint.fixes import atomic_write


def _fix(folder: Path, *names: str):
    return run_process("check", "--isolated", "--no-cache", "--fix", *names, cwd=folder)


def test_a_hard_link_is_not_split(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD, encoding="utf-8")
    os.link(tmp_path / "a.py", tmp_path / "b.py")
    inode = (tmp_path / "a.py").stat().st_ino
    completed = _fix(tmp_path, "a.py")
    assert completed.returncode == 0, completed.stderr.decode()
    assert (tmp_path / "a.py").stat().st_ino == (tmp_path / "b.py").stat().st_ino == inode
    assert (tmp_path / "b.py").read_text(encoding="utf-8") == CLEAN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]


def test_a_read_only_file_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text(BAD, encoding="utf-8")
    path.chmod(0o444)
    completed = _fix(tmp_path, "a.py")
    assert completed.returncode == 1  # the diagnostic remains
    assert b"a.py: the file is read-only; not written" in completed.stderr
    assert path.read_text(encoding="utf-8") == BAD and stat.S_IMODE(path.stat().st_mode) == 0o444


def _supports_user_xattrs(folder: Path) -> bool:
    probe = folder / "probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.kerlint", b"1")
    except (OSError, AttributeError):
        return False
    finally:
        probe.unlink()
    return True


def test_extended_attributes_are_kept(tmp_path: Path) -> None:
    if not _supports_user_xattrs(tmp_path):
        pytest.skip("this file system has no user extended attributes")
    path = tmp_path / "a.py"
    path.write_text(BAD, encoding="utf-8")
    os.setxattr(path, "user.origin", b"downloaded")
    assert _fix(tmp_path, "a.py").returncode == 0
    assert path.read_text(encoding="utf-8") == CLEAN
    assert os.getxattr(path, "user.origin") == b"downloaded"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_owner_and_group_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text(BAD, encoding="utf-8")
    os.chown(path, 4321, 8765)
    assert _fix(tmp_path, "a.py").returncode == 0
    assert path.read_text(encoding="utf-8") == CLEAN
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 8765)


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_in_the_write_phase_leaves_no_temporary_file(number: int, tmp_path: Path) -> None:
    """The signal arrives while the temporary file exists (just before its fsync)."""
    path = tmp_path / "a.py"
    path.write_bytes(b"old\n")
    script = (
        "import os, sys\n"
        "import kerlint.fixes as fixes\n"
        "real = os.fsync\n"
        f"os.fsync = lambda fd: (os.kill(os.getpid(), {int(number)}), real(fd))\n"
        "fixes.atomic_write(__import__('pathlib').Path(sys.argv[1]), b'new\\n')\n"
        "print('survived')\n"
    )
    completed = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True)
    assert completed.returncode == -number, completed.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]
    assert path.read_bytes() == b"old\n"


def test_temporary_files_left_by_a_dead_writer_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".a.py.{dead.pid}.abcd1234.kerlint-tmp"
    stale.write_bytes(b"half")
    alive = tmp_path / f".a.py.{os.getppid()}.efgh5678.kerlint-tmp"  # a running process
    alive.write_bytes(b"in progress")
    other = tmp_path / ".a.py.notapid.x.kerlint-tmp"
    other.write_bytes(b"not ours to judge")
    path = tmp_path / "a.py"
    path.write_bytes(b"old\n")
    atomic_write(path, b"new\n")
    assert path.read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.py", alive.name, other.name])


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("newline", ["\r", "\n", "\r\n"])
@pytest.mark.parametrize("final", [True, False])
def test_diff_is_a_patch_git_applies(newline: str, final: bool, tmp_path: Path) -> None:
    text = BAD.replace("\n", newline)
    if not final:
        text = text[: -len(newline)]
    (tmp_path / "t.py").write_bytes(text.encode())
    completed = run_process("check", "--isolated", "--no-cache", "--diff", "t.py", cwd=tmp_path)
    assert completed.returncode == 1 and completed.stdout, completed.stderr.decode()
    (tmp_path / "fix.patch").write_bytes(completed.stdout)
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    for check in (["--check"], []):
        applied = subprocess.run(
            ["git", "apply", *check, "fix.patch"], cwd=tmp_path, capture_output=True
        )
        assert applied.returncode == 0, applied.stderr.decode()
    expected = CLEAN.replace("\n", newline)
    assert (tmp_path / "t.py").read_bytes() == (
        expected if final else expected[: -len(newline)]
    ).encode()
