"""Optimisers updating parameter arrays in place: sgd, momentum, nesterov, rmsprop, adam."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nnfix.engine.blas import axpy

if TYPE_CHECKING:  # a type only: the engine does not import the spec package
    from nnfix.spec.model import OptimizerSpec


class Optimizer:
    """Plain SGD; the others keep per-parameter state beside it."""

    def __init__(self, spec: OptimizerSpec):
        self.spec = spec
        self.state: list[list[np.ndarray]] = []
        self.t = 0

    def _slots(self, params: list[np.ndarray], count: int) -> list[list[np.ndarray]]:
        if not self.state:
            self.state = [[np.zeros_like(p) for p in params] for _ in range(count)]
        return self.state

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        """Update every parameter in place from its gradient."""
        self.t += 1
        name, s = self.spec.name, self.spec
        if name == "sgd":
            for p, g in zip(params, grads, strict=True):
                axpy(-lr, g, p)
        elif name in ("momentum", "nesterov"):
            (velocity,) = self._slots(params, 1)
            for p, g, v in zip(params, grads, velocity, strict=True):
                v *= s.momentum
                v += g
                if name == "nesterov":
                    axpy(-lr, g, p)
                    axpy(-lr * s.momentum, v, p)
                else:
                    axpy(-lr, v, p)
        elif name == "rmsprop":
            (square,) = self._slots(params, 1)
            for p, g, sq in zip(params, grads, square, strict=True):
                sq *= s.rho
                sq += (1 - s.rho) * g * g
                p -= lr * g / (np.sqrt(sq) + s.eps)
        elif name == "adam":
            first, second = self._slots(params, 2)
            c1, c2 = 1 - s.beta1**self.t, 1 - s.beta2**self.t
            for p, g, m, v in zip(params, grads, first, second, strict=True):
                m *= s.beta1
                m += (1 - s.beta1) * g
                v *= s.beta2
                v += (1 - s.beta2) * g * g
                p -= (lr / c1) * m / (np.sqrt(v / c2) + s.eps)
        else:
            raise KeyError(name)
