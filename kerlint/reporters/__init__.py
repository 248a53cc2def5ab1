"""Output formats. Each reporter turns the run's diagnostics into text for one audience."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kerlint.diagnostics import Diagnostic


@dataclass
class ReportContext:
    """What a reporter may need beyond the diagnostics."""

    color: bool = False
    show_fixes: bool = True
    files_checked: int = 0
    sources: dict[str, str] = field(default_factory=dict)  # display name -> text (for `full`)
    fixed: int = 0
    stale_baseline: int = 0
    hidden_by_baseline: int = 0
    unsafe_fixes: bool = False


Reporter = Callable[[list[Diagnostic], ReportContext], str]
REPORTERS: dict[str, Reporter] = {}


def reporter(name: str) -> Callable[[Reporter], Reporter]:
    def register(function: Reporter) -> Reporter:
        REPORTERS[name] = function
        return function

    return register


def render(name: str, diagnostics: list[Diagnostic], context: ReportContext) -> str:
    _load()
    return REPORTERS[name](diagnostics, context)


def names() -> list[str]:
    _load()
    return list(REPORTERS)


def _load() -> None:
    from kerlint.reporters import json_, text  # noqa: F401

    try:  # formats added by later modules register themselves on import
        from kerlint.reporters import extra  # noqa: F401
    except ImportError:
        pass
