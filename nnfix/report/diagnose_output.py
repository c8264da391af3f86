"""Where a diagnosis goes: the chosen format to stdout or --output, the rich report to the
terminal, and .svg/.html files drawn from the rich report."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from nnfix.report import diagnose_rich, formats
from nnfix.report.controls import SafeConsole
from nnfix.run.files import write_atomic


def formatted(report, fmt: str) -> str:
    return formats.module(fmt).render(report)


def emit(outcome, output: Path | None, console: Console) -> None:
    fmt = outcome.config.format
    if output is not None and output.suffix.lower() in (".svg", ".html"):
        recorder = SafeConsole(record=True, width=110, force_terminal=True)
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
        write_atomic(
            output, formatted(outcome.report, fmt if fmt != "rich" else formats.by_suffix(output))
        )
        diagnose_rich.render(outcome.report, console)
        return
    if fmt == "rich":
        diagnose_rich.render(outcome.report, console)
    else:
        console.file.write(formatted(outcome.report, fmt).rstrip("\n") + "\n")
