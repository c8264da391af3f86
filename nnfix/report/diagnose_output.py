"""Where a diagnosis goes: the chosen format to stdout or --output (a file in --format, or else
in the format its suffix asks for), the rich report to the terminal.

An --output that cannot be written, or a format that draws plots where the plotting library is
missing, is refused before the diagnosis runs (`check`), so none of it is spent for nothing;
when the write fails afterwards all the same (a full disk), the terminal has had the report
and the error says the file was not written (exit 2)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from nnfix.errors import OutputError, Problem
from nnfix.report import diagnose_rich, formats
from nnfix.report.console import stderr
from nnfix.run.files import shown, unwritable_file, write_atomic


def formatted(report, fmt: str) -> str:
    return formats.module(fmt).render(report)


def _format(fmt: str | None, output: str | Path | None) -> str:
    """The format the report is written in: --format, else what --output's suffix asks for."""
    if fmt not in (None, "rich") or output is None:
        return fmt or "rich"
    return formats.by_suffix(Path(output))


def _option(fmt: str | None, output: str | Path | None) -> str:
    return f"--output {shown(output)}" if output is not None else f"--format {fmt}"


def check(output: str | Path | None, fmt: str | None = None) -> None:
    """An OutputError (exit 2) naming --output and the path when no report can be written
    there: an empty path, a directory, under a file, somewhere read-only; or naming the option
    that asks for plots when they cannot be drawn."""
    if output is not None:
        reason = unwritable_file(output)
        if reason is not None:
            raise OutputError([Problem(f"--output {shown(output)}: {reason}")])
    name = _format(fmt, output)
    if formats.draws(name):
        from nnfix.report.plots import missing

        why = missing()
        if why is not None:
            raise OutputError([Problem(f"{_option(fmt, output)}: {why}")])


def emit(outcome, output: str | Path | None, console: Console, verbose: bool = False) -> None:
    fmt = outcome.config.format
    if output is None and fmt == "rich":
        diagnose_rich.render(outcome.report, console, verbose)
        return
    name = _format(fmt, output)
    if output is not None:
        # first: whatever happens to the file
        diagnose_rich.render(outcome.report, console, verbose)
    text = _drawn(outcome.report, name, _option(fmt, output))
    if output is None:
        console.file.write(text.rstrip("\n") + "\n")
        return
    try:
        write_atomic(Path(output), text)
    except OSError as exc:
        problem = Problem(f"--output {shown(output)}: {exc.strerror or exc}")
        raise OutputError([problem], outcome="the report above was not written") from None
    stderr().print(f"wrote {shown(output)}", style="dim")  # where the report went, as a note


def _drawn(report, name: str, option: str) -> str:
    """The report in format `name`; an OutputError naming `option` when it draws plots and
    the plotting library is missing (a format that came from the configuration, after
    `check`)."""
    from nnfix.report.plots import PlotsUnavailable

    try:
        return formatted(report, name)
    except PlotsUnavailable as exc:
        raise OutputError(
            [Problem(f"{option}: {exc}")], outcome="the report was not written"
        ) from None
