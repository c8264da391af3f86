"""When a loss on the label-prior plateau leaves it: the growth of the hidden layers the training
probe measured, extrapolated on the spec's own learning-rate schedule to the rest of its run.

Gradient descent moves weights by lr · gradient, so what a slow start has to cover is counted
in lr-time — the sum of the learning rates of the steps taken — not in steps: a schedule that
divides lr by the epoch (lr/(1 + t)) gives a whole run of 2,000 epochs the lr-time of about 8
epochs at the first lr, and a growth that needs more never happens in that run."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnfix.diagnose.probe import ProbeRecord
from nnfix.engine.schedules import learning_rate
from nnfix.spec.model import TrainSpec

GROWTH_SE = 3.0  # T109: the hidden gradients' growth rate this many standard errors above 0
GROWTH_MIN = 0.01  # T109: ... and at least 1 % over the last half of the probe
LEAVE_SHARE = 0.5  # T109 (one hidden layer): it leaves once its weights have moved by half
# the norm the suited init gives them
LATE = 2.0  # T102: a leave that needs over 2× the lr-time the rest of the run gives
CLOCK_POINTS = 20_000  # the schedule is read at up to this many evenly spaced steps of the run


@dataclass(frozen=True)
class Leave:
    """When the loss leaves the plateau, as the probe's growth says."""

    per_100: float  # the hidden layers' gradient growth over 100 steps at the probe's last lr
    # (1: they do not grow, the weights move at a steady speed)
    needed: float  # the lr-time the growth still needs after the probe
    left: float  # the lr-time the rest of the spec's run gives
    step: int | None  # the step at which it leaves, the run's lr going on at its last value
    # past its end (None: the lr is 0 by then)
    ends: int  # the step the run ends at
    moved: float  # how far the hidden weights have moved from their start (‖W − W₀‖)
    target: float  # how far they move before the loss leaves (one hidden layer; or no growth)

    @property
    def in_time(self) -> bool:
        """Whether the run plausibly lasts long enough: the estimate is rough (within about 2×
        on nets that did leave), so only a need past LATE × what is left is a run that ends on
        the plateau."""
        return self.needed <= LATE * self.left


def lr_time(probe: ProbeRecord) -> np.ndarray:
    """The lr-time after each step of the probe: the sum of the learning rates so far."""
    return np.cumsum(np.asarray(probe.lr, float))


def growth_rate(values: np.ndarray, clock: np.ndarray) -> float | None:
    """The growth rate of a positive series per unit of `clock` over its second half (least
    squares on its logarithm), where it is significant: GROWTH_SE standard errors above 0 and
    at least GROWTH_MIN over that half. None otherwise."""
    cut = len(values) // 2
    half, t = values[cut:], np.asarray(clock[cut:], float)
    if len(half) < 8 or not np.all(np.isfinite(half)) or not np.all(half > 0):
        return None
    t = t - t.mean()
    spread = float(t @ t)
    if not spread > 0:  # lr 0 over the whole half: nothing can grow
        return None
    y = np.log(half)
    slope = float(t @ (y - y.mean()) / spread)
    residual = y - y.mean() - slope * t
    se = math.sqrt(float(residual @ residual) / max(len(half) - 2, 1) / spread)
    if slope <= GROWTH_SE * se or slope * (t[-1] - t[0]) < math.log1p(GROWTH_MIN):
        return None
    return slope


def needed_time(probe: ProbeRecord, depth: int, target: float) -> tuple[float, float, float] | None:
    """(the hidden layers' growth rate per unit of lr-time, the lr-time still needed after the
    probe to leave the plateau, how far their weights have moved), extrapolated from the growth of their gradients and weights;
    None when their weights do not move away from where they started.

    Where their gradients grow significantly, with one hidden layer the learned weights grow
    like e^(r·τ) until they have moved by `target`; with D ≥ 3 weight layers they grow like
    dw/dτ ∝ w^(D−1), which runs away after (D − 1)/((D − 2) · r). Where they do not (yet), the
    weights still moving away from their start at a steady speed reach `target` at that speed
    (rate 0): a slow start only speeds up, so that is the latest it leaves."""
    hidden = depth - 1
    clock = lr_time(probe)
    grads = np.asarray(probe.grad_norm, float)[:, :hidden]
    rate = growth_rate(np.sqrt((grads**2).sum(axis=1)), clock)
    moved = np.sqrt((np.asarray(probe.moved, float)[:, :hidden] ** 2).sum(axis=1))
    now = float(moved[-1]) if len(moved) else 0.0
    if rate is not None and depth >= 3:
        return rate, (depth - 1) / ((depth - 2) * rate), now
    speed = _speed(moved, clock)
    if speed is None:
        return None
    if rate is not None:
        return rate, math.log1p(rate * max(target - now, 0.0) / speed) / rate, now
    if now >= target:  # moved as far as a leave takes, and still on it: not a slow start
        return None
    return 0.0, (target - now) / speed, now


def _speed(moved: np.ndarray, clock: np.ndarray) -> float | None:
    """How fast the hidden weights move away from their start over the probe's last quarter,
    per unit of lr-time; None where they do not."""
    n = len(moved)
    q = max(1, n // 4)
    if n <= q or not np.all(np.isfinite(moved[-1 - q :])):
        return None
    span = clock[-1] - clock[-1 - q]
    speed = (moved[-1] - moved[-1 - q]) / span if span > 0 else 0.0
    return float(speed) if speed > 0 else None


def rest_of_run(train: TrainSpec, per_epoch: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """The steps from `start` to the end of the spec's run (each the end of a stretch of it) and
    the lr-time its schedule gives from `start` to each."""
    total = train.epochs * per_epoch
    if start >= total:
        return np.zeros(0, int), np.zeros(0)
    stride = max(1, math.ceil((total - start) / CLOCK_POINTS))
    steps = np.arange(start, total, stride)
    widths = np.minimum(stride, total - steps)
    lrs = np.array(
        [
            learning_rate(
                train.schedule, train.lr, int(s) // per_epoch, int(s), train.epochs, per_epoch
            )
            for s in steps
        ]
    )
    return steps + widths, np.cumsum(lrs * widths)


def leave(
    probe: ProbeRecord, depth: int, target: float, train: TrainSpec, per_epoch: int
) -> Leave | None:
    """When the loss leaves the plateau in the spec's own run, from what the probe measured;
    None when the probe measured no significant growth of the hidden layers."""
    found = needed_time(probe, depth, target)
    if found is None:
        return None
    rate, needed, moved = found
    ends, clock = rest_of_run(train, per_epoch, len(probe.loss))
    total = train.epochs * per_epoch
    left = float(clock[-1]) if len(clock) else 0.0
    reached = int(np.searchsorted(clock, needed))
    step: int | None = int(ends[reached]) if reached < len(clock) else None
    if step is None:  # past the end: at the lr the run ends with
        last = total - 1
        final_lr = learning_rate(
            train.schedule, train.lr, last // per_epoch, last, train.epochs, per_epoch
        )
        step = total + math.ceil((needed - left) / final_lr) if final_lr > 0 else None
    last_lr = probe.lr[-1] if probe.lr else 0.0
    return Leave(math.exp(100 * rate * last_lr), needed, left, step, total, moved, target)
