"""`kerlint verify` end to end: models built by keras (numpy backend) in the child process.

Each `run_*` call starts one child (about 1.3 s, mostly `import keras`), so the tests
build many targets per call.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from verify_support import (
    FACTORIES,
    STUBS,
    by_target,
    factory,
    requires_keras,
    run_json,
    run_verify,
    use_numpy,
)

from kerlint.diagnostics import Diagnostic, Location
from kerlint.verify.confirm import confirm_diagnostics

MODELS = FACTORIES / "models.py"


def line_of(snippet: str, path: Path = MODELS) -> int:
    """The 1-based line of the only line holding `snippet`."""
    [line] = [i for i, text in enumerate(path.read_text().splitlines(), 1) if snippet in text]
    return line


def codes(target: dict) -> list[tuple[str, int]]:
    return sorted((d["code"], d["location"]["row"]) for d in target["diagnostics"])


def layer(target: dict, path: str) -> dict:
    [row] = [r for r in target["layers"] if r["path"] == path]
    return row


pytestmark = requires_keras


def test_seed_example_and_module_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_numpy(tmp_path, monkeypatch)
    monkeypatch.chdir(FACTORIES)  # `mypkg.nets` imports from the working directory
    code, doc = run_json(factory("seed"), "mypkg.nets:build")
    assert code == 0, doc
    assert (doc["backend"], doc["backend_source"], doc["weights"]) == (
        "numpy",
        "KERAS_BACKEND",
        "none",
    )
    seed, nets = doc["targets"]
    assert [(r["name"], r["trainable_weights"]) for r in seed["layers"][1:]] == [
        ("dense", 0),
        ("dense_1", 2),
        ("dense_2", 2),
    ]
    assert seed["totals"] == {
        "weights": 6,
        "trainable_weights": 4,
        "non_trainable_weights": 2,
        "params": 52650,
        "trainable_params": 2410,
        "non_trainable_params": 50240,
    }
    assert seed["diagnostics"] == [] and seed["status"] == "ok"
    assert any("input_shape" in w for w in seed["warnings"])  # W-INSHAPE, as in RESULTS.md
    assert nets["target"] == "mypkg.nets:build"
    assert layer(nets, "head")["params"] == 5 * 3 + 3


def test_resnet50_known_figures_from_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_numpy(tmp_path, monkeypatch)
    (tmp_path / "pyproject.toml").write_text(
        f"""
[tool.kerlint.verify]
ignore = ["KL002"]

[[tool.kerlint.verify.targets]]
target = "{MODELS}:resnet50"
name = "resnet50"
expect = {{ weights = 320, trainable_weights = 214, non_trainable_weights = 106, params = 25636712, trainable = ["conv1_conv", "*_bn"] }}

