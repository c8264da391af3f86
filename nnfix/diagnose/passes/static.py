"""Static checks of the spec and its data, before anything is trained: D101–D105, Y101,
Y104, T105."""

from __future__ import annotations

import math

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.pipeline import finding
from nnfix.engine.metrics import target_kind
from nnfix.engine.schedules import learning_rate

# the values each built-in output can take: (low, high); softmax rows also sum to 1
OUTPUT_RANGE = {
    "sigmoid": (0.0, 1.0),
    "softmax": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, math.inf),
    "softplus": (0.0, math.inf),
    "linear": (-math.inf, math.inf),
    "leaky_relu": (-math.inf, math.inf),
    "swish": (-0.2785, math.inf),
}
UNSCALED_RMS = 10.0  # D102: an input feature whose root-mean-square exceeds this
SATURATED_Z = 4.0  # |z| beyond which sigmoid/tanh pass almost no gradient (σ'(4) = 0.018)
MINORITY = 0.05  # D105: a class under 5 % of the samples


def _rows(mask: np.ndarray, rows: np.ndarray | None, limit: int = 10) -> list[int]:
    """1-based row numbers in the source data of the samples `mask` marks."""
    index = np.flatnonzero(mask)[:limit]
    return [int(rows[i] if rows is not None else i) + 1 for i in index]


def _data_path(ctx: Context) -> tuple:
    data = ctx.spec.data
    return ("data", "path") if data.path else ("data", "x") if data.x else ("data", "source")


def non_finite_data(ctx: Context) -> list[Finding]:
    """D101: NaN or inf in the inputs or targets, with the rows they are in."""
    found = []
    d = ctx.data
    for what, x, y, source_rows in (
        ("training", d.x_train, d.y_train, d.train_rows),
        ("validation", d.x_val, d.y_val, d.val_rows),
    ):
        if len(x) == 0:
            continue
        y = np.asarray(y, dtype=float).reshape(len(y), -1)
        for part, array in (("inputs", x), ("targets", y)):
            bad = ~np.isfinite(array)
            if not bad.any():
                continue
            rows = bad.any(axis=1)
            columns = [int(c) for c in np.flatnonzero(bad.any(axis=0))[:10]]
            message = (
                f"{int(rows.sum())} {what} rows have NaN or inf in their {part} "
                f"(rows {', '.join(map(str, _rows(rows, source_rows)))}{'…' if rows.sum() > 10 else ''}): "
                "one such value makes the loss and every gradient NaN"
            )
            found.append(
                finding(
                    "D101",
                    message,
                    path=_data_path(ctx),
                    evidence={
                        "part": part,
                        "set": what,
                        "rows": _rows(rows, source_rows),
                        "count": int(rows.sum()),
                        "columns": columns,
                        "nan": int(np.isnan(array).sum()),
                        "inf": int(np.isinf(array).sum()),
                    },
                    fix=Fix(
                        "remove or impute those rows before training (row numbers count samples from 1, after `limit`)"
                    ),
                )
            )
    return found


def unscaled_inputs(ctx: Context) -> list[Finding]:
    """D102: inputs far from unit scale, which saturate a sigmoid/tanh first layer."""
    x = ctx.data.x_train
    finite = np.where(np.isfinite(x), x, 0.0)
    if ctx.spec.data.scale != "none" or len(x) == 0:
        return []
    rms = np.sqrt(np.mean(finite**2, axis=0))
    worst = int(np.argmax(rms))
    if rms[worst] <= UNSCALED_RMS:
        return []
    evidence = {
        "max_abs": float(np.abs(finite).max()),
        "feature_rms_max": float(rms[worst]),
        "feature": worst,
        "features_over": int((rms > UNSCALED_RMS).sum()),
    }
    first = ctx.spec.model.layers[0].activation.name
    saturating = ""
    if ctx.init is not None and first in ("sigmoid", "tanh"):
        z = ctx.init.cache.z[0]
        fraction = float(np.mean(np.abs(z) > SATURATED_Z))
        evidence["first_layer_saturated"] = fraction
        saturating = f"; {fraction:.0%} of the first {first} layer's pre-activations are beyond ±{SATURATED_Z:g}, where its gradient vanishes"
    scale = "minmax" if finite.min() >= 0 else "standard"
    return [
        finding(
            "D102",
            f"inputs are far from unit scale (feature {worst} has RMS {rms[worst]:.3g}, max |x| {evidence['max_abs']:.3g}){saturating}",
            layer=1,
            path=("data", "scale") if "scale" in ctx.spec.data.model_fields_set else ("data",),
            evidence=evidence,
            fix=Fix(
                "scale the inputs to [0, 1]"
                if scale == "minmax"
                else "scale each input to zero mean and unit variance",
                ("data", "scale"),
                scale,
            ),
        )
    ]


