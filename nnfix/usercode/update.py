"""The gradient read off an in-place update (SPEC §3.2 D, E): −Δparameter / step size, the step
size read from the code (a literal or a name bound to one in the call's arguments, a default
argument, the object's `learning_rate` attribute, a module's `LEARNING_RATE`) or `update_lr:`;
and how updates made one sample at a time combine into the gradient of the loss.

The small API the step (D) and script (E) paths share:
  `StepSize`, `step_size_of_call(fn, args, kwargs)`, `step_size_of_objects(named)`,
  `deltas(before, after)`, `combine(per_sample, reduction)`, `full_batch(full, singles)`,
  `same(a, b)`,
  `gradients(params, deltas, size, where)`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnfix.usercode.grads import Gradients, Param

Array = np.ndarray

# a parameter or an attribute so named holds the step size (case-insensitive)
STEP_NAMES = (
    "lr",
    "learning_rate",
    "learningrate",
    "l_rate",
    "lrate",
    "eta",
    "step_size",
    "stepsize",
)
STEP_PARAMETERS = (*STEP_NAMES, "alpha", "rate")  # a step function's argument may be `alpha`
# a parameter so named is the number of passes a training call makes: nnfix gives it 1
EPOCH_NAMES = (
    "epochs",
    "epocs",
    "epoch",
    "n_epochs",
    "n_epoch",
    "num_epochs",
    "nb_epoch",
    "nb_epochs",
    "iterations",
    "num_iterations",
    "n_iterations",
    "n_iter",
    "iters",
    "num_iters",
    "max_iter",
    "steps",
)
EXACT = 1e-7  # a full-batch update equals the per-sample ones' sum or mean to this relative error


@dataclass(frozen=True)
class StepSize:
    """The step size an update was made with, and where nnfix read it (for the header)."""

    value: float
    where: str


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    value = float(value)
    return value if np.isfinite(value) and value > 0 else None


def step_size_of_call(fn: Callable, args: Iterable, kwargs: dict, label: str) -> StepSize | None:
    """The step size a call is given: the argument bound to a parameter named like one
    (`l_rate`, `learning_rate`, `alpha`), else that parameter's default value."""
    try:
        signature = inspect.signature(fn)
        bound = signature.bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    for name, p in signature.parameters.items():
        if name.lower() not in STEP_PARAMETERS:
            continue
        if name in bound.arguments:
            value = _number(bound.arguments[name])
            if value is not None:
                return StepSize(value, f"{label}'s argument {name}={value:g}")
        elif p.default is not p.empty and _number(p.default) is not None:
            return StepSize(float(p.default), f"{label}'s default {name}={p.default!r}")
    return None


def step_size_of_objects(named: Iterable[tuple[str, Any]]) -> StepSize | None:
    """The first number > 0 held by an attribute named like a step size (`self.learning_rate`,
    a class's `LEARNING_RATE`), on each (name, object) in turn; a module's globals too."""
    for label, obj in named:
        try:
            names = dir(obj)
        except Exception:
            continue
        for attr in names:
            if attr.lower() not in STEP_NAMES:
                continue
            try:
                value = _number(getattr(obj, attr))
            except Exception:
                continue
            if value is not None:
                return StepSize(
                    value, f"{label}.{attr} = {value:g}" if label else f"{attr} = {value:g}"
                )
    return None


def deltas(before: dict[str, Array], after: dict[str, Array]) -> dict[str, Array]:
    """after − before, per parameter (an array whose shape changed is left out: see `reshaped`)."""
    return {
        name: np.asarray(after[name], dtype=np.float64) - before[name]
        for name in before
        if np.shape(after[name]) == before[name].shape
    }


def reshaped(before: dict[str, Array], after: dict[str, Array]) -> dict[str, tuple]:
    """The parameters an update left in another shape (a bias that became (n, m)): name ->
    (the shape after, the shape before)."""
    return {
        name: (tuple(np.shape(after[name])), before[name].shape)
        for name in before
        if np.shape(after[name]) != before[name].shape
    }


def combine(per_sample: list[dict[str, Array]], reduction: str) -> dict[str, Array]:
    """Per-sample updates as the loss combines its samples: their mean for a mean loss, their
    sum for a summed one (each sample's update is the gradient of that sample's loss)."""
    total: dict[str, Array] = {}
    for one in per_sample:
        for name, d in one.items():
            total[name] = total.get(name, 0) + d
    scale = 1.0 if reduction == "sum" else 1.0 / max(1, len(per_sample))
    return {name: d * scale for name, d in total.items()}


def same(a: dict[str, Array], b: dict[str, Array]) -> bool:
    """Are two updates equal, to rounding?"""
    return _close(a, b)


def _close(a: dict[str, Array], b: dict[str, Array]) -> bool:
    num = sum(float(np.sum((a[n] - b[n]) ** 2)) for n in a if n in b)
    den = sum(float(np.sum(a[n] ** 2) + np.sum(b[n] ** 2)) for n in a if n in b)
    return den > 0 and np.sqrt(num) <= EXACT * np.sqrt(den) + 1e-300


def full_batch(full: dict[str, Array], singles: list[dict[str, Array]]) -> str | None:
    """How one call's update on the whole batch relates to the same call's on each sample alone
    from the same values: "sum" or "mean" of them exactly (a full-batch update), else None (it
    updates once per sample as it goes, an SGD loop)."""
    for how in ("mean", "sum"):
        if _close(full, combine(singles, how)):
            return how
    return None


def gradients(
    params: list[Param], moved: dict[str, Array], size: StepSize, where: str
) -> Gradients:
    """−Δ / step size for each parameter the update moved, as the Gradients the checks read."""
    out = Gradients(where=f"{where}, divided by the step size {size.value:g} ({size.where})")
    out.from_update = True
    for p in params:
        name = p.slot.name
        if name not in moved:
            continue
        out.arrays[name] = -moved[name] / size.value
        out.paths[name] = p.ref.path
        out.raw[name] = out.arrays[name]
        out.holders[name] = (id(p.ref.owner), p.ref.key)
    out.missing = [p.slot.name for p in params if p.slot.name not in moved]
    return out