[[tool.kerlint.verify.targets]]
target = "{MODELS}:resnet50_frozen"
name = "frozen"
expect = {{ trainable_weights = 0, non_trainable_weights = 320, frozen = ["*"] }}
"""
    )
    code, doc = run_json("--expect", "weights=320")
    assert code == 0, json.dumps(doc["targets"][0]["expectations"], indent=1)
    resnet, frozen = doc["targets"]
    assert (
        resnet["totals"]["trainable_params"] + resnet["totals"]["non_trainable_params"]
        == 25_636_712
    )
    assert sorted(e["check"] for e in resnet["expectations"]) == [
        "non_trainable_weights",
        "params",
        "trainable '*_bn'",
        "trainable 'conv1_conv'",
        "trainable_weights",
        "weights",
    ]
    assert all(e["ok"] for t in doc["targets"] for e in t["expectations"])
    assert any(
        "ResNet50 was built with weights=None instead of 'imagenet'" in n for n in resnet["notes"]
    )
    assert frozen["notes"] == []  # weights=None was the user's own choice
    bn = layer(resnet, "conv1_bn")
    assert bn["batchnorm"] == {"inference_mode": False}
    assert layer(frozen, "conv1_bn")["batchnorm"] == {"inference_mode": True}
    assert frozen["diagnostics"] == []  # KL002 is ignored in the config


def test_runtime_checks_point_at_the_line_and_confirm_the_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_numpy(tmp_path, monkeypatch)
    names = [
        "clean",
        "frozen_input_layer",
        "frozen_dropout_alone",
        "frozen_first_layers",
        "guide_training_false",
        "guide_bn_refrozen",
        "mobilenet_last_layers",
        "child_under_frozen_base",
        "compiled_then_frozen",
        "trained_then_unfrozen",
        "fit_freeze_fit",
        "recompiled_after_change",
        "keras2_gan",
        "keras3_gan",
        "resnet50_frozen",
        "FrozenClassifier",
        "not_a_model",
    ]
    code, doc = run_json(*(factory(n) for n in names))
    assert code == 2  # not_a_model could not be verified
    t = {label.rsplit(":", 1)[1]: target for label, target in by_target(doc).items()}
    assert codes(t["clean"]) == []
    # Dropout's call() defaults to training=False: a plain call is not "called with training=False".
    assert layer(t["clean"], "dropout")["called_with_training_false"] == []
    assert codes(t["frozen_input_layer"]) == [
        ("KL004", line_of("model.layers[0].trainable = False  # KL004"))
    ]
    assert (
        "layers[0] of the functional model" in t["frozen_input_layer"]["diagnostics"][0]["message"]
    )
    assert codes(t["frozen_dropout_alone"]) == [
        ("KL004", line_of('get_layer("dropout").trainable = False'))
    ]
    assert codes(t["frozen_first_layers"]) == []  # the loop also froze a layer with weights
    # BN in a base called with training=False, never frozen: points at the factory's def.
    assert codes(t["guide_training_false"]) == [("KL003", line_of("def guide_training_false"))]
    assert layer(t["guide_training_false"], "base")["called_with_training_false"]
    assert codes(t["guide_bn_refrozen"]) == []
    unfreeze = line_of("layer.trainable = True  # KL003 KL012")
    assert codes(t["mobilenet_last_layers"]) == [("KL003", unfreeze), ("KL012", unfreeze)]
    mobilenet = t["mobilenet_last_layers"]
    assert (mobilenet["totals"]["trainable_weights"], mobilenet["totals"]["weights"]) == (
        13,
        262,
    )  # RESULTS.md 4a'
    base = layer(mobilenet, "mobilenetv2_0.35_96")
    assert (base["trainable"], base["trainable_weights"], base["keras_trainable_weights"]) == (
        False,
        11,
        0,
    )
    assert codes(t["child_under_frozen_base"]) == [
        ("KL012", line_of('get_layer("b1").trainable = True  # KL012'))
    ]
    assert codes(t["compiled_then_frozen"]) == [
        ("KL001", line_of('get_layer("body").trainable = False  # KL001'))
    ]
    assert (
        "Keras 3 honours the change only because nothing has trained"
        in t["compiled_then_frozen"]["diagnostics"][0]["message"]
    )
    assert codes(t["trained_then_unfrozen"]) == [
        ("KL001", line_of('get_layer("body").trainable = True  # KL001'))
    ]
    assert [c["kind"] for c in t["trained_then_unfrozen"]["calls"]] == ["compile", "fit"]
    assert codes(t["fit_freeze_fit"]) == [
        ("KL001", line_of("trainable = False  # KL001 fit again"))
    ]
    assert "is trained again by fit() with 2" in t["fit_freeze_fit"]["diagnostics"][0]["message"]
    assert codes(t["recompiled_after_change"]) == []
    assert codes(t["keras3_gan"]) == []
    assert codes(t["keras2_gan"]) == [
        ("KL002", line_of("disc.train_on_batch([[0.0] * 4], [[1.0]])  # KL002"))
    ]
    assert codes(t["resnet50_frozen"]) == [("KL002", line_of("model.trainable = False  # KL002"))]
    # A class is a factory too; the assignment inside its __init__ is found.
    assert codes(t["FrozenClassifier"]) == [
        ("KL002", line_of("self.trainable = False  # KL002 class"))
    ]
    assert t["not_a_model"]["status"] == "error"
    assert (
        t["not_a_model"]["error"]["message"]
        == "the factory returned dict ({'model': None}), not a keras model"
    )


def test_text_report_and_isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_numpy(tmp_path, monkeypatch)
    iso = "isolation.py"
    result = run_verify(
        factory("raises", iso),
        factory("exits", iso),
        factory("downloads", iso),
        factory("missing", iso),
        factory("prints_and_builds", iso),
        factory("guide_training_false"),
        # Each of these ends its child; the next target gets a new one.
        factory("aborts", iso),
        factory("hard_exit", iso),
        factory("hangs", iso),
        "--timeout",
        "3",
        "--max-depth",
        "2",
    )
    out = result.output
    assert result.exit_code == 2, out
    assert out.startswith("kerlint verify: keras 3.15.1, backend numpy (KERAS_BACKEND)")
    assert "isolation.py:raises: error: ValueError: boom in the factory" in out
    assert f'File "{FACTORIES / iso}", line 11, in raises' in out  # the user's frame, not kerlint's
    assert "isolation.py:exits: error: the target called sys.exit(3) at " in out
    assert (
        "isolation.py:aborts: error: the child process was killed by SIGABRT while building it"
        in out
    )
    assert (
        "isolation.py:hard_exit: error: the child process exited with code 7 while building it"
        in out
    )
    assert "isolation.py:hangs: error: building it took longer than the timeout (3 s)" in out
    assert "network access blocked by kerlint verify (to 'example.com')" in out
    assert "isolation.py:missing: error:" in out and "has no attribute 'missing'" in out
    assert "user output" not in out  # the child's stdout and stderr are kept apart
    assert "isolation.py:prints_and_builds: Sequential `sequential`" in out
    guide = out[out.index("models.py:guide_training_false: Functional") :]
    assert re.search(
        r"^    base +Sequential +yes +6 +2 +72 +called with training=False \(ignored by fit\)$",
        guide,
        re.M,
    )
    assert re.search(r"^      bn +BatchNormalization +yes +2 +2 +16 +batch stats$", guide, re.M)
    assert (
        "  totals: 10 weights: 8 trainable, 2 non-trainable; 82 params: 74 trainable, 8 non-trainable"
        in guide
    )
    assert f"{MODELS}:{line_of('def guide_training_false')}:1: KL003 " in out
    assert out.rstrip().endswith("9 targets verified: 1 runtime finding, 7 could not be built")


def test_saved_model_snapshot_and_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_numpy(tmp_path, monkeypatch)
    saved = tmp_path / "model.keras"
    code, doc = run_json(factory("saved"), "--kwargs", json.dumps({"path": str(saved)}))
    assert code == 1 and saved.is_file()
    assert codes(doc["targets"][0]) == [
        ("KL012", line_of('get_layer("b1").trainable = True  # KL012'))
    ]

    def configure(freeze_first: bool) -> None:
        (tmp_path / "pyproject.toml").write_text(
            f"""
