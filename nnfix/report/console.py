"""The rich consoles nnfix prints to (NO_COLOR and non-terminals respected by rich itself)."""

from __future__ import annotations

from functools import cache

from rich.console import Console

from nnfix.report.controls import SafeConsole


@cache
def stdout() -> Console:
    return SafeConsole(highlight=False)


@cache
def stderr() -> Console:
    return SafeConsole(stderr=True, highlight=False)
