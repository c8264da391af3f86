"""Swish (SiLU): z·σ(z), in (−0.2785, ∞); its derivative cannot be written in a alone."""

import math

from nnfix.engine.activations.activation import Activation, logistic


def build(alpha: float | None = None) -> Activation:
    return Activation(
        name="swish",
        fn=lambda z: z * logistic(z),
        dz=lambda z: logistic(z) * (1 + z * (1 - logistic(z))),
        da=None,
        text_z="sigmoid(z) * (1 + z * (1 - sigmoid(z)))",
        text_a=None,
        output_range=(-0.2785, math.inf),
        init="he_normal",
    )
