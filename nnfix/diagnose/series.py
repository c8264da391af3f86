"""What the report's plots draw of one diagnosis, recorded from what the checks already computed:
the training probe's loss and per-layer gradient norms with the label-prior loss, the
pre-activations at init per layer with their activation's flat zones, and the gradient check's
(backprop, finite difference) pairs per tensor. Nothing is computed again for it; a part whose
pass did not run is left empty, with the reason the plot says in its place."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.gradcheck import GradcheckResult

BINS = 61  # histogram bins of a layer's pre-activations (odd: 0 mid-bin in a symmetric range)
TAIL = 0.001  # the histogram's range leaves this share of values out at each end (edge bins)
PAIRS = 400  # gradient-check pairs kept per tensor (evenly spaced over those compared)
LIMIT = 1e300  # values are cut to ±this for the histogram: its range's width must be finite


@dataclass
class Preactivation:
    """One layer's pre-activations z at init, as a histogram of all its values (samples × units),
    and the share of them in its activation's saturated and dead zones."""

    layer: int  # from 1
    activation: str  # as the spec writes it
    units: int
    counts: np.ndarray  # per bin; values beyond the range are counted in the edge bins
    edges: np.ndarray  # BINS + 1
    saturates_beyond: float | None  # |z| past which the activation is flat (sigmoid, tanh: 4)
    dead_below: float | None  # z at or below which it has no gradient (relu: 0)
    saturated: float | None  # share of values with |z| > saturates_beyond
    dead: float | None  # share of values with z <= dead_below
    std: float


@dataclass
class TensorPairs:
    """One tensor of the gradient check: backprop against finite differences at the entries (and
    random directions) it compared, and its verdict."""

    name: str  # W1, b1
    layer: int
    backprop: np.ndarray
    numeric: np.ndarray
    wrong: bool
    verdict: str  # "excellent", "unverifiable", "wrong: sign flipped: …"


@dataclass
class Series:
    loss_name: str  # the spec's loss, for the axis: bce, cce, mse, mae
    loss_reduction: str = "mean"  # over the batch: mean or sum
    loss: list[float] = field(default_factory=list)  # the training probe's loss per step
    grad_norm: list[list[float]] = field(default_factory=list)  # per probe step, per layer ‖dW‖
    prior: float | None = None  # the label-prior loss: the best constant prediction's
    diverged_at: int | None = None  # the probe step whose loss was not finite
    preactivations: list[Preactivation] = field(default_factory=list)
    gradcheck: list[TensorPairs] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)  # tensors --budget left out of the check
    why: dict[str, str] = field(default_factory=dict)  # per empty part ("probe", "init",
    # "gradcheck"): why nothing was recorded
    layers: list[str] = field(default_factory=list)  # each weight layer's activation (the spec's)
    weight_layers: list[int] = field(default_factory=list)  # ... and its number (from 1)

    @property
    def loss_label(self) -> str:
        """`bce, mean over the batch`: what one value of `loss` is."""
        return f"{self.loss_name}, {self.loss_reduction} over the batch"


def record(ctx: Context) -> Series:
    """The series of a diagnosis whose checks have run over `ctx`: only what they computed (a
    cached pass that no check asked for is not run for the plots)."""
    series = Series(
        loss_name=ctx.spec.net_loss.name,
        loss_reduction=ctx.spec.net_loss.reduction,
        layers=[ctx.network.activations[l - 1].name for l in ctx.network.weight_layers],
        weight_layers=ctx.network.weight_layers,
    )
    computed = vars(ctx)  # what the context's cached properties hold so far
    _probe(series, ctx, computed.get("probe"))
    init = computed.get("init")
    if init is not None:
        series.preactivations = [
            preactivation(l, act, z)
            for l, (act, z) in enumerate(
                zip(ctx.network.activations, ctx.network.preactivations(init.cache), strict=True),
                start=1,
            )
        ]
    else:
        series.why["init"] = "no forward pass at init: no training sample is usable as targets"
    if ctx.gradchecked is not None:
        layer_of = {s.name: s.layer for s in ctx.network.slots}
        series.gradcheck, series.not_checked = pairs(ctx.gradchecked, layer_of)
    elif init is not None and not np.isfinite(init.loss):
        series.why["gradcheck"] = "the loss at init is not finite: no gradient to check"
    else:
        series.why["gradcheck"] = (
            "the gradient check did not run: no rule selected needs it, --budget ran out, or a "
            "finding above stopped it"
        )
    return series


