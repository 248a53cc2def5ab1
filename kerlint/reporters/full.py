"""`--output-format full`: each diagnostic with the code it points at, as ruff's full form.

```
train.py:20:1: KL003 `base.trainable = True` unfreezes ...
   |
19 | # Fine-tune the whole base.
20 | base.trainable = True
   | ^^^^^^^^^^^^^^^^^^^^^ KL003
21 | model.compile(
   |
   = help: Freeze the BatchNormalization layers again after unfreezing
```

The excerpt shows the reported span with carets under it and up to two lines around; in a
notebook the rows are those of the cell.
"""

from __future__ import annotations

from kerlint.diagnostics import Diagnostic
from kerlint.reporters import ReportContext, reporter
from kerlint.reporters.text import _style, concise_line, summary

CONTEXT = 2
MAX_SPAN_ROWS = 6  # a longer span shows its first and last rows


def _marker(line: str, start: int, end: int) -> str:
    """Spaces (tabs where the line has tabs) up to `start`, then carets up to `end`."""
    prefix = "".join("\t" if c == "\t" else " " for c in line[: start - 1])
    return prefix + "^" * max(1, end - start)


def excerpt(
    diagnostic: Diagnostic, lines: list[str], context: ReportContext
) -> tuple[list[str], int]:
    """The excerpt's lines and the width of its row numbers."""
    first_row = max(1, min(diagnostic.location.row, len(lines)))
    last_row = max(first_row, min(diagnostic.end_location.row, len(lines)))
    shown = list(range(max(1, first_row - CONTEXT), min(len(lines), last_row + CONTEXT) + 1))
    if last_row - first_row + 1 > MAX_SPAN_ROWS:
        half = MAX_SPAN_ROWS // 2
        shown = [r for r in shown if r <= first_row + half - 1 or r >= last_row - half + 1]
    width = len(str(shown[-1])) if shown else 1
    gutter = _style(" " * width + " |", context, fg="blue", bold=True)
    out = [gutter]
    previous = None
    for row in shown:
        if previous is not None and row != previous + 1:
            out.append(_style("...", context, fg="blue", bold=True))
        previous = row
        line = lines[row - 1]
        number = _style(f"{row:>{width}} |", context, fg="blue", bold=True)
        out.append(f"{number} {line}".rstrip())
        if first_row <= row <= last_row:
            indent = len(line) - len(line.lstrip())
            start = diagnostic.location.column if row == first_row else indent + 1
            end = diagnostic.end_location.column if row == last_row else len(line) + 1
            if row == first_row == last_row and end <= start:
                end = start + 1
            marker = _marker(line, start, end)
            if row == last_row:
                marker += f" {diagnostic.code}"
            out.append(f"{gutter} {_style(marker, context, fg='red', bold=True)}")
    out.append(gutter)
    return out, width


@reporter("full")
def full(diagnostics: list[Diagnostic], context: ReportContext) -> str:
    blocks = []
    for diagnostic in diagnostics:
        block = [concise_line(diagnostic, context)]
        lines = context.lines_of(diagnostic.filename, diagnostic.cell)
        width = 1
        if lines:
            shown, width = excerpt(diagnostic, lines, context)
            block.extend(shown)
        if diagnostic.fix is not None:
            pad = " " * (width + 1)
            label = "help" if diagnostic.fix.applicability == "safe" else "help (unsafe)"
            block.append(f"{pad}= {label}: {diagnostic.fix.message}")
        blocks.append("\n".join(block))
    return "\n\n".join(filter(None, [*blocks, summary(diagnostics, context)]))
