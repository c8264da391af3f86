"""ELU: z above 0, α(e^z − 1) below (α = 1 by default), so in (−α, ∞); a kink at 0 unless α = 1."""

import math

import numpy as np

from nnfix.engine.activations.activation import Activation

ALPHA = 1.0


def build(alpha: float | None = None) -> Activation:
    s = ALPHA if alpha is None else alpha
    return Activation(
        name="elu",
        fn=lambda z: np.where(z > 0, z, s * np.expm1(np.minimum(z, 0))),
        dz=lambda z: np.where(z > 0, 1, s * np.exp(np.minimum(z, 0))).astype(z.dtype),
        da=lambda a: np.where(a > 0, 1, a + s).astype(a.dtype),
        text_z=f"where(z > 0, 1, {s:g} * exp(z))",
        text_a=f"where(a > 0, 1, a + {s:g})",
        output_range=(-s, math.inf),
        init="he_normal",
        kinks=(0.0,),  # the second derivative jumps at 0 even for α = 1: differences avoid it
        alpha=s,
    )
