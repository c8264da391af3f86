"""The diagnosis for a person: a verdict line, then per spec its root causes, each followed
by the symptoms it explains, then the per-layer figures at init and the passes run."""

from __future__ import annotations

import math
from typing import cast

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from nnfix.diagnose.findings import Finding, Report, Source, SpecReport
from nnfix.report import snippet

STYLE = {"error": "bold red", "warning": "yellow", "info": "blue"}


def _value(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_value(x)}" for k, x in v.items())
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return "; ".join(f"({_value(x)})" for x in v[:3])
    if isinstance(v, list):
        shown = ", ".join(_value(x) for x in v[:8])
        return f"[{shown}{', …' if len(v) > 8 else ''}]"
    return str(v)


def _finding(f: Finding, spec: str, console: Console, indent: str) -> None:
    head = Text(indent)
    where = spec + (f":{f.location.line}:{f.location.col}" if f.location.line else "")
    head.append(where, style="bold")
    head.append(" ")
    head.append(f.code, style=STYLE[f.severity.value])
    head.append(f" {f.name}", style=STYLE[f.severity.value])
    head.append(f" [{f.severity.value}]", style="dim")
    if f.location.parameter or f.location.layer:
        head.append(f"  {f.location.parameter or f'layer {f.location.layer}'}", style="cyan")
    console.print(head, soft_wrap=True)
    pad = " " * len(indent) + "    "
    console.print(Text(pad + f.message), soft_wrap=True)
    if f.location.source is not None:
        _source(f.location.source, console, pad)
    if f.caused_by:
        console.print(
            Text(pad + "caused by " + ", ".join(f.caused_by), style="magenta"), soft_wrap=True
        )
    shown = {k: v for k, v in f.evidence.items() if k != "traceback"}
    if shown:
        console.print(
            Text(
                pad + "evidence: " + "; ".join(f"{k} {_value(v)}" for k, v in shown.items()),
                style="dim",
            ),
            soft_wrap=True,
        )
    if "traceback" in f.evidence:
        console.print(
            Text(
                "\n".join(pad + line for line in str(f.evidence["traceback"]).splitlines()),
                style="dim",
            ),
            soft_wrap=True,
        )
    if f.fix is not None:
        fix = Text(pad + "fix: ", style="green")
        if f.fix.spec_path:
            fix.append(f"{f.fix.spec_path}: {_value(f.fix.value)}", style="bold green")
            fix.append(" — ")
        fix.append(f.fix.description)
        console.print(fix, soft_wrap=True)


def _source(source: Source, console: Console, pad: str) -> None:
    """The user's line with a few lines around it and a caret under it, like a traceback."""
    console.print(Text(pad + f"at {source}", style="bold"), soft_wrap=True)
    shown = snippet.lines(source)
    width = len(str(shown[-1].number))
    for line in shown:
        gutter = f"{'>' if line.marked else ' '} {line.number:>{width}} | "
        text = Text(pad + gutter, style="dim")
        text.append(line.text, style="bold" if line.marked else "")
        console.print(text, soft_wrap=True)
        if line.marked:
            under = " " * (len(gutter) - 2) + "| " + snippet.caret(line, source.col)
            console.print(Text(pad + under, style="red"), soft_wrap=True)


def _layers(spec: SpecReport) -> Table:
    table = Table(
        box=None, padding=(0, 2), title="at init", title_justify="left", title_style="dim"
    )
    columns = [
        ("layer", "right"),
        ("units", "right"),
        ("activation", "left"),
        ("init", "left"),
        ("std z", "right"),
        ("‖dW‖", "right"),
    ]
    for name, justify in columns:
        table.add_column(name, justify=cast(JustifyMethod, justify), no_wrap=True)
    for row in spec.layers:
        table.add_row(
            str(row["layer"]),
            str(row["units"]),
            row["activation"],
            row["init"],
            *(_value(row[k]) if k in row else "–" for k in ("z_std", "grad_norm")),
        )
    return table


def render_spec(spec: SpecReport, console: Console) -> None:
    console.rule(Text(spec.spec, style="bold"), align="left")
    for line in spec.about:
        console.print(Text(f"  your code: {line}", style="dim"), soft_wrap=True)
    if spec.printed_lines:
        many = spec.printed_lines > len(spec.printed)
        console.print(
            Text(
                f"  your code printed {spec.printed_lines} line"
                f"{'s' if spec.printed_lines != 1 else ''}"
                + (f" (the first {len(spec.printed)}):" if many else ":"),
                style="dim",
            )
        )
        for line in spec.printed:
            console.print(Text(f"    │ {line}", style="dim"), soft_wrap=True)
    ordered = spec.ordered()
    if not ordered:
        console.print(Text("  no findings", style="green"))
    shown: list[Finding] = []
    for root in (f for f in ordered if f.is_root_cause):
        _finding(root, spec.spec, console, "  ")
        shown.append(root)
        for symptom in ordered:
            if symptom.caused_by and symptom.caused_by[0] == root.code and symptom not in shown:
                _finding(symptom, spec.spec, console, "    ↳ ")
                shown.append(symptom)
        console.print()
    for symptom in (f for f in ordered if f not in shown):  # causes filtered out by --select
        _finding(symptom, spec.spec, console, "  ")
        console.print()
    if spec.layers:
        console.print(_layers(spec))
    passes = " · ".join(
        f"{p.name} {p.seconds * 1000:.0f} ms"
        if not p.skipped
        else f"{p.name} skipped ({p.skipped})"
        for p in spec.passes
    )
    console.print(Text(f"passes: {passes}", style="dim"), soft_wrap=True)


def verdict(report: Report) -> Text:
    counts, failed, n = report.counts(), report.failed, len(report.specs)
    text = Text()
    if report.errors:  # exit 2: whatever was diagnosed, the run as a whole did not check all
        unread = len({e.spec for e in report.errors if e.spec})
        text.append("ERROR", style="bold red")
        if unread:
            text.append(f"  {unread} spec{'s' if unread != 1 else ''} could not be read")
        else:
            text.append("  the command line could not be read (above): nothing was diagnosed")
        if n:
            text.append(
                f"; {n} diagnosed: {counts['error']} error{'s' if counts['error'] != 1 else ''}, "
                f"{counts['warning']} warning{'s' if counts['warning'] != 1 else ''}, "
                f"{counts['info']} info"
            )
        return text
    text.append("FAIL" if failed else "PASS", style="bold red" if failed else "bold green")
    text.append(
        f"  {n} spec{'s' if n != 1 else ''}: {counts['error']} error{'s' if counts['error'] != 1 else ''}, "
        f"{counts['warning']} warning{'s' if counts['warning'] != 1 else ''}, {counts['info']} info "
        f"(fail on {report.fail_on})"
    )
    return text


def render(report: Report, console: Console) -> None:
    console.print(verdict(report))
    for spec in report.specs:
        render_spec(spec, console)
        console.print()
    if len(report.specs) > 1 or sum(len(s.findings) for s in report.specs) > 3:
        console.print(verdict(report))
