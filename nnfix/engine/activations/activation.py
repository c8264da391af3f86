"""What nnfix knows about one activation: its function beside its derivative (in z and, where
a alone fixes it, in a), the derivative as text, its range, kinks and flat zones, and the init
that suits it. Every pass reads these fields; no other module keeps a table of activations."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
Fn = Callable[[Array], Array]
INF = math.inf


def logistic(z: Array) -> Array:
    """1 / (1 + e^-z), without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


@dataclass(frozen=True)
class Activation:
    """a = fn(z), da/dz, and the facts the diagnostic passes need about them."""

    name: str
    fn: Fn
    dz: Fn  # da/dz written in z
    da: Fn | None  # da/dz written in a (the output), where a alone fixes it
    text_z: str | None  # the derivative as an nnfix expression in z (None: not elementwise)
    text_a: str | None  # ... in a
    output_range: tuple[float, float]  # the values a can take (closed or open, as a bound)
    init: str  # the weight init that keeps a stack of these layers' spread steady
    kinks: tuple[float, ...] = ()  # values of z where the derivative jumps: no derivative there
    saturates_beyond: float | None = None  # |z| past which da/dz is under a tenth of its peak
    dead_below: float | None = None  # z below which da/dz is exactly 0: a unit can die
    alpha: float | None = None  # the slope or scale it was built with (leaky_relu, elu)
    elementwise: bool = True  # softmax is not: its derivative is a Jacobian

    def derivative(self, z: Array, a: Array) -> Array:
        """da/dz, from a where that is cheaper and exact."""
        return self.da(a) if self.da is not None else self.dz(z)

    def text(self, variable: str) -> str | None:
        """The derivative as an expression in `variable` ('z' or 'a'), if it can be written so."""
        return self.text_z if variable == "z" else self.text_a

    def smooth(self, z: Array, margin: float = 1e-3) -> Array:
        """A mask of the z that are further than `margin` from every kink."""
        keep = np.ones(np.shape(z), bool)
        for k in self.kinks:
            keep &= np.abs(z - k) > margin
        return keep
