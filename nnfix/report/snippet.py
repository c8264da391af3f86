"""The user's lines around a line a finding points at (a .py file or a notebook cell), read
when the report is drawn, for a snippet with a caret like a traceback's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nnfix.diagnose.findings import Source

AROUND = 2  # lines shown before and after


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    marked: bool  # the line the finding points at


def lines(source: Source, around: int = AROUND) -> list[Line]:
    """The lines around `source.line` as the file holds them now; only the statement (as the
    finding quotes it) when the file cannot be read or has changed since."""
    text = _read(Path(source.file), source.cell)
    if text is None or not 0 < source.line <= len(text):
        return [Line(source.line, " " * (source.col - 1) + source.code, True)]
    if source.code and source.code.strip() not in text[source.line - 1]:
        return [Line(source.line, " " * (source.col - 1) + source.code, True)]
    first, last = max(1, source.line - around), min(len(text), source.line + around)
    return [Line(n, text[n - 1].rstrip(), n == source.line) for n in range(first, last + 1)]


def _read(path: Path, cell: int | None) -> list[str] | None:
    try:
        raw = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if cell is None:
        return raw.splitlines()
    try:
        cells = json.loads(raw)["cells"]
        source = cells[cell]["source"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return ("".join(source) if isinstance(source, list) else str(source)).splitlines()


def caret(line: Line, col: int) -> str:
    """`^^^^` under a marked line's statement, from its column to its end."""
    start = max(col - 1, len(line.text) - len(line.text.lstrip()))
    return " " * start + "^" * max(1, len(line.text.rstrip()) - start)
