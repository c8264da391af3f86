"""The report formats, one module each in this folder, registered once in FORMATS below. Each
module has `SUFFIXES` (the --output file names that ask for it) and `render(report) -> str`,
and `DRAWS = True` if it draws plots (html, svg: the plotting library is needed); they are
imported only when used, so the command line stays fast."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

FORMATS = ("json", "markdown", "github", "junit", "sarif", "html", "svg")
NAMES = ("rich", *FORMATS)  # rich: the report for a person, on the terminal


def module(name: str) -> ModuleType:
    return importlib.import_module(f"nnfix.report.formats.{name}")


def by_suffix(output: Path) -> str:
    """The format a file's name asks for when --format was not given (json otherwise)."""
    suffix = output.suffix.lower()
    return next((name for name in FORMATS if suffix in module(name).SUFFIXES), "json")


def draws(name: str) -> bool:
    """Whether format `name` draws plots (and so needs the plotting library)."""
    return name != "rich" and getattr(module(name), "DRAWS", False)
