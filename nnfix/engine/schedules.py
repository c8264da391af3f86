"""Learning-rate schedules: lr as a function of t, counted in epochs, steps or N epochs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: the engine does not import the spec package
    from nnfix.spec.model import ScheduleSpec


def learning_rate(
    spec: ScheduleSpec, lr: float, epoch: int, step: int, epochs: int, steps_per_epoch: int
) -> float:
    """The learning rate for `step` (global, from 0) in `epoch` (from 0)."""
    every = spec.every if spec.every is not None else (10 if spec.name == "step" else "epoch")
    if every == "step":
        t, horizon = step, epochs * steps_per_epoch
    elif every == "epoch":
        t, horizon = epoch, epochs
    else:
        t, horizon = epoch // every, max(1, epochs // every)
    name = spec.name
    if name == "constant":
        return lr
    if name == "step":
        return lr * spec.factor**t
    if name == "exponential":
        return lr * spec.gamma**t
    if name == "inverse_time":
        return lr / (1 + spec.decay * t)
    if name == "cosine":
        return (
            spec.min_lr
            + (lr - spec.min_lr) * (1 + math.cos(math.pi * min(t, horizon) / horizon)) / 2
        )
    raise KeyError(name)
