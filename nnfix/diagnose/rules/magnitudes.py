"""M: gradient magnitudes and update sizes over the training probe — vanishing and exploding
gradients (M101, M102), updates too small or too large for the weights (M103, M104)."""

from __future__ import annotations

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.rules.rule import (
    TRAINING_PROBE,
    WARNING,
    Cause,
    Rule,
    caused_by,
    check,
    prose,
    yaml_block,
)
from nnfix.diagnose.rules.training import EXPLODED

FAMILY = "M", "gradient magnitudes and update sizes"  # the code prefix, and what its rules cover

VANISH_RATIO, VANISH_FIRST = 1e-3, 1e-4  # M101: ‖g_first‖/‖g_last‖ below, with ‖g_first‖ below
VANISH_MEAN = 1e-7  # M101: a layer's mean |g| below this does not move its weights
EXPLODE_RATIO, EXPLODE_NORM = 1e3, 1e3  # M102
RATIO_LOW, RATIO_HIGH, RATIO_GOOD = 1e-5, 1e-1, 1e-3  # M103/M104 (CS231n: ~1e-3)
WRONG_MATH = ("G101", "G102", "A101", "A102", "A103")  # M101/M102: gradients that are not the
# loss's — the norms measured are the bug's, at its layer and every layer below it


M101 = Rule(
    code="M101",
    name="vanishing-gradients",
    severity=WARNING,
    summary="per-layer gradient norms falling by orders of magnitude toward the input, or tiny in absolute terms (1e-7)",
    detects=prose("""
        Per-layer weight-gradient norms, at init and during the training probe, that fall by
        orders of magnitude from the output layer to the first, or a layer whose mean |g| is
        below 1e-7.
        """),
    why=prose("""
        Going down, backprop multiplies the error by Wᵀ and by the activation's derivative at
        every layer. Sigmoid's derivative is at most 0.25, so with small weights the signal
        shrinks fast: with std 0.01 and 32 units each sigmoid layer scales it by about
        √32 · 0.01 · 0.25 ≈ 0.014, and three layers down only ~3e-6 of it is left. The first
        layers then barely move while the last ones fit what they can on top of near-random
        features.
        """),
    fix=prose("""
        ReLU-family activations in the hidden layers with `he_normal` (or `xavier_normal` if
        you keep tanh/sigmoid), inputs near unit scale (`data.scale`), fewer layers.
        """),
    before=yaml_block("""
        model:
          init: {name: normal, std: 0.01}
          layers:
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 1, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: he_normal
          layers:
            - {units: 32, activation: relu}
            - {units: 32, activation: relu}
            - {units: 32, activation: relu}
            - {units: 1, activation: sigmoid}
        """),
    thresholds=prose(f"""
        ‖g_first‖ / ‖g_last‖ < {VANISH_RATIO:g} with ‖g_first‖ < {VANISH_FIRST:g} (AutoTrainer's
        vanishing-gradient rule, Zhang et al., ICSE 2021), or a layer's mean |g| below
        {VANISH_MEAN:g} — at lr 0.1 a step
        of 1e-8, about one float32 rounding step of a weight near 0.1. A layer whose gradient is
        exactly 0 is said to be zero: the report names the finding that explains it (a wrong
        gradient at or above the layer, a symmetric init), never a ratio to it.
        """),
    causes=(
        Cause(WRONG_MATH, layers="at_or_above"),  # a wrong gradient measures what the bug makes
        *caused_by("Y101", "Y103", "T108", "D102", "Y104", "T107"),
    ),
)


M102 = Rule(
    code="M102",
    name="exploding-gradients",
    severity=WARNING,
    summary="per-layer gradient norms growing toward the input, or norms above 1e3",
    detects=prose("""
        Per-layer weight-gradient norms, at init and during the training probe, that grow by
        orders of magnitude from the output layer to the first, or any layer's norm above 1e3.
    """),
    why=prose("""
        When each layer scales the backward signal by more than 1, the first layers get
        gradients orders of magnitude larger than the last: with `normal, std: 1.0` and 256
        ReLU units the factor is √(256/2) · 1 ≈ 11 per layer, about 1400 over three layers.
        One step at an ordinary learning rate then throws the first layers' weights far
        away, and the loss jumps or becomes NaN (T103).
        """),
    fix=prose("""
        An init scaled to the layer width (`he_normal` for ReLU-family layers,
        `xavier_normal` for tanh and sigmoid), inputs near unit scale, a lower `train.lr`.
        """),
    before=yaml_block("""
        model:
          init: {name: normal, std: 1.0}
          layers:
            - {units: 256, activation: relu}
            - {units: 256, activation: relu}
            - {units: 256, activation: relu}
            - {units: 10, activation: softmax}
        """),
    after=yaml_block("""
        model:
          init: he_normal
          layers:
            - {units: 256, activation: relu}
            - {units: 256, activation: relu}
            - {units: 256, activation: relu}
            - {units: 10, activation: softmax}
        """),
    thresholds=prose(f"""
        ‖g_first‖ / ‖g_last‖ > {EXPLODE_RATIO:g} (M101's ratio, the other way), or any layer's
        gradient norm above {EXPLODE_NORM:g} — at lr 0.01 a step of 10, larger than any sensibly initialised weight
        tensor. Where the output layer's gradient is 0 there is no ratio (not an "inf×"): only
        the norm counts, and M101 says the output layer's gradient is zero.
        """),
    causes=(
        Cause(WRONG_MATH, layers="at_or_above"),
        *caused_by("Y103", "D102", "Y104"),
    ),
)


