"""The parent's side of the child protocol: validation, escaping, bounded reads (no keras)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from kerlint.verify import runner
from kerlint.verify.protocol import Malformed, escape_controls, sanitize, validate_event
from kerlint.verify.targets import VerifyConfigError, parse_size

ROW = {
    "path": "dense",
    "name": "dense",
    "class": "Dense",
    "depth": 1,
    "is_model": False,
    "trainable": True,
    "weights": 2,
    "trainable_weights": 2,
    "non_trainable_weights": 0,
    "keras_trainable_weights": 2,
    "params": 8,
    "trainable_params": 8,
    "non_trainable_params": 0,
    "batchnorm": None,
    "called_with_training_false": [],
}
TOTALS = {
    k: ROW[k]
    for k in (
        "weights",
        "trainable_weights",
        "non_trainable_weights",
        "params",
        "trainable_params",
        "non_trainable_params",
    )
}


def result(**report_changes: object) -> dict:
    report = {
        "def_site": None,
        "build_seconds": 0.1,
        "models": [
            {
                "model": {"name": "m", "class": "Sequential", "trainable": True},
                "layers": [ROW],
                "totals": TOTALS,
                "findings": [],
            }
        ],
        "notes": [],
        "warnings": [],
        "calls": [],
        "graph": None,
    }
    report.update(report_changes)
    return {"event": "result", "id": 0, "report": report}


def test_a_valid_result_passes_and_its_strings_are_escaped() -> None:
    event = result(notes=["name \x1b[2J here\n"])
    event["report"]["models"][0]["model"]["name"] = "m\x1b]0;title\x07\u202e"
    checked = validate_event(event)
    assert checked["report"]["notes"] == ["name \\x1b[2J here\\x0a"]
    assert checked["report"]["models"][0]["model"]["name"] == "m\\x1b]0;title\\x07\\u202e"
    assert event["report"]["notes"] == ["name \x1b[2J here\n"]  # a copy


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ([], "an event is not a JSON object"),
        ({"event": "hello"}, "unknown event 'hello'"),
        ({"event": "result", "id": 0, "report": {}}, "result.report has no 'build_seconds'"),
        (result(models=[]), "result.report.models is empty"),
        (result(models=[{"model": {}}]), "result.report.models[0] has no 'layers'"),
        (result(notes="x"), "result.report.notes is not a list"),
        (result(build_seconds=True), "result.report.build_seconds is not a int or float"),
        ({"event": "start", "id": "0"}, "start.id is not a int"),
        ({"event": "start", "id": True}, "start.id is not a int"),
    ],
)
def test_malformed_events_say_what_is_wrong(event: object, problem: str) -> None:
    with pytest.raises(Malformed) as caught:
        validate_event(event)
    assert str(caught.value) == problem


def test_confirm_mode_accepts_a_result_with_no_model() -> None:
    assert validate_event(result(models=[]), mode="confirm")["report"]["models"] == []


def test_escaping_keeps_lines_for_tracebacks_and_is_iterative() -> None:
    assert escape_controls("a\tb\nc\rd\x1b", keep_lines=True) == "a\tb\nc\\x0dd\\x1b"
    deep: list = []
    node = deep
    for _ in range(50_000):
        node.append([])
        node = node[0]
    node.append("\x1b")
    value = sanitize(deep)
    for _ in range(50_000):
        value = value[0]
    assert value == ["\\x1b"]


def test_the_conversation_follows_the_order_of_the_request() -> None:
    talk = runner._Conversation([3, 4], "verify")
    ready = {
        "event": "ready",
        "keras_version": "3",
        "backend": "numpy",
        "import_seconds": 1,
        "python": "3.11",
    }
    with pytest.raises(Malformed, match="before keras was imported"):
        talk.accept({"event": "start", "id": 3})
    talk.accept(ready)
    with pytest.raises(Malformed, match="a second 'ready'"):
        talk.accept(ready)
    with pytest.raises(Malformed, match="an unexpected start of target 4"):
        talk.accept({"event": "start", "id": 4})
    talk.accept({"event": "start", "id": 3})
    with pytest.raises(Malformed, match="a result for target 4, which is not being built"):
        talk.accept({**result(), "id": 4})
    talk.accept({"event": "error", "id": 3, "message": "boom"})
    with pytest.raises(Malformed, match="'done' before every target was built"):
        talk.accept({"event": "done"})


def test_the_log_tail_reads_only_its_end(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with open(log, "wb") as f:
        block = b"x" * 1023 + b"\n"
        for _ in range(40 * 1024):  # 40 MiB
            f.write(block)
        f.write(b"the last line \x1b[31m\n")
    tracemalloc.start()
    try:
        tail = runner._tail(log)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tail.endswith("the last line \\x1b[31m")
    assert len(tail.splitlines()) == 15
    assert peak < 4 * runner.TAIL_BYTES


def test_an_endless_event_line_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "MAX_EVENT_BYTES", 1000)
    monkeypatch.setattr(runner, "_READ_CHUNK", 300)
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"event": "done"}) + "\n" + "x" * 5000)
    reader = runner._EventReader(events)
    seen = reader.read()
    assert seen == [{"event": "done"}]
    with pytest.raises(Malformed, match="longer than 1000 bytes"):
        while reader.has_more():
            reader.read()


def test_garbage_ends_the_events_read_after_the_good_ones(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"event": "done"}\nnot json\n{"event": "done"}\n')
    first, second = runner._EventReader(events).read()
    assert first == {"event": "done"} and isinstance(second, Malformed)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4G", 4 * 1024**3),
        ("512M", 512 * 1024**2),
        ("1.5GiB", int(1.5 * 1024**3)),
        ("100000000", 100000000),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "10M", "-4G"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(VerifyConfigError):
        parse_size(text)
