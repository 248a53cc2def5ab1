"""Factories that attack the parent: leftover processes, floods, forged events, the network.

Each writes what the test needs to check (pids) to the file named by KERLINT_TEST_PIDS.
Network factories only ever talk to 127.0.0.1, on the port in KERLINT_TEST_PORT.
"""

import ctypes
import json
import os
import socket
import struct
import subprocess
import sys
import time

import keras


def _record(**pids):
    with open(os.environ["KERLINT_TEST_PIDS"], "a") as f:
        f.write(json.dumps(pids) + "\n")


def _tiny():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def forks_and_builds():
    pid = os.fork()
    if pid == 0:  # the grandchild: outlives a successful build unless it is killed
        time.sleep(600)
        os._exit(0)
    _record(child=os.getpid(), grandchild=pid)
    return _tiny()


def setsid_and_hangs():
    helper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
    )
    _record(child=os.getpid(), grandchild=helper.pid)
    time.sleep(600)


def double_forks_and_hangs():
    """A grandchild in its own session whose parent exits: reparented, not in the group."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            time.sleep(600)
            os._exit(0)
        _record(child=os.getppid(), grandchild=grandchild)
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(600)


def floods_and_aborts():
    chunk = "x" * 1023 + "\n"
    for _ in range(20 * 1024):  # 20 MiB of output, then the line that explains the crash
        sys.stdout.write(chunk)
    print("the last words \x1b[31mred\x1b[0m")
    sys.stdout.flush()
    os.abort()


def _events_file():
    return sys.argv[2]  # the child is `python -m kerlint.verify.child REQUEST EVENTS`


def forges_a_result():
    with open(_events_file(), "a") as f:
        f.write(json.dumps({"event": "result", "id": 0, "report": {}}) + "\n")
    return _tiny()


def forges_garbage():
    with open(_events_file(), "a") as f:
        f.write("this is not json\n")
    return _tiny()


def escape_names():
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2, name="evil\x1b[2J\x1b]0;title\x07")(inputs)
    return keras.Model(inputs, outputs, name="model\x1b[31m")


def allocates():
    return bytearray(6 * 1024**3)  # 6 GiB: more than --max-memory allows


def _port():
    return int(os.environ["KERLINT_TEST_PORT"])


def udp_to_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"kerlint-udp", ("127.0.0.1", _port()))
    return _tiny()


def ctypes_connect_to_loopback():
    """connect() straight through libc, past any Python-level socket hook."""
    libc = ctypes.CDLL(None, use_errno=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    address = struct.pack("!HH4s8x", socket.AF_INET, _port(), socket.inet_aton("127.0.0.1"))
    address = struct.pack("=H", socket.AF_INET) + address[2:]  # sa_family in host order
    result = libc.connect(sock.fileno(), address, len(address))
    if result != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    sock.sendall(b"kerlint-tcp")
    sock.close()
    return _tiny()


def deep(layers=10_000):
    x = inputs = keras.Input((2,))
    for _ in range(layers):
        x = keras.layers.Identity()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


def wide_nested(layers=150):
    base = keras.Sequential(
        [keras.Input((4,))] + [keras.layers.Dense(4, name=f"b{i}") for i in range(layers)],
        name="base",
    )
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(base(inputs)))


def flat(layers=160):
    return keras.Sequential([keras.Input((4,))] + [keras.layers.Dense(4) for _ in range(layers)])


def forges_a_valid_result():
    """A well-formed report for its own target, before the real one."""
    with open(sys.argv[1]) as f:
        [target] = [t for t in json.load(f)["targets"] if t["function"] == "forges_a_valid_result"]
    totals = dict.fromkeys(
        (
            "weights",
            "trainable_weights",
            "non_trainable_weights",
            "params",
            "trainable_params",
            "non_trainable_params",
        ),
        0,
    )
    report = {
        "def_site": None,
        "build_seconds": 0.0,
        "models": [
            {
                "model": {"name": "forged", "class": "Sequential", "trainable": True},
                "layers": [],
                "totals": totals,
                "findings": [],
            }
        ],
        "notes": [],
        "warnings": [],
        "calls": [],
        "graph": None,
    }
    with open(_events_file(), "a") as f:
        f.write(json.dumps({"event": "result", "id": target["id"], "report": report}) + "\n")
        f.flush()
    time.sleep(0.5)  # the parent reads the forged result first
    return _tiny()
