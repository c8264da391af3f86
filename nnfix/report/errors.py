"""Bad input shown as `file:line:col: path: message`, with the lines around it and a caret."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.text import Text

from nnfix.diagnose.findings import InputProblem
from nnfix.errors import CommandLineError, InputError, Problem, format_path
from nnfix.spec.source import Source


def _display(path: Path) -> str:
    """The path as the user gave it, or relative to here when it is inside the working dir."""
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _at_spec_key(problem: Problem, source: Source | None) -> bool:
    """Whether `problem` is shown at the spec's line of its key: every problem in the spec, and
    one about a whole file the spec names (no line inside it: a binary file, shapes that do not
    match, a column that is not there), at the key that names the file (`data.x`, …)."""
    if problem.file is None:
        return True
    return problem.line is None and source is not None and bool(problem.path)


def message(problem: Problem, source: Source | None) -> str:
    """The problem's message, naming its file when it is shown at the spec's key."""
    file = problem.file
    if file is not None and _at_spec_key(problem, source) and file.name not in problem.message:
        return f"{file.name}: {problem.message}"
    override = source.override_for(problem.path) if source and file is None else None
    if override and override not in problem.message:
        return f"{problem.message} (from {override})"
    return problem.message


def locate(problem: Problem, source: Source | None) -> tuple[str, int | None, int | None, int]:
    """(file shown, line, column, caret width) of a problem."""
    if problem.file is not None and not _at_spec_key(problem, source):
        return _display(problem.file), problem.line, problem.col, 1
    name = _display(source.path) if source else "spec"
    if problem.line is not None or source is None:
        return name, problem.line, problem.col, 1
    # a --set value: at the spec's line of its key (or the nearest key above it that the file
    # has), the message saying which --set gave it
    found, mark = source.locate(problem.path, problem.on_key)
    if mark is None:
        return name, None, None, 1
    exact = found == tuple(problem.path)
    col, width = mark.col, 1
    if exact and problem.on_key:
        width = len(str(problem.path[-1]))
    elif found in source.styles:  # a scalar: underline it (or the token an offset names)
        quoted = source.styles[found] in ('"', "'")
        if exact:
            col += problem.offset + (1 if quoted else 0)
        line = (
            source.text.splitlines()[mark.line - 1]
            if mark.line <= len(source.text.splitlines())
            else ""
        )
        rest = line[col - 1 :]
        flow = "{" in line[: col - 1] or "[" in line[: col - 1]
        token = re.split(r"[,}\]]| #", rest)[0] if flow else rest.split(" #")[0]
        token = token.rstrip().rstrip("\"'")
        width = max(
            1, len(token) if problem.offset == 0 else len(token.split()[0]) if token.split() else 1
        )
    return name, mark.line, col, width


def _snippet(text: str, line: int, col: int, width: int, hint: str | None) -> Text:
    lines = text.splitlines()
    out = Text()
    first, last = max(1, line - 1), min(len(lines), line + 1)
    pad = len(str(last))
    for n in range(first, last + 1):
        style = "bold" if n == line else "dim"
        out.append(f"  {n:>{pad}} │ ", style="blue")
        out.append(lines[n - 1] + "\n", style=style)
        if n == line:
            out.append(f"  {'':>{pad}} │ ", style="blue")
            out.append(" " * (col - 1) + "^" * width, style="bold red")
            if hint:
                out.append(f" {hint}", style="bold cyan")
            out.append("\n")
    return out


def render_input_error(error: InputError, console: Console) -> None:
    """Every problem of `error`, in file order, each with its snippet."""
    source = error.source if isinstance(error.source, Source) else None
    located = [(locate(p, source), p) for p in error.problems]
    located.sort(key=lambda item: (item[0][0], item[0][1] or 0, item[0][2] or 0))
    for (name, line, col, width), problem in located:
        where = name + (f":{line}:{col}" if line and col else f":{line}" if line else "")
        option = isinstance(error, CommandLineError)  # an option: its message names it
        if option:
            where = "nnfix"
        head = Text()
        if problem.file is not None or source is not None or line or option:
            head.append(where, style="bold")
            head.append(": ")
        if problem.path:
            head.append(format_path(problem.path), style="cyan")
            head.append(": ")
        head.append(message(problem, source))
        console.print(head, soft_wrap=True)
        text = None
        if _at_spec_key(problem, source):
            text = source.text if source is not None else None
        elif problem.file is not None and problem.file.suffix in (
            ".py",
            ".csv",
            ".yaml",
            ".yml",
            ".txt",
        ):
            try:
                text = problem.file.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = None
        if text and line and col:
            console.print(_snippet(text, line, col, width, problem.hint), end="")
        elif problem.hint:
            console.print(Text(f"  {problem.hint}", style="bold cyan"))
        if problem.detail:
            console.print(Text(problem.detail, style="dim"), soft_wrap=True)
    count = len(error.problems)
    console.print(
        Text(
            f"nnfix: {count} problem{'s' if count != 1 else ''} in {error.what}; {error.outcome}.",
            style="bold red",
        )
    )


def input_problems(error: InputError, spec: str) -> list[InputProblem]:
    """The problems of `error` located as the report formats carry them (file order)."""
    source = error.source if isinstance(error.source, Source) else None
    out = []
    for problem in error.problems:
        name, line, col, _ = locate(problem, source)
        if isinstance(error, CommandLineError):
            name = "command line"
        out.append(
            InputProblem(
                spec=spec,
                file=name,
                line=line,
                col=col if line else None,
                path=format_path(problem.path),
                message=message(problem, source),
                what=error.what,
            )
        )
    return sorted(out, key=lambda p: (p.file, p.line or 0, p.col or 0))
