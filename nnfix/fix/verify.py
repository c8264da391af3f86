"""Proof that a fix works: the fixed spec (and the user's changed lines) diagnosed in memory, at
the fixed text's own lines, and both specs trained briefly, from the same seed, side by side."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnfix.diagnose.config import Config
from nnfix.diagnose.context import Options
from nnfix.diagnose.findings import Finding, SpecReport
from nnfix.diagnose.pipeline import Selection, diagnose
from nnfix.errors import InputError, SpecPath, UserFunctionError
from nnfix.spec.load import LoadedSpec, load_text, uses_user_code
from nnfix.usercode import loader, sandbox

TRAIN_SECONDS = 5.0  # each of the two brief trainings stops after this long


def diagnose_text(
    text: str, path: Path, config: Config, quick: bool, code: dict[Path, bytes]
) -> SpecReport:
    """The diagnosis of `text` as if it were the spec at `path`, the user's files in `code`
    read from there instead of from disk; an InputError when it cannot be read."""
    loaded = load_text(text, path)
    options = Options(quick=quick, budget=config.budget, gradcheck=config.gradcheck)
    with loader.substituted(code):
        report = diagnose(loaded, Selection(config.select, config.ignore), options)
    report.fail_on = config.fail_on
    return report


def key(finding: Finding) -> tuple:
    """What makes two diagnoses' findings the same finding: the rule and where it points."""
    loc = finding.location
    return (finding.code, tuple(loc.path), loc.layer, loc.parameter)


def persists(findings: list[Finding], after: SpecReport) -> list[Finding]:
    """The findings of `after` that are one of `findings` still there."""
    keys = {key(f) for f in findings}
    return [f for f in after.findings if key(f) in keys]


def appeared(before: SpecReport, after: SpecReport, under: SpecPath) -> list[Finding]:
    """Findings of `after` at warning level or worse, at or under the spec path `under`, that
    `before` did not have: what a change of that key brought."""
    old = {key(f) for f in before.findings}
    n = len(under)
    return [
        f
        for f in after.findings
        if key(f) not in old
        and f.severity.rank >= 2
        and tuple(f.location.path[:n]) == tuple(under)
        and len(f.location.path) >= n
    ]


# --- brief training ---------------------------------------------------------------------------


@dataclass
class Trained:
    """The end of a brief training run."""

    loss: float | None
    accuracy: float | None
    epochs: int  # epochs run
    planned: int  # epochs asked for
    seconds: float
    stopped: str | None = None  # "diverged", "time" (stopped after TRAIN_SECONDS)


@dataclass
class NotTrained:
    why: str


def train_briefly(
    text: str,
    path: Path,
    code: dict[Path, bytes],
    epochs: int | None = None,
    seconds: float = TRAIN_SECONDS,
) -> Trained | NotTrained:
    """Train the spec in `text` as `nnfix train` would (its seed, optimiser, schedule), for its
    epochs (or `epochs`) but at most `seconds`; the user's code in a worker."""
    try:
        loaded = load_text(text, path)
    except InputError as exc:
        return NotTrained(str(exc))
    if epochs is not None:
        train = loaded.spec.train.model_copy(update={"epochs": epochs})
        loaded.spec = loaded.spec.model_copy(update={"train": train})
    try:
        if uses_user_code(loaded) and sandbox.can_fork():
            impl = loaded.spec.implementation
            timeout = max(impl.timeout if impl is not None else 30.0, seconds * 2)
            with loader.substituted(code):
                return sandbox.run(_task, loaded, seconds, timeout=timeout).value
        with loader.substituted(code):
            return _train(loaded, seconds)
    except (
        InputError,
        UserFunctionError,
        sandbox.UserCallError,
        sandbox.WorkerDied,
        sandbox.Broken,
    ) as exc:
        return NotTrained(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _task(emit, loaded: LoadedSpec, seconds: float) -> Trained | NotTrained:
    return _train(loaded, seconds)


def _train(loaded: LoadedSpec, seconds: float) -> Trained | NotTrained:
    from nnfix.run.training import fit

    start = time.perf_counter()
    deadline = start + seconds
    with np.errstate(all="ignore"):
        fitted = fit(loaded, should_stop=lambda: time.perf_counter() > deadline)
    stopped = fitted.history.stopped
    loss = fitted.summary["train"]["loss"]
    return Trained(
        loss=loss if loss is not None and math.isfinite(loss) else None,
        accuracy=fitted.summary["train"]["accuracy"],
        epochs=len(fitted.history.epochs),
        planned=loaded.spec.train.epochs,
        seconds=time.perf_counter() - start,
        stopped="time" if stopped == "interrupted" else stopped,  # should_stop: the deadline
    )


def improved(before: Trained | NotTrained, after: Trained | NotTrained) -> bool | None:
    """Whether the loss after the fixes is lower (None: one of them could not be trained)."""
    if not isinstance(before, Trained) or not isinstance(after, Trained):
        return None
    if after.loss is None:
        return False
    if before.loss is None:  # it diverged before
        return True
    return after.loss < before.loss * 0.99
