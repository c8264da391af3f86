"""Leaky ReLU: z above 0, αz below (α = 0.01 by default); a kink at 0."""

import math

import numpy as np

from nnfix.engine.activations.activation import Activation

ALPHA = 0.01


def build(alpha: float | None = None) -> Activation:
    s = ALPHA if alpha is None else alpha
    return Activation(
        name="leaky_relu",
        fn=lambda z: np.where(z > 0, z, s * z),
        dz=lambda z: np.where(z > 0, 1, s).astype(z.dtype),
        da=lambda a: np.where(a > 0, 1, s).astype(a.dtype),
        text_z=f"where(z > 0, 1, {s:g})",
        text_a=f"where(a > 0, 1, {s:g})",
        output_range=(-math.inf if s > 0 else 0.0, math.inf),
        init="he_normal",
        kinks=(0.0,),
        alpha=s,
    )
