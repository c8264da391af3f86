"""The training probe: a short, time-bounded run of the spec's own training loop that records,
step by step, what the training-dynamics rules need. It reuses the engine's Trainer — there is
no second training loop — and stops as soon as it has enough to give every rule a verdict."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from nnfix.engine.network import Network
from nnfix.engine.train import StepInfo, Trainer

MAX_STEPS = 600  # enough for a plateau or a divergence to show; the budget caps it too
MIN_EPOCHS = 3  # but at least a few passes over the data, where the budget allows
DENSE_STEPS = 50  # record update ratios every step at first, then every 10th


@dataclass
class ProbeRecord:
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    grad_norm: list[list[float]] = field(default_factory=list)  # per step, per layer ‖dW‖
    grad_mean: list[list[float]] = field(default_factory=list)  # per step, per layer mean |dW|
    update_ratio: list[list[float]] = field(
        default_factory=list
    )  # per recorded step, per layer ‖ΔW‖/‖W‖ (‖W‖ before the update; inf where it was 0)
    ratio_steps: list[int] = field(default_factory=list)  # the step of each update_ratio row
    moved: list[list[float]] = field(default_factory=list)  # per step, per layer ‖W − W_init‖
    start_norm: list[float] = field(default_factory=list)  # per layer ‖W_init‖
    lr: list[float] = field(default_factory=list)
    diverged_at: int | None = None  # the step whose loss was not finite
    seconds: float = 0.0
    stopped: str = ""  # why it ended: "steps", "budget", "diverged"
    network: Network | None = None  # the weights at the end
    epochs: int = 0

    def healthy_steps(self, exploded: float) -> int:
        """How many steps ran before the loss went bad: non-finite, or above `exploded` times
        the first step's loss (what comes after is the wreck of the run, not its dynamics)."""
        first = self.loss[0] if self.loss else math.nan
        for i, value in enumerate(self.loss):
            if not math.isfinite(value) or (
                math.isfinite(first) and value > exploded * max(first, 1e-12)
            ):
                return i
        return len(self.loss)


def run_probe(
    network: Network, loss, train, x: np.ndarray, y: np.ndarray, rng, budget: float
) -> ProbeRecord:
    """Train a copy of `network` for up to MAX_STEPS steps or `budget` seconds."""
    net = network.copy()
    trainer = Trainer(net, loss, train, rng)
    record = ProbeRecord(network=net)
    m = len(x)
    batch = m if train.batch_size == "full" else min(train.batch_size, m)
    per_epoch = max(1, math.ceil(m / batch))
    steps_cap = min(train.epochs * per_epoch, max(MAX_STEPS, MIN_EPOCHS * per_epoch))
    start = time.perf_counter()
    initial = [w.copy() for w in net.weights]
    record.start_norm = [float(np.linalg.norm(w)) for w in initial]
    previous: list[np.ndarray] | None = initial  # the first update is measured too

    def on_step(info: StepInfo) -> None:
        nonlocal previous
        record.steps.append(info.step)
        record.loss.append(info.loss)
        record.lr.append(info.lr)
        grads = info.network.weight_grads(info.grads)
        record.grad_norm.append([float(np.linalg.norm(g)) for g in grads])
        record.grad_mean.append([float(np.mean(np.abs(g))) for g in grads])
        weights = info.network.weights
        record.moved.append(
            [float(np.linalg.norm(w - w0)) for w, w0 in zip(weights, initial, strict=True)]
        )
        if previous is not None:
            ratios = []
            for w_old, w in zip(previous, weights, strict=True):
                norm = float(np.linalg.norm(w_old))
                ratios.append(float(np.linalg.norm(w - w_old)) / norm if norm > 0 else math.inf)
            record.update_ratio.append(ratios)
            record.ratio_steps.append(info.step)
            previous = None
        if info.step + 1 < DENSE_STEPS or (info.step + 1) % 10 == 0:
            previous = [w.copy() for w in weights]  # compared after the next update
        if not math.isfinite(info.loss):
            record.diverged_at = info.step

    def should_stop() -> bool:
        if len(record.loss) >= steps_cap:
            record.stopped = "steps"
            return True
        if time.perf_counter() - start > budget:
            record.stopped = "budget"
            return True
        return False

    with np.errstate(all="ignore"):
        # the spec's own epochs, so its schedule is what the real run sees; should_stop ends it
        history = trainer.fit(x, y, on_step=on_step, should_stop=should_stop)
    record.epochs = len(history.epochs)
    if hasattr(net, "as_network"):  # the user's code holds one set of parameters: keep these
        record.network = net.as_network()
    record.seconds = time.perf_counter() - start
    if history.stopped == "diverged":
        record.stopped = "diverged"
    record.stopped = record.stopped or "steps"
    return record


def overfit(
    network: Network,
    loss,
    train,
    x: np.ndarray,
    y: np.ndarray,
    rng,
    *,
    budget: float,
    target: float,
    rates: tuple[float, ...],
    steps: int,
) -> tuple[bool | None, dict]:
    """Can the net drive the loss below `target` on these few samples? Adam, full batch, each of
    `rates` in turn for up to `steps` steps, from the spec's own init and with its own
    derivatives. True, False (every rate ran its steps in vain) or None (the budget ran out
    first, or some rate was still lowering the loss at its last steps: no verdict); and the
    best loss at each rate tried."""
    from nnfix.spec.model import OptimizerSpec, ScheduleSpec

    tried = {}
    learning = False  # some rate was still lowering the loss when its steps ran out
    start = time.perf_counter()
    for lr in rates:
        settings = train.model_copy(
            update={
                "optimizer": OptimizerSpec(name="adam"),
                "lr": lr,
                "schedule": ScheduleSpec(name="constant"),
                "batch_size": "full",
                "l2": 0.0,
                "epochs": steps,
            }
        )
        net = network.copy()
        trainer = Trainer(net, loss, settings, rng)
        best = [math.inf]
        losses: list[float] = []

        def watch(info: StepInfo, best=best, losses=losses) -> None:
            if math.isfinite(info.loss):
                best[0] = min(best[0], info.loss)
            losses.append(info.loss)

        def stop(best=best) -> bool:
            return best[0] < target or time.perf_counter() - start > budget

        with np.errstate(all="ignore"):
            history = trainer.fit(x, y, on_step=watch, should_stop=stop)
        tried[lr] = best[0]
        if best[0] < target:
            return True, tried
        if history.steps < steps and history.stopped != "diverged":
            return None, tried  # stopped by the budget, not by failing
        learning = learning or still_learning(losses)
    return (None if learning else False), tried


STILL_LEARNING = 0.1  # the loss fell by more than this share over the last quarter of the steps


def still_learning(losses: list[float]) -> bool:
    """Whether a run was still lowering its loss when it stopped: its best over the last
    quarter of the steps more than STILL_LEARNING below its best before that. A net whose
    math is broken stalls; a correct one that is merely slow (a deep sigmoid stack) keeps
    going, and is no proof of a bug."""
    quarter = len(losses) // 4
    if quarter < 2:
        return False
    finite = [v if math.isfinite(v) else math.inf for v in losses]
    before, last = min(finite[:-quarter]), min(finite[-quarter:])
    return math.isfinite(before) and last < (1 - STILL_LEARNING) * before
