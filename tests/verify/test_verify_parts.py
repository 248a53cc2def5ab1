"""`kerlint verify` pieces that need no keras: targets, config, expectations, snapshot, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from verify_support import STUBS, run_verify, use_numpy

from kerlint.diagnostics import Diagnostic, Location
from kerlint.verify import expectations as exp
from kerlint.verify import snapshot as snap
from kerlint.verify.confirm import confirm_diagnostics, enclosing_function, judge, module_functions
from kerlint.verify.report import TargetResult, diagnostics_from, exit_code, layer_table, summary
from kerlint.verify.runner import BuildError, Outcome
from kerlint.verify.targets import (
    Target,
    VerifyConfigError,
    configured_backend,
    load_config,
    parse_kwargs,
    parse_target,
)

# -- targets ---------------------------------------------------------------------------------


def test_parse_file_module_and_saved_targets(tmp_path: Path) -> None:
    t = parse_target("src/models.py:build", base=tmp_path, kwargs={"num_classes": 10})
    assert (t.kind, t.path, t.function) == ("file", str(tmp_path / "src/models.py"), "build")
    assert t.label == "src/models.py:build(num_classes=10)"
    assert t.sys_path == [str(tmp_path.resolve())]
    t = parse_target("pkg.models:Factory.build", base=tmp_path)
    assert (t.kind, t.module, t.function, t.label) == (
        "module",
        "pkg.models",
        "Factory.build",
        "pkg.models:Factory.build",
    )
    t = parse_target("out/model.keras", base=tmp_path, name="exported")
    assert (t.kind, t.path, t.label) == ("saved", str(tmp_path / "out/model.keras"), "exported")
    assert parse_target("legacy.H5", base=tmp_path).kind == "saved"


@pytest.mark.parametrize("text", ["", "models.py", "models.py:", "models.py:1bad", "a b:c"])
def test_bad_targets_are_usage_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(click.UsageError):
        parse_target(text, base=tmp_path)


def test_kwargs_must_be_a_json_object() -> None:
    assert parse_kwargs('{"num_classes": 10}') == {"num_classes": 10}
    assert parse_kwargs(None) == {}
    for bad in ("[1]", "{nope"):
        with pytest.raises(VerifyConfigError):
            parse_kwargs(bad)


def test_configured_backend_order(tmp_path: Path) -> None:
    home = tmp_path / "kh"
    home.mkdir()
    (home / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert configured_backend({"KERAS_BACKEND": "torch", "KERAS_HOME": str(home)}) == (
        "torch",
        "KERAS_BACKEND",
    )
    assert configured_backend({"KERAS_HOME": str(home)}) == ("jax", str(home / "keras.json"))
    assert configured_backend({"KERAS_HOME": str(tmp_path / "none")}) == (None, "keras' default")


# -- configuration ---------------------------------------------------------------------------

CONFIG = """
[tool.kerlint]
select = ["KL"]

