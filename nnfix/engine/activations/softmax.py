"""Softmax over each sample's outputs: in (0, 1), summing to 1; last layer only. Its derivative
is a Jacobian, applied by `backward` rather than multiplied elementwise."""

import numpy as np

from nnfix.engine.activations.activation import Activation, Array


def softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def backward(dA: Array, a: Array) -> Array:
    """dL/dz from dL/da: the Jacobian-vector product a ⊙ (dA − Σ dA·a)."""
    return a * (dA - (dA * a).sum(axis=1, keepdims=True))


def _diagonal(z: Array) -> Array:
    """The diagonal of the Jacobian, s(1 − s): not the derivative, which couples the outputs."""
    s = softmax(z)
    return s * (1 - s)


def build(alpha: float | None = None) -> Activation:
    return Activation(
        name="softmax",
        fn=softmax,
        dz=_diagonal,
        da=None,
        text_z=None,
        text_a=None,
        output_range=(0.0, 1.0),
        init="xavier_normal",
        elementwise=False,
    )
