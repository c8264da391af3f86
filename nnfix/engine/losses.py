"""Losses summed over output units and averaged (or summed) over samples, with their gradients.

BCE and CCE are computed from the logits when the output is a built-in sigmoid or softmax,
so they stay finite however confident the net is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnfix.engine.activations.softmax import backward as softmax_backward

Array = np.ndarray


def _eps(a: Array) -> float:
    return 1e-7 if a.dtype == np.float32 else 1e-12


def _clip(a: Array) -> Array:
    e = _eps(a)
    return np.clip(a, e, 1 - e)


def total(name: str, z: Array, a: Array, y: Array, output: str | None) -> float:
    """The loss summed over every sample and output unit (`output`: the built-in activation)."""
    if name == "bce":
        if output == "sigmoid":
            # softplus(z) − y·z, written so that confident right answers keep their tiny loss
            return float(np.sum(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))))
        c = _clip(a)
        return float(-np.sum(y * np.log(c) + (1 - y) * np.log(1 - c)))
    if name == "cce":
        if output == "softmax":
            shifted = z - z.max(axis=1, keepdims=True)
            log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            return float(-np.sum(y * log_softmax))
        return float(-np.sum(y * np.log(_clip(a))))
    if name == "mse":
        d = a - y
        return float(np.sum(d * d))
    if name == "mae":
        return float(np.sum(np.abs(a - y)))
    raise KeyError(name)


def gradient(name: str, a: Array, y: Array) -> Array:
    """dL/da of one sample's loss, elementwise (before the reduction over samples)."""
    if name == "bce":
        c = _clip(a)
        return (c - y) / (c * (1 - c))
    if name == "cce":
        return -y / _clip(a)
    if name == "mse":
        return 2 * (a - y)
    if name == "mae":
        return np.sign(a - y)
    raise KeyError(name)


def fused_delta(name: str, output: str | None, a: Array, y: Array) -> Array | None:
    """dL/dz of the output layer where loss and activation fit (a − y), else None."""
    if name == "bce" and output == "sigmoid":
        return a - y
    if name == "cce" and output == "softmax":
        return a * y.sum(axis=1, keepdims=True) - y
    if name == "mse" and output == "linear":
        return 2 * (a - y)
    return None


@dataclass(frozen=True)
class Loss:
    """The spec's loss: built-in value, and the gradient the user's code uses."""

    name: str
    reduction: str = "mean"
    declared: Callable[[Array, Array, Array], Array] | None = None  # (a, y, z) -> dL/da or dL/dz
    gradient_of: str = "a"
    factor: float = 1.0  # the spec's `scale`: 0.5 for the quadratic cost ½‖a − y‖²

    def reduce(self, m: int) -> float:
        """What a sum over the samples is multiplied by: 1/m for a mean."""
        return 1.0 / m if self.reduction == "mean" else 1.0

    def per_batch(self, per_sample: float, batch: int) -> float:
        """A per-sample mean of the plain loss (factor 1) as this loss reports it on a batch of
        `batch` samples: times its factor, and summed over the batch where it sums."""
        return per_sample * self.factor * (batch if self.reduction == "sum" else 1)

    def value(self, z: Array, a: Array, y: Array, output: str | None) -> float:
        return total(self.name, z, a, y, output) * self.factor * self.reduce(len(y))

    def delta(
        self,
        z: Array,
        a: Array,
        y: Array,
        output: str | None,
        derivative,
        declared_derivative: bool,
    ) -> Array:
        """dL/dz of the output layer, reduced: through the user's gradient where they declared one
        (theirs already differentiates their loss, its factor included).

        `derivative(z, a)` is the output layer's da/dz (None for softmax: its Jacobian is applied)."""
        reduce = self.reduce(len(y))
        if self.declared is not None and self.gradient_of == "z":
            return self.declared(a, y, z) * reduce
        scale = reduce if self.declared is not None else reduce * self.factor
        if self.declared is None and not declared_derivative:
            fused = fused_delta(self.name, output, a, y)
            if fused is not None:
                fused *= scale
                return fused
        dA = self.declared(a, y, z) if self.declared is not None else gradient(self.name, a, y)
        dA = dA * scale
        if derivative is None:
            return softmax_backward(dA, a)
        return dA * derivative(z, a)


def best_constant(name: str, y: Array) -> float:
    """The per-sample loss of the best prediction that ignores the input (the label prior):
    Σ H(p_k) for BCE, the prior's entropy for CCE, the targets' variance for MSE."""
    y = np.asarray(y, dtype=float)
    if name == "bce":
        p = np.clip(y.mean(axis=0), 1e-12, 1 - 1e-12)
        return float(-np.sum(p * np.log(p) + (1 - p) * np.log(1 - p)))
    if name == "cce":
        p = y.mean(axis=0)
        p = p[p > 0]
        return float(-np.sum(p * np.log(p)))
    if name == "mse":
        return float(np.sum(y.var(axis=0)))
    if name == "mae":
        return float(np.sum(np.mean(np.abs(y - np.median(y, axis=0)), axis=0)))
    raise KeyError(name)
