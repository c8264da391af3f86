"""The end-of-training summary: final metrics, the loss curve, gradient norms per layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from nnfix.report.controls import escape_controls
from nnfix.report.sparkline import sparkline
from nnfix.run.files import shown

CURVE = 40  # the loss curve's characters at most
SPARK = (8, 24)  # a gradient sparkline's characters: at least, at most
SEPARATOR = " · "


def _fmt(x: float | None, percent: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:.1%}" if percent else f"{x:.4g}"


def _first_last(values: list) -> tuple[float | None, float | None]:
    finite = [v for v in values if v is not None]
    return (finite[0], finite[-1]) if finite else (None, None)


def _curve(label: str, values: list, style: str, width: int) -> Text:
    """`label first ▇▅▃▂▁ last`: a loss curve in one line of at most `width` cells."""
    first, last = _fmt(_first_last(values)[0]), _fmt(_first_last(values)[1])
    line = Text(label)
    line.append(first, style="dim")
    room = width - cell_len(label) - len(first) - len(last) - 2
    line.append(" " + sparkline(values, max(1, min(CURVE, room))) + " ", style=style)
    line.append(last, style="dim")
    return line


@dataclass
class _Spark:
    """A sparkline as wide as its table cell lets it be (SPARK), never cut."""

    values: list

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        n = max(1, len(self.values))
        return Measurement(min(SPARK[0], n), min(SPARK[1], n))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(sparkline(self.values, max(1, options.max_width)), end="")


def _lines(pieces: list[tuple[str, str]], width: int) -> Text:
    """(separator, text) pieces, each after its separator on the line, or at the start of an
    indented next line where it would not fit: a line breaks between pieces, never inside."""
    out = Text()
    used = 0
    for i, (separator, piece) in enumerate(pieces):
        if i and used + cell_len(separator + piece) > width:
            out.append("\n  ")
            used = 2
        elif i:
            out.append(separator)
            used += cell_len(separator)
        out.append(piece, style="bold" if i == 0 else "")
        used += cell_len(piece)
    return out


def render_summary(summary: dict, console: Console) -> None:
    width = console.width
    epochs = summary["epochs"]
    data = [(", ", part) for part in summary["data"].split(", ")]
    ran = f"{epochs} epoch{'s' if epochs != 1 else ''}, {summary['steps']} steps in {summary['seconds']:.1f}s"
    header = [("", escape_controls(summary["name"])), (SEPARATOR, data[0][1]), *data[1:]]
    console.print(_lines([*header, (SEPARATOR, ran)], width))
    if summary["stopped"] == "interrupted":
        console.print(
            Text(
                f"interrupted after epoch {summary['epochs']}: what it had is saved", style="yellow"
            )
        )
    console.print(_figures(summary))

    comparing = "reference_loss_curve" in summary
    label = "yours " if comparing else "loss per epoch (batch mean)  "
    console.print(_curve(label, summary["loss_curve"], "green", width))
    if comparing:
        console.print(_curve("nnfix ", summary["reference_loss_curve"], "cyan", width))
        parted = summary["parted_at_epoch"]
        console.print(
            Text(
                f"your code and nnfix's engine part at epoch {parted}: `nnfix diagnose` checks your gradients"
                if parted
                else "your code and nnfix's engine agree at every epoch",
                style="yellow" if parted else "green",
            )
        )
    console.print(_gradients(summary))
    console.print(Text(f"saved {escape_controls(summary['run_dir'])}/", style="dim"))
    for note in summary.get("notes") or ():
        console.print(Text(note, style="yellow"))
    closing = _did_not_learn(summary)
    if closing is not None:
        console.print(Text(closing, style="bold yellow"))


def _figures(summary: dict) -> Table:
    """The run's figures, each named: the last epoch's mean over its batches (what the bar and
    the loss curve show), and the final weights on the whole training and validation sets."""
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("loss", justify="right", no_wrap=True)
    classifying = summary["train"]["accuracy"] is not None
    if classifying:
        table.add_column("accuracy", justify="right", no_wrap=True)
    rows = []
    last = summary.get("last_epoch")
    if last is not None:
        rows.append((f"epoch {last['epoch']}, batch mean", last))
    rows.append(("final, train set", summary["train"]))
    if summary["validation"]:
        rows.append(("final, validation", summary["validation"]))
    for label, figures in rows:
        cells = [_fmt(figures["loss"])]
        if classifying:
            cells.append(_fmt(figures["accuracy"], percent=True))
        table.add_row(label, *cells)
    return table


def _gradients(summary: dict) -> Table:
    """Each layer's ‖dW‖ (the mean over an epoch's steps) at the first and last epoch, and a
    sparkline over the epochs. Narrower than its content, the table wraps the activation's
    words and shortens the sparklines: a number is never cut."""
    table = Table(
        title="gradient norm ‖dW‖ per layer over training",
        title_justify="left",
        box=None,
        padding=(0, 1),
        pad_edge=False,
    )
    for name, justify, wraps in [  # wraps: the columns that give way when the table is narrow
        ("layer", "right", False),
        ("units", "right", False),
        ("activation", "left", True),
        ("first", "right", False),
        ("last", "right", False),
        ("per epoch", "left", True),
    ]:
        table.add_column(name, justify=cast(JustifyMethod, justify), no_wrap=not wraps)
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
            _Spark(norms),
        )
    return table


def _did_not_learn(summary: dict) -> str | None:
    """One line for a run that did not learn (SPEC §1), naming `nnfix diagnose`."""
    why = summary.get("did_not_learn")
    if why is None:
        return None
    end, start, prior = summary["train"]["loss"], summary["start_loss"], summary["prior_loss"]
    if why == "diverged":
        at = summary["diverged_at"]
        what = (
            f"the loss became non-finite at epoch {at['epoch']} (step {at['step']})"
            if at
            else "the loss ends non-finite"
        )
    elif why == "label_prior":
        prior_name = (
            "the label prior"
            if summary.get("loss_name") in ("bce", "cce")
            else "the targets' average"
        )
        what = f"the loss ends at {_fmt(end)}, the best constant prediction's {_fmt(prior)} ({prior_name})"
    else:
        what = f"the loss ends at {_fmt(end)}, no lower than at the start ({_fmt(start)})"
    return f"did not learn: {what}; run `nnfix diagnose {shown(summary['spec'])}`"


def error_json(error, spec: str) -> str:
    """`train --format json` when the spec, data or module could not be read (exit 2): one
    JSON document all the same, its problems located as in diagnose's report."""
    import json

    from nnfix.report.errors import input_problems
    from nnfix.report.formats.json import error_document

    problems = [error_document(p) for p in input_problems(error, spec)]
    return json.dumps({"spec": spec, "status": "error", "errors": problems}, indent=2)
