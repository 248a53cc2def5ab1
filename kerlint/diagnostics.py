"""The one shape every finding takes, from rules through suppression to reporters."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Applicability = Literal["safe", "unsafe"]


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based row and a 1-based column, as ruff reports them."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the text between `location` and `end_location` with `content`."""

    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class Fix:
    """A set of edits that together fix one diagnostic."""

    message: str
    edits: tuple[Edit, ...]
    applicability: Applicability = "safe"


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where it is, what it means, and how it may be fixed."""

    code: str
    message: str
    filename: str
    location: Location
    end_location: Location
    fix: Fix | None = None
    # Notebooks: the 1-based code cell the location is in (rows are then cell-relative).
    cell: int | None = None
    # Which Keras the finding assumed and why: {"version": "2" | "3" | None, "because": "..."}
    # (None: a KL000, or a rule whose verdict is the same in every Keras).
    keras: dict | None = field(default=None, compare=False)
    # Filled by `check --verify`: runtime evidence for a static finding.
    verification: dict | None = field(default=None, compare=False)
    # A finding that lies in an imported project module, reported at the call that leads
    # there: {"path", "filename", "location": [row, col], "end": [row, col]} of that place,
    # where a run that checks that module too reports it instead.
    origin: dict | None = field(default=None, compare=False)

    @property
    def sort_key(self) -> tuple:
        return (self.filename, self.cell or 0, self.location, self.code)

    def with_(self, **changes: object) -> Diagnostic:
        return replace(self, **changes)

    @property
    def evidence(self) -> str:
        """` [verify: confirmed: ...]` when `check --verify` examined the finding, else ``."""
        if not self.verification:
            return ""
        status = self.verification.get("status", "")
        detail = self.verification.get("detail", "")
        return f" [verify: {status}{': ' + detail if detail else ''}]"

    @property
    def full_message(self) -> str:
        """The message with its runtime evidence: what every output format shows."""
        return self.message + self.evidence


def rule_url(code: str) -> str:
    """Where a rule's page lives; reporters link every diagnostic to it."""
    from kerlint.rules import registry

    rule = registry.get(code)
    slug = f"{code}-{rule.name}" if rule else code
    return f"https://github.com/kerlint/kerlint/blob/main/rules/{slug}.md"
