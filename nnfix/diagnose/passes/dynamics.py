"""What the training probe shows: T102–T104, T107, T108, M101–M104, Y102; and the overfit probe,
T106. Each threshold is documented beside its rule (`nnfix explain CODE`)."""

from __future__ import annotations

import math

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.pipeline import finding
from nnfix.engine.losses import Loss, best_constant

PLATEAU = 0.02  # T102: final loss within 2 % of the best constant prediction's
STILL = 0.01  # T102: and falling by less than 1 % over the last quarter
RISING = 1.10  # T104: last quarter's mean loss above 1.1× the best quarter's
EXPLODED = 1e3  # T103: loss this many times its start counts as diverged
VANISH_RATIO, VANISH_FIRST, VANISH_MEAN = 1e-3, 1e-4, 1e-7  # M101 (AutoTrainer) and absolute
EXPLODE_RATIO, EXPLODE_NORM = 1e3, 1e3  # M102
RATIO_LOW, RATIO_HIGH, RATIO_GOOD = 1e-5, 1e-1, 1e-3  # M103/M104 (CS231n: ~1e-3)
DEAD_SHARE = 0.2  # T107: more than 20 % of a layer's ReLU units dead on every sample
SATURATED_Z, SATURATED_SHARE = 4.0, 0.5  # T108: |z| > 4 for most samples in most units
IDENTICAL = 0.99  # Y102: mean pairwise cosine similarity of a layer's weight vectors
OVERFIT_SAMPLES = 8  # T106: a handful of samples


def _causes(ctx: Context, *codes: str) -> list[str]:
    return [c for c in codes if ctx.has(c)]