def _range(name: str, alpha: float | None) -> tuple[float, float] | None:
    if name == "elu":
        return (-(1.0 if alpha is None else alpha), math.inf)
    return OUTPUT_RANGE.get(name)


def label_output_mismatch(ctx: Context) -> list[Finding]:
    """D103: targets the output layer cannot represent."""
    out = ctx.spec.model.layers[-1]
    path = ctx.layer_path(len(ctx.spec.model.layers), "units")
    if ctx.y_train is None:
        return [
            finding(
                "D103",
                f"{ctx.target_problem}",
                layer=len(ctx.spec.model.layers),
                path=path,
                evidence={"units": out.units},
            )
        ]
    y = ctx.y_train[np.all(np.isfinite(ctx.y_train), axis=1)]
    span = _range(out.activation.name, out.activation.alpha)
    if span is None or len(y) == 0:
        return []
    lo, hi = float(y.min()), float(y.max())
    if lo >= span[0] - 1e-9 and hi <= span[1] + 1e-9:
        return []
    name = out.activation.name
    labels = np.unique(y)
    many = len(labels) > 2 and np.all(labels == np.round(labels)) and out.units == 1
    if many:
        fix = Fix(
            f"one output unit per class: units: {len(labels)} with softmax and loss: cce (labels are one-hot encoded for you)",
            path,
            len(labels),
        )
        message = f"targets are class labels {labels.min():g}–{labels.max():g} but the output is one {name} unit, whose values lie in [{span[0]:g}, {span[1]:g}]"
    else:
        fix = Fix(
            f"use an output activation whose range holds the targets [{lo:g}, {hi:g}] (linear for regression), or rescale the targets"
        )
        message = f"targets run from {lo:g} to {hi:g} but the {name} output can only give [{span[0]:g}, {span[1]:g}]"
    return [
        finding(
            "D103",
            message,
            layer=len(ctx.spec.model.layers),
            path=ctx.layer_path(len(ctx.spec.model.layers), "activation"),
            evidence={
                "target_min": lo,
                "target_max": hi,
                "output_range": list(span),
                "units": out.units,
            },
            fix=fix,
        )
    ]


def output_loss_mismatch(ctx: Context) -> list[Finding]:
    """D104: an output activation and loss that do not fit together."""
    out = ctx.spec.model.layers[-1]
    act, loss, units = out.activation.name, ctx.spec.loss.name, out.units
    apath = ctx.layer_path(len(ctx.spec.model.layers), "activation")
    layer = len(ctx.spec.model.layers)
    if act == "softmax" and units == 1:
        return [
            finding(
                "D104",
                "softmax over one unit always outputs 1: the output cannot depend on the input",
                layer=layer,
                path=apath,
                fix=Fix("for two classes use one sigmoid unit with bce", apath, "sigmoid"),
                evidence={"activation": act, "units": units, "loss": loss},
            )
        ]
    if loss == "bce" and act not in ("sigmoid", "softmax") and act in OUTPUT_RANGE:
        return [
            finding(
                "D104",
                f"bce needs outputs in (0, 1) but the output layer is {act}, whose range is [{_range(act, None)[0]:g}, {_range(act, None)[1]:g}]: log(a) and log(1 - a) are undefined outside it",
                layer=layer,
                path=apath,
                fix=Fix("use a sigmoid output with bce", apath, "sigmoid"),
                evidence={"activation": act, "loss": loss},
            )
        ]
    if loss == "cce" and act != "softmax" and act in OUTPUT_RANGE:
        message = f"cce treats the outputs as a probability distribution, but {act} outputs do not sum to 1"
        if act == "sigmoid":
            message += ": every output can rise towards 1 at once, and the loss rewards it"
        return [
            finding(
                "D104",
                message,
                layer=layer,
                path=apath,
                fix=Fix(
                    "use a softmax output with cce (or sigmoid outputs with bce)", apath, "softmax"
                ),
                evidence={"activation": act, "loss": loss},
            )
        ]
    return []


def class_imbalance(ctx: Context) -> list[Finding]:
    """D105: a class under 5 % of the samples."""
    if ctx.y_train is None:
        return []
    y = ctx.y_train
    kind = target_kind(y)
    if kind not in ("onehot", "binary"):
        return []
    counts = (
        y.sum(axis=0) if kind == "onehot" else np.array([np.sum(y[:, 0] <= 0), np.sum(y[:, 0] > 0)])
    )
    shares = counts / len(y)
    small = [int(c) for c in np.flatnonzero(shares < MINORITY)]
    if not small:
        return []
    listing = ", ".join(f"class {c}: {shares[c]:.1%}" for c in small)
    return [
        finding(
            "D105",
            f"{len(small)} class{'es' if len(small) > 1 else ''} under {MINORITY:.0%} of the samples ({listing}): accuracy can look high while they are never predicted",
            path=_data_path(ctx),
            evidence={"shares": [float(s) for s in shares], "classes": small},
        )
    ]


