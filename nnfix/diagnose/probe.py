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
from nnfix.usercode.sandbox import UserCallError

MAX_STEPS = 600  # enough for a plateau or a divergence to show; the budget caps it too
MIN_EPOCHS = 3  # but at least a few passes over the data, where the budget allows
DENSE_STEPS = 50  # record update ratios every step at first, then every 10th
LIKE_SAMPLES = 32  # losses are compared as means over at least this many samples (all of them
# where there are fewer): one sample's loss says nothing of another's
START_SAMPLES = 1024  # the loss at the start: the untrained net's mean over this many samples


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
    batch: int = 1  # samples per step
    samples: int = 1  # in the training set
    initial_loss: float = math.nan  # the untrained net's mean loss over START_SAMPLES samples

    @property
    def window(self) -> int:
        """Steps whose mean loss covers LIKE_SAMPLES samples (or the whole set): one step's
        loss is a minibatch's, and with a batch of 1 a sample the net already fits (a loss of
        1e-5) beside one it does not (0.5) is no growth of the loss."""
        like = min(LIKE_SAMPLES, self.samples)
        return max(1, math.ceil(like / max(self.batch, 1)))

    def start_loss(self) -> float:
        """The loss at the start, that every later window's mean is compared with: the untrained
        net's mean over many samples (a step's loss is a minibatch's draw from it), else the
        median of the first `window` steps (NaN where none of them is finite)."""
        if math.isfinite(self.initial_loss):
            return self.initial_loss
        first = np.asarray(self.loss[: self.window], float)
        first = first[np.isfinite(first)]
        return float(np.median(first)) if first.size else math.nan

    def exploded_at(self, factor: float) -> int | None:
        """The index of the first step at which the loss has grown over `factor` × its start,
        like with like: the mean over a window of steps as long as the start's, ending there,
        above `factor` × the start (the index is the first step of that window above it).
        None where it never does."""
        start = self.start_loss()
        w = self.window
        if not math.isfinite(start) or len(self.loss) < w:
            return None
        values = np.asarray(self.loss, float)
        finite = np.where(np.isfinite(values), values, np.inf)
        means = np.convolve(finite, np.ones(w) / w, mode="valid")  # window ending at i + w - 1
        limit = factor * max(start, 1e-12)
        over = np.flatnonzero(means > limit)
        if not over.size:
            return None
        end = int(over[0]) + w - 1  # the last step of the first window above it
        inside = np.flatnonzero(finite[end - w + 1 : end + 1] > limit)
        return end - w + 1 + int(inside[0]) if inside.size else end

    def healthy_steps(self, exploded: float) -> int:
        """How many steps ran before the loss went bad: non-finite, or grown over `exploded`
        times its start as `exploded_at` compares them (what comes after is the wreck of the
        run, not its dynamics)."""
        bad = [i for i, value in enumerate(self.loss) if not math.isfinite(value)][:1]
        grown = self.exploded_at(exploded)
        return min(bad + ([grown] if grown is not None else []) + [len(self.loss)])


def run_probe(
    network: Network, loss, train, x: np.ndarray, y: np.ndarray, rng, budget: float
) -> ProbeRecord:
    """Train a copy of `network` for up to MAX_STEPS steps or `budget` seconds."""
    net = network.copy()
    trainer = Trainer(net, loss, train, rng)
    m = len(x)
    batch = m if train.batch_size == "full" else min(train.batch_size, m)
    record = ProbeRecord(network=net, batch=batch, samples=m)
    per_epoch = max(1, math.ceil(m / batch))
    steps_cap = min(train.epochs * per_epoch, max(MAX_STEPS, MIN_EPOCHS * per_epoch))
    spread = slice(None, None, max(1, m // START_SAMPLES))  # over the whole set, in its order
    try:
        with np.errstate(all="ignore"):
            record.initial_loss = float(net.loss(net.forward(x[spread]), y[spread], loss, train.l2))
    except UserCallError:  # their forward raised: the first step meets it and says so
        pass
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
