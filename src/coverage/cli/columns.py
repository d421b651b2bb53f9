"""Long listings as plain aligned columns: a thousand rows print in milliseconds (rich tables take seconds)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence


def print_columns(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None) -> None:
    """Rows under their headers, each column as wide as its widest cell; the last column takes what is left."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    room = max(shutil.get_terminal_size((160, 24)).columns, 80) - sum(widths[:-1]) - 2 * (len(widths) - 1)
    widths[-1] = max(min(widths[-1], room), len(headers[-1]))
    out = sys.stdout
    if title:
        out.write(f"{title}\n")
    for cells in (headers, ["-" * w for w in widths], *rows):
        line = "  ".join(cell.ljust(widths[i]) if i < len(widths) - 1 else cell for i, cell in enumerate(cells))
        out.write(line.rstrip() + "\n")
    if not rows:
        out.write("(nothing)\n")
