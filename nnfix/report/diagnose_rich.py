"""The diagnosis for a person: a verdict line, then each root cause as one entry (its line,
message, fix and the symptoms it explains); `verbose` adds every symptom with its evidence,
the per-layer table at init and the pass timings. Text wraps at the console's width."""

from __future__ import annotations

import math
from typing import cast

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from nnfix.diagnose.findings import Finding, Report, Source, SpecReport
from nnfix.report import snippet
from nnfix.report.causes import Cause, causes

STYLE = {"error": "bold red", "warning": "yellow", "info": "blue"}
INDENT = 4  # a finding's message, fix and evidence under its line


def _value(v) -> str:
    """A measured value as a person reads it: 4 significant digits, yes/no, lists shortened."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{_key(k)} {_value(x)}" for k, x in v.items() if x is not None)
    if isinstance(v, list | tuple) and v and isinstance(v[0], dict):
        return " · ".join(f"({_value(x)})" for x in v[:3])
    if isinstance(v, list | tuple):
        shown = ", ".join(_value(x) for x in v[:8])
        return f"[{shown}{', …' if len(v) > 8 else ''}]"
    return str(v)


def _key(k: object) -> str:
    return str(k).replace("_", " ")


def _evidence(f: Finding) -> list[str]:
    """The evidence, one `key: value` line each: no None, no text the message already says."""
    return [
        f"{_key(k)}: {_value(v)}"
        for k, v in f.evidence.items()
        if k != "traceback" and v is not None and not (isinstance(v, str) and v in f.message)
    ]


def _print(console: Console, text: Text, indent: int, hanging: int | None = None) -> None:
    """Wrapped at word boundaries to the console's width, the first line at `indent` and the
    others at `hanging` (default: the same); a word longer than a line is folded, never cut."""
    hanging = indent if hanging is None else hanging
    width = max(console.width - max(indent, hanging), 20)
    for i, line in enumerate(text.wrap(console, width, justify="default", overflow="fold")):
        line.rstrip()
        pad = Text(" " * (hanging if i else indent))
        console.print(pad + line, no_wrap=True, overflow="ignore", crop=False)


def _head(f: Finding, spec: str, where: str, severity: bool) -> Text:
    head = Text()
    head.append(spec + (f":{f.location.line}:{f.location.col}:" if f.location.line else ":"))
    head.stylize("bold")
    style = STYLE[f.severity.value]
    head.append(f" {f.code} {f.name}", style=style)
    if severity or f.severity.value != "error":  # so plain text still tells a warning
        head.append(f" ({f.severity.value})", style="dim")
    if where:
        head.append(f"  {where}", style="cyan")
    return head


def fix_text(cause: Cause) -> Text:
    """`fix: model.layers[0–2].activation.derivative_of: a — say what your derivative is
    given`: the spec key and value (one key for several layers), then why."""
    text = Text("fix: ", style="green")
    change = cause.change()
    if change is None:
        return text
    key, why = change
    if key:
        text.append(key, style="bold green")
        text.append(" — ")
    text.append(why)
    return text


def _source_line(source: Source) -> Text:
    text = Text("at ", style="dim")
    text.append(str(source), style="bold")
    text.append(f"  {source.code.strip()}")
    return text


def _snippet(source: Source, console: Console, indent: int) -> None:
    """The user's line with a few lines around it and a caret under it, like a traceback."""
    _print(console, Text(f"at {source}", style="bold"), indent)
    shown = snippet.lines(source)
    width = len(str(shown[-1].number))
    for line in shown:
        gutter = f"{'>' if line.marked else ' '} {line.number:>{width}} | "
        text = Text(gutter, style="dim")
        text.append(line.text, style="bold" if line.marked else "")
        _print(console, text, indent)
        if line.marked:
            under = " " * (len(gutter) - 2) + "| " + snippet.caret(line, source.col)
            _print(console, Text(under, style="red"), indent)


