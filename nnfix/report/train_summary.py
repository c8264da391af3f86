"""The end-of-training summary: final metrics, the loss curve, gradient norms per layer."""

from __future__ import annotations

from typing import cast

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from nnfix.report.controls import escape_controls
from nnfix.report.sparkline import sparkline


def _fmt(x: float | None, percent: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:.1%}" if percent else f"{x:.4g}"


def _first_last(values: list) -> tuple[float | None, float | None]:
    finite = [v for v in values if v is not None]
    return (finite[0], finite[-1]) if finite else (None, None)


def _curve(label: str, values: list, style: str) -> Text:
    """`label first ▇▅▃▂▁ last`: a loss curve in one line."""
    first, last = _first_last(values)
    line = Text(label)
    line.append(_fmt(first), style="dim")
    line.append(" " + sparkline(values) + " ", style=style)
    line.append(_fmt(last), style="dim")
    return line


def render_summary(summary: dict, console: Console) -> None:
    title = Text()
    title.append(escape_controls(summary["name"]), style="bold")
    title.append(
        f" · {summary['data']} · {summary['epochs']} epoch{'s' if summary['epochs'] != 1 else ''}, {summary['steps']} steps in {summary['seconds']:.1f}s"
    )
    console.print(title)
    if summary["stopped"] == "interrupted":
        console.print(
            Text(
                f"interrupted after epoch {summary['epochs']}: what it had is saved", style="yellow"
            )
        )
    if summary["diverged_at"]:
        at = summary["diverged_at"]
        console.print(
            Text(
                f"the loss became non-finite at epoch {at['epoch']} (step {at['step']}): training stopped. "
                "`nnfix diagnose` names the cause.",
                style="bold red",
            )
        )

    metrics = Table(box=None, padding=(0, 2), show_edge=False)
    metrics.add_column("")
    metrics.add_column("train", justify="right")
    if summary["validation"]:
        metrics.add_column("validation", justify="right")
    val = summary["validation"] or {}
    rows = [("loss", "loss", False), ("accuracy", "accuracy", True)]
    for label, key, percent in rows:
        if key == "accuracy" and summary["train"]["accuracy"] is None:
            continue
        cells = [_fmt(summary["train"][key], percent)]
        if summary["validation"]:
            cells.append(_fmt(val.get(key), percent))
        metrics.add_row(label, *cells)
    console.print(metrics)

    comparing = "reference_loss_curve" in summary
    console.print(_curve("yours " if comparing else "loss  ", summary["loss_curve"], "green"))
    if comparing:
        console.print(_curve("nnfix ", summary["reference_loss_curve"], "cyan"))
        parted = summary["parted_at_epoch"]
        console.print(
            Text(
                f"your code and nnfix's engine part at epoch {parted}: `nnfix diagnose` checks your gradients"
                if parted
                else "your code and nnfix's engine agree at every epoch",
                style="yellow" if parted else "green",
            )
        )

    table = Table(
        title="gradient norm ‖dW‖ per layer over training",
        title_justify="left",
        box=None,
        padding=(0, 2),
    )
    for name, justify in [
        ("layer", "right"),
        ("units", "right"),
        ("activation", "left"),
        ("first", "right"),
        ("last", "right"),
        ("", "left"),
    ]:
        table.add_column(name, justify=cast(JustifyMethod, justify))
    for layer in summary["layers"]:
        norms = layer["grad_norm"]
        first, last = _first_last(norms)
        activation = layer["activation"] + (
            " (declared derivative)" if layer["declared_derivative"] else ""
        )
        table.add_row(
            str(layer["layer"]),
            str(layer["units"]),
            activation,
            _fmt(first),
            _fmt(last),
            sparkline(norms, 24),
        )
    console.print(table)
    console.print(Text(f"saved {escape_controls(summary['run_dir'])}/", style="dim"))
    for note in summary.get("notes") or ():
        console.print(Text(note, style="yellow"))


def error_json(error, spec: str) -> str:
    """`train --format json` when the spec, data or module could not be read (exit 2): one
    JSON document all the same, its problems located as in diagnose's report."""
    import json

    from nnfix.report.errors import input_problems
    from nnfix.report.formats.json import error_document

    problems = [error_document(p) for p in input_problems(error, spec)]
    return json.dumps({"spec": spec, "status": "error", "errors": problems}, indent=2)
