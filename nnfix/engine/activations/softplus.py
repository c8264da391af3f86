"""Softplus: log(1 + e^z), in (0, ∞); its derivative is the sigmoid."""

import math

import numpy as np

from nnfix.engine.activations.activation import Activation, logistic


def _softplus(z):
    return np.logaddexp(0, z).astype(z.dtype, copy=False)


def build(alpha: float | None = None) -> Activation:
    return Activation(
        name="softplus",
        fn=_softplus,
        dz=logistic,
        da=lambda a: -np.expm1(-a),
        text_z="sigmoid(z)",
        text_a="1 - exp(-a)",
        output_range=(0.0, math.inf),
        init="he_normal",
    )
