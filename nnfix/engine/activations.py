"""Activations: each function beside its derivative, written in z and (where it can be) in a."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


def sigmoid(z: Array) -> Array:
    """1 / (1 + e^-z), without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


@dataclass(frozen=True)
class Activation:
    """a = fn(z); its derivative da/dz as a function of z, and of a where a alone fixes it."""

    name: str
    fn: Callable[[Array], Array]
    dz: Callable[[Array], Array]  # da/dz written in z
    da: Callable[[Array], Array] | None = None  # da/dz written in a (the output)
    elementwise: bool = True  # softmax is not: its derivative is a Jacobian

    def derivative(self, z: Array, a: Array) -> Array:
        """da/dz, from a where that is cheaper and exact."""
        return self.da(a) if self.da is not None else self.dz(z)


def _softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _softplus(z: Array) -> Array:
    return np.logaddexp(0, z).astype(z.dtype, copy=False)


def _make(name: str, alpha: float | None = None) -> Activation:
    one = np.ones_like
    if name == "sigmoid":
        return Activation(
            name, sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z)), lambda a: a * (1 - a)
        )
    if name == "tanh":
        return Activation(name, np.tanh, lambda z: 1 - np.tanh(z) ** 2, lambda a: 1 - a * a)
    if name == "relu":
        return Activation(
            name,
            lambda z: np.maximum(z, 0),
            lambda z: (z > 0).astype(z.dtype),
            lambda a: (a > 0).astype(a.dtype),
        )
    if name == "leaky_relu":
        s = 0.01 if alpha is None else alpha
        return Activation(
            name,
            lambda z: np.where(z > 0, z, s * z),
            lambda z: np.where(z > 0, 1, s).astype(z.dtype),
            lambda a: np.where(a > 0, 1, s).astype(a.dtype),
        )
    if name == "elu":
        s = 1.0 if alpha is None else alpha
        return Activation(
            name,
            lambda z: np.where(z > 0, z, s * np.expm1(np.minimum(z, 0))),
            lambda z: np.where(z > 0, 1, s * np.exp(np.minimum(z, 0))).astype(z.dtype),
            lambda a: np.where(a > 0, 1, a + s).astype(a.dtype),
        )
    if name == "softplus":
        return Activation(name, _softplus, sigmoid, lambda a: -np.expm1(-a))
    if name == "swish":
        return Activation(
            name,
            lambda z: z * sigmoid(z),
            lambda z: sigmoid(z) * (1 + z * (1 - sigmoid(z))),
        )
    if name == "linear":
        return Activation(name, lambda z: z, one, one)
    if name == "softmax":
        return Activation(name, _softmax, _softmax_diag, None, elementwise=False)
    raise KeyError(name)


def _softmax_diag(z: Array) -> Array:
    """The diagonal of softmax's Jacobian, s(1 - s): not its derivative, which couples outputs."""
    s = _softmax(z)
    return s * (1 - s)


def softmax_backward(dA: Array, a: Array) -> Array:
    """dL/dz of a softmax layer from dL/da: the Jacobian-vector product a ⊙ (dA − Σ dA·a)."""
    return a * (dA - (dA * a).sum(axis=1, keepdims=True))


def get(name: str, alpha: float | None = None) -> Activation:
    """The built-in activation `name` (leaky_relu and elu take their slope `alpha`)."""
    return _make(name, alpha)
