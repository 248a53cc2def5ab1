"""Which Keras, end to end: the same code judged by the Keras its project pins.

Small projects in tmp_path, checked through the CLI: a Keras 2 pin, a Keras 3 pin, no pin
(unknown: the portable reading), `--keras`, the per-file pragma, the upgrade view, and the
Keras decision in the messages and the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GAN = """\
import numpy as np
from tensorflow import keras

x = np.zeros((8, 4))
y = np.zeros((8, 1))
gen = keras.Sequential([keras.layers.Dense(4)])
disc = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
disc.compile(optimizer="adam", loss="binary_crossentropy")
disc.trainable = False
z = keras.Input((4,))
gan = keras.Model(z, disc(gen(z)))
gan.compile(optimizer="adam", loss="binary_crossentropy")
for step in range(10):
    disc.train_on_batch(x, y)
    gan.train_on_batch(x, y)
"""

FINE_TUNE = """\
from tensorflow import keras

base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((96, 96, 3))
model = keras.Model(inputs, keras.layers.Dense(1)(base(inputs, training=False)))
model.compile(optimizer="adam", loss="mse")
model.fit(None, None)
base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(None, None)
"""

AFTER_COMPILE = """\
from tensorflow import keras

model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.layers[0].trainable = False
model.fit(None, None)
"""


def _project(root: Path, pins: str | None, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".git").mkdir()  # the project root: detection never looks above it
    if pins is not None:
        (root / "requirements.txt").write_text(pins)
    for name, text in files.items():
        (root / f"{name}.py").write_text(text)
    return root


def _codes(run_cli, root: Path, *args: str) -> list[tuple[str, int, str, dict | None]]:
    result = run_cli(
        "check", "--isolated", "--no-cache", "--output-format", "json", *args, str(root)
    )
    assert result.exit_code in (0, 1), result.output
    return [
        (Path(d["filename"]).stem, d["location"]["row"], d["code"], d.get("keras"))
        for d in json.loads(result.stdout)
    ]


KERAS2 = "tensorflow==2.15.0\n"
KERAS3 = "tensorflow==2.17.0\n"


@pytest.mark.parametrize(
    ("pins", "args", "expected"),
    [
        (KERAS3, (), {("gan", 14, "KL002")}),
        (KERAS2, (), set()),
        (KERAS2, ("--target-keras", "3"), {("gan", 14, "KL002")}),
        (None, (), {("gan", 14, "KL002")}),
        (KERAS3, ("--keras", "2"), set()),
    ],
    ids=["keras3", "keras2", "keras2-upgrade-view", "unknown", "configured-beats-pins"],
)
def test_gan_idiom_follows_the_projects_keras(run_cli, tmp_path, pins, args, expected) -> None:
    root = _project(tmp_path, pins, gan=GAN)
    found = {(name, row, code) for name, row, code, _ in _codes(run_cli, root, *args)}
    assert found == expected


@pytest.mark.parametrize(
    ("pins", "expected"),
    [(KERAS3, {("fine", 9, "KL003")}), (KERAS2, set()), (None, {("fine", 9, "KL003")})],
    ids=["keras3", "keras2", "unknown"],
)
def test_training_false_protects_batchnorm_only_in_keras2(run_cli, tmp_path, pins, expected):
    root = _project(tmp_path, pins, fine=FINE_TUNE)
    found = {(name, row, code) for name, row, code, _ in _codes(run_cli, root)}
    assert found == expected


def test_change_after_compile_is_kl013_in_keras2_and_kl002_in_keras3(run_cli, tmp_path) -> None:
    keras2 = (
        _project(tmp_path / "k2", KERAS2, after=AFTER_COMPILE)
        if (tmp_path / "k2").mkdir() is None
        else None
    )
    keras3 = (
        _project(tmp_path / "k3", KERAS3, after=AFTER_COMPILE)
        if (tmp_path / "k3").mkdir() is None
        else None
    )
    assert {(row, code) for _, row, code, _ in _codes(run_cli, keras2)} == {(5, "KL013")}
    # Keras 3 honours the freeze: the layer is frozen as the code says; nothing to report.
    assert {(row, code) for _, row, code, _ in _codes(run_cli, keras3)} == set()


def test_the_pragma_beats_the_pins(run_cli, tmp_path) -> None:
    root = _project(tmp_path, KERAS3, gan="# kerlint: keras=2\n" + GAN)
    assert _codes(run_cli, root) == []


def test_a_monorepo_is_judged_per_package(run_cli, tmp_path) -> None:
    (tmp_path / ".git").mkdir()
    for name, pins in (("old", KERAS2), ("new", KERAS3)):
        package = tmp_path / name
        package.mkdir()
        (package / "requirements.txt").write_text(pins)
        (package / "gan.py").write_text(GAN)
    found = _codes(run_cli, tmp_path)
    assert {(name, row, code) for name, row, code, _ in found} == {("gan", 14, "KL002")}
    result = run_cli("check", "--isolated", "--no-cache", str(tmp_path / "new"))
    assert result.exit_code == 1
    result = run_cli("check", "--isolated", "--no-cache", str(tmp_path / "old"))
    assert result.exit_code == 0, result.output


def test_messages_name_the_keras_they_assumed(run_cli, tmp_path) -> None:
    root = _project(tmp_path / "k3", KERAS3, gan=GAN)
    result = run_cli("check", "--isolated", "--no-cache", str(root))
    assert "[Keras 3 (tensorflow==2.17.0 in requirements.txt)]" in result.output
    unknown = _project(tmp_path / "u", None, gan=GAN)
    result = run_cli("check", "--isolated", "--no-cache", str(unknown))
    assert "Keras 2" in result.output and "Keras 3" in result.output
    assert "an unknown Keras version" in result.output


def test_editing_the_pins_invalidates_the_cache(run_cli, tmp_path) -> None:
    root = _project(tmp_path, KERAS3, gan=GAN)
    cache = tmp_path / "cache"
    args = ("check", "--isolated", "--cache-dir", str(cache), str(root / "gan.py"))
    assert run_cli(*args).exit_code == 1
    (root / "requirements.txt").write_text(KERAS2)
    assert run_cli(*args).exit_code == 0


CHILD_UNDER_FROZEN_PARENT = """\
from tensorflow import keras

base = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(3)])
inputs = keras.Input((4,))
model = keras.Model(inputs, keras.layers.Dense(1)(base(inputs)))
base.trainable = False
base.layers[-1].trainable = True
model.compile(optimizer="adam", loss="mse")
model.fit(None, None)
"""


@pytest.mark.parametrize(
    ("pins", "args", "expected"),
    [
        (KERAS2, (), {(7, "KL012")}),
        (None, (), {(7, "KL012")}),
        (KERAS3, (), set()),
        (KERAS3, ("--extend-select", "KL012"), {(7, "KL012")}),
        (KERAS2, ("--ignore", "KL012"), set()),
        (KERAS2, ("--select", "KL001"), set()),
        (KERAS2, ("--select", "KL01"), {(7, "KL012")}),
    ],
    ids=["keras2", "unknown", "keras3", "keras3-opted-in", "ignored", "replaced", "prefix"],
)
def test_kl012_is_on_by_default_where_the_file_runs_keras2(run_cli, tmp_path, pins, args, expected):
    root = _project(tmp_path, pins, child=CHILD_UNDER_FROZEN_PARENT)
    found = {(row, code) for _, row, code, _ in _codes(run_cli, root, *args)}
    assert found == expected


def test_json_and_show_settings_carry_the_keras_decision(run_cli, tmp_path) -> None:
    root = _project(
        tmp_path,
        KERAS2,
        gan=GAN.replace("disc.compile(", "disc.trainable = False\ndisc.compile(", 1),
    )
    (found,) = _codes(run_cli, root)
    assert found[3] == {"version": "2", "because": "tensorflow==2.15.0 in requirements.txt"}


def test_show_settings_prints_the_keras_decision_and_the_files_read(run_cli, tmp_path) -> None:
    root = _project(tmp_path, KERAS2, gan=GAN)
    result = run_cli("check", "--show-settings", str(root / "gan.py"))
    assert result.exit_code == 0, result.output
    assert "keras decision = Keras 2" in result.output
    assert "because: tensorflow==2.15.0 in requirements.txt" in result.output
    assert f"read: {root / 'requirements.txt'}" in result.output
    upgrade = run_cli("check", "--show-settings", "--target-keras", "3", str(root / "gan.py"))
    assert "upgrade view: on" in upgrade.output


SHARED_OPTIMIZER = """\
from tensorflow import keras

a = keras.Sequential([keras.layers.Dense(1)])
b = keras.Sequential([keras.layers.Dense(1)])
opt = keras.optimizers.Adam()
a.compile(opt, "mse")
b.compile(opt, "mse")
a.fit(None, None)
b.fit(None, None)
"""


@pytest.mark.parametrize(
    ("pins", "expected"),
    [
        ("tensorflow==2.15.0\n", {(7, "KL014")}),  # TF >= 2.11: KeyError
        ("tensorflow==2.10.0\n", set()),  # the legacy optimizers were the default
        ("keras==2.2.4\ntensorflow==1.15.0\n", set()),  # multi-backend Keras
        ("keras<3\n", set()),  # Keras 2, but which TensorFlow is not known: silent
        (KERAS3, {(7, "KL014")}),
        (None, {(7, "KL014")}),
    ],
    ids=["tf2.15", "tf2.10", "multi-backend", "keras2-tf-unknown", "keras3", "unknown"],
)
def test_a_shared_optimizer_breaks_only_where_optimizers_are_bound(
    run_cli, tmp_path, pins, expected
) -> None:
    root = _project(tmp_path, pins, shared=SHARED_OPTIMIZER)
    found = {(row, code) for _, row, code, _ in _codes(run_cli, root, "--select", "KL014")}
    assert found == expected


def test_without_a_git_root_the_pin_is_named_from_the_working_folder(
    run_cli, tmp_path, monkeypatch
) -> None:
    (tmp_path / "requirements.txt").write_text(KERAS2)
    (tmp_path / "gan.py").write_text(GAN)
    monkeypatch.chdir(tmp_path)
    result = run_cli("check", "--isolated", "--no-cache", "--target-keras", "3", ".")
    assert "[Keras 2 (tensorflow==2.15.0 in requirements.txt; upgrade view" in result.output


def test_a_pin_file_added_later_invalidates_the_cache(run_cli, tmp_path) -> None:
    root = _project(tmp_path, None, gan=GAN)
    args = ("check", "--isolated", "--cache-dir", str(tmp_path / "cache"), str(root / "gan.py"))
    assert run_cli(*args).exit_code == 1  # unknown: the portable reading reports the idiom
    (root / "requirements.txt").write_text(KERAS2)
    assert run_cli(*args).exit_code == 0  # Keras 2: the idiom is right