[tool.kerlint.verify]
snapshot = "locks/verify.json"
targets = [
  "model.keras",
  {{ target = "{MODELS}:tiny", name = "tiny", kwargs = {{ freeze_first = {str(freeze_first).lower()} }} }},
]
"""
        )

    configure(False)
    code, doc = run_json("--update-snapshot")
    assert code == 0
    reloaded = by_target(doc)["model.keras"]
    # RESULTS.md 12b: the frozen base comes back trainable; the trainable set does not change.
    assert layer(reloaded, "base")["trainable"] is True
    assert (reloaded["totals"]["trainable_weights"], reloaded["diagnostics"]) == (4, [])
    lock = json.loads((tmp_path / "locks/verify.json").read_text())
    assert sorted(lock["targets"]) == ["model.keras", "tiny"]
    assert lock["targets"]["tiny"]["layers"]["first"]["trainable"] is True

    configure(True)
    result = run_verify("-q")
    assert result.exit_code == 1
    assert "tiny: snapshot drift:" in result.output
    assert (
        "    ~ first (Dense): trainable, 2 trained / 0 not -> trainable=False, 0 trained / 2 not"
        in result.output
    )
    assert "model.keras: snapshot drift" not in result.output
    assert "layer " not in result.output  # -q: no layer table


def test_graph_with_pydot_and_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_numpy(tmp_path, monkeypatch)
    monkeypatch.setenv("PYTHONPATH", str(STUBS / "fake_pydot"))
    result = run_verify(
        factory("child_under_frozen_base"), factory("clean"), "--graph", "net.svg", "-q"
    )
    assert result.exit_code == 1, result.output
    [picture] = tmp_path.glob("net-*models.py_child_under_frozen_base.svg")
    drawn = picture.read_text()
    assert len(list(tmp_path.glob("net-*.svg"))) == 2  # one picture per target
    assert drawn.startswith("format=svg")
    assert "Trainable" in drawn and "Non-trainable" in drawn  # keras' show_trainable labels
    monkeypatch.setenv("FAKE_PYDOT_NO_DOT", "1")
    result = run_verify(factory("clean"), "--graph", "net.png")
    assert result.exit_code == 2
    assert (
        "--graph needs pydot and Graphviz: pydot is installed but Graphviz's `dot` program was not found"
        in result.output
    )


def test_graph_without_pydot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    if importlib.util.find_spec("pydot") is not None:
        pytest.skip("pydot is installed here")
    use_numpy(tmp_path, monkeypatch)
    result = run_verify(factory("clean"), "--graph", "net.png")
    assert result.exit_code == 2
    assert "--graph needs pydot and Graphviz: pydot is not installed" in result.output
    assert not (tmp_path / "net.png").exists()


def test_confirm_diagnostics_builds_each_function_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_numpy(tmp_path, monkeypatch)
    source = (
        FACTORIES / "models.py"
    ).read_text() + "\n\ndef broken():\n    raise RuntimeError('no data')\n"
    (tmp_path / "train.py").write_text(source)
    at = Location

    def finding(code: str, snippet: str) -> Diagnostic:
        row = line_of(snippet, tmp_path / "train.py")
        return Diagnostic(code, "static message", "train.py", at(row, 5), at(row, 9))

    diagnostics = [
        finding("KL004", "model.layers[0].trainable = False  # KL004"),
        finding("KL012", 'get_layer("b1").trainable = True  # KL012'),
        finding("KL003", "layer.trainable = True  # KL003 KL012"),
        finding("KL012", "layer.trainable = True  # KL003 KL012"),
        finding("KL002", "disc.train_on_batch([[0.0] * 4], [[1.0]])  # KL002"),
        finding("KL004", "for layer in model.layers[:3]:"),  # a partial freeze: not confirmed
        finding("KL002", "raise RuntimeError('no data')"),
        finding("KL001", 'get_layer("body").trainable = False  # KL001'),  # not confirmable
    ]
    out = confirm_diagnostics(diagnostics, timeout=60, backend="numpy")
    status = [(d.verification or {}).get("status") for d in out]
    assert status == [
        "confirmed",
        "confirmed",
        "confirmed",
        "confirmed",
        "confirmed",
        "not confirmed",
        "error",
        None,
    ]
    assert out[0].verification["target"] == "train.py:frozen_input_layer"
    assert (
        out[0].verification["detail"]
        == "1 weightless layer(s) frozen under trainable `functional`: input_layer"
    )
    assert out[2].verification["counts"] == {
        "trainable_batchnorm": 4,
        "batchnorm": 52,
        "frozen_layers": 97,
    }
    assert out[4].verification["detail"] == "`disc` was trained with 0 of its 2 weights trainable"
    assert (
        out[5]
        .verification["detail"]
        .startswith("no weightless layer is frozen under a trainable parent")
    )
    assert "RuntimeError: no data" in out[6].verification["detail"]
    assert out[7] == diagnostics[7]


@pytest.mark.slow
def test_torch_backend_and_weights_keep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    use_numpy(tmp_path, monkeypatch)
    code, doc = run_json(
        factory("frozen_input_layer"),
        factory("applications_untouched"),
        "--backend",
        "torch",
        "--weights",
        "keep",
    )
    assert (code, doc["backend"], doc["backend_source"], doc["weights"]) == (
        1,
        "torch",
        "--backend",
        "keep",
    )
    frozen, untouched = doc["targets"]
    # torch layers reach the `trainable` setter through torch.nn.Module.__setattr__ too.
    assert codes(frozen) == [("KL004", line_of("model.layers[0].trainable = False  # KL004"))]
    assert untouched["status"] == "ok", untouched["error"]
