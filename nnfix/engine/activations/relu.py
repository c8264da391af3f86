"""ReLU: max(z, 0); a kink at 0, and no gradient at all below it (a unit can die)."""

import math

import numpy as np

from nnfix.engine.activations.activation import Activation


def build(alpha: float | None = None) -> Activation:
    return Activation(
        name="relu",
        fn=lambda z: np.maximum(z, 0),
        dz=lambda z: (z > 0).astype(z.dtype),
        da=lambda a: (a > 0).astype(a.dtype),
        text_z="where(z > 0, 1, 0)",
        text_a="where(a > 0, 1, 0)",
        output_range=(0.0, math.inf),
        init="he_normal",
        kinks=(0.0,),
        dead_below=0.0,
    )
