"""The rich consoles nnfix prints to (NO_COLOR and non-terminals respected by rich itself)."""

from __future__ import annotations

from functools import cache

from rich.console import Console


@cache
def stdout() -> Console:
    return Console(highlight=False)


@cache
def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def printable(text: str) -> str:
    """`text` with control and invisible characters escaped (`\\x1b`, `\\u202e`), so that a
    label the user wrote cannot drive or fool the terminal; everything else as written."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
