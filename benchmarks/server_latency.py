"""How long an editor waits: from `textDocument/didChange` to `publishDiagnostics`.

    python benchmarks/server_latency.py              # 30 edits of a 200-line document
    python benchmarks/server_latency.py --edits 100 --lines 400

Starts `kerlint server` in a subprocess, as an editor does, with pygls's client (the
`server` extra), opens a realistic 200-line fine-tuning script (functions, a class, loops,
KL003/KL008/KL012 findings), then edits one line back and forth (a KL008 appears and goes)
and times each edit until the diagnostics of that version arrive. The server's own pause
before it checks a change (50 ms by default, `debounceMs` in the initialization options) is
part of the latency, as it is in an editor; `--debounce-ms 0` shows the check alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.250

_BLOCK = """

def build_{n}(num_classes):
    base = keras.applications.ResNet50V2(weights=None, include_top=False, pooling="avg")
    base.trainable = False
    out = keras.layers.Dense(num_classes)(base.output)
    return keras.Model(base.input, out), base


def compile_{n}(model, lr):
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")


def unfreeze_{n}(base, count):
    for layer in base.layers[-count:]:
        if not isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = True


class FineTuner{n}:
    def __init__(self, num_classes):
        self.base = keras.applications.EfficientNetB0(weights=None, include_top=False)
        self.base.trainable = False
        inputs = keras.Input((224, 224, 3))
        x = self.base(inputs, training=False)
        x = layers.GlobalAveragePooling2D()(x)
        self.model = keras.Model(inputs, layers.Dense(num_classes)(x))

    def train_head(self, ds):
        self.model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        self.model.fit(ds, epochs=5)

    def finetune(self, ds):
        self.base.trainable = True
        self.model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        self.model.fit(ds, epochs=5)


def run_{n}(ds, x, y):
    model, base = build_{n}(5)
    compile_{n}(model, 1e-3)
    model.fit(x, y, epochs=3)
    unfreeze_{n}(base, 20)
    compile_{n}(model, 1e-5)
    model.fit(x, y, epochs=3)
    tuner = FineTuner{n}(10)
    tuner.train_head(ds)
    tuner.finetune(ds)
"""

EDITED = "# <the edited line>"


def document(lines: int) -> str:
    """A fine-tuning script of exactly `lines` lines (whole blocks, then comments), with one
    line to edit in the middle."""
    head = "import keras\nfrom keras import layers\n"
    edited = f"\n\nedited_model = keras.Sequential([keras.layers.Dense(2)])\n{EDITED}\n"
    blocks: list[str] = []
    n = 0
    while (head + edited + "".join(blocks) + _BLOCK.format(n=n)).count("\n") <= lines:
        blocks.append(_BLOCK.format(n=n))
        n += 1
    blocks.insert(len(blocks) // 2, edited)
    text = head + "".join(blocks)
    return text + "# padding\n" * (lines - text.count("\n"))


async def measure(lines: int, edits: int, debounce_ms: float | None) -> list[float]:
    client = LanguageClient("kerlint-latency", "1")
    arrived: dict[int, float] = {}
    kl008: dict[int, bool] = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        if params.version is not None:
            arrived.setdefault(params.version, time.perf_counter())
            kl008[params.version] = any(d.code == "KL008" for d in params.diagnostics)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    await client.start_io(
        sys.executable, "-m", "kerlint", "server", "--log-level", "warning", env=env
    )
    options = {} if debounce_ms is None else {"debounceMs": debounce_ms}
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=ROOT.as_uri(),
            initialization_options=options,
        )
    )
    client.initialized(types.InitializedParams())
    template = document(lines)
    uri = (ROOT / "benchmarks" / "latency_document.py").as_uri()
    bad = template.replace(EDITED, 'edited_model.trainable = "False"')
    good = template.replace(EDITED, "edited_model.trainable = False")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, good))
    )
    await _wait(arrived, 1)
    pid = client._server.pid
    cpu_before = _cpu_seconds(pid)
    latencies = []
    for version in range(2, edits + 2):
        text = bad if version % 2 else good
        sent = time.perf_counter()
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                [types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        await _wait(arrived, version)
        latencies.append(arrived[version] - sent)
        await asyncio.sleep(0.05)  # a typist's pause: each edit is checked on its own
    cpu_after = _cpu_seconds(pid)
    if cpu_before is not None and cpu_after is not None:
        CPU_PER_EDIT.append((cpu_after - cpu_before) / edits)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    # The edits were really checked: KL008 comes with the odd versions and goes with the even.
    wrong = [v for v in range(2, edits + 2) if kl008.get(v) != bool(v % 2)]
    if wrong:
        raise SystemExit(f"wrong diagnostics for versions {wrong}")
    return latencies


CPU_PER_EDIT: list[float] = []


def _cpu_seconds(pid: int) -> float | None:
    """The server's user + system CPU time so far (Linux), which a busy machine does not inflate."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _wait(arrived: dict[int, float], version: int, timeout: float = 60) -> None:
    deadline = time.perf_counter() + timeout
    while version not in arrived:
        if time.perf_counter() > deadline:
            raise SystemExit(f"no diagnostics for version {version} within {timeout} s")
        await asyncio.sleep(0.001)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--debounce-ms", type=float, default=None, help="default: the server's")
    args = parser.parse_args()
    latencies = asyncio.run(measure(args.lines, args.edits, args.debounce_ms))
    ms = sorted(1000 * t for t in latencies)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    print(f"{args.lines}-line document, {len(ms)} edits, didChange -> publishDiagnostics:")
    print(
        f"  median {statistics.median(ms):.0f} ms, p90 {p90:.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms"
    )
    if CPU_PER_EDIT:
        print(f"  server CPU time per edit: {1000 * CPU_PER_EDIT[0]:.0f} ms")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  load average {load:.1f} on {os.cpu_count()} cores")
    met = statistics.median(ms) / 1000 < TARGET_SECONDS
    print(f"  target: median under {TARGET_SECONDS * 1000:.0f} ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
