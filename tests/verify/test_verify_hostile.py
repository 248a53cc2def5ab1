"""`kerlint verify` against targets that attack it: nothing left running, bounded memory,
forged reports refused, terminal escapes escaped, the network cut, 10,000-layer models."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from verify_support import FACTORIES, factory, requires_keras, run_json, run_verify, use_numpy

from kerlint.verify import processes

HOSTILE = "hostile.py"
pytestmark = requires_keras


def gone(pid: int) -> bool:
    """The process is dead (a zombie left to init counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def wait_until(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def recorded(path: Path) -> list[dict[str, int]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def pids_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_numpy(tmp_path, monkeypatch)
    path = tmp_path / "pids.jsonl"
    monkeypatch.setenv("KERLINT_TEST_PIDS", str(path))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return path


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")


@linux_only
def test_nothing_the_targets_started_survives(pids_file: Path) -> None:
    result = run_verify(
        factory("forks_and_builds", HOSTILE),
        factory("setsid_and_hangs", HOSTILE),
        factory("double_forks_and_hangs", HOSTILE),
        "--timeout",
        "4",
        "-q",
    )
    out = result.output
    assert "hostile.py:forks_and_builds: totals: 2 weights" in out  # built fine
    assert "setsid_and_hangs: error: building it took longer than the timeout (4 s)" in out
    assert "double_forks_and_hangs: error: building it took longer" in out
    seen = recorded(pids_file)
    assert len(seen) == 3
    for pids in seen:
        assert gone(pids["child"]) and gone(pids["grandchild"]), pids
    assert not list((pids_file.parent / "tmp").glob("kerlint-verify-*"))


def _start_cli(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.Popen(
        [sys.executable, "-m", "kerlint", "verify", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@linux_only
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_killing_kerlint_verify_leaves_nothing(
    pids_file: Path, tmp_path: Path, how: signal.Signals
) -> None:
    cli = _start_cli(tmp_path, factory("setsid_and_hangs", HOSTILE))
    try:
        assert wait_until(lambda: recorded(pids_file)), "the target never started"
        [pids] = recorded(pids_file)
        [folder] = (tmp_path / "tmp").glob("kerlint-verify-*")
        assert json.loads((folder / "owner.json").read_text())["pid"] == cli.pid
        cli.send_signal(how)
        cli.wait(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    if how == signal.SIGTERM:
        assert cli.returncode == 128 + signal.SIGTERM
        assert not folder.exists()
    else:
        # The child dies with its parent (PR_SET_PDEATHSIG); what it started, and the
        # folder, are removed by the next run, which finds the owner dead.
        assert folder.exists()
        assert processes.remove_stale_folders(tmp_path / "tmp") == 1
        assert not folder.exists()
    assert wait_until(lambda: gone(pids["child"]) and gone(pids["grandchild"]), 10), pids


def test_stale_folders_of_live_owners_and_without_owner_are_kept(tmp_path: Path) -> None:
    live = tmp_path / "kerlint-verify-live"
    live.mkdir()
    processes.write_owner(live, "token-live")
    foreign = tmp_path / "kerlint-verify-old-format"
    foreign.mkdir()
    dead = tmp_path / "kerlint-verify-dead"
    dead.mkdir()
    (dead / "owner.json").write_text(json.dumps({"pid": 2**22 + 12345, "token": "t"}))
    removed = processes.remove_stale_folders(tmp_path)
    assert (removed, live.exists(), foreign.exists(), dead.exists()) == (
        int(sys.platform.startswith("linux")),
        True,
        True,
        not sys.platform.startswith("linux"),
    )


def test_floods_forgeries_escapes_and_memory(pids_file: Path, tmp_path: Path) -> None:
    padded = tmp_path / "padded.keras"
    with zipfile.ZipFile(padded, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", "{}")
        with archive.open("config.json", "w") as config:
            config.write(b"{}")
            block = b" " * (1024 * 1024)
            for _ in range(65):  # 65 MiB: just past the limit, compressed to a few hundred kB
                config.write(block)
    result = run_verify(
        factory("floods_and_aborts", HOSTILE),
        factory("forges_a_result", HOSTILE),
        factory("forges_garbage", HOSTILE),
        factory("escape_names", HOSTILE),
        str(padded),
        factory("allocates", HOSTILE),
        "--max-memory",
        "4G",
    )
    out = result.output
    assert result.exit_code == 2, out
    flood = out[out.index("floods_and_aborts: error") :]
    assert "killed by SIGABRT while building it" in flood
    assert "the last words \\x1b[31mred\\x1b[0m" in flood  # the tail, escaped
    for name in ("forges_a_result", "forges_garbage"):
        assert (
            f"{name}: error: the target's process sent a malformed report while building it" in out
        )
    assert "result.report has no 'build_seconds'" in out
    assert "an event line is not JSON" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "Functional `model\\x1b[31m`" in out
    assert "evil\\x1b[2J\\x1b]0;title\\x07" in out
    assert "padded.keras: error: cannot load" in out
    assert "its config.json is 68,157,442 bytes, more than the 64 MiB" in out
    assert "allocates: error: MemoryError" in out
    assert "limited to 4,294,967,296 bytes by --max-memory" in out
    # every target after a forgery still got its own report
    assert out.rstrip().endswith("6 targets verified: 5 could not be built")

    code, doc = run_json(
        factory("forges_a_valid_result", HOSTILE), factory("escape_names", HOSTILE)
    )
    assert code == 2
    forged, escaped = doc["targets"]
    assert forged["status"] == "error"  # the real answer came too: the first one was forged
    assert forged["error"]["message"].startswith(
        "the target's process sent a malformed report while building it (a result for target 0"
    )
    assert escaped["model"]["name"] == "model\\x1b[31m"
    assert "\x1b" not in json.dumps(doc, ensure_ascii=False)


def _isolation_available() -> bool:
    return bool(processes.network_isolation()[0])


@pytest.mark.skipif(not _isolation_available(), reason="no network namespace here (unshare -n)")
def test_network_namespace_cuts_even_loopback(
    pids_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
    ):
        udp.bind(("127.0.0.1", 0))
        tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        tcp.listen()
        udp.settimeout(0.5)
        tcp.settimeout(0.5)
        monkeypatch.setenv("KERLINT_TEST_PORT", str(udp.getsockname()[1]))
        result = run_verify(
            factory("udp_to_loopback", HOSTILE),
            factory("ctypes_connect_to_loopback", HOSTILE),
            "-q",
        )
        out = result.output
        assert "udp_to_loopback: error: OSError: [Errno 101] Network is unreachable" in out
        assert (
            "ctypes_connect_to_loopback: error: OSError: [Errno 101] Network is unreachable" in out
        )
        assert "network blocked in Python only" not in out
        with pytest.raises(TimeoutError):
            udp.recvfrom(100)
        with pytest.raises(TimeoutError):
            tcp.accept()

        # Without the namespace, only Python's sockets are checked, and loopback is allowed.
        monkeypatch.setenv(processes.NETNS_VARIABLE, "0")
        result = run_verify(factory("udp_to_loopback", HOSTILE), "-q")
        assert result.exit_code == 0, result.output
        assert "network blocked in Python only (KERLINT_VERIFY_NETNS=0)" in result.output
        assert udp.recvfrom(100)[0] == b"kerlint-udp"


def test_python_level_block_refuses_remote_addresses_only() -> None:
    from kerlint.verify.child import is_remote

    assert is_remote(socket.AF_INET, ("192.0.2.1", 53))  # decided, never sent
    assert is_remote(socket.AF_INET6, ("2001:db8::1", 53, 0, 0))
    assert not is_remote(socket.AF_INET, ("127.0.0.1", 53))
    assert not is_remote(socket.AF_INET6, ("::1", 53, 0, 0))
    assert not is_remote(socket.AF_UNIX, "/tmp/socket")
    assert not is_remote(socket.AF_INET, None)


@pytest.mark.slow
def test_ten_thousand_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_numpy(tmp_path, monkeypatch)
    code, doc = run_json(factory("deep", HOSTILE))
    assert code == 0, doc
    [target] = doc["targets"]
    assert len(target["layers"]) == 1 + 1 + 10_000 + 1  # model, input, identities, head
    assert target["totals"]["trainable_weights"] == 2


def test_graph_folds_big_models_and_avoids_huge_pngs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verify_support import STUBS

    use_numpy(tmp_path, monkeypatch)
    monkeypatch.setenv("PYTHONPATH", str(STUBS / "fake_pydot"))
    result = run_verify(
        factory("wide_nested", HOSTILE), factory("flat", HOSTILE), "--graph", "net.png", "-q"
    )
    assert result.exit_code == 0, result.output
    [nested] = tmp_path.glob("net-*hostile.py_wide_nested.png")
    drawn = nested.read_text()
    assert "base" in drawn and "b17" not in drawn  # the 150-layer base is one box
    assert f"hostile.py:wide_nested: graph written to {nested.name}" in result.output
    assert not list(tmp_path.glob("net-*hostile.py_flat.png"))
    [flat] = tmp_path.glob("net-*hostile.py_flat.svg")
    assert f"hostile.py:flat: graph written to {flat.name}" in result.output
    text = run_verify(factory("flat", HOSTILE), "--graph", "one.png").output
    assert "drawn as SVG: a PNG of 161 layers would pass Graphviz's 32,767-pixel limit" in text


def test_graph_tools_are_checked_before_keras_and_both_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    if importlib.util.find_spec("pydot") is not None:
        pytest.skip("pydot is installed here")
    use_numpy(tmp_path, monkeypatch)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    result = run_verify(factory("escape_names", HOSTILE), "--graph", "net.png")
    assert result.exit_code == 2
    assert (
        "--graph needs pydot and Graphviz: pydot is not installed, and Graphviz's `dot` program was not found"
        in result.output
    )
    assert "kerlint verify: keras" not in result.output  # keras was never imported


def test_default_text_report_folds_nested_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_numpy(tmp_path, monkeypatch)
    out = run_verify(factory("wide_nested", HOSTILE)).output
    assert "    base " in out and "150 nested layers not shown" in out
    assert "b17" not in out
    deeper = run_verify(factory("wide_nested", HOSTILE), "--max-depth", "2").output
    assert "      b17 " in deeper


HEADS = FACTORIES / "heads.py"
HEAD_CASES = {
    "softmax_from_logits": "KL101",
    "logits_probability_loss": "KL102",
    "threshold_metrics_on_logits": "KL103",
    "softmax_twice": "KL104",
    "one_unit_categorical": "KL105",
    "softmax_one_unit": "KL106",
    "multilabel_accuracy": "KL107",
}


def test_model_definition_rules_on_the_compiled_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_numpy(tmp_path, monkeypatch)
    clean = ("clean_heads", "clean_logits", "not_compiled", "two_outputs")
    code, doc = run_json(*(f"{HEADS}:{name}" for name in [*HEAD_CASES, *clean]))
    assert code == 1
    found = {t["target"].rsplit(":", 1)[1]: t for t in doc["targets"]}
    lines = HEADS.read_text().splitlines()
    for name, expected in HEAD_CASES.items():
        [line] = [i for i, text in enumerate(lines, 1) if f"# {expected}" in text]
        got = [(d["code"], d["location"]["row"]) for d in found[name]["diagnostics"]]
        assert (expected, line) in got, (name, got)
    assert [d["code"] for d in found["softmax_one_unit"]["diagnostics"]] == ["KL106"]
    threshold = found["threshold_metrics_on_logits"]["diagnostics"][0]["message"]
    assert threshold.startswith(
        "accuracy, AUC on a model trained on logits"
    )  # not BinaryAccuracy(0.0)
    for name in clean:
        assert found[name]["diagnostics"] == [], name
    assert found["softmax_from_logits"]["model"] is not None
    head = found["multilabel_accuracy"]["head"]
    assert (head["activation"], head["units"], head["loss"], head["metrics"]) == (
        "sigmoid",
        5,
        "binary_crossentropy",
        ["accuracy"],
    )
