"""The report's per-layer table: each layer's width, activation and init, and its figures at
init (the spread of its pre-activations, its weight gradient's norm)."""

from __future__ import annotations

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.rules.init import spread


def layer_table(ctx: Context) -> list[dict]:
    """Per-layer figures at init for the report's table."""
    rows = []
    init = ctx.init
    weight_grads = ctx.network.weight_grads(init.grads) if init is not None else []
    net = ctx.network
    for l, layer in enumerate(ctx.spec.net_model.layers, start=1):
        act = getattr(layer, "activation", None)
        k = net.weight_of(l)
        row = {
            "layer": l,
            "units": net.sizes[l],
            "activation": act.name if act is not None else layer.type,
            "init": ctx.init_name(l) if k is not None else "–",
        }
        if init is not None:
            z, a = (
                v[l - 1].reshape(len(v[l - 1]), -1)
                for v in (net.preactivations(init.cache), init.cache.a)
            )
            g = weight_grads[k] if k is not None else np.zeros(0)
            row |= {
                "z_std": float(z.std()),
                "z_spread": spread(z),  # what each unit's z varies by over the samples (Y103)
                "z_offset": float(np.sqrt(np.mean(z.mean(axis=0) ** 2))),  # the units' offsets
                "a_std": float(a.std()),
                "grad_norm": float((g * g).sum() ** 0.5),
            }
        rows.append(row)
    return rows