[tool.kerlint.verify]
backend = "numpy"
timeout = 30
weights = "keep"
max-memory = "3G"
snapshot = "locks/verify.json"
ignore = ["kl012"]
targets = [
  "models.py:small",
  { target = "models.py:build", kwargs = { num_classes = 10 }, expect = { trainable_weights = 4, frozen = ["base*"], trainable = "head" } },
  { target = "export/model.keras", name = "exported" },
]
"""


def test_config_table_is_read_and_relative_to_its_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(CONFIG)
    sub = tmp_path / "src"
    sub.mkdir()
    config = load_config(sub)
    assert config.path == tmp_path / "pyproject.toml"
    assert (config.backend, config.timeout, config.weights) == ("numpy", 30.0, "keep")
    assert config.snapshot == tmp_path / "locks/verify.json"
    assert config.ignore == ["KL012"]
    assert config.max_memory == 3 * 1024**3
    small, build, exported = config.targets
    assert small.path == str(tmp_path / "models.py") and small.function == "small"
    assert build.kwargs == {"num_classes": 10} and build.label == "models.py:build(num_classes=10)"
    assert build.expect.counts == {"trainable_weights": 4}
    assert (build.expect.frozen, build.expect.trainable) == (["base*"], ["head"])
    assert (exported.kind, exported.label) == ("saved", "exported")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('backend = "theano"', "backend must be one of"),
        ("timeout = -1", "timeout must be a positive number"),
        ('weights = "imagenet"', 'weights must be "none" or "keep"'),
        ("colour = 1", "unknown key(s) colour"),
        ("targets = [1]", "a target is a string or a table"),
        (
            'targets = [{ target = "m.py:f", expect = { trainable = 1 } }]',
            "trainable must be a list",
        ),
        (
            'targets = [{ target = "m.py:f", expect = { trainable_weight = 1 } }]',
            "unknown key(s) trainable_weight",
        ),
        ('targets = [{ target = "m.py:f", kwarg = {} }]', "unknown key(s) kwarg"),
        ("targets = [{ kwargs = {} }]", "`target` (a string) is required"),
        ('max-memory = "lots"', "max-memory: --max-memory takes a size like 4G"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.kerlint.verify]\n{table}\n")
    with pytest.raises(VerifyConfigError, match=None) as info:
        load_config(tmp_path)
    assert message in str(info.value)


def test_command_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    no_targets = run_verify()
    assert no_targets.exit_code == 2 and "no TARGET given" in no_targets.output
    assert run_verify("m.py:f", "--expect", "trainable=3").exit_code == 2
    assert run_verify("m.py:f", "--kwargs", "[]").exit_code == 2
    assert run_verify("m.py:f", "--update-snapshot").exit_code == 2
    assert run_verify("m.py:f", "--graph", "model.txt").exit_code == 2
    assert run_verify("m.py:f", "--ignore", "E501").exit_code == 2
    (tmp_path / "pyproject.toml").write_text("[tool.kerlint.verify]\ncolour = 1\n")
    bad = run_verify("m.py:f")
    assert bad.exit_code == 2 and "unknown key(s) colour" in bad.output


def test_missing_files_are_reported_without_starting_keras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_verify("nowhere.py:build", "gone.keras")
    assert result.exit_code == 2
    assert "nowhere.py:build: error: no such file" in result.output
    assert "gone.keras: error: no such file" in result.output
    assert "2 targets verified: 2 could not be built" in result.output


def test_importing_the_command_does_not_import_keras() -> None:
    code = (
        "import sys, kerlint.verify.command, kerlint.verify.confirm\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- expectations ----------------------------------------------------------------------------


def _row(
    path: str,
    cls: str = "Dense",
    trains: int = 2,
    not_trained: int = 0,
    trainable: bool = True,
    depth: int = 1,
) -> dict:
    return {
        "path": path,
        "name": path.rsplit("/", 1)[-1],
        "class": cls,
        "depth": depth,
        "is_model": cls in ("Functional", "Sequential"),
        "trainable": trainable,
        "weights": trains + not_trained,
        "trainable_weights": trains,
        "non_trainable_weights": not_trained,
        "keras_trainable_weights": trains,
        "params": 10 * (trains + not_trained),
        "trainable_params": 10 * trains,
        "non_trainable_params": 10 * not_trained,
        "batchnorm": {"inference_mode": not trainable} if cls == "BatchNormalization" else None,
        "called_with_training_false": [],
    }


MODEL = {
    "model": {"name": "m", "class": "Functional", "trainable": True},
    "totals": {
        "weights": 8,
        "trainable_weights": 4,
        "non_trainable_weights": 4,
        "params": 80,
        "trainable_params": 40,
        "non_trainable_params": 40,
    },
    "layers": [
        {**_row("", "Functional", 4, 4, depth=0), "name": "m"},
        _row("input_layer", "InputLayer", 0, 0),
        _row("base", "Sequential", 0, 4, trainable=False),
        _row("base/b0", trains=0, not_trained=2, trainable=False, depth=2),
        _row("base/bn", "BatchNormalization", 0, 2, trainable=False, depth=2),
        _row("head"),
        _row("head_2"),
    ],
    "findings": [],
}


def test_parse_expect_option() -> None:
    assert exp.parse_expect_option("trainable_weights=4") == ("trainable_weights", 4)
    assert exp.parse_expect_option("non-trainable-params=25,636,712") == (
        "non_trainable_params",
        25636712,
    )
    for bad in ("trainable=4", "trainable_weights", "trainable_weights=four", "params=-1"):
        with pytest.raises(ValueError):
            exp.parse_expect_option(bad)


def test_expectations_pass_and_fail_with_expected_and_actual() -> None:
    ok = exp.check(MODEL, exp.Expectations({"trainable_weights": 4}, ["base*"], ["head*"]))
    assert all(o.ok for o in ok) and len(ok) == 3
    failed = exp.check(
        MODEL, exp.Expectations({"non_trainable_params": 1}, ["head*"], ["base/*", "nothing*"])
    )
    assert [o.ok for o in failed] == [False, False, False, False]
    assert failed[0].describe() == "expected non_trainable_params = 1, got 40"
    assert (
        failed[1].describe()
        == "expected frozen 'head*' = all 2 frozen, got 2 of 2 trainable (trainable: head, head_2)"
    )
    assert failed[2].actual == "2 of 2 frozen"
    assert failed[3].detail == "no layer with weights matches"


def test_patterns_skip_weightless_layers_and_merge() -> None:
    only_input = exp.check(MODEL, exp.Expectations(frozen=["input*"]))
    assert not only_input[0].ok and only_input[0].detail == "no layer with weights matches"
    merged = exp.Expectations({"weights": 1}, ["a"]).merged(
        exp.Expectations({"weights": 2}, ["a", "b"], ["c"])
    )
    assert merged == exp.Expectations({"weights": 2}, ["a", "b"], ["c"])


# -- snapshot --------------------------------------------------------------------------------


def test_snapshot_round_trip_is_one_line_per_layer(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    entry = snap.entry(MODEL)
    assert "" not in entry["layers"]  # the root is described by "model", not as a layer
    snap.write(path, {"b:target": entry, "a:target": entry})
    text = path.read_text()
    assert text.index('"a:target"') < text.index('"b:target"')
    assert (
        '        "base/b0": {"class": "Dense", "trainable": false, "trainable_weights": 0, "non_trainable_weights": 2},'
        in text
    )
    loaded = snap.load(path)
    assert loaded == json.loads(text)["targets"]
    assert snap.drift(loaded["a:target"], entry) == []


def test_snapshot_drift_lines() -> None:
    old = snap.entry(MODEL)
    changed = json.loads(json.dumps(MODEL))
    changed["totals"]["trainable_weights"] = 6
    changed["layers"][3]["trainable"] = True
    changed["layers"][3]["trainable_weights"], changed["layers"][3]["non_trainable_weights"] = 2, 0
    changed["layers"].pop()  # head_2 removed
    changed["layers"].append(_row("new_head"))
    lines = snap.drift(old, snap.entry(changed))
    assert lines == [
        "trainable_weights: 4 -> 6",
        "~ base/b0 (Dense): trainable=False, 0 trained / 2 not -> trainable, 2 trained / 0 not",
        "+ new_head (Dense): trainable, 2 trained / 0 not",
        "- head_2 (Dense): trainable, 2 trained / 0 not",
    ]
    assert snap.drift(None, old) == ["not in the snapshot yet (record it with --update-snapshot)"]


def test_bad_snapshot_files(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    assert snap.load(path) is None
    path.write_text("{not json")
    with pytest.raises(snap.SnapshotError, match="not valid JSON"):
        snap.load(path)
    path.write_text('{"version": 1}')
    with pytest.raises(snap.SnapshotError, match="not a kerlint verify snapshot"):
        snap.load(path)


# -- report ----------------------------------------------------------------------------------


def _result(report: dict | None = None, error: BuildError | None = None, **kwargs) -> TargetResult:
    return TargetResult(
        Target(label="m.py:f", kind="file"),
        Outcome(Target(label="m.py:f", kind="file"), report, error),
        **kwargs,
    )


def test_layer_table_indents_and_hides_deep_layers() -> None:
    table = layer_table(MODEL)
    assert table[0].split() == [
        "layer",
        "class",
        "trainable",
        "trains",
        "does",
        "not",
        "params",
        "BatchNorm",
        "note",
    ]
    assert table[1].startswith("m ")
    assert table[3].startswith("  base ")
    assert table[4].startswith("    b0 ")
    assert "inference" in table[5]
    short = layer_table(MODEL, max_depth=1)
    assert len(short) == 6 and short[3].endswith("2 nested layers not shown")


def test_exit_codes_and_summary() -> None:
    ok = _result({"models": [MODEL]})
    failed = _result({"models": [MODEL]}, expectations=[exp.Outcome("weights", 1, 8, False)])
    drift = _result({"models": [MODEL]}, snapshot="drift", drift=["x"])
    error = _result(error=BuildError("timeout", "too slow"))
    assert [r.status for r in (ok, failed, drift, error)] == ["ok", "failed", "failed", "error"]
    assert exit_code([ok]) == 0
    assert exit_code([ok, failed]) == 1
    assert exit_code([failed, error]) == 2
    assert summary([ok]) == "1 target verified: all good"
    assert summary([ok, failed, drift, error]) == (
        "4 targets verified: 1 unmet expectation, 1 with snapshot drift, 1 could not be built"
    )


def test_findings_become_diagnostics_minus_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    finding = {
        "code": "KL004",
        "message": "m",
        "file": str(tmp_path / "m.py"),
        "line": 3,
        "column": 5,
        "counts": {},
        "layers": [],
    }
    report = {"models": [{**MODEL, "findings": [finding, {**finding, "code": "KL012"}]}]}
    [d] = diagnostics_from(report, {"KL012"})
    assert (d.code, d.filename, d.location) == ("KL004", "m.py", Location(3, 5))


# -- check --verify helpers ------------------------------------------------------------------

SOURCE = """\
import keras

