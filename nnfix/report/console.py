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
