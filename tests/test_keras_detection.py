"""Which Keras a file runs (kerlint.keras_version): one small project per detection input.

Each row of TABLE is a temporary project (a `.git` folder marks its root): its files, the
checked file's text, and the version and `because` the detector must give. The rows follow
RESULTS.md §5.3 (keras-semantics/keras2) step by step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kerlint.keras_version import KerasDetector
from kerlint.keras_version import project as project_module

TF_ATTR = "import tensorflow as tf\nmodel = tf.keras.Sequential()\n"
KERAS = "import keras\nmodel = keras.Sequential()\n"
TF_PATH = "from tensorflow.keras.layers import Dense\n"


def make(root: Path, files: dict[str, str]) -> None:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def decide(tmp_path: Path, files: dict[str, str], code: str, name: str = "train.py", **kw):
    make(tmp_path, {**files, name: code})
    warnings: list[str] = []
    detector = KerasDetector(warn=warnings.append)
    path = tmp_path / name
    return detector.decide(path, path.read_text(encoding="utf-8"), **kw), warnings


POETRY_LOCK = """
[[package]]
name = "numpy"
version = "1.26.4"

[[package]]
name = "tensorflow"
version = "2.15.1"

[metadata]
python-versions = ">=3.9,<3.12"
"""
UV_LOCK = """
version = 1
requires-python = ">=3.10"

[[package]]
name = "tensorflow"
version = "2.18.0"
source = { registry = "https://pypi.org/simple" }
"""
CONDA_LOCK = """
version: 1
package:
- name: numpy
  version: 1.24.3
  manager: conda
- name: tensorflow
  version: 2.10.0
  manager: conda
  platform: linux-64
"""
PIPFILE_LOCK = json.dumps(
    {
        "_meta": {"requires": {"python_version": "3.10"}},
        "default": {"tensorflow": {"version": "==2.13.0"}},
    }
)
ENVIRONMENT_YML = """
name: ft
channels:
  - conda-forge
dependencies:
  - python=3.8
  - tensorflow=2.10.0=mkl_py38h1234  # a full build pin
  - pip
  - pip:
    - pillow
"""
ENVIRONMENT_PIP = """
dependencies:
  - python
  - pip:
      - keras>=3.3  # from pip
