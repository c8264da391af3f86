"""Statistics of one forward pass at init: Y103 (signal collapsing or exploding through
depth) and T101 (a loss at init far from what an untrained net gives)."""

from __future__ import annotations

import math

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.passes.static import _suits
from nnfix.diagnose.pipeline import finding
from nnfix.engine.losses import Loss

COLLAPSE, EXPLODE = 0.1, 10.0  # Y103: z-std of the last hidden layer against the first
EXPLODED_STD = 1e2  # Y103: a pre-activation std this large explodes whatever the depth
LOSS_OFF = (
    2.0  # T101: loss at init this many times what an untrained net gives (healthy configs: ≤ 1.4)
)


def init_scale(ctx: Context) -> list[Finding]:
    """Y103: pre-activation spread collapsing or exploding from the first layer to the last hidden one."""
    if ctx.init is None or ctx.has("Y101"):
        return []  # a symmetric layer collapses by construction: Y101 says why
    zs = [float(z.std()) for z in ctx.init.cache.z[:-1]]
    if not zs or not all(math.isfinite(s) for s in zs):
        return []
    stds = {f"layer {l}": round(s, 6) for l, s in enumerate(zs, start=1)}
    worst = max(range(len(zs)), key=lambda i: zs[i])
    ratio = zs[-1] / zs[0] if zs[0] > 0 else math.inf
    if zs[worst] > EXPLODED_STD:
        kind, layer = "explodes", worst + 1
    elif len(zs) >= 2 and ratio < COLLAPSE:
        kind, layer = "collapses", len(zs)
    elif len(zs) >= 2 and ratio > EXPLODE:
        kind, layer = "explodes", len(zs)
    else:
        return []
    act = ctx.spec.model.layers[layer - 1].activation.name
    init = (ctx.spec.model.layers[layer - 1].init or ctx.spec.model.init).name
    suggestion = _suits(act)
    caused_by = [c for c in ("Y104", "D102") if ctx.has(c)]
    return [
        finding(
            "Y103",
            (
                f"the spread of pre-activations {kind} at init: std(z) is {zs[0]:.3g} in layer 1"
                + (f", {zs[layer - 1]:.3g} in layer {layer}" if layer > 1 else "")
                + f" ({init} init, {act} units)"
            ),
            layer=layer,
            parameter=f"W{layer}",
            path=ctx.init_path(layer),
            evidence={"z_std": stds, "ratio_last_to_first": ratio},
            fix=Fix(
                f"{suggestion} keeps the spread of {act} layers steady through depth",
                ctx.init_path(layer),
                suggestion,
            ),
            caused_by=caused_by,
        )
    ]


def expected_initial_loss(ctx: Context) -> tuple[float, str]:
    """What an untrained net's loss should be (per-sample mean), and how it was worked out."""
    y = ctx.init.y
    out = ctx.spec.model.layers[-1].activation.name
    loss = ctx.spec.loss.name
    if loss == "cce" and out == "softmax":
        return math.log(y.shape[1]), f"ln {y.shape[1]} (uniform softmax over {y.shape[1]} classes)"
    if loss == "bce" and out == "sigmoid":
        k = y.shape[1]
        return k * math.log(2), f"{k}·ln 2 ({k} sigmoid output{'s' if k > 1 else ''} at 0.5)"
    if loss in ("mse", "mae"):
        reference = Loss(loss).value(np.zeros_like(y), np.zeros_like(y), y, None)
        return (
            reference,
            "the loss of predicting 0 for every target (an untrained net's output is near 0)",
        )
    return math.nan, ""


def loss_at_init(ctx: Context) -> list[Finding]:
    """T101: loss at init far above what an untrained net gives."""
    if ctx.init is None:
        return []
    expected, how = expected_initial_loss(ctx)
    mean_loss = ctx.network.loss(ctx.init.cache, ctx.init.y, Loss(ctx.spec.loss.name), 0.0)
    if not math.isfinite(expected) or not math.isfinite(mean_loss):
        return []
    if mean_loss <= LOSS_OFF * expected + 0.05:
        return []
    caused_by = [c for c in ("D102", "Y104", "Y103", "D103") if ctx.has(c)]
    return [
        finding(
            "T101",
            f"loss at init is {mean_loss:.4g}, {mean_loss / expected:.1f}× the {expected:.4g} an untrained net gives ({how}): the outputs start out confidently wrong",
            layer=ctx.network.depth,
            path=("loss",),
            evidence={
                "loss_at_init": mean_loss,
                "expected": expected,
                "ratio": mean_loss / expected,
            },
            fix=Fix(
                "start from small outputs: a scaled init (he/xavier) and inputs near unit scale"
            ),
            caused_by=caused_by,
        )
    ]