def _probe(series: Series, ctx: Context, probe) -> None:
    if probe is None:
        yours = ", or your code could not be trained (see the findings)"
        series.why["probe"] = (
            "--quick skips the training probe"
            if ctx.options.quick
            else "the training probe did not run: no rule selected needs it, or --budget ran out"
            + (yours if ctx.spec.implementation is not None else "")
        )
        return
    series.loss = [float(v) for v in probe.loss]
    series.grad_norm = [[float(v) for v in row] for row in probe.grad_norm]
    series.diverged_at = probe.diverged_at
    series.prior = ctx.prior_loss


def preactivation(layer: int, act, z: np.ndarray) -> Preactivation:
    """The histogram of `z` (every finite value) over a range that shows the activation's zones."""
    builtin = act.builtin
    beyond = builtin.saturates_beyond if builtin is not None else None
    dead_below = builtin.dead_below if builtin is not None else None
    values = np.asarray(z, float).ravel()
    values = values[np.isfinite(values)]
    inside = np.clip(values, -LIMIT, LIMIT)  # so that no difference of two overflows
    lo, hi = (float(q) for q in np.quantile(inside, [TAIL, 1 - TAIL])) if values.size else (0, 0)
    if beyond is not None:  # the saturated zones in sight on both sides
        lo, hi = min(lo, -1.25 * beyond), max(hi, 1.25 * beyond)
    if dead_below is not None:  # and both sides of the dead zone's edge
        lo, hi = min(lo, dead_below - 0.5), max(hi, dead_below + 0.5)
    size = max(abs(lo), abs(hi))
    if hi - lo <= max(1e-6 * size, 1e-9):  # every value (about) the same: a zero init, or values
        # so large that bins this narrow would not differ in floating point
        middle, half = (lo + hi) / 2, max(1.0, 1e-3 * size)
        lo, hi = middle - half, middle + half
    counts, edges = np.histogram(np.clip(inside, lo, hi), bins=BINS, range=(lo, hi))
    n = max(values.size, 1)
    return Preactivation(
        layer=layer,
        activation=act.name,
        units=int(np.shape(z)[1]) if np.ndim(z) == 2 else int(np.size(z)),
        counts=counts,
        edges=edges,
        saturates_beyond=beyond,
        dead_below=dead_below,
        saturated=float(np.sum(np.abs(values) > beyond) / n) if beyond is not None else None,
        dead=float(np.sum(values <= dead_below) / n) if dead_below is not None else None,
        std=float(values.std()) if values.size else 0.0,
    )


def pairs(result: GradcheckResult, layer_of: dict[str, int]) -> tuple[list[TensorPairs], list[str]]:
    """Per tensor of a gradient check, up to PAIRS of its compared values, and its verdict."""
    out = []
    for t in result.tensors:
        n = len(t.analytic)  # 0 where every difference crossed a kink, or none was finite
        keep = np.unique(np.linspace(0, n - 1, min(n, PAIRS)).round().astype(int))
        verdict = t.band + (f": {t.classification}" if t.classification else "")
        out.append(
            TensorPairs(
                name=t.name,
                layer=layer_of.get(t.name, 0),
                backprop=np.asarray(t.analytic, float)[keep],
                numeric=np.asarray(t.numeric, float)[keep],
                wrong=t.wrong,
                verdict=verdict,
            )
        )
    return out, list(result.skipped)