def _suits(activation: str) -> str:
    return (
        "he_normal"
        if activation in ("relu", "leaky_relu", "elu", "swish", "softplus")
        else "xavier_normal"
    )


def symmetric_init(ctx: Context) -> list[Finding]:
    """Y101: a hidden layer whose units all start with the same incoming weights and bias."""
    found = []
    net = ctx.network
    for l in range(1, net.depth):  # hidden layers: the output's units differ by their targets
        W, b = net.weights[l - 1], net.biases[l - 1]
        if W.shape[1] < 2 or not (np.all(W[:, :1] == W) and np.all(b == b[:, :1])):
            continue
        act = ctx.spec.model.layers[l - 1].activation.name
        suggestion = _suits(act)
        value = float(W.flat[0])
        found.append(
            finding(
                "Y101",
                f"all {W.shape[1]} units of layer {l} start with identical weights ({value:g}): they compute the same output, get the same gradient and stay one unit",
                layer=l,
                parameter=f"W{l}",
                path=ctx.init_path(l),
                evidence={
                    "units": int(W.shape[1]),
                    "weight": value,
                    "init": (ctx.spec.model.layers[l - 1].init or ctx.spec.model.init).name,
                },
                fix=Fix(
                    f"random init that breaks the symmetry: {suggestion} for {act}",
                    ctx.init_path(l),
                    suggestion,
                ),
            )
        )
    return found


def one_signed_init(ctx: Context) -> list[Finding]:
    """Y104: every initial weight of a layer has the same sign."""
    found = []
    for l, W in enumerate(ctx.network.weights, start=1):
        if W.size < 4 or np.all(W.flat[0] == W):
            continue  # constant weights are Y101's
        positive, negative = bool(np.all(W >= 0)), bool(np.all(W <= 0))
        if not (positive or negative):
            continue
        sign = "positive" if positive else "negative"
        act = ctx.spec.model.layers[l - 1].activation.name
        suggestion = _suits(act)
        found.append(
            finding(
                "Y104",
                f"all {W.size} initial weights of layer {l} are {sign} (mean {W.mean():.3g}): every unit sums its inputs with the same sign, so pre-activations grow with the layer's width and the units start out nearly alike",
                layer=l,
                parameter=f"W{l}",
                path=ctx.init_path(l),
                evidence={"min": float(W.min()), "max": float(W.max()), "mean": float(W.mean())},
                fix=Fix(
                    f"an init centred on zero: {suggestion} for {act}", ctx.init_path(l), suggestion
                ),
            )
        )
    return found


def lr_decays_too_fast(ctx: Context) -> list[Finding]:
    """T105: a schedule that kills the learning rate early in training."""
    train = ctx.spec.train
    m = len(ctx.data.x_train)
    batch = m if train.batch_size == "full" else min(train.batch_size, max(m, 1))
    per_epoch = max(1, math.ceil(m / batch))
    epochs, total = train.epochs, train.epochs * per_epoch

    def lr(step: int) -> float:
        return learning_rate(train.schedule, train.lr, step // per_epoch, step, epochs, per_epoch)

    tenth, fiftieth = max(1, total // 10), max(1, total // 50)
    at_tenth, at_fiftieth = lr(tenth) / train.lr, lr(fiftieth) / train.lr
    if at_tenth > 0.01 and at_fiftieth > 0.5:
        return []
    budget = (
        sum(lr(s) for s in range(0, total, max(1, total // 1000)))
        * max(1, total // 1000)
        / (train.lr * total)
    )
    return [
        finding(
            "T105",
            f"the {train.schedule.name} schedule cuts lr to {at_fiftieth:.2g}× within the first 2 % of training and {at_tenth:.2g}× by the first tenth: "
            f"the rest of training moves the weights with {budget:.0%} of the learning rate it was given",
            path=("train", "schedule"),
            evidence={
                "lr": train.lr,
                "lr_at_2pct": lr(fiftieth),
                "lr_at_10pct": lr(tenth),
                "lr_at_end": lr(total - 1),
                "lr_budget_used": budget,
            },
            fix=Fix(
                "decay slowly: a cosine schedule over the whole run (or constant)",
                ("train", "schedule"),
                "cosine",
            ),
        )
    ]