M103 = Rule(
    code="M103",
    name="update-ratio-low",
    severity=WARNING,
    summary="lr·‖g‖/‖W‖ far below ~1e-3: the learning rate is too small to move the weights",
    detects=prose("""
        During the training probe, the size of each weight update relative to the weights,
        ‖ΔW‖ / ‖W‖ (lr · ‖g‖ / ‖W‖ for plain SGD; the optimiser's actual step otherwise), far
        below the ~1e-3 that trains well. The finding names a learning rate that would bring
        it there.
        """),
    why=prose("""
        At a ratio of 1e-6 the weights change by a tenth of their size only after 100 000
        steps: the loss looks stuck though nothing is wrong with the math. With Adam the step
        per weight is about lr whatever the gradient, so lr = 1e-7 against weights of size
        0.1 gives a ratio of about 1e-6.
        """),
    fix="Raise `train.lr` towards the value the finding names.",
    before=yaml_block("""
        train:
          optimizer: adam
          lr: 1.0e-7
        """),
    after=yaml_block("""
        train:
          optimizer: adam
          lr: 1.0e-3
        """),
    thresholds=prose(f"""
        The typical weight tensor's update ratio below {RATIO_LOW:g}, a hundred times under
        CS231n's rule of thumb of about {RATIO_GOOD:g}. Each weight tensor's ratio ‖ΔW‖ / ‖W‖
        is its median over the probe's steps (from the first update, and only the steps before
        the loss went non-finite or above {EXPLODED:g}× its start); the typical tensor's is the
        median of those across the tensors, on a log scale (two tensors: the geometric mean of
        their ratios). One learning rate moves every tensor, so it is judged on the typical
        one: a single tensor far below the rest is a gradient that does not reach it (M101),
        not a small lr. Biases, and weight tensors that start at zero or never move (no
        gradient reaches them), are left out: a ratio to a zero tensor measures nothing.
        """),
    causes=(Cause((*WRONG_MATH, "G105")),),  # a gradient scaled down by a bug, not a small lr
    suppressed_by=("T103", "M101"),  # a diverged run; gradients that vanish, not a small lr
)


M104 = Rule(
    code="M104",
    name="update-ratio-high",
    severity=WARNING,
    summary="lr·‖g‖/‖W‖ far above ~1e-3: the weights are being thrown around",
    detects=prose("""
        During the training probe, ‖ΔW‖ / ‖W‖ (lr · ‖g‖ / ‖W‖ for plain SGD) far above the
        ~1e-3 that trains well. The finding names a learning rate that would bring it there.
        """),
    why=prose("""
        At a ratio of 0.1 or more each step replaces a tenth of the weights, so ten steps can
        rewrite a layer entirely: the net forgets what the last steps learned, the loss
        oscillates or diverges, and ReLU units get knocked into the dead zone (T107).
        """),
    fix="Lower `train.lr` towards the value the finding names.",
    before=yaml_block("""
        train:
          optimizer: sgd
          lr: 10.0
        """),
    after=yaml_block("""
        train:
          optimizer: sgd
          lr: 0.1
        """),
    thresholds=prose(f"""
        The typical weight tensor's update ratio above {RATIO_HIGH:g}, a hundred times over
        CS231n's rule of thumb of about {RATIO_GOOD:g}, worked out as for M103: each tensor's
        median ‖ΔW‖ / ‖W‖ over the probe's steps, then the median across tensors on a log
        scale. A run whose loss goes non-finite or above {EXPLODED:g}× its start is judged on
        the updates before that, the first one included: those are what threw the weights
        around, so a run that diverges within a few steps still shows its ratios here, as the
        cause of its T103.
        """),
    causes=caused_by("G101", "G102", "G105", "D102", "Y103"),  # and it explains T103
)


