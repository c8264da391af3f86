"""Training progress on stderr: a rich bar on a terminal, a few plain lines elsewhere.

The bar is one line that fits the terminal: what does not fit is left out whole, least
needed first (the bar itself, the spec's name, the elapsed time, validation, accuracy), so a
number or a time is never cut."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.progress import Progress
from rich.progress_bar import ProgressBar
from rich.segment import Segment
from rich.text import Text

from nnfix.engine.train import EpochRecord
from nnfix.report.controls import escape_controls

BAR = (8, 40)  # the bar's width: left out below the first, never wider than the second
NAME = 24  # characters of the spec's name shown before "· epoch" (a longer one ends in "…")
GAP = "  "  # between the pieces of the line


def _number(x: float) -> str:
    """A loss as the summary shows it too: 4 significant digits."""
    return f"{x:.4g}"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}"


def _metrics(record: EpochRecord) -> list[tuple[int, str, int]]:
    """(rank, text, cells) of an epoch's figures: the epoch's mean loss and accuracy over its
    batches, and the validation set's after it; a lower rank is kept longer. `cells` is the
    room a piece is given: each number as wide as it usually gets (a loss in 7 characters, a
    percentage in 6), so which pieces fit stays the same from epoch to epoch."""
    loss, val_loss = _number(record.loss), _number(record.val_loss or 0.0)
    pieces = [(RANKS[METRIC], f"loss {loss}", 5 + max(7, len(loss)))]
    if record.accuracy is not None:
        pieces.append((RANKS[METRIC] + 2, f"acc {record.accuracy:.1%}", 10))
    if record.val_loss is not None:
        val, cells = f"val {val_loss}", 4 + max(7, len(val_loss))
        if record.val_accuracy is not None:
            val, cells = f"{val} / {record.val_accuracy:.1%}", cells + 9
        pieces.append((RANKS[METRIC] + 3, val, cells))
    return pieces


# the kinds of piece of the line, in the order shown, and their ranks: the lowest ranks are
# kept while they fit, and the bar takes what room is left (up to BAR[1])
NAME_, EPOCH, BAR_, METRIC, ELAPSED, ETA = range(6)
RANKS = {EPOCH: 0, METRIC: 1, ETA: 2, BAR_: 5, ELAPSED: 6, NAME_: 7}  # metrics: 1, 3 and 4


@dataclass
class EpochLine:
    """`spirals · epoch  20/200  ━━━━━━  loss 0.02521  acc 99.2%  val 0.1746 / 97.8%  0:00:02
    eta 0:00:03`, laid out for the width it is given."""

    name: str
    epoch: int
    total: int
    record: EpochRecord | None
    elapsed: float | None
    remaining: float | None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        name = escape_controls(self.name)
        name = name if len(name) <= NAME else name[: NAME - 1] + "…"
        count = f"{self.epoch:>{len(str(self.total))}}/{self.total}"
        clocks = _clock(self.elapsed), f"eta {_clock(self.remaining)}"
        pieces = [  # (rank, kind, text, cells)
            (RANKS[NAME_], NAME_, f"{name} ·", cell_len(name) + 2),
            (RANKS[EPOCH], EPOCH, f"epoch {count}", len(count) + 6),
            (RANKS[BAR_], BAR_, "", BAR[0]),
            *[(rank, METRIC, text, cells) for rank, text, cells in self._metrics()],
            (RANKS[ELAPSED], ELAPSED, clocks[0], len(clocks[0])),
            (RANKS[ETA], ETA, clocks[1], len(clocks[1])),
        ]
        kept: set[int] = set()
        for i in sorted(range(len(pieces)), key=lambda i: pieces[i][0]):
            if _width([pieces[j] for j in sorted({*kept, i})]) <= options.max_width:
                kept.add(i)
        shown = [pieces[i] for i in sorted(kept)]
        spare = options.max_width - _width(shown)
        for i, (_, kind, text, _) in enumerate(shown):
            if i:
                yield Segment(" " if shown[i - 1][1] == NAME_ else GAP)
            if kind == BAR_:
                bar = min(BAR[1], BAR[0] + spare)
                track = ProgressBar(self.total, self.epoch, width=bar)
                drawn = list(console.render(track, options.update_width(bar)))
                yield from drawn
                yield Segment(" " * (bar - Segment.get_line_length(drawn)))  # no colour: no track
            else:
                bold = kind in (NAME_, EPOCH)
                yield from Text(text, style="bold" if bold else "").render(console)
        yield Segment.line()

    def _metrics(self) -> list[tuple[int, str, int]]:
        return _metrics(self.record) if self.record is not None else []


def _width(pieces: list[tuple[int, int, str, int]]) -> int:
    """The room pieces take in a line (the name is followed by one space, the others by GAP)."""
    gaps = sum(1 if kind == NAME_ else len(GAP) for _, kind, _, _ in pieces[:-1])
    return sum(cells for *_, cells in pieces) + gaps


class _EpochProgress(Progress):
    """rich's live progress display, showing each task as an `EpochLine`."""

    def get_renderables(self) -> Iterable[RenderableType]:
        for task in self.tasks:
            yield EpochLine(
                task.fields["name"],
                int(task.completed),
                int(task.total or 0),
                task.fields["record"],
                task.elapsed,
                task.time_remaining,
            )


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
            self.progress = _EpochProgress(console=self.console, transient=False)
            self.progress.start()
            self.task = self.progress.add_task("", total=total, name=title, record=None)

    def epoch(self, record: EpochRecord) -> None:
        if not self.enabled:
            return
        if self.progress is not None:
            self.progress.update(self.task, completed=record.epoch, record=record)
            return
        every = max(1, self.total // self.lines)
        if record.epoch % every == 0 or record.epoch == self.total or record.epoch == 1:
            elapsed = time.perf_counter() - self.began
            figures = GAP.join(text for _, text, _ in _metrics(record))
            self.console.print(
                f"epoch {record.epoch:>{len(str(self.total))}}/{self.total}  {figures}  {elapsed:.1f}s",
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
