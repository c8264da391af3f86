"""What `nnfix init` says after writing a spec: what it inferred from the user's code and how,
what is theirs to settle, and the next command."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nnfix.init.command import Outcome
from nnfix.run.files import shown

SHAPES = {
    "functions": "functions",
    "object": "an object",
    "layers": "layer objects",
}


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _network(outcome: Outcome) -> str:
    inference = outcome.inference
    assert inference is not None
    parts = [str(inference.inputs)]
    for n, act in zip(inference.units, inference.activations, strict=False):
        name = act.value["name"] if isinstance(act.value, dict) else act.value
        alpha = f"({act.value['alpha']:g})" if isinstance(act.value, dict) else ""
        parts.append(f"{n} {name}{alpha}")
    return " → ".join(parts)


def _data(value: dict[str, Any]) -> str:
    if value.get("source") in ("csv", "npz", "npy"):
        return ", ".join(str(value[k]) for k in ("path", "x", "y") if k in value)
    extra = [f"{value[k]} {k}" for k in ("samples", "classes", "features") if k in value]
    return f"{value['source']}, " + ", ".join(extra)


def render(outcome: Outcome, console: Console) -> None:
    head = Text()
    head.append("nnfix init", style="bold")
    head.append(f": wrote {shown(outcome.path)}")
    inference = outcome.inference
    if outcome.inferred is not None:  # as `nnfix diagnose my_net.py` infers it
        console.print(head)
        for line in outcome.inferred:
            console.print(Text(f"  {line}", style="dim"), highlight=False)
        console.print(Text(f"next: nnfix diagnose {shown(outcome.path)}", style="bold"))
        return
    if inference is None:
        head.append(f" (the {outcome.template} template)")
        console.print(head)
        if outcome.template in ("columns", "rows"):
            console.print(
                Text(
                    "  it points at my_net.py: change `module:` and the names under "
                    "`implementation:` to your code's (or: nnfix init --from your_module.py "
                    f"{shown(outcome.path)} --force)",
                    style="dim",
                )
            )
        console.print(Text(f"next: nnfix diagnose {shown(outcome.path)}", style="bold"))
        return
    head.append(f" from {inference.module.name}")
    console.print(head)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column(overflow="fold")
    keys = inference.implementation
    if inference.shape is not None or keys:
        what = SHAPES.get(inference.shape or "", "candidates:")
        if "model" in keys:
            what += f" {keys['model'].value}"
        roles = [
            f"{k}: {keys[k].value}"
            for k in ("forward", "backward")
            if k in keys and keys[k].value is not None
        ]
        if "loss" in keys and inference.shape != "layers" and keys["loss"].value is not None:
            roles.append(f"loss: {keys['loss'].value}")
        table.add_row("your code", " · ".join([what, *roles]))
    if inference.units and inference.activations:
        table.add_row("network", _network(outcome))
        table.add_row("", Text(f"sizes: {inference.sizes_how}", style="dim"))
    if inference.loss is not None:
        table.add_row("loss", f"{_value(inference.loss.value)}: {inference.loss.how}")
    if inference.init is not None:
        table.add_row("init", f"{_value(inference.init.value)}: {inference.init.how}")
    data = outcome.data or inference.data
    if data is not None:
        table.add_row("data", f"{_data(data.value)}: {data.how}")
    for line in inference.found:
        key, _, rest = line.partition(": ")
        table.add_row({"gradients": "gradients in"}.get(key, key), rest)
    if inference.gradients_right is True:
        table.add_row("check", "your gradients match the loss on nnfix's batch")
    elif inference.gradients_right is False:
        table.add_row(
            "check",
            Text(
                "your gradients do not match the loss on nnfix's batch: "
                "`nnfix diagnose` says where",
                style="yellow",
            ),
        )
    for note in inference.notes:
        if not note.startswith("your gradients"):
            table.add_row("note", note)
    for item in inference.undecided:
        table.add_row(Text("choose", style="bold yellow"), item)
    if inference.undecided:
        table.add_row("", Text(f"marked CHOOSE in {shown(outcome.path)}", style="yellow"))
    if outcome.again:
        table.add_row(
            Text("or", style="bold yellow"),
            Text.assemble("with your widths: ", (outcome.again, "bold")),
        )
    for problem in outcome.problems:
        table.add_row(Text("not ready", style="bold yellow"), problem)
    console.print(table)
    printed = outcome.printed
    if printed is not None and printed.lines:
        count = printed.lines
        console.print(
            Text(
                f"  your code printed {count} line{'s' * (count != 1)} while nnfix explored it "
                f"(first: {printed.first[0]!r})",
                style="dim",
            )
        )
    first = "settle the CHOOSE lines, then " if outcome.exit_code else ""
    console.print(Text(f"next: {first}nnfix diagnose {shown(outcome.path)}", style="bold"))
