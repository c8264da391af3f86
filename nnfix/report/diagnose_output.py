"""Where a diagnosis goes: the chosen format to stdout or --output, the rich report to the
terminal, and .svg/.html files drawn from the rich report.

An --output that cannot be written is refused before the diagnosis runs (`check`), so none of
it is spent for nothing; when the write fails afterwards all the same (a full disk), the
terminal has had the report and the error says the file was not written (exit 2)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from nnfix.errors import OutputError, Problem
from nnfix.report import diagnose_rich, formats
from nnfix.report.controls import SafeConsole
from nnfix.run.files import shown, unwritable_file, write_atomic


def formatted(report, fmt: str) -> str:
    return formats.module(fmt).render(report)


def check(output: str | Path | None) -> None:
    """An OutputError (exit 2) naming --output and the path when no report can be written
    there: an empty path, a directory, under a file, somewhere read-only."""
    if output is None:
        return
    reason = unwritable_file(output)
    if reason is not None:
        raise OutputError([Problem(f"--output {shown(output)}: {reason}")])


def emit(outcome, output: str | Path | None, console: Console, verbose: bool = False) -> None:
    fmt = outcome.config.format
    if output is None:
        if fmt == "rich":
            diagnose_rich.render(outcome.report, console, verbose)
        else:
            console.file.write(formatted(outcome.report, fmt).rstrip("\n") + "\n")
        return
    target = Path(output)
    suffix = target.suffix.lower()
    if suffix in (".svg", ".html"):
        recorder = SafeConsole(record=True, width=110, force_terminal=True)
        diagnose_rich.render(outcome.report, recorder, verbose=True)
        text = (
            recorder.export_svg(title="nnfix diagnose")
            if suffix == ".svg"
            else recorder.export_html()
        )
    else:
        text = formatted(outcome.report, fmt if fmt != "rich" else formats.by_suffix(target))
    diagnose_rich.render(outcome.report, console, verbose)  # first: whatever happens to the file
    try:
        write_atomic(target, text)
    except OSError as exc:
        problem = Problem(f"--output {shown(output)}: {exc.strerror or exc}")
        raise OutputError([problem], outcome="the report above was not written") from None