def _quarters(loss: list[float]) -> tuple[float, float, float]:
    """Mean loss of the first and last quarter, and of the best quarter-length window."""
    w = max(1, len(loss) // 4)
    values = np.asarray(loss, float)
    windows = np.convolve(values, np.ones(w) / w, mode="valid")
    return float(values[:w].mean()), float(values[-w:].mean()), float(windows.min())


def divergence(ctx: Context) -> list[Finding]:
    """T103: the loss went non-finite or exploded; the first layer whose values went bad."""
    probe = ctx.probe
    if probe is None or not probe.loss:
        return []
    start = probe.loss[0]
    exploded = math.isfinite(start) and any(
        math.isfinite(v) and v > EXPLODED * max(start, 1e-12) for v in probe.loss
    )
    if probe.diverged_at is None and not exploded:
        return []
    step = (
        probe.diverged_at
        if probe.diverged_at is not None
        else next(s for s, v in zip(probe.steps, probe.loss, strict=True) if v > EXPLODED * start)
    )
    layer, where = _first_bad_layer(ctx, _inside(probe.network))
    causes = _causes(ctx, "G101", "G102", "A102", "A103", "A101", "M104", "D102", "Y103")
    lr = ctx.spec.train.lr
    return [
        finding(
            "T103",
            f"the loss {'became non-finite' if probe.diverged_at is not None else f'grew over {EXPLODED:g}× its start'} at step {step}"
            + (
                f"; the first layer whose values went non-finite is layer {layer} ({where})"
                if layer
                else ""
            ),
            layer=layer,
            path=("train", "lr"),
            evidence={
                "step": step,
                "loss_start": start,
                "loss_last_finite": next(
                    (v for v in reversed(probe.loss) if math.isfinite(v)), None
                ),
                "layer": layer,
                "where": where,
            },
            fix=Fix("a smaller learning rate", ("train", "lr"), lr / 10),
            caused_by=causes,
        )
    ]


def _first_bad_layer(ctx: Context, net) -> tuple[int | None, str]:
    """The first layer, from the input, whose pre-activations, activations or weights are not finite."""
    x = ctx.data.x_train[ctx.finite_rows][:256].astype(net.weights[0].dtype)
    with np.errstate(all="ignore"):
        cache = net.forward(x)
    for l in range(net.depth):
        if not np.all(np.isfinite(net.weights[l])):
            return l + 1, "weights"
        if not np.all(np.isfinite(cache.z[l])):
            return l + 1, "pre-activations z"
        if not np.all(np.isfinite(cache.a[l])):
            return l + 1, "activations a"
    return None, ""


def loss_rising(ctx: Context) -> list[Finding]:
    """T104: the loss rises (or swings) over the probe instead of falling."""
    probe = ctx.probe
    if probe is None or len(probe.loss) < 8 or ctx.has("T103"):
        return []
    first, last, best = _quarters(probe.loss)
    if not (math.isfinite(last) and last > RISING * best and last > first):
        return []
    causes = _causes(ctx, "G101", "G102", "A101", "A102", "A103", "M104")
    lr = ctx.spec.train.lr
    return [
        finding(
            "T104",
            f"the loss rises during training: from {first:.4g} (first quarter of the probe) to {last:.4g} (last quarter), after reaching {best:.4g}",
            path=("train", "lr"),
            evidence={
                "first_quarter": first,
                "last_quarter": last,
                "best_window": best,
                "steps": len(probe.loss),
            },
            fix=None if causes else Fix("a smaller learning rate", ("train", "lr"), lr / 3),
            caused_by=causes,
        )
    ]


def plateau_at_prior(ctx: Context) -> list[Finding]:
    """T102: the loss settles at the loss of the best constant prediction."""
    probe = ctx.probe
    if probe is None or len(probe.loss) < 8 or ctx.has("T103"):
        return []
    y = ctx.y_train[ctx.finite_rows]
    prior = best_constant(ctx.spec.loss.name, y) * (
        len(y) if ctx.spec.loss.reduction == "sum" else 1
    )
    if ctx.spec.loss.reduction == "sum":
        prior = best_constant(ctx.spec.loss.name, y) * min(
            len(y), ctx.spec.train.batch_size if ctx.spec.train.batch_size != "full" else len(y)
        )
    w = max(1, len(probe.loss) // 4)
    tail = np.asarray(probe.loss[-w:], float)
    final = float(tail.mean())
    earlier = float(np.mean(probe.loss[-2 * w : -w])) if len(probe.loss) >= 2 * w else final
    if not (
        prior > 0 and abs(final - prior) <= PLATEAU * prior and earlier - final <= STILL * prior
    ):
        return []
    causes = _causes(
        ctx, "Y101", "A102", "A103", "A101", "G102", "G101", "T107", "T108", "D102", "D103", "Y103"
    )
    return [
        finding(
            "T102",
            f"the loss settles at {final:.4g}, the {prior:.4g} of the best constant prediction (the label prior): the output ignores the input",
            path=("loss",),
            evidence={"final_loss": final, "prior_loss": prior, "steps": len(probe.loss)},
            caused_by=causes,
        )
    ]


def gradient_magnitudes(ctx: Context) -> list[Finding]:
    """M101/M102: per-layer gradient norms vanishing or exploding toward the input."""
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
    ratio = (
        first / last if last > 0 else (math.inf if first > 0 else math.nan)
    )  # nan: no flow at all
    if (depth > 1 and ratio < VANISH_RATIO and first < VANISH_FIRST) or tiny:
        layer = tiny[0] if tiny else 1
        message = (
            f"gradients vanish toward the input: ‖dW1‖ = {first:.2g} against ‖dW{depth}‖ = {last:.2g} (ratio {ratio:.1g})"
            if depth > 1 and ratio < VANISH_RATIO and first < VANISH_FIRST
            else f"layer {layer}'s gradient is tiny (mean |dW| {means[layer - 1]:.1g}): its weights do not move"
        )
        found.append(
            finding(
                "M101",
                message,
                layer=layer,
                parameter=f"W{layer}",
                path=ctx.layer_path(layer, "activation"),
                evidence=evidence,
                caused_by=_causes(ctx, "Y101", "Y103", "T108", "D102", "Y104", "T107"),
            )
        )
    big = [l + 1 for l, v in enumerate(norms) if v > EXPLODE_NORM]
    if (depth > 1 and ratio > EXPLODE_RATIO) or big:
        layer = big[0] if big else 1
        found.append(
            finding(
                "M102",
                f"gradients explode: ‖dW{layer}‖ = {norms[layer - 1]:.3g}"
                + (f", {ratio:.2g}× the output layer's" if depth > 1 else ""),
                layer=layer,
                parameter=f"W{layer}",
                path=ctx.init_path(layer),
                evidence=evidence,
                caused_by=_causes(ctx, "Y103", "D102", "Y104"),
            )
        )
    return found


def update_ratios(ctx: Context) -> list[Finding]:
    """M103/M104: how far each update moves the weights, against ~1e-3."""
    probe = ctx.probe
    if probe is None or not probe.update_ratio or ctx.has("T103"):
        return []
    with np.errstate(all="ignore"):
        ratios = np.nanmedian(np.asarray(probe.update_ratio, float), axis=0)
    finite = ratios[np.isfinite(ratios)]
    if finite.size == 0:
        return []
    median = float(np.median(finite))
    lr = ctx.spec.train.lr
    suggestion = float(f"{lr * RATIO_GOOD / median:.1g}") if median > 0 else None
    evidence = {
        "update_ratio": {f"W{l + 1}": float(v) for l, v in enumerate(ratios)},
        "median": median,
        "lr": lr,
    }
    if 0 < median < RATIO_LOW and not ctx.has("M101"):
        return [
            finding(
                "M103",
                f"each update moves the weights by {median:.1g} of their size (about 1e-3 works well): lr {lr:g} is too small to train in {ctx.spec.train.epochs} epochs",
                path=("train", "lr"),
                evidence=evidence,
                fix=Fix(f"a learning rate near {suggestion:g}", ("train", "lr"), suggestion),
            )
        ]
    if median > RATIO_HIGH:
        return [
            finding(
                "M104",
                f"each update moves the weights by {median:.2g} of their size (about 1e-3 works well): the weights are thrown around",
                path=("train", "lr"),
                evidence=evidence,
                fix=Fix(f"a learning rate near {suggestion:g}", ("train", "lr"), suggestion),
                caused_by=_causes(ctx, "D102", "Y103"),
            )
        ]
    return []


def _inside(net):
    """A net whose layers can be looked into (the user's code: its weights in nnfix's network)."""
    return net.as_network() if hasattr(net, "as_network") else net


def _probe_batch(ctx: Context):
    """The probe's trained net on up to 1024 training samples."""
    net = _inside(ctx.probe.network)
    x = ctx.data.x_train[ctx.finite_rows][:1024].astype(net.weights[0].dtype)
    with np.errstate(all="ignore"):
        return net.forward(x)


def dead_relu(ctx: Context) -> list[Finding]:
    """T107: ReLU units that output 0 for every sample."""
    if ctx.probe is None:
        return []
    cache = _probe_batch(ctx)
    found = []
    for l, spec in enumerate(ctx.spec.model.layers[:-1], start=1):
        if spec.activation.name != "relu":
            continue
        dead = np.all(cache.z[l - 1] <= 0, axis=0)
        share = float(dead.mean())
        if share > DEAD_SHARE:
            bias = (spec.bias_init or ctx.spec.model.bias_init).name
            found.append(
                finding(
                    "T107",
                    f"{int(dead.sum())} of layer {l}'s {dead.size} ReLU units are 0 for every sample: they get no gradient and never recover",
                    layer=l,
                    path=ctx.layer_path(l, "activation"),
                    evidence={
                        "dead": int(dead.sum()),
                        "units": int(dead.size),
                        "share": share,
                        "bias_init": bias,
                    },
                    fix=Fix(
                        "leaky_relu keeps a gradient below 0 (or start biases at zeros)",
                        ctx.layer_path(l, "activation"),
                        "leaky_relu",
                    ),
                    caused_by=_causes(ctx, "D102", "M104", "T103"),
                )
            )
    return found


def saturated_units(ctx: Context) -> list[Finding]:
    """T108: sigmoid/tanh units beyond |z| > 4 for most samples."""
    if ctx.probe is None:
        return []
    cache = _probe_batch(ctx)
    found = []
    for l, spec in enumerate(ctx.spec.model.layers[:-1], start=1):
        if spec.activation.name not in ("sigmoid", "tanh"):
            continue
        saturated = np.mean(np.abs(cache.z[l - 1]) > SATURATED_Z, axis=0) > SATURATED_SHARE
        share = float(saturated.mean())
        if share > SATURATED_SHARE:
            found.append(
                finding(
                    "T108",
                    f"{int(saturated.sum())} of layer {l}'s {saturated.size} {spec.activation.name} units sit beyond |z| > {SATURATED_Z:g} for most samples, where their derivative is under {0.018 if spec.activation.name == 'sigmoid' else 0.0013}",
                    layer=l,
                    path=ctx.layer_path(l, "activation"),
                    evidence={
                        "saturated": int(saturated.sum()),
                        "units": int(saturated.size),
                        "share": share,
                    },
                    fix=Fix(
                        "scale the inputs and use xavier_normal", ctx.init_path(l), "xavier_normal"
                    ),
                    caused_by=_causes(ctx, "D102", "Y104", "Y103"),
                )
            )
    return found


def units_identical(ctx: Context) -> list[Finding]:
    """Y102: a hidden layer whose units still have (near) identical weights after the probe."""
    if ctx.probe is None:
        return []
    found = []
    net = _inside(ctx.probe.network)
    for l in range(1, net.depth):
        W = net.weights[l - 1].astype(float)
        if W.shape[1] < 2:
            continue
        spread = float(np.abs(W - W[:, :1]).max())
        norms = np.linalg.norm(W, axis=0)
        if spread <= 1e-12 * max(1.0, float(np.abs(W).max())):
            similarity = 1.0
        elif np.all(norms > 0):
            unit = W / norms
            cos = unit.T @ unit
            n = cos.shape[0]
            similarity = float((cos.sum() - n) / (n * (n - 1)))
        else:
            continue
        if similarity > IDENTICAL:
            found.append(
                finding(
                    "Y102",
                    f"after training, layer {l}'s {W.shape[1]} units still have identical weights (mean cosine similarity {similarity:.3f}): the layer works as one unit",
                    layer=l,
                    parameter=f"W{l}",
                    path=ctx.init_path(l),
                    evidence={
                        "similarity": similarity,
                        "units": int(W.shape[1]),
                        "steps": len(ctx.probe.loss),
                    },
                    caused_by=_causes(ctx, "Y101"),
                )
            )
    return found


def cannot_overfit(ctx: Context) -> list[Finding]:
    """T106: the net cannot memorise a handful of samples even with Adam."""
    from nnfix.diagnose.probe import overfit

    if ctx.y_train is None:
        return []
    rows = np.flatnonzero(ctx.finite_rows)[:OVERFIT_SAMPLES]
    dtype = ctx.spec.train.dtype
    x, y = ctx.data.x_train[rows].astype(dtype), ctx.y_train[rows].astype(dtype)
    name = ctx.spec.loss.name
    prior = best_constant(name, ctx.y_train[ctx.finite_rows])
    target = 0.05 if name in ("bce", "cce") else 0.01 * max(prior, 1e-12)
    if ctx.spec.loss.reduction == "sum":
        target *= len(rows)
    loss = ctx.loss
    ok, tried = overfit(
        ctx.trainable(dtype),
        loss,
        ctx.spec.train,
        x,
        y,
        ctx.batch_rng,
        0.3 * ctx.options.budget,
        target,
    )
    if ok:
        return []
    best = min(tried.values()) if tried else math.nan
    causes = _causes(
        ctx, "A101", "A102", "A103", "G102", "G101", "Y101", "D103", "D104", "T108", "T107", "D102"
    )
    return [
        finding(
            "T106",
            f"the net cannot fit {len(rows)} samples: with Adam at lr {', '.join(f'{lr:g}' for lr in tried)} the loss gets no lower than {best:.3g} (near zero would be under {target:.2g}); a correct net of this size memorises them, so something in its math is broken",
            path=("model",),
            evidence={
                "samples": len(rows),
                "best_loss": {f"lr {lr:g}": v for lr, v in tried.items()},
                "target": target,
                "loss_name": Loss(name).name,
            },
            caused_by=causes,
        )
    ]
