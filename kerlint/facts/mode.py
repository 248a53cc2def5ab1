"""Which Keras a file is judged by: a fact of the file, like an object's class.

Keras 2 fixes the trainable state at `compile()`; Keras 3 reads it when training first
runs. Rules read `FileFacts.mode` and never derive the version themselves: the decision
(from configuration, a pragma, the project's pins or code hints) is made before the facts
are built, by `kerlint.keras_version`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KerasVersion = Literal["2", "3"]


@dataclass(frozen=True)
class KerasMode:
    """The Keras a file runs (None: unknown, the portable reading) and why kerlint thinks so."""

    version: KerasVersion | None = "3"
    because: str = "the default"
    # "3": also report what changes silently on the upgrade of a Keras 2 project to Keras 3.
    target: KerasVersion | None = None
    # Keras 2 only: whether the default optimizers accept only the variables they were built
    # for (TensorFlow >= 2.11: KeyError on a new variable); False for TensorFlow <= 2.10 and
    # multi-backend Keras (<= 2.3), whose optimizers take any variable; None when unknown.
    # Keras 3's optimizers always are (this field is not read there).
    optimizers_bound: bool | None = None

    @property
    def keras2(self) -> bool:
        return self.version == "2"

    @property
    def keras3(self) -> bool:
        return self.version == "3"

    @property
    def unknown(self) -> bool:
        return self.version is None

    @property
    def upgrade_view(self) -> bool:
        """Report Keras-2-correct code that breaks on Keras 3 (on a Keras 2 or unknown file)."""
        return self.target == "3" and self.version != "3"

    @property
    def keras2_optimizers_raise(self) -> bool:
        """Reusing or sharing an optimizer raises in this Keras 2 (known TF >= 2.11)."""
        return self.optimizers_bound is True

    def as_json(self) -> dict[str, str | None]:
        return {"version": self.version, "because": self.because}

    def describe(self) -> str:
        """How messages name the assumption: `Keras 2 (tensorflow==2.15.0 in requirements.txt)`."""
        name = f"Keras {self.version}" if self.version else "an unknown Keras version"
        upgrade = f"; upgrade view to Keras {self.target}" if self.upgrade_view else ""
        return f"{name} ({self.because}{upgrade})"


DEFAULT_MODE = KerasMode()
