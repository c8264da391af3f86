"""Where a diagnosis goes: the chosen format to stdout or --output, the rich report to the
terminal, and .svg/.html files drawn from the rich report."""

from __future__ import annotations

import importlib
from pathlib import Path

from rich.console import Console

from nnfix.report import diagnose_rich
from nnfix.run.files import write_atomic


def formatted(outcome, fmt: str) -> str:
    module = importlib.import_module(f"nnfix.report.formats.{fmt}")
    if fmt == "junit":
        return module.render(outcome.report, outcome.checked)
    return module.render(outcome.report)


SUFFIXES = {
    ".json": "json",
    ".sarif": "sarif",
    ".xml": "junit",
    ".md": "markdown",
    ".txt": "github",
}


def by_suffix(output: Path) -> str:
    """The format a file's name asks for when --format was not given (json otherwise)."""
    return SUFFIXES.get(output.suffix.lower(), "json")


def emit(outcome, output: Path | None, console: Console) -> None:
    fmt = outcome.config.format
    if output is not None and output.suffix.lower() in (".svg", ".html"):
        recorder = Console(record=True, width=110, force_terminal=True)
        diagnose_rich.render(outcome.report, recorder)
        text = (
            recorder.export_svg(title="nnfix diagnose")
            if output.suffix.lower() == ".svg"
            else recorder.export_html()
        )
        write_atomic(output, text)
        diagnose_rich.render(outcome.report, console)
        return
    if output is not None:
        write_atomic(output, formatted(outcome, fmt if fmt != "rich" else by_suffix(output)))
        diagnose_rich.render(outcome.report, console)
        return
    if fmt == "rich":
        diagnose_rich.render(outcome.report, console)
    else:
        console.file.write(formatted(outcome, fmt).rstrip("\n") + "\n")
