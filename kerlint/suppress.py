"""`# noqa` comments, ruff-compatible, and file-level `# kerlint: noqa`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CODE_LIST = r"(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*)"
_LINE_NOQA = re.compile(r"#\s*noqa(?::\s*" + _CODE_LIST + r")?", re.IGNORECASE)
_FILE_NOQA = re.compile(
    r"#\s*(?:kerlint|ruff)\s*:\s*noqa(?::\s*" + _CODE_LIST + r")?", re.IGNORECASE
)
_FLAKE8_FILE = re.compile(r"#\s*flake8\s*:\s*noqa\b", re.IGNORECASE)


# --ignore-noqa travels with the selected codes, so that it reaches worker processes and
# the cache key as they do; it is no rule code (no rule is named so).
IGNORE_NOQA = "!ignore-noqa"


@dataclass
class Suppressions:
    """Which codes are silenced on which rows; `None` in a set means every code."""

    by_row: dict[int, set[str] | None] = field(default_factory=dict)
    whole_file: set[str] | None = field(default_factory=set)

    def suppresses(self, code: str, row: int) -> bool:
        if self.whole_file is None or code in self.whole_file:
            return True
        if row not in self.by_row:
            return False
        codes = self.by_row[row]
        return codes is None or code in codes


def _codes(match: re.Match[str]) -> set[str] | None:
    raw = match.group("codes")
    return None if raw is None else {c.upper() for c in re.split(r"[\s,]+", raw) if c}


def find_suppressions(text: str) -> Suppressions:
    result = Suppressions()
    if "noqa" not in text and "NOQA" not in text:
        return result
    for row, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        comment = line[line.index("#") :]
        file_match = _FILE_NOQA.search(comment)
        if file_match:
            if not line.lstrip().startswith("#"):
                pass  # a file-level directive must be on a line of its own
            else:
                codes = _codes(file_match)
                if codes is None or result.whole_file is None:
                    result.whole_file = None
                else:
                    result.whole_file |= codes
                continue
        if _FLAKE8_FILE.search(comment) and line.lstrip().startswith("#"):
            continue
        match = _LINE_NOQA.search(comment)
        if match:
            codes = _codes(match)
            previous = result.by_row.get(row, set())
            result.by_row[row] = None if codes is None or previous is None else previous | codes
    return result
