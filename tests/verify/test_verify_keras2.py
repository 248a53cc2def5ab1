"""`kerlint verify` on a Keras 2 project: built with tf_keras, judged by Keras 2 semantics.

The same factories are built with Keras 3 too: the GAN idiom is KL002 there and fine in
Keras 2; a freeze after compile() is KL001 in Keras 2 (the compiled set trains) and
honoured by Keras 3; `base(x, training=False)` protects BatchNormalization only in Keras 2.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from verify_support import FACTORIES, by_target, factory, requires_keras, run_json, use_numpy

from kerlint.verify import which_keras
from kerlint.verify.targets import Target

pytestmark = requires_keras
K2 = "keras2_models.py"
TARGETS = ("gan", "flag_ignored", "finetune_bn", "tfkeras_layer")


def codes(target: dict) -> list[tuple[str, int]]:
    return sorted((d["code"], d["location"]["row"]) for d in target["diagnostics"])


def line_of(snippet: str) -> int:
    text = (FACTORIES / K2).read_text().splitlines()
    [line] = [i for i, t in enumerate(text, 1) if snippet in t]
    return line


@pytest.mark.keras2
@pytest.mark.skipif(
    importlib.util.find_spec("tf_keras") is None, reason="needs tf_keras (and tensorflow)"
)
def test_keras2_project_is_built_with_tf_keras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_numpy(tmp_path, monkeypatch)
    (tmp_path / "pyproject.toml").write_text('[tool.kerlint]\nkeras = "2"\n')
    code, doc = run_json(*(factory(t, K2) for t in TARGETS))
    assert code == 1, doc
    assert (doc["keras"], doc["backend"]) == ("tf_keras", "tensorflow")
    assert doc["keras_version"].startswith("2.")
    found = {name.rsplit(":", 1)[1]: t for name, t in by_target(doc).items()}
    for target in found.values():
        assert target["keras"]["name"] == "tf_keras"
        assert target["keras"]["version"] == doc["keras_version"]
        assert "keras = 2" in target["keras"]["because"]
    assert codes(found["gan"]) == []  # the GAN idiom trains the discriminator in Keras 2
    assert codes(found["flag_ignored"]) == [("KL001", line_of("# KL001"))]
    assert (
        "Keras 2 trains the set compile() saw" in found["flag_ignored"]["diagnostics"][0]["message"]
    )
    assert codes(found["finetune_bn"]) == []  # training=False keeps BN in inference
    assert found["tfkeras_layer"]["totals"]["trainable_weights"] == 2  # tf.keras is tf_keras

    # The same code under Keras 3 (--keras 3 wins over the configuration).
    code, doc = run_json(*(factory(t, K2) for t in TARGETS[:3]), "--keras", "3")
    assert doc["keras"] == "keras"
    found = {name.rsplit(":", 1)[1]: t for name, t in by_target(doc).items()}
    assert [c for c, _ in codes(found["gan"])] == ["KL002"]
    assert codes(found["flag_ignored"]) == []
    assert [c for c, _ in codes(found["finetune_bn"])] == ["KL003"]


def test_choice_without_detector_or_without_tf_keras(monkeypatch: pytest.MonkeyPatch) -> None:
    target = Target(label="t", kind="file", path=str(FACTORIES / K2), function="gan")
    which_keras.choose(target, "3")
    assert (target.keras, target.keras_because) == ("keras", "configured (keras = 3)")
    monkeypatch.setattr(which_keras, "_tf_keras_installed", lambda: False)
    which_keras.choose(target, "2")
    assert target.keras == "keras"
    assert "tf_keras is not installed: built with Keras 3" in target.keras_because
    monkeypatch.setattr(which_keras, "_tf_keras_installed", lambda: True)
    which_keras.choose(target, "2")
    assert target.keras == "tf_keras"
    saved = Target(label="m", kind="saved", path="m.keras")
    which_keras.choose(saved, "auto")
    assert saved.keras == "keras"  # the .keras format is Keras 3's
    # "auto" asks kerlint.keras_version when it exists, and is Keras 3 without it.
    version, because = which_keras.decide_version(FACTORIES / K2, "import keras\n", "auto")
    if importlib.util.find_spec("kerlint.keras_version") is None:
        assert (version, because) == ("3", "Keras 3 (this kerlint has no Keras version detection)")
    else:
        assert version in ("2", "3", None) and because


@pytest.mark.keras2
@pytest.mark.skipif(
    importlib.util.find_spec("tf_keras") is None, reason="needs tf_keras (and tensorflow)"
)
def test_check_verify_builds_with_the_keras_the_finding_assumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kerlint.diagnostics import Diagnostic, Location
    from kerlint.verify.confirm import confirm_diagnostics

    use_numpy(tmp_path, monkeypatch)
    (tmp_path / "train.py").write_text((FACTORIES / K2).read_text())
    row = line_of("disc.train_on_batch")
    at = Location(row, 9)
    as_keras2 = Diagnostic("KL002", "static", "train.py", at, at, keras={"version": "2"})
    as_keras3 = Diagnostic("KL002", "static", "train.py", at, at, keras={"version": "3"})
    k2, k3 = confirm_diagnostics([as_keras2, as_keras3], timeout=120, backend="numpy")
    # The GAN idiom: the discriminator trains in Keras 2, never in Keras 3.
    assert k2.verification["status"] == "not confirmed"
    assert k3.verification["status"] == "confirmed"