def _cause(cause: Cause, spec: str, console: Console, verbose: bool) -> None:
    if verbose:  # every finding of the entry whole, then every symptom under it
        for f in cause.findings:
            _full(f, spec, console, 0, "")
        for symptom in cause.symptoms:
            _full(symptom, spec, console, INDENT, "↳ ")
        return
    first, where = cause.first, cause.where()
    head = _head(first, spec, where, False)
    if head.cell_len > console.width - INDENT and where:  # "layers 1–3" kept whole, below
        _print(console, _head(first, spec, "", False), 0, INDENT)
        _print(console, Text(where, style="cyan"), INDENT)
    else:
        _print(console, head, 0, INDENT)
    _print(console, Text(first.message), INDENT)
    if first.location.source is not None:
        _print(console, _source_line(first.location.source), INDENT)
    _traceback(first, console, INDENT)  # the user's own exception is what they must read
    if cause.change() is not None:
        _print(console, fix_text(cause), INDENT)
    if cause.symptoms:
        _print(console, _explains(cause), INDENT)


def _explains(cause: Cause) -> Text:
    text = Text("explains: ", style="magenta")
    for i, (code, n, severity) in enumerate(cause.explained()):
        text.append(", " if i else "")
        text.append(code, style=STYLE[severity] if severity == "error" else "")
        text.append(f" ×{n}" if n > 1 else "")
    return text


def _full(f: Finding, spec: str, console: Console, indent: int, mark: str) -> None:
    """A finding with everything measured: -v."""
    where = f.location.parameter or (f"layer {f.location.layer}" if f.location.layer else "")
    head = Text(mark, style="magenta")
    head.append_text(_head(f, spec, where, True))
    pad = indent + INDENT
    _print(console, head, indent, pad)
    _print(console, Text(f.message), pad)
    if f.location.source is not None:
        _snippet(f.location.source, console, pad)
    if f.caused_by:
        _print(console, Text("caused by " + ", ".join(f.caused_by), style="magenta"), pad)
    for line in _evidence(f):
        _print(console, Text(line, style="dim"), pad, pad + 2)
    _traceback(f, console, pad)
    if f.fix is not None:
        _print(console, fix_text(Cause([f])), pad)


def _traceback(f: Finding, console: Console, indent: int) -> None:
    if "traceback" in f.evidence:
        for line in str(f.evidence["traceback"]).splitlines():
            _print(console, Text(line, style="dim"), indent)


def _layers(spec: SpecReport) -> Table:
    """The per-layer table at init. Narrower than its content, it folds the names (activation,
    init) over lines and never cuts a number."""
    table = Table(
        box=None,
        padding=(0, 1),
        pad_edge=False,
        title="at init",
        title_justify="left",
        title_style="dim",
    )
    columns = [
        ("layer", "right"),
        ("units", "right"),
        ("activation", "left"),
        ("init", "left"),
        ("z spread", "right"),
        ("‖dW‖", "right"),
    ]
    for name, justify in columns:
        names = justify == "left"  # the columns that give way
        table.add_column(
            name,
            justify=cast(JustifyMethod, justify),
            no_wrap=not names,
            overflow="fold" if names else "ellipsis",
        )
    for row in spec.layers:
        table.add_row(
            str(row["layer"]),
            str(row["units"]),
            row["activation"],
            row["init"],
            *(_value(row[k]) if k in row else "–" for k in ("z_spread", "grad_norm")),
        )
    return table


def _table(console: Console, table: Table) -> None:
    """A table printed with no trailing spaces (rich pads every cell to its column)."""
    for segments in console.render_lines(table, console.options, pad=False):
        line = Text()
        for segment in segments:
            line.append(segment.text, segment.style)
        line.rstrip()
        console.print(line, no_wrap=True, overflow="ignore", crop=False)


