"""Linear (identity): a = z, any real value; the output of a regression net."""

import math

import numpy as np

from nnfix.engine.activations.activation import Activation


def build(alpha: float | None = None) -> Activation:
    return Activation(
        name="linear",
        fn=lambda z: z,
        dz=np.ones_like,
        da=np.ones_like,
        text_z="1",
        text_a="1",
        output_range=(-math.inf, math.inf),
        init="xavier_normal",
    )