@check(TRAINING_PROBE, M101, M102)
def gradient_magnitudes(ctx: Context) -> list[Finding]:
    """Per-layer gradient norms vanishing or exploding toward the input."""
    probe = ctx.probe
    if probe is None or not probe.grad_norm:
        return []
    with np.errstate(all="ignore"):
        norms = np.nanmedian(np.asarray(probe.grad_norm, float), axis=0)
        means = np.nanmedian(np.asarray(probe.grad_mean, float), axis=0)
    if not np.all(np.isfinite(norms)):
        return []
    first, last = float(norms[0]), float(norms[-1])
    depth = len(norms)
    evidence = {
        "grad_norm": {f"W{l + 1}": float(v) for l, v in enumerate(norms)},
        "mean_abs": {f"W{l + 1}": float(v) for l, v in enumerate(means)},
    }
    found = []
    tiny = [l + 1 for l, v in enumerate(means) if v < VANISH_MEAN]
    ratio = first / last if last > 0 else None  # to a zero gradient there is no ratio: M101's
    vanishing = depth > 1 and ratio is not None and ratio < VANISH_RATIO and first < VANISH_FIRST
    if vanishing or tiny:
        layer = tiny[0] if tiny else 1
        message = (
            f"gradients vanish toward the input: ‖dW1‖ = {first:.2g} against ‖dW{depth}‖ = "
            f"{last:.2g} (ratio {ratio:.1g})"
            if vanishing
            else _tiny(layer, depth, float(means[layer - 1]))
        )
        found.append(
            M101.finding(
                message,
                layer=layer,
                parameter=f"W{layer}",
                path=ctx.layer_path(layer, "activation"),
                evidence=evidence,
            )
        )
    big = [l + 1 for l, v in enumerate(norms) if v > EXPLODE_NORM]
    if (depth > 1 and ratio is not None and ratio > EXPLODE_RATIO) or big:
        layer = big[0] if big else 1
        found.append(
            M102.finding(
                f"gradients explode: ‖dW{layer}‖ = {norms[layer - 1]:.3g}"
                + (_against_output(float(norms[layer - 1]), last) if depth > 1 else ""),
                layer=layer,
                parameter=f"W{layer}",
                path=ctx.init_path(layer),
                evidence=evidence,
            )
        )
    return found


def _tiny(layer: int, depth: int, mean: float) -> str:
    """M101's words for a layer whose gradient is (nearly) nothing."""
    which = "the output layer" if layer == depth else f"layer {layer}"
    if mean == 0:
        return (
            f"{which}'s gradient is zero over the probe (‖dW{layer}‖ = 0): its weights never "
            "move — a symptom of a backward that drops it, or of inputs to the layer that are "
            "all 0 (a symmetric or dead layer below)"
        )
    return f"{which}'s gradient is tiny (mean |dW| {mean:.1g}): its weights do not move"


def _against_output(norm: float, last: float) -> str:
    """A layer's gradient norm against the output layer's, where there is a ratio to give."""
    if last == 0:
        return " while the output layer's gradient is zero"
    return f", {norm / last:.2g}× the output layer's"


def typical_update_ratio(ctx: Context) -> tuple[float, dict[str, float], list[str]] | None:
    """The update ratio of the typical weight tensor: each tensor's median ‖ΔW‖/‖W‖ over the
    probe's healthy steps (those before the loss went non-finite or exploded), then the median
    of those over the tensors on a log scale. Tensors that start at zero are left out: a ratio
    to a zero tensor measures nothing (Y101 says why they are zero). None: no ratio to judge."""
    probe = ctx.probe
    if probe is None or not probe.update_ratio:
        return None
    healthy = probe.healthy_steps(EXPLODED)
    rows = [
        r for r, step in zip(probe.update_ratio, probe.ratio_steps, strict=True) if step < healthy
    ]
    if not rows:
        return None
    ratios = np.asarray(rows, float)
    ratios[~np.isfinite(ratios)] = np.nan
    per_tensor: dict[str, float] = {}
    left_out = []
    net = ctx.network
    for l in range(ratios.shape[1]):
        name = net.slots[net.weight_index[l]].name if l < len(net.weight_index) else f"W{l + 1}"
        column = ratios[:, l][np.isfinite(ratios[:, l])]
        if probe.start_norm and probe.start_norm[l] == 0:
            left_out.append(f"{name} (starts at 0)")
        elif column.size and float(np.median(column)) == 0:
            left_out.append(f"{name} (does not move: no gradient reaches it)")
        elif column.size:
            per_tensor[name] = float(np.median(column))
    if not per_tensor:
        return None
    typical = float(np.exp(np.median(np.log(list(per_tensor.values())))))
    return typical, per_tensor, left_out


@check(TRAINING_PROBE, M103, M104)
def update_ratios(ctx: Context) -> list[Finding]:
    """How far each update moves the weights, against RATIO_GOOD."""
    found = typical_update_ratio(ctx)
    if found is None:
        return []
    median, per_tensor, left_out = found
    lr = ctx.spec.train.lr
    suggestion = float(f"{lr * RATIO_GOOD / median:.1g}")
    evidence: dict[str, object] = {"update_ratio": per_tensor, "median": median, "lr": lr}
    if left_out:
        evidence["left_out"] = left_out  # start at zero
    fix = Fix(f"a learning rate near {suggestion:g}", ("train", "lr"), suggestion)
    if median < RATIO_LOW:
        return [
            M103.finding(
                f"each update moves the weights by {median:.1g} of their size (about "
                f"{RATIO_GOOD:g} works well): lr {lr:g} is too small to train in "
                f"{ctx.spec.train.epochs} epochs",
                path=("train", "lr"),
                evidence=evidence,
                fix=fix,
            )
        ]
    if median > RATIO_HIGH:
        return [
            M104.finding(
                f"each update moves the weights by {median:.2g} of their size (about "
                f"{RATIO_GOOD:g} works well): the weights are thrown around",
                path=("train", "lr"),
                evidence=evidence,
                fix=fix,
            )
        ]
    return []