def _printed(spec: SpecReport, console: Console) -> None:
    if not spec.printed_lines:
        return
    many = spec.printed_lines > len(spec.printed)
    s = "s" if spec.printed_lines != 1 else ""
    head = f"your code printed {spec.printed_lines} line{s}"
    _print(
        console,
        Text(head + (f" (the first {len(spec.printed)}):" if many else ":"), style="dim"),
        0,
    )
    for line in spec.printed:
        _print(console, Text(f"│ {line}", style="dim"), 2)


def render_spec(
    spec: SpecReport, console: Console, verbose: bool = False, multiple: bool = True
) -> None:
    if multiple:  # alone, it stands above the verdict (render)
        _inferred(spec, console)
    if verbose:
        for line in spec.about:
            _print(console, Text(f"your code: {line}", style="dim"), 0)
    _printed(spec, console)
    entries = causes(spec)
    if not entries and multiple:
        _print(console, Text("no findings", style="green"), 0)
    for cause in entries:  # by default no blank lines: each entry's line starts at column 0
        if verbose:
            console.print()
        _cause(cause, spec.spec, console, verbose)
    if verbose:
        console.print()
        if spec.layers:
            _table(console, _layers(spec))
        passes = " · ".join(
            f"{p.name} {p.seconds * 1000:.0f} ms"
            if not p.skipped
            else f"{p.name} skipped ({p.skipped})"
            for p in spec.passes
        )
        _print(console, Text(f"passes: {passes}", style="dim"), 0)


def _counts(counts: dict[str, int]) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n != 1 and word != 'info' else ''}"

    shown = [k for k in ("error", "warning", "info") if counts[k] or k == "error"]
    return ", ".join(plural(counts[k], k) for k in shown)


VERDICT = {  # the verdict word and its style, by Report.verdict (but "error", said apart)
    "fail": ("FAIL", "bold red"),
    "unchecked": ("UNCHECKED", "bold yellow"),
    "pass": ("PASS", "bold green"),
}


def verdict(report: Report) -> Text:
    counts, n = report.counts(), len(report.specs)
    text = Text()
    if report.errors:  # exit 2: whatever was diagnosed, the run as a whole did not check all
        unread = len({e.spec for e in report.errors if e.spec})
        text.append("ERROR", style="bold red")
        if unread:
            text.append(f"  {unread} spec{'s' if unread != 1 else ''} could not be read")
        else:
            text.append("  the command line could not be read (above): nothing was diagnosed")
        if n:
            text.append(f"; {n} diagnosed: {_counts(counts)}")
        return text
    word, style = VERDICT[report.verdict]
    text.append(word, style=style)
    if report.verdict == "unchecked":  # never a pass: say what was not checked, and where
        specs = [s.spec for s in report.specs if s.unchecked]
        text.append(
            "  the gradients were not checked" + (f" ({', '.join(specs)})" if n > 1 else "") + ";"
        )
    if n == 1:  # the findings' lines name the spec; with none, the verdict does
        roots = len(causes(report.specs[0]))
        if not roots:
            text.append(f"  {report.specs[0].spec}: no findings")
            return text
        text.append(f"  {roots} root cause{'s' if roots != 1 else ''} · ")
    else:
        text.append(f"  {n} specs: ")
    text.append(_counts(counts))
    if report.fail_on != "error":
        text.append(f" (fail on {report.fail_on})")
    return text


def _inferred(spec: SpecReport, console: Console) -> None:
    """What nnfix read off a .py given without a spec (SPEC §3.7)."""
    for line in spec.inferred:
        _print(console, Text(f"inferred: {line}", style="dim"), 0, INDENT)


def render(report: Report, console: Console, verbose: bool = False) -> None:
    if len(report.specs) == 1:
        _inferred(report.specs[0], console)
    _print(console, verdict(report), 0, 6)
    for spec in report.specs:
        if len(report.specs) > 1:
            console.print()
            console.rule(Text(spec.spec, style="bold"), align="left")
        render_spec(spec, console, verbose, multiple=len(report.specs) > 1)
    if len(report.specs) > 1:
        console.print()
        _print(console, verdict(report), 0, 6)
