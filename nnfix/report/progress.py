"""Training progress on stderr: a rich bar on a terminal, a few plain lines elsewhere."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nnfix.engine.train import EpochRecord
from nnfix.report.controls import escape_controls


def _metrics(record: EpochRecord) -> str:
    text = f"loss {record.loss:.4f}"
    if record.accuracy is not None:
        text += f"  acc {record.accuracy:.1%}"
    if record.val_loss is not None:
        text += f"  val {record.val_loss:.4f}"
    if record.val_accuracy is not None:
        text += f" / {record.val_accuracy:.1%}"
    return text


class TrainProgress:
    """Call `start(total)` then `epoch(record)` per epoch; use as a context manager."""

    def __init__(self, console: Console, enabled: bool = True, lines: int = 10):
        self.console = console
        self.enabled = enabled
        self.lines = lines
        self.progress: Progress | None = None
        self.total = 0
        self.began = 0.0

    def start(self, total: int, title: str = "training") -> None:
        self.total, self.began = total, time.perf_counter()
        if self.enabled and self.console.is_terminal:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[metrics]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self.progress.start()
            label = escape(escape_controls(title))  # the spec's name: neither markup nor controls
            self.task = self.progress.add_task(f"{label} · epoch", total=total, metrics="")

    def epoch(self, record: EpochRecord) -> None:
        if not self.enabled:
            return
        if self.progress is not None:
            self.progress.update(self.task, completed=record.epoch, metrics=_metrics(record))
            return
        every = max(1, self.total // self.lines)
        if record.epoch % every == 0 or record.epoch == self.total or record.epoch == 1:
            elapsed = time.perf_counter() - self.began
            self.console.print(
                f"epoch {record.epoch:>{len(str(self.total))}}/{self.total}  {_metrics(record)}  {elapsed:.1f}s",
                highlight=False,
            )

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def __enter__(self) -> TrainProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