model = keras.Sequential()

@decorator
def build():
    base = make()
    base.trainable = False
    return base

def needs(n):
    pass

def defaults(n=1, *, k=2, **kw):
    pass

class K:
    def method(self):
        pass
"""


def test_enclosing_module_level_function() -> None:
    names = {f.name: f for f in module_functions(SOURCE)}
    assert (
        names["build"].first,
        names["build"].last,
        names["build"].callable_without_arguments,
    ) == (5, 9, True)
    assert not names["needs"].callable_without_arguments
    assert names["defaults"].callable_without_arguments
    assert enclosing_function(SOURCE, 8).name == "build"
    assert enclosing_function(SOURCE, 3) is None
    assert enclosing_function(SOURCE, 19) is None  # methods are not module-level functions


def test_confirm_without_a_buildable_function_needs_no_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SOURCE)
    at = Location
    diagnostics = [
        Diagnostic("KL002", "x", "m.py", at(3, 1), at(3, 5)),
        Diagnostic("KL004", "x", "m.py", at(12, 5), at(12, 9)),
        Diagnostic("KL003", "x", "nb.ipynb", at(1, 1), at(1, 2), cell=2),
        Diagnostic("KL008", "x", "m.py", at(8, 5), at(8, 9)),
        Diagnostic("KL012", "x", "gone.py", at(8, 5), at(8, 9)),
    ]
    out = confirm_diagnostics(diagnostics, timeout=5, backend="numpy")
    statuses = [d.verification and d.verification["status"] for d in out]
    assert statuses == ["error", "error", "error", None, "error"]
    assert out[4].verification["detail"] == "cannot read gone.py"
    assert "not inside a module-level function" in out[0].verification["detail"]
    assert out[1].verification["detail"] == "needs() needs arguments, so it was not built"
    assert out[1].verification["target"] == "m.py:needs"
    assert "notebook" in out[2].verification["detail"]
    assert out[3] == diagnostics[3]


def test_judge_marks_confirmed_not_confirmed_and_error() -> None:
    target = Target(label="m.py:build", kind="file", function="build")
    d = Diagnostic("KL012", "x", "m.py", Location(8, 5), Location(8, 9))
    finding = {
        "code": "KL012",
        "subject": "base",
        "file": "m.py",
        "line": 8,
        "column": 5,
        "counts": {
            "trainable_layers_under_frozen": 1,
            "trained_weights": 2,
            "keras_reported_trainable_weights": 0,
        },
        "layers": ["base/b1"],
        "message": "",
    }
    confirmed = judge(d, Outcome(target, {"models": [{**MODEL, "findings": [finding]}]}))
    assert confirmed == {
        "status": "confirmed",
        "target": "m.py:build",
        "detail": "1 layers under frozen `base` will train (2 weights; the sub-model reports 0)",
        "counts": finding["counts"],
    }
    not_confirmed = judge(d, Outcome(target, {"models": [MODEL]}))
    assert not_confirmed["status"] == "not confirmed"
    error = judge(d, Outcome(target, error=BuildError("exception", "ValueError: boom")))
    assert error["status"] == "error" and "ValueError: boom" in error["detail"]
    nothing = judge(d, Outcome(target, {"models": []}))
    assert nothing["status"] == "error" and "built no model" in nothing["detail"]


def test_missing_keras_gives_a_one_line_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_numpy(tmp_path, monkeypatch)
    monkeypatch.setenv(
        "PYTHONPATH", str(STUBS / "no_keras") + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    (tmp_path / "m.py").write_text("def build():\n    pass\n")
    result = run_verify("m.py:build")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "kerlint verify: error: keras is not installed here; kerlint verify needs it: pip install 'kerlint[verify]'"
    )
    monkeypatch.setenv("PYTHONPATH", str(STUBS / "no_backend"))
    result = run_verify("m.py:build", "--backend", "torch")
    assert result.exit_code == 2
    assert "keras cannot import its torch backend (no module named 'torch'" in result.output
    assert "(backend torch from --backend)" in result.output
    result = run_verify("m.py:build", "--backend", "torch", "--format", "json")
    document = json.loads(result.output)
    assert result.exit_code == 2 and document["exit_code"] == 2
    assert "keras cannot import its torch backend" in document["error"]


def test_config_file_option_reads_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.kerlint.verify]\ntargets = ["here.py:f"]\n')
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "verify.toml").write_text(
        '[tool.kerlint.verify]\ntargets = ["there.py:f"]\n'
    )
    result = run_verify("--config", "ci/verify.toml")
    assert result.exit_code == 2
    assert f"there.py:f: error: no such file: {tmp_path / 'ci' / 'there.py'}" in result.output
    assert "here.py:f" not in result.output.replace("there.py:f", "")