"""

# (id, project files, checked code, version, because)
TABLE = [
    # step 1.1: lockfiles, exact
    (
        "poetry.lock",
        {"poetry.lock": POETRY_LOCK},
        TF_ATTR,
        "2",
        "tensorflow==2.15.1 in poetry.lock",
    ),
    ("uv.lock", {"uv.lock": UV_LOCK}, TF_ATTR, "3", "tensorflow==2.18.0 in uv.lock"),
    (
        "pdm.lock",
        {"pdm.lock": '[[package]]\nname = "keras"\nversion = "2.15.0"\n'},
        KERAS,
        "2",
        "keras==2.15.0 in pdm.lock",
    ),
    (
        "Pipfile.lock",
        {"Pipfile.lock": PIPFILE_LOCK},
        TF_ATTR,
        "2",
        "tensorflow==2.13.0 in Pipfile.lock",
    ),
    (
        "conda-lock.yml",
        {"conda-lock.yml": CONDA_LOCK},
        TF_ATTR,
        "2",
        "tensorflow==2.10.0 in conda-lock.yml",
    ),
    (
        "pip-freeze-beats-pyproject",
        {
            "requirements.txt": "numpy==1.26.4\ntensorflow==2.15.0\nh5py==3.10.0\n",
            "pyproject.toml": '[project]\nname = "x"\ndependencies = ["tensorflow>=2.8"]\n',
        },
        TF_ATTR,
        "2",
        "tensorflow==2.15.0 in requirements.txt",
    ),
    # step 1.2: declarations
    (
        "requirements",
        {"requirements.txt": "tensorflow==2.15.0\n"},
        TF_ATTR,
        "2",
        "tensorflow==2.15.0 in requirements.txt",
    ),
    (
        "requirements-3",
        {"requirements.txt": "tensorflow>=2.16\n"},
        TF_ATTR,
        "3",
        "tensorflow>=2.16 in requirements.txt",
    ),
    (
        "requirements-range-spans-2.16",
        {"requirements.txt": "tensorflow>=2.8  # any\n"},
        TF_ATTR,
        None,
        "tensorflow>=2.8 in requirements.txt allows Keras 2 and Keras 3",
    ),
    ("nothing", {}, TF_ATTR, None, "no pin of tensorflow or keras found"),
    (
        "unpinned",
        {"requirements.txt": "tensorflow\nkeras\n"},
        KERAS,
        None,
        "tensorflow in requirements.txt, keras in requirements.txt allows Keras 2 and Keras 3",
    ),
    (
        "requirements -r",
        {
            "requirements.txt": "-r base/common.txt\nnumpy\n",
            "base/common.txt": "tensorflow==2.12.0\n",
        },
        TF_ATTR,
        "2",
        "tensorflow==2.12.0 in base/common.txt",
    ),
    (
        "requirements -c constraints",
        {
            "requirements-dev.txt": "tensorflow\n-c constraints.txt\n",
            "constraints.txt": "tensorflow<2.16\n",
        },
        TF_ATTR,
        "2",
        "tensorflow<2.16 in constraints.txt",
    ),
    (
        "marker that cannot apply",
        {
            "requirements.txt": 'tensorflow==2.15.0; python_version < "3.0"\ntensorflow>=2.16; python_version >= "3.9"\n'
        },
        TF_ATTR,
        "3",
        "tensorflow>=2.16 in requirements.txt",
    ),
    (
        "tensorflow-gpu",
        {"requirements.txt": "tensorflow-gpu\n"},
        TF_ATTR,
        "2",
        "tensorflow-gpu in requirements.txt",
    ),
    (
        "keras<3 on its own",
        {"requirements.txt": "keras<3\n"},
        TF_PATH,
        "2",
        "keras<3 in requirements.txt",
    ),
    (
        "tf-keras pin implies its TensorFlow",
        {"requirements.txt": "tf-keras==2.15.1\n"},
        KERAS,
        "2",
        "tf-keras==2.15.1 in requirements.txt",
    ),
    (
        "pyproject PEP 621",
        {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["keras>=3.0", "numpy"]\n'},
        KERAS,
        "3",
        "keras>=3.0 in pyproject.toml",
    ),
    (
        "pyproject optional-dependencies",
        {
            "pyproject.toml": '[project]\nname = "x"\n[project.optional-dependencies]\ntf = ["tensorflow<2.16"]\n'
        },
        TF_ATTR,
        "2",
        "tensorflow<2.16 in pyproject.toml",
    ),
    (
        "poetry caret spans 2.16",
        {"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.10"\ntensorflow = "^2.12"\n'},
        TF_ATTR,
        None,
        'tensorflow = "^2.12" in pyproject.toml allows Keras 2 and Keras 3',
    ),
    (
        "poetry tilde",
        {"pyproject.toml": '[tool.poetry.dependencies]\ntensorflow = { version = "~2.15.0" }\n'},
        TF_ATTR,
        "2",
        'tensorflow = "~2.15.0" in pyproject.toml',
    ),
    (
        "poetry caret pins 3",
        {"pyproject.toml": '[tool.poetry.group.ml.dependencies]\nkeras = "^3.3"\n'},
        KERAS,
        "3",
        'keras = "^3.3" in pyproject.toml',
    ),
    (
        "pdm dev-dependencies",
        {"pyproject.toml": '[tool.pdm.dev-dependencies]\nml = ["tensorflow==2.14.1"]\n'},
        TF_ATTR,
        "2",
        "tensorflow==2.14.1 in pyproject.toml",
    ),
    (
        "setup.py literal",
        {
            "setup.py": 'from setuptools import setup\nREQS = ["tensorflow>=2.4,<2.16"]\nsetup(name="x", install_requires=REQS)\n'
        },
        TF_ATTR,
        "2",
        "tensorflow>=2.4,<2.16 in setup.py",
    ),
    (
        "setup.py python_requires",
        {
            "setup.py": 'import setuptools\nsetuptools.setup(install_requires=["tensorflow"], python_requires=">=3.12")\n'
        },
        TF_ATTR,
        "3",
        "python_requires >=3.12 in setup.py",
    ),
    (
        "setup.cfg",
        {
            "setup.cfg": "[metadata]\nname = x\n[options]\ninstall_requires =\n    numpy\n    tensorflow==2.11.0\n"
        },
        TF_ATTR,
        "2",
        "tensorflow==2.11.0 in setup.cfg",
    ),
    (
        "Pipfile",
        {"Pipfile": '[packages]\ntensorflow = "==2.15.0"\n'},
        TF_ATTR,
        "2",
        "tensorflow==2.15.0 in Pipfile",
    ),
    (
        "environment.yml conda pin",
        {"environment.yml": ENVIRONMENT_YML},
        TF_ATTR,
        "2",
        "tensorflow=2.10.0=mkl_py38h1234 in environment.yml, python=3.8 in environment.yml",
    ),
    (
        "environment.yml pip list",
        {"environment.yml": ENVIRONMENT_PIP},
        KERAS,
        "3",
        "keras>=3.3 in environment.yml",
    ),
    (
        "Dockerfile FROM tensorflow",
        {"Dockerfile": "FROM tensorflow/tensorflow:2.15.0-gpu\nCOPY . /app\n"},
        TF_ATTR,
        "2",
        "FROM tensorflow/tensorflow:2.15.0-gpu in Dockerfile",
    ),
    (
        "Dockerfile FROM nvcr",
        {"Dockerfile": "FROM nvcr.io/nvidia/tensorflow:23.10-tf2-py3\n"},
        TF_ATTR,
        "2",
        "FROM nvcr.io/nvidia/tensorflow:23.10-tf2-py3 in Dockerfile",
    ),
    (
        "Dockerfile RUN pip install",
        {
            "Dockerfile": 'FROM ubuntu:22.04\nRUN apt-get update && \\\n    pip install --no-cache-dir "tensorflow==2.17.0" numpy\n'
        },
        TF_ATTR,
        "3",
        "tensorflow==2.17.0 in Dockerfile",
    ),
    (
        "Dockerfile ENV legacy",
        {
            "docker/Dockerfile.gpu": "FROM python:3.11\n",
            "Dockerfile": "ENV TF_USE_LEGACY_KERAS=1\nRUN pip install tensorflow==2.17.0 tf-keras==2.17.0\n",
        },
        TF_ATTR,
        "2",
        "ENV TF_USE_LEGACY_KERAS=1 in Dockerfile and tf-keras==2.17.0 in Dockerfile",
    ),
    (
        "Dockerfile ENV legacy spelled with a space",
        {
            "Dockerfile": 'ENV TF_USE_LEGACY_KERAS "1"\n',
            "requirements.txt": "tensorflow==2.17.0\ntf_keras\n",
        },
        TF_PATH,
        "2",
        "ENV TF_USE_LEGACY_KERAS=1 in Dockerfile and tf_keras in requirements.txt",
    ),
    (
        "legacy switch without tf_keras",
        {".env": "TF_USE_LEGACY_KERAS=1\n", "requirements.txt": "tensorflow==2.17.0\n"},
        TF_ATTR,
        "2",
        "TF_USE_LEGACY_KERAS=1 in .env; tf_keras is not declared: tf.keras raises ImportError",
    ),
    (
        "legacy switch in a shell script",
        {
            "run.sh": "#!/bin/sh\nexport TF_USE_LEGACY_KERAS=1\npip install tensorflow==2.16.1 tf_keras==2.16.0\n"
        },
        TF_ATTR,
        "2",
        "TF_USE_LEGACY_KERAS=1 in run.sh and tf_keras==2.16.0 in run.sh",
    ),
    (
        "legacy switch off (only 1, true, True count)",
        {
            ".env": "TF_USE_LEGACY_KERAS=TRUE\n",
            "requirements.txt": "tensorflow==2.17.0\ntf-keras\n",
        },
        TF_ATTR,
        "3",
        "tensorflow==2.17.0 in requirements.txt",
    ),
    (
        "CI workflow env",
        {
            ".github/workflows/ci.yml": "jobs:\n  t:\n    env:\n      TF_USE_LEGACY_KERAS: 1\n",
            "requirements.txt": "tensorflow==2.16.1\ntf_keras==2.16.0\n",
        },
        TF_ATTR,
        "2",
        "TF_USE_LEGACY_KERAS=1 in .github/workflows/ci.yml and tf_keras==2.16.0 in requirements.txt",
    ),
    (
        "tox.ini setenv",
        {
            "tox.ini": "[testenv]\nsetenv =\n    TF_USE_LEGACY_KERAS = true\n",
            "requirements.txt": "tensorflow==2.16.1\ntf_keras==2.16.0\n",
        },
        TF_PATH,
        "2",
        "TF_USE_LEGACY_KERAS=true in tox.ini and tf_keras==2.16.0 in requirements.txt",
    ),
    (
        "pytest-env in pyproject",
        {
            "pyproject.toml": '[project]\nname = "x"\ndependencies = ["tensorflow==2.16.1", "tf-keras==2.16.0"]\n[tool.pytest.ini_options]\nenv = ["TF_USE_LEGACY_KERAS=1"]\n'
        },
        TF_ATTR,
        "2",
        "TF_USE_LEGACY_KERAS=1 in pyproject.toml and tf-keras==2.16.0 in pyproject.toml",
    ),
    (
        "pytest-env in pytest.ini",
        {
            "pytest.ini": "[pytest]\nenv =\n    D:TF_USE_LEGACY_KERAS=1\n",
            "requirements.txt": "tensorflow==2.16.1\ntf_keras==2.16.0\n",
        },
        TF_ATTR,
        "2",
        "TF_USE_LEGACY_KERAS=1 in pytest.ini and tf_keras==2.16.0 in requirements.txt",
    ),
    (
        "pip-compile hashes",
        {
            "requirements.txt": "tensorflow==2.15.1 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\nnumpy==1.26.4 \\\n    --hash=sha256:123\n"
        },
        TF_ATTR,
        "2",
        "tensorflow==2.15.1 in requirements.txt",
    ),
    (
        "requirements folder",
        {"requirements/base.txt": "tensorflow~=2.13.0\n"},
        TF_ATTR,
        "2",
        "tensorflow~=2.13.0 in requirements/base.txt",
    ),
    (
        "conda spaced spec",
        {"environment.yaml": "dependencies:\n  - conda-forge::tensorflow 2.12.*\n"},
        TF_ATTR,
        "2",
        "conda-forge::tensorflow 2.12.* in environment.yaml",
    ),
    (
        "Pipfile table",
        {"Pipfile": '[packages]\nkeras = {version = ">=3.0", index = "pypi"}\n'},
        KERAS,
        "3",
        "keras>=3.0 in Pipfile",
    ),
    (
        "tf-nightly",
        {"requirements.txt": "tf-nightly-cpu\n"},
        TF_ATTR,
        "3",
        "tf-nightly-cpu in requirements.txt",
    ),
    # step 1.4: the interpreter bound
    (
        "requires-python",
        {
            "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.12"\ndependencies = ["tensorflow"]\n'
        },
        TF_ATTR,
        "3",
        "requires-python >=3.12 in pyproject.toml",
    ),
    (
        ".python-version",
        {".python-version": "3.8.18\n", "requirements.txt": "tensorflow\n"},
        TF_ATTR,
        "2",
        "3.8.18 in .python-version",
    ),
    ("runtime.txt", {"runtime.txt": "python-3.12.1\n"}, KERAS, "3", "python-3.12.1 in runtime.txt"),
    (
        "FROM python",
        {"Dockerfile": "FROM python:3.12-slim AS base\n"},
        KERAS,
        "3",
        "FROM python:3.12-slim in Dockerfile",
    ),
    (
        "conda python=",
        {"environment.yml": "dependencies:\n  - python=3.12\n  - tensorflow\n"},
        TF_ATTR,
        "3",
        "python=3.12 in environment.yml",
    ),
    # step 3: roots
    (
        "tf_keras always",
        {"requirements.txt": "tensorflow>=2.16\n"},
        "import tf_keras as keras\n",
        "2",
        "import tf_keras",
    ),
    (
        "roots disagree",
        {"requirements.txt": "tensorflow>=2.16\n"},
        "import tf_keras\nimport keras\n",
        None,
        "tf_keras is Keras 2 (import tf_keras), but keras is Keras 3 (tensorflow>=2.16 in requirements.txt)",
    ),
    (
        "try tf_keras, fall back to keras, tf-keras declared",
        {"requirements.txt": "tensorflow==2.16.1\ntf-keras==2.16.0\n"},
        "try:\n    import tf_keras as keras\nexcept ImportError:\n    import keras\n",
        "2",
        "import tf_keras",
    ),
    (
        "keras pin beats tensorflow for tensorflow.keras",
        {"requirements.txt": "tensorflow==2.15.0\nkeras==3.0.5\n"},
        TF_PATH,
        "3",
        "keras==3.0.5 in requirements.txt",
    ),
    # step 4: hints, for files still unknown
    (
        "hint fit_generator",
        {},
        TF_ATTR + "model.fit_generator(gen)\n",
        "2",
        "`fit_generator` (line 3; removed in Keras 3)",
    ),
    (
        "hint Adam(lr=)",
        {},
        "from tensorflow.keras.optimizers import Adam\nopt = Adam(lr=0.1)\n",
        "2",
        "`Adam(lr=...)` (line 2; Keras 3 accepts only `learning_rate`)",
    ),
    (
        "torch's lr= is no hint",
        {},
        "import torch, keras\nopt = torch.optim.Adam(params, lr=0.1)\n",
        None,
        "no pin of tensorflow or keras found",
    ),
    (
        "hint keras.ops",
        {},
        "import keras\nx = keras.ops.ones((2,))\n",
        "3",
        "`keras.ops` (line 2; Keras 3 only)",
    ),
    (
        "hint KERAS_BACKEND",
        {},
        'import os\nos.environ["KERAS_BACKEND"] = "torch"\nimport keras\n',
        "3",
        'KERAS_BACKEND="torch" (line 2; Keras 3 only)',
    ),
    (
        "hints both ways",
        {},
        "import keras\nkeras.ops.ones(2)\nm.fit_generator(g)\n",
        None,
        "no pin of tensorflow or keras found; the code uses both `fit_generator` (line 3; removed in Keras 3) and `keras.ops` (line 2; Keras 3 only)",
    ),
    (
        "hints only when unknown",
        {"requirements.txt": "tensorflow>=2.16\n"},
        TF_ATTR + "model.fit_generator(g)\n",
        "3",
        "tensorflow>=2.16 in requirements.txt",
    ),
    (
        "colab",
        {},
        "from google.colab import drive\nimport keras\n",
        None,
        "no pin of tensorflow or keras found; a Colab notebook: Colab runs Keras 3 since August 2024, Keras 2 before",
    ),
    (
        "no keras import: the project's keras",
        {"requirements.txt": "keras==2.13.1\n"},
        "import numpy\n",
        "2",
        "keras==2.13.1 in requirements.txt",
    ),
]


@pytest.mark.parametrize(
    ("files", "code", "version", "because"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_detection_table(tmp_path: Path, files, code, version, because):
    mode, warnings = decide(tmp_path, files, code)
    assert (mode.version, mode.because) == (version, because)
    assert warnings == []


# -- step 2: the legacy switch in code, and where it is set -----------------------------------

LEGACY_PROJECT = {"requirements.txt": "tensorflow==2.17.0\ntf-keras==2.17.0\n"}


@pytest.mark.parametrize(
    ("code", "version", "because"),
    [
        (
            'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\nimport tensorflow as tf\nm = tf.keras.Sequential()\n',
            "2",
            'os.environ["TF_USE_LEGACY_KERAS"] = "1" (line 2) and tf-keras==2.17.0 in requirements.txt',
        ),
        (  # before the import: every spelling is Keras 2
            'import os\nos.environ.setdefault("TF_USE_LEGACY_KERAS", "1")\nfrom tensorflow.keras import layers\n',
            "2",
            'os.environ.setdefault("TF_USE_LEGACY_KERAS", "1") (line 2) and tf-keras==2.17.0 in requirements.txt',
        ),
        (  # after `import tensorflow`: attribute access still sees it (resolved lazily)
            'import os\nimport tensorflow as tf\nos.environ.update({"TF_USE_LEGACY_KERAS": "True"})\nm = tf.keras.Sequential()\n',
            "2",
            'os.environ["TF_USE_LEGACY_KERAS"] = "True" (line 3) and tf-keras==2.17.0 in requirements.txt',
        ),
        (  # ... but the module path was fixed at the import: Keras 3
            'import os\nimport tensorflow as tf\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\nfrom tensorflow.keras import layers\n',
            "3",
            'tensorflow==2.17.0 in requirements.txt, tf-keras==2.17.0 in requirements.txt; os.environ["TF_USE_LEGACY_KERAS"] = "1" (line 3) comes after `import tensorflow` at line 2, too late for this spelling',
        ),
        (  # after the first tf.keras use: too late for it too
            'import tensorflow as tf\nm = tf.keras.Sequential()\nimport os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\n',
            "3",
            'tensorflow==2.17.0 in requirements.txt, tf-keras==2.17.0 in requirements.txt; os.environ["TF_USE_LEGACY_KERAS"] = "1" (line 4) comes after the first `tf.keras` use at line 2, too late for this spelling',
        ),
        (  # both spellings after a late switch: they disagree
            'import os\nimport tensorflow as tf\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\nfrom tensorflow.keras import layers\nm = tf.keras.Model()\n',
            None,
            "tensorflow.keras is Keras 3 (",
        ),
        (  # a value other than 1 / true / True is not the switch
            'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "0"\nimport tensorflow as tf\ntf.keras.Model()\n',
            "3",
            "tensorflow==2.17.0 in requirements.txt, tf-keras==2.17.0 in requirements.txt",
        ),
        (  # a value kerlint cannot read
            'import os, sys\nos.environ["TF_USE_LEGACY_KERAS"] = sys.argv[1]\nimport tensorflow as tf\ntf.keras.Model()\n',
            None,
            "TF_USE_LEGACY_KERAS set at line 2 (to a value kerlint cannot read)",
        ),
        (  # os.putenv does not change os.environ, which is what TensorFlow reads
            'import os\nos.putenv("TF_USE_LEGACY_KERAS", "1")\nimport tensorflow as tf\ntf.keras.Model()\n',
            "3",
            "tensorflow==2.17.0 in requirements.txt, tf-keras==2.17.0 in requirements.txt",
        ),
    ],
    ids=[
        "assign-before",
        "setdefault-before",
        "update-after-attribute",
        "after-module-path",
        "after-first-use",
        "split",
        "zero",
        "unreadable",
        "putenv",
    ],
)
def test_legacy_switch_in_code(tmp_path: Path, code: str, version, because: str):
    mode, _ = decide(tmp_path, LEGACY_PROJECT, code)
    assert mode.version == version
    assert mode.because.startswith(because) if version is None else mode.because == because


def test_split_roots_are_reported_per_spelling(tmp_path: Path):
    code = 'import os\nimport tensorflow as tf\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\nfrom tensorflow.keras import layers\nm = tf.keras.Model()\n'
    make(tmp_path, {**LEGACY_PROJECT, "t.py": code})
    roots = KerasDetector().decide_roots(tmp_path / "t.py", code)
    assert {root: mode.version for root, mode in roots.items()} == {
        "tensorflow.keras": "3",
        "tf.keras": "2",
    }


# -- notebooks --------------------------------------------------------------------------------


def _notebook(cells: list[str], metadata: dict | None = None, outputs: list | None = None) -> str:
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "source": source,
                    "metadata": {},
                    "outputs": outputs or [],
                    "execution_count": None,
                }
                for source in cells
            ],
            "metadata": metadata or {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def _decide_notebook(tmp_path: Path, files: dict[str, str], cells: list[str], **kw):
    from kerlint.source import read_source

    make(tmp_path, {**files, "nb.ipynb": _notebook(cells, **kw)})
    source = read_source(tmp_path / "nb.ipynb")
    return KerasDetector().decide(source.path, source.text)


def test_notebook_pip_install(tmp_path: Path):
    mode = _decide_notebook(
        tmp_path,
        {"requirements.txt": "tensorflow>=2.16\n"},
        ["!pip install -q tensorflow==2.15.0\n", TF_ATTR],
    )
    assert (mode.version, mode.because) == ("2", "pip install tensorflow==2.15.0 in the notebook")


def test_notebook_percent_pip_and_env(tmp_path: Path):
    cells = [
        "%pip install tensorflow==2.17.0 tf_keras==2.17.0\n%env TF_USE_LEGACY_KERAS=1\n",
        "from tensorflow import keras\n",
    ]
    mode = _decide_notebook(tmp_path, {}, cells)
    assert mode.version == "2"
    assert (
        mode.because
        == "%env TF_USE_LEGACY_KERAS=1 (cell 1, line 2) and pip install tf_keras==2.17.0 in the notebook"
    )


def test_notebook_env_after_import_tensorflow(tmp_path: Path):
    cells = [
        "!pip install tensorflow==2.17.0 tf-keras\n",
        "import tensorflow\n",
        "%env TF_USE_LEGACY_KERAS 1\nfrom tensorflow.keras import layers\n",
    ]
    mode = _decide_notebook(tmp_path, {}, cells)
    assert mode.version == "3"
    assert mode.because == (
        "pip install tensorflow==2.17.0 in the notebook; %env TF_USE_LEGACY_KERAS=1 (cell 3, line 1)"
        " comes after `import tensorflow` at cell 2, line 1, too late for this spelling"
    )


def test_notebook_given_raw_cells(tmp_path: Path):
    make(tmp_path, {})
    cells = ["!pip install keras==2.15.0\n", "import keras\n"]
    joined = "pass\nimport keras\n"
    mode = KerasDetector().decide(tmp_path / "nb.ipynb", joined, notebook_cells=cells)
    assert (mode.version, mode.because) == ("2", "pip install keras==2.15.0 in the notebook")


def test_notebook_colab_metadata_and_outputs(tmp_path: Path):
    mode = _decide_notebook(
        tmp_path, {}, ["import keras\n"], metadata={"colab": {"provenance": []}}
    )
    assert mode.version is None and "Colab runs Keras 3 since August 2024" in mode.because
    traceback = [
        {
            "output_type": "error",
            "traceback": [
                'File "/usr/local/lib/python3.10/dist-packages/keras/src/engine/training.py", line 1'
            ],
        }
    ]
    mode = _decide_notebook(tmp_path, {}, ["import keras\n"], outputs=traceback)
    assert (mode.version, mode.because) == ("2", "a saved output's traceback runs through Keras 2")


# -- step 0: explicit choices ------------------------------------------------------------------


def test_pragma_beats_configuration_and_pins(tmp_path: Path):
    code = "# kerlint: keras=2\nimport keras\n"
    mode, _ = decide(tmp_path, {"requirements.txt": "keras>=3\n"}, code, configured="3", target="3")
    assert (mode.version, mode.because, mode.target) == ("2", "# kerlint: keras=2 pragma", "3")
    mode, _ = decide(tmp_path, {}, "import keras\n#kerlint:keras=3\n", configured="2")
    assert (mode.version, mode.because) == ("3", "# kerlint: keras=3 pragma")


def test_pragma_auto_overrides_configuration(tmp_path: Path):
    mode, _ = decide(
        tmp_path,
        {"requirements.txt": "keras>=3\n"},
        "# kerlint: keras=auto\nimport keras\n",
        configured="2",
    )
    assert (mode.version, mode.because) == ("3", "keras>=3 in requirements.txt")


def test_configured_beats_inferred(tmp_path: Path):
    mode, _ = decide(tmp_path, {"requirements.txt": "keras>=3\n"}, KERAS, configured="2")
    assert (mode.version, mode.because) == ("2", "--keras 2")
    files = {
        "pyproject.toml": '[tool.kerlint]\nkeras = "3"\n',
        "requirements.txt": "tensorflow==2.15.0\n",
    }
    mode, _ = decide(tmp_path, files, TF_ATTR, configured="3")
    assert (mode.version, mode.because) == ("3", 'keras = "3" in pyproject.toml')
    mode, _ = decide(tmp_path, files, TF_ATTR, configured="3", configured_because="--keras 3")
    assert mode.because == "--keras 3"


def test_a_string_pragma_is_not_a_pragma(tmp_path: Path):
    mode, _ = decide(
        tmp_path, {"requirements.txt": "keras>=3\n"}, 'x = "# kerlint: keras=2"\nimport keras\n'
    )
    assert mode.version == "3"


# -- the monorepo, the project root ----------------------------------------------------------


def test_monorepo_is_judged_per_package(tmp_path: Path):
    make(
        tmp_path,
        {
            "requirements.txt": "tensorflow==2.15.0\n",
            "old/setup.py": 'from setuptools import setup\nsetup(install_requires=["tensorflow==2.12.0"])\n',
            "old/src/old_pkg/train.py": TF_ATTR,
            "new/pyproject.toml": '[project]\nname = "new"\ndependencies = ["keras>=3.5"]\n',
            "new/src/new_pkg/train.py": TF_PATH,
            "tests/requirements-test.txt": "pytest\n",
            "tests/test_x.py": TF_ATTR,
        },
    )
    detector = KerasDetector()
    old = tmp_path / "old/src/old_pkg/train.py"
    new = tmp_path / "new/src/new_pkg/train.py"
    other = tmp_path / "tests/test_x.py"
    assert detector.decide(old, TF_ATTR).as_json() == {
        "version": "2",
        "because": "tensorflow==2.12.0 in old/setup.py",
    }
    assert detector.decide(new, TF_PATH).as_json() == {
        "version": "3",
        "because": "keras>=3.5 in new/pyproject.toml",
    }
    # A folder whose requirements do not name tensorflow or keras does not shadow the root's.
    assert detector.decide(other, TF_ATTR).as_json() == {
        "version": "2",
        "because": "tensorflow==2.15.0 in requirements.txt",
    }
    assert detector.project_files(new) == [
        tmp_path / "new/pyproject.toml",
        tmp_path / "requirements.txt",
    ]


def test_search_stops_at_the_project_root(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("tensorflow==2.15.0\n")
    make(tmp_path / "repo", {"train.py": TF_ATTR})
    mode = KerasDetector().decide(tmp_path / "repo/train.py", TF_ATTR)
    assert (mode.version, mode.because) == (None, "no pin of tensorflow or keras found")


# -- malformed files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "pyproject.toml",
            "[project\ndependencies = [",
            "cannot understand pyproject.toml: invalid TOML",
        ),
        ("Pipfile.lock", "{not json", "cannot understand Pipfile.lock: invalid JSON"),
        ("setup.py", "setup(install_requires=[\n", "cannot understand setup.py:"),
        ("setup.cfg", "install_requires = x\n[options\n", "cannot understand setup.cfg:"),
        ("poetry.lock", "package = 3\n", "cannot understand poetry.lock: `package` is not a list"),
        ("requirements.txt", b"\xff\xfetensorflow==2.15\n", "cannot read requirements.txt:"),
    ],
)
def test_malformed_file_warns_once_and_is_skipped(tmp_path: Path, monkeypatch, name, text, message):
    monkeypatch.chdir(tmp_path)
    make(tmp_path, {"environment.yml": "dependencies:\n  - tensorflow=2.11\n"})
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    warnings: list[str] = []
    detector = KerasDetector(warn=warnings.append)
    for file in ("a.py", "sub/b.py"):
        make(tmp_path, {file: TF_ATTR})
        mode = detector.decide(tmp_path / file, TF_ATTR)
        assert (mode.version, mode.because) == ("2", "tensorflow=2.11 in environment.yml")
    assert (
        len(warnings) == 1 and warnings[0].startswith(message) and warnings[0].endswith("; skipped")
    )


def test_default_warning_goes_to_stderr(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make(tmp_path, {"pyproject.toml": "[[[", "a.py": KERAS})
    KerasDetector().decide(tmp_path / "a.py", KERAS)
    err = capsys.readouterr().err
    assert err.startswith("kerlint: warning: cannot understand pyproject.toml: invalid TOML")
    assert err.count("\n") == 1


def test_unreadable_file_warns(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make(tmp_path, {"a.py": KERAS})
    (tmp_path / "requirements.txt").mkdir()  # a folder named like a file: not read at all
    (tmp_path / "requirements-dev.txt").symlink_to(tmp_path / "missing.txt")
    warnings: list[str] = []
    mode = KerasDetector(warn=warnings.append).decide(tmp_path / "a.py", KERAS)
    assert mode.version is None
    assert warnings == []  # a dangling link is not a file


# -- reading once ------------------------------------------------------------------------------


def test_each_folder_is_read_once(tmp_path: Path, monkeypatch):
    make(
        tmp_path,
        {
            "requirements.txt": "tensorflow==2.15.0\n",
            "pyproject.toml": '[project]\nname = "x"\n',
            "pkg/a.py": TF_ATTR,
            "pkg/b.py": TF_ATTR,
            "pkg/sub/c.py": KERAS,
        },
    )
    reads: list[str] = []
    original = project_module.FolderReader._text

    def counting(self, path):
        reads.append(Path(path).name)
        return original(self, path)

    monkeypatch.setattr(project_module.FolderReader, "_text", counting)
    scans: list[str] = []
    original_scandir = project_module.os.scandir

    def counting_scandir(path):
        scans.append(str(path))
        return original_scandir(path)

    monkeypatch.setattr(project_module.os, "scandir", counting_scandir)
    detector = KerasDetector()
    for name in ("pkg/a.py", "pkg/b.py", "pkg/sub/c.py", "pkg/a.py"):
        assert detector.decide(tmp_path / name, (tmp_path / name).read_text()).version == "2"
    assert sorted(reads) == ["pyproject.toml", "requirements.txt"]
    assert len(scans) == len(set(scans)) == 3  # pkg/sub, pkg, the root


def test_forked_worker_uses_what_the_parent_read(tmp_path: Path):
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork here")
    make(tmp_path, {"requirements.txt": "tensorflow==2.15.0\n", "a.py": TF_ATTR})
    detector = KerasDetector()
    detector.project_files(tmp_path / "a.py")
    (tmp_path / "requirements.txt").write_text("tensorflow==2.17.0\n")  # not read again
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        version = pool.apply(_worker_decide, (detector, tmp_path / "a.py"))
    assert version == "2"


def _worker_decide(detector: KerasDetector, path: Path) -> str | None:
    return detector.decide(path, path.read_text()).version


def test_detection_imports_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import sys, kerlint.keras_version\n"
        "heavy = [m for m in ('packaging', 'keras', 'tensorflow', 'click') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "code",
    [
        "import tensorflow as tf\nx = 1\nm = tf.keras.Model()\n",
        "import tensorflow\nfrom tensorflow.keras import layers\n",
        "from tensorflow import keras as K\nimport numpy as np, tf_keras\n",
        "import tensorflow.compat.v1 as tf1\ny = tf1.keras.layers.Dense(2)\n",
        "from keras.layers import (\n    Dense,\n)\nimport keras_core\n",
        "import numpy as np\n# tf.keras in a comment, no tensorflow import\n",
        "import tensorflow as tf\n# tf.keras in a comment\nds = tf.data.Dataset\n",
        "from tensorflow.python.keras import backend\n",
        "def build():\n    import tf_keras\n    from tensorflow.keras import layers\n",
    ],
)
def test_line_scan_finds_the_roots_ast_finds(code: str):
    """The cheap scan (used when the pins decide) sees the same roots as the parse."""
    from kerlint.keras_version.code import read_code, scan_code

    scanned, parsed = scan_code(code), read_code(code)
    assert scanned.roots == parsed.roots
    assert scanned.first_tensorflow_import == parsed.first_tensorflow_import


def test_notebook_conda_install_and_bash_cells(tmp_path: Path):
    mode = _decide_notebook(
        tmp_path, {}, ["!conda install -y -c conda-forge tensorflow=2.10\n", TF_ATTR]
    )
    assert (mode.version, mode.because) == ("2", "conda install tensorflow=2.10 in the notebook")
    mode = _decide_notebook(tmp_path, {}, ["%%bash\npip install -q 'keras>=3.2'\n", KERAS])
    assert (mode.version, mode.because) == ("3", "pip install keras>=3.2 in the notebook")


def test_deeply_nested_code_does_not_crash(tmp_path: Path):
    code = "import keras\nx = " + "+".join(["1"] * 20000) + "\nm.fit_generator(g)\n"
    mode, warnings = decide(tmp_path, {}, code)
    assert mode.version in (None, "2") and warnings == []


def test_a_bug_in_detection_is_an_unknown_keras(tmp_path: Path, monkeypatch):
    import kerlint.keras_version as detection

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(detection, "_spans", broken)
    monkeypatch.delenv("KERLINT_DEBUG", raising=False)
    mode, _ = decide(tmp_path, {}, KERAS)
    assert (mode.version, mode.because) == (
        None,
        "kerlint could not decide (internal error: KeyError: 'boom')",
    )
    monkeypatch.setenv("KERLINT_DEBUG", "1")
    with pytest.raises(KeyError):
        decide(tmp_path, {}, KERAS)


def test_packaging_is_imported_only_for_a_specifier(tmp_path: Path):
    import subprocess
    import sys

    make(
        tmp_path,
        {
            "requirements.txt": "tensorflow\nnumpy>=1\n",
            "a.py": TF_ATTR,
            "b/requirements.txt": "keras>=3\n",
            "b/c.py": KERAS,
        },
    )
    code = (
        "import sys\nfrom pathlib import Path\nfrom kerlint.keras_version import KerasDetector\n"
        "d = KerasDetector()\n"
        f"d.decide(Path({str(tmp_path / 'a.py')!r}), 'import tensorflow as tf')\n"
        "print('packaging' in sys.modules)\n"
        f"print(d.decide(Path({str(tmp_path / 'b/c.py')!r}), 'import keras').version)\n"
        "print('packaging' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "3", "True"]
