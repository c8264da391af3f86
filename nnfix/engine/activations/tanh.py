"""Tanh: in (−1, 1); flat beyond |z| > 4 (tanh'(4) = 0.0013)."""

import numpy as np

from nnfix.engine.activations.activation import Activation


def build(alpha: float | None = None) -> Activation:
    return Activation(
        name="tanh",
        fn=np.tanh,
        dz=lambda z: 1 - np.tanh(z) ** 2,
        da=lambda a: 1 - a * a,
        text_z="1 - tanh(z)**2",
        text_a="1 - a**2",
        output_range=(-1.0, 1.0),
        init="xavier_normal",
        saturates_beyond=4.0,
    )
