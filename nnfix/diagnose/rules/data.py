"""D: the data — inputs and targets, checked before anything is trained (D101–D105)."""

from __future__ import annotations

import math

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.rules.rule import (
    ERROR,
    INFO,
    STATIC,
    WARNING,
    Rule,
    check,
    prose,
    yaml_block,
)
from nnfix.engine import activations
from nnfix.engine.activations import numeric
from nnfix.engine.metrics import target_kind
from nnfix.engine.network import Network

FAMILY = "D", "data: inputs and targets"  # the code prefix, and what its rules cover

UNSCALED_RMS = 10.0  # D102: an input feature whose root-mean-square exceeds this
MINORITY = 0.05  # D105: a class under 5 % of the samples
SHOWN_ROWS = 10  # D101, D103: rows listed one by one
UNREACHED = 0.1  # D103: a fixed output this many targets' standard deviations from a target
SATURATES = activations.get("sigmoid").saturates_beyond  # |z| where sigmoid and tanh go flat
RANGE_SLACK = 1e-9  # D104: how far past (0, 1) an output's range may reach for bce (rounding)


D101 = Rule(
    code="D101",
    name="non-finite-data",
    severity=ERROR,
    summary="NaN or inf in the inputs or targets (with row numbers)",
    detects=prose("""
        Inputs or targets that are NaN or ±inf, in the training or the validation part. The
        finding lists where they are in your data, whichever part they were split into: the
        lines of a csv file (counted from 1, the header included), the rows of an npy, npz or
        idx array or of generated data (counted from 1; the evidence also gives the 0-based
        indices) — and the columns they are in, and how many NaNs and infs there are.
        """),
    why=prose("""
        One NaN in a batch makes that batch's pre-activations, its loss and every gradient
        NaN (NaN · 0 is still NaN), and the first update writes NaN into every weight. From
        then on the net outputs NaN for every input and never recovers. An inf does the same
        through inf − inf and 0 · inf. The usual sources are empty cells or markers such as
        `?` in a CSV, and a log or a division in the preprocessing.
        """),
    fix=prose("""
        Drop or impute the rows the finding lists before training (or fix the preprocessing
        that produced them), and point `data.path` at the cleaned file.
        """),
    before=yaml_block("""
        data:
          source: csv
          path: houses.csv        # rows 17 and 240 have empty cells
        """),
    after=yaml_block("""
        data:
          source: csv
          path: houses-clean.csv  # those rows dropped
        """),
)


D102 = Rule(
    code="D102",
    name="unscaled-inputs",
    severity=WARNING,
    summary="inputs far from unit scale (e.g. pixels 0–255) that saturate the first layer",
    detects=prose("""
        With `data.scale: none`, an input feature whose root-mean-square is far above 1: raw
        pixels in 0–255, prices, counts. When the first layer is sigmoid or tanh, the finding
        also says what fraction of its pre-activations start beyond ±4, where the units are
        saturated.
        """),
    why=prose("""
        A first-layer unit computes z = Σ wᵢxᵢ + b, so z grows with x. Inits such as He and
        Xavier choose the weights' scale so that inputs of RMS ≈ 1 give z of about unit size;
        pixels of RMS ≈ 100 give |z| in the tens to hundreds. There sigmoid and tanh are flat:
        σ'(4) = 0.018, σ'(10) = 4.5e-5, tanh'(10) = 8e-9, so the first layer gets almost no
        gradient and the loss barely moves. ReLU layers do not saturate, but activations and
        gradients a hundred times too large make the usual learning rates diverge.
        """),
    fix=prose("""
        Set `data.scale: minmax` (each feature to [0, 1] by its own minimum and maximum; for
        pixels, close to dividing by 255) or `data.scale: standard` (zero mean, unit variance per feature; better for
        features with a sign or long tails). nnfix takes the statistics from the training part
        only and applies them to the validation part.
        """),
    before=yaml_block("""
        data:
          source: idx
          x: train-images.idx     # pixels 0-255
          y: train-labels.idx
        """),
    after=yaml_block("""
        data:
          source: idx
          x: train-images.idx
          y: train-labels.idx
          scale: minmax
        """),
    thresholds=prose(f"""
        Fires when a feature's RMS, √mean(x²), exceeds {UNSCALED_RMS:g}. Unit-scale data has RMS ≈ 1;
        MNIST's 0–255 pixels have RMS ≈ 85 over the image. A first-layer unit counts as
        saturated when |z| > {SATURATES:g}.
        """),
)


D103 = Rule(
    code="D103",
    name="label-output-mismatch",
    severity=ERROR,
    summary="targets the output layer cannot represent (labels 0–9 with one sigmoid unit; one-hot width ≠ units), or that the net cannot reach whatever its weights",
    detects=prose("""
        Targets outside the range of the output activation — class labels 0–9 for one sigmoid
        unit, whose output lies in (0, 1); −1/+1 labels for a sigmoid; negative targets for a
        ReLU output — and targets whose width cannot match the output layer (a one-hot width,
        or a largest label, that does not fit the number of units). Also targets the network
        cannot reach whatever its weights: a net without biases whose hidden activations map
        0 to 0 (tanh, relu, leaky_relu, elu, swish, linear) gives an all-zero input the
        output f(0) of its output layer — σ(0) = 0.5, softmax's 1/C — for every value of its
        weights, so training rows whose inputs are all zero and whose targets differ from it
        are out of reach. A T106 such rows cause is explained by this finding, never a bug.
        """),
    why=prose("""
        Training moves the outputs towards the targets, and the layer cannot get there. With
        labels 0–9 and one sigmoid unit, every label above 0 pulls the output towards 1 (with
        BCE the term −[y log a + (1 − y) log(1 − a)] for y = 7 even falls without bound as
        a → 1), so the unit saturates at 1 and the classes are never told apart. A one-hot
        target of width 10 cannot be compared entry by entry with 3 outputs. Without biases,
        a layer maps x = 0 to z = 0·W = 0 whatever W is, and an activation with f(0) = 0
        passes the zero on, so the output at x = 0 is fixed: a bag-of-words row with no words,
        an all-black image or the (0, 0) corner of XOR gets 0.5 for ever, and its loss stays
        at ln 2 however the net trains. (A bias anywhere, or a hidden activation with
        f(0) ≠ 0 such as sigmoid, lets the weights move it.)
        """),
    fix=prose("""
        For C classes: `units: C` with `softmax` and `loss: cce` (integer labels are one-hot
        encoded for you). For real-valued targets: a `linear` output with `loss: mse`, or
        rescale the targets into the activation's range. For a net without biases: give its
        layers biases (`model.bias: true`; in your code, a `b` per layer added to `W·x`).
        """),
    before=yaml_block("""
        model:
          layers:
            - {units: 64, activation: relu}
            - {units: 1, activation: sigmoid}    # labels are 0..9
        loss: bce
        """),
    after=yaml_block("""
        model:
          layers:
            - {units: 64, activation: relu}
            - {units: 10, activation: softmax}
        loss: cce
        """),
    thresholds=prose(f"""
        A fixed output is out of reach of a row's target when they differ by more than
        {UNREACHED:g}× the targets' standard deviation (or by more than {UNREACHED:g} where
        the targets do not vary): 0.5 against a label 0 or 1 always is.
        """),
)


D104 = Rule(
    code="D104",
    name="output-loss-mismatch",
    severity=ERROR,
    summary="output activation and loss that do not fit (tanh or linear with BCE, softmax on one unit, sigmoid with CCE)",
    detects=prose("""
        An output activation and a loss that do not fit together, judged by what the output
        can give, not by its name: BCE on an output whose range leaves (0, 1) (tanh, linear,
        ReLU, ELU and the like); softmax over a single unit (with BCE or anything else); CCE on
        outputs that are not a probability distribution (sigmoid, linear). An activation
        written as an expression or a file function is judged by the built-in it computes, or
        else by its values, measured.
        """),
    why=prose("""
        BCE takes log a and log(1 − a), which exist only for a in (0, 1): a tanh output of −0.3
        gives log(−0.3) = NaN, and clipping a into (ε, 1 − ε) hides the NaN but leaves a zero
        gradient on the clipped side. Softmax over one unit is e^z / e^z = 1 for every input,
        so the output is constant and its gradient is zero. CCE, −Σ y log a, rewards only the
        true class's output; it is softmax's normalisation that pulls the other outputs down.
        With sigmoid outputs nothing does, so every output drifts towards 1 together and the
        argmax means little.
        """),
    fix=prose("""
        A sigmoid output with `loss: bce` (one unit per binary label), or a softmax output with
        `loss: cce` (one unit per class, at least two). For two classes, one sigmoid unit with
        BCE is the same model as two softmax units with CCE.
        """),
    before=yaml_block("""
        model:
          layers:
            - {units: 16, activation: tanh}
            - {units: 1, activation: tanh}
        loss: bce
        """),
    after=yaml_block("""
        model:
          layers:
            - {units: 16, activation: tanh}
            - {units: 1, activation: sigmoid}
        loss: bce
        """),
    thresholds=prose(f"""
        The range is the activation's declared one (ELU's is (−α, ∞), tanh's (−1, 1)); for
        an expression or file function that is no built-in, the least and greatest values it
        gives for z from −{numeric.RANGE_REACH:g} to {numeric.RANGE_REACH:g}. BCE fits when
        that range lies within [0, 1] (give or take {RANGE_SLACK:g}); CCE when the output is
        softmax, or a function whose outputs, on random rows of z, lie in [0, 1] and sum to 1.
        """),
)


D105 = Rule(
    code="D105",
    name="class-imbalance",
    severity=INFO,
    summary="a class under 5 % of the training samples",
    detects=prose("""
        A class (of binary or one-hot targets) that makes up less than 5 % of the training
        samples. The finding gives every small class's share.
        """),
    why=prose("""
        Not a bug, but it changes what the numbers mean. With 2 % positives, predicting
        "negative" for everything scores 98 % accuracy, and the positives contribute only 2 %
        of each batch's gradient, so the net can settle on the majority and stay there.
        """),
    fix=prose("""
        Judge the model by per-class recall or precision rather than accuracy; if the minority
        matters, oversample it (or undersample the majority) in the data file.
        """),
    before=yaml_block("""
        data:
          source: csv
          path: fraud.csv            # 2 % positives
        """),
    after=yaml_block("""
        data:
          source: csv
          path: fraud-balanced.csv   # positives oversampled to 30 %
        """),
    thresholds=f"A class's share of the training targets below {MINORITY:.0%}.",
)


def _data_path(ctx: Context) -> tuple:
    data = ctx.spec.data
    assert data is not None  # a declared network has data: (spec/load.py)
    return ("data", "path") if data.path else ("data", "x") if data.x else ("data", "source")


def _numbered(d, indices: np.ndarray) -> tuple[list[int], str]:
    """How the report numbers the samples at `indices` (0-based, in the data as read): the
    file lines of a csv, else sample numbers from 1; and what they are."""
    if d.lines is not None:
        return [int(n) for n in d.lines[indices]], f"lines of {d.file}"
    where = f" of {d.file}" if d.file else " of the generated data"
    return [int(i) + 1 for i in indices], f"rows{where}, from 1"


@check(STATIC, D101)
def non_finite_data(ctx: Context) -> list[Finding]:
    """NaN or inf in the inputs or targets, with the rows of the user's data they are in —
    the file's lines for a csv — whichever part (training, validation) they were split into."""
    found = []
    d = ctx.data
    parts = [
        (x, np.asarray(y, dtype=float).reshape(len(y), -1), rows, what)
        for x, y, rows, what in (
            (d.x_train, d.y_train, d.train_rows, "training"),
            (d.x_val, d.y_val, d.val_rows, "validation"),
        )
        if len(x)
    ]
    for part in ("inputs", "targets"):
        arrays = [(x if part == "inputs" else y, rows, what) for x, y, rows, what in parts]
        bad = [(~np.isfinite(a), a, rows, what) for a, rows, what in arrays]
        if not any(b.any() for b, *_ in bad):
            continue
        indices = np.sort(np.concatenate([rows[b.any(axis=1)] for b, _, rows, _ in bad]))
        count = len(indices)
        listed, numbered = _numbered(d, indices[:SHOWN_ROWS])
        in_set = {what: int(b.any(axis=1).sum()) for b, _, _, what in bad if b.any()}
        columns = sorted({int(c) for b, *_ in bad for c in np.flatnonzero(b.any(axis=0))})
        more = "…" if count > SHOWN_ROWS else ""
        kind = "line" if d.lines is not None else "row"
        where = f" of {d.file}" if d.lines is not None else ""
        message = (
            f"{count} {kind}{'s' * (count != 1)}{where} have NaN or inf in their {part} "
            f"({kind}{'s' * (count != 1)} {', '.join(map(str, listed))}{more}): "
            "one such value makes the loss and every gradient NaN"
        )
        found.append(
            D101.finding(
                message,
                path=_data_path(ctx),
                evidence={
                    "part": part,
                    "rows": listed,
                    "numbered": numbered,
                    "indices": [int(i) for i in indices[:SHOWN_ROWS]],
                    "count": count,
                    "sets": in_set,
                    "columns": columns[:SHOWN_ROWS],
                    "nan": sum(int(np.isnan(a).sum()) for _, a, _, _ in bad),
                    "inf": sum(int(np.isinf(a).sum()) for _, a, _, _ in bad),
                },
                fix=Fix(
                    f"remove or impute those {kind}s before training ({numbered}; `indices` "
                    "in the evidence count samples from 0 as read, after `limit`)"
                ),
            )
        )
    return found


@check(STATIC, D102)
def unscaled_inputs(ctx: Context) -> list[Finding]:
    """Inputs far from unit scale, which saturate a sigmoid/tanh first layer."""
    x = ctx.data.x_train
    finite = np.where(np.isfinite(x), x, 0.0)
    spec = ctx.spec.data
    assert spec is not None  # a declared network has data: (spec/load.py)
    if spec.scale != "none" or len(x) == 0:
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
    first = ctx.network.activations[0]
    saturating = ""
    beyond = first.builtin.saturates_beyond if first.builtin is not None else None
    if ctx.init is not None and beyond is not None:
        z = ctx.network.preactivations(ctx.init.cache)[0]
        fraction = float(np.mean(np.abs(z) > beyond))
        evidence["first_layer_saturated"] = fraction
        saturating = (
            f"; {fraction:.0%} of the first {first.name} layer's pre-activations are beyond "
            f"±{beyond:g}, where its gradient vanishes"
        )
    scale = "minmax" if finite.min() >= 0 else "standard"
    return [
        D102.finding(
            f"inputs are far from unit scale (feature {worst} has RMS {rms[worst]:.3g}, "
            f"max |x| {evidence['max_abs']:.3g}){saturating}",
            layer=1,
            path=("data", "scale") if "scale" in spec.model_fields_set else ("data",),
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


@check(STATIC, D103)
def label_output_mismatch(ctx: Context) -> list[Finding]:
    """Targets the output layer cannot represent."""
    depth = ctx.network.depth
    out = ctx.spec.net_model.layers[-1]
    if ctx.y_train is None:
        return [
            D103.finding(
                f"{ctx.target_problem}",
                layer=depth,
                path=ctx.layer_path(depth, "units"),
                evidence={"units": out.units},
            )
        ]
    y = ctx.y_train[np.all(np.isfinite(ctx.y_train), axis=1)]
    builtin = ctx.network.activations[-1].builtin
    if builtin is None or len(y) == 0:
        return []
    span = builtin.output_range
    lo, hi = float(y.min()), float(y.max())
    if lo >= span[0] - 1e-9 and hi <= span[1] + 1e-9:
        return []
    name = builtin.name
    labels = np.unique(y)
    if len(labels) > 2 and np.all(labels == np.round(labels)) and out.units == 1:
        fix = Fix(
            f"one output unit per class: units: {len(labels)} with softmax and loss: cce "
            "(labels are one-hot encoded for you)",
            ctx.layer_path(depth, "units"),
            len(labels),
        )
        message = (
            f"targets are class labels {labels.min():g}–{labels.max():g} but the output is one "
            f"{name} unit, whose values lie in [{span[0]:g}, {span[1]:g}]"
        )
    else:
        fix = Fix(
            f"use an output activation whose range holds the targets [{lo:g}, {hi:g}] "
            "(linear for regression), or rescale the targets"
        )
        message = (
            f"targets run from {lo:g} to {hi:g} but the {name} output can only give "
            f"[{span[0]:g}, {span[1]:g}]"
        )
    return [
        D103.finding(
            message,
            layer=depth,
            path=ctx.layer_path(depth, "activation"),
            evidence={
                "target_min": lo,
                "target_max": hi,
                "output_range": list(span),
                "units": out.units,
            },
            fix=fix,
        )
    ]


def fixed_at_zero(net: Network) -> np.ndarray | None:
    """The output a net gives an all-zero input whatever its weights, or None where its weights
    move it. A layer without bias maps 0 to z = 0·W = 0 for every W, and an activation with
    f(0) = 0 passes the zero on to the next layer; a bias, or a nonzero f(0) (sigmoid's ½,
    softplus's ln 2) times the next layer's weights, makes the output depend on them."""
    a = np.zeros((1, *net.in_shape))
    for layer in net.layers:
        offsets = {p.role for p in layer.param_info()} - {"weight", "recurrent"}  # a bias
        if offsets or (layer.params() and np.any(a != 0)):
            return None
        with np.errstate(all="ignore"):
            z = layer.forward(a, False)[0]
            a = np.asarray(layer.act.forward(z) if layer.act is not None else z, dtype=float)
    return a.reshape(-1) if np.all(np.isfinite(a)) else None


def _bias_fix(ctx: Context) -> tuple[tuple, Fix]:
    """Where the net's missing biases are declared, and the change that gives it one."""
    depth = ctx.network.depth
    if ctx.spec.implementation is not None:
        path = ("model", "bias") if not ctx.spec.net_model.bias else ctx.layer_path(depth, "bias")
        return path, Fix(
            "give your layers biases (z = W·x + b): even the output layer's alone lets the "
            "weights move the output at x = 0"
        )
    if not ctx.spec.net_model.bias:
        return ("model", "bias"), Fix("give the layers biases", ("model", "bias"), True)
    path = ctx.layer_path(depth, "bias")
    return path, Fix("give the output layer a bias", path, True)


@check(STATIC, D103)
def unreachable_targets(ctx: Context) -> list[Finding]:
    """Training rows whose target the net cannot reach whatever its weights: all-zero inputs
    of a net that maps 0 to a fixed output."""
    if ctx.y_train is None:
        return []  # the targets do not fit the output at all: the other D103 says so
    fixed = fixed_at_zero(ctx.network)
    if fixed is None:
        return []
    d = ctx.data
    x, y = d.x_train, np.asarray(ctx.y_train, dtype=float)
    finite = np.all(np.isfinite(y), axis=1)
    if not finite.any():
        return []
    spread = np.std(y[finite], axis=0)
    tolerance = UNREACHED * np.where(spread > 0, spread, 1.0)
    zero = np.all(x.reshape(len(x), -1) == 0, axis=1) & finite
    out_of_reach = zero & np.any(np.abs(y - fixed) > tolerance, axis=1)
    if not out_of_reach.any():
        return []
    rows = np.flatnonzero(out_of_reach)
    indices = np.sort(d.train_rows[rows])
    listed, numbered = _numbered(d, indices[:SHOWN_ROWS])
    kind = "line" if d.lines is not None else "row"
    more = "…" if len(rows) > SHOWN_ROWS else ""
    out = ctx.network.activations[-1].name
    value = ", ".join(f"{v:.3g}" for v in fixed)
    targets = ", ".join(f"{v:g}" for v in np.unique(y[rows]))
    path, fix = _bias_fix(ctx)
    return [
        D103.finding(
            f"without biases the net maps an all-zero input to {value} ({out} of 0) whatever "
            f"its weights, so the targets ({targets}) of {len(rows)} training "
            f"{kind}{'s' * (len(rows) != 1)} whose inputs are all zero are out of reach "
            f"({kind}{'s' * (len(rows) != 1)} {', '.join(map(str, listed))}{more}): no "
            "training can fit them",
            layer=ctx.network.depth,
            path=path,
            evidence={
                "fixed_output": [float(v) for v in fixed],
                "targets": sorted({float(v) for v in np.unique(y[rows])}),
                "count": len(rows),
                "share": float(len(rows) / len(y)),
                "rows": listed,
                "numbered": numbered,
                "indices": [int(i) for i in indices[:SHOWN_ROWS]],
            },
            fix=fix,
        )
    ]


def _bound(x: float) -> str:
    return "∞" if x == math.inf else "-∞" if x == -math.inf else f"{x:g}"


def _output_facts(ctx: Context) -> tuple[str, tuple[float, float], bool] | None:
    """The output activation's name for the report, its range, and whether it gives each
    sample a probability distribution (as softmax does): declared by a built-in (or the
    built-in an expression computes), else measured; None when it cannot be evaluated."""
    out = ctx.network.activations[-1]
    builtin = out.builtin
    if builtin is not None:
        name = builtin.name if out.name == builtin.name else f"`{out.name}` ({builtin.name})"
        return name, builtin.output_range, builtin.name == "softmax"
    span = numeric.output_range(out.forward)
    if span is None:
        return None
    return f"`{out.name}`", span, numeric.is_distribution(out.forward, ctx.units)


@check(STATIC, D104)
def output_loss_mismatch(ctx: Context) -> list[Finding]:
    """An output activation and loss that do not fit together, decided from what the output
    can give (its range; a distribution or not) against what the loss needs."""
    depth = ctx.network.depth
    facts = _output_facts(ctx)
    if facts is None:
        return []
    act, (lo, hi), distribution = facts
    loss, units = ctx.spec.net_loss.name, ctx.units
    apath = ctx.layer_path(depth, "activation")
    evidence = {
        "activation": ctx.network.activations[-1].name,
        "units": units,
        "loss": loss,
        "output_range": [lo, hi],
    }
    if distribution and units == 1:
        return [
            D104.finding(
                f"{act} over one unit always outputs 1: the output cannot depend on the input",
                layer=depth,
                path=apath,
                fix=Fix("for two classes use one sigmoid unit with bce", apath, "sigmoid"),
                evidence=evidence,
            )
        ]
    if loss == "bce" and not (lo >= -RANGE_SLACK and hi <= 1 + RANGE_SLACK):
        return [
            D104.finding(
                f"bce needs outputs in (0, 1) but the output layer is {act}, whose outputs run "
                f"from {_bound(lo)} to {_bound(hi)}: log(a) and log(1 - a) are undefined "
                "outside (0, 1)",
                layer=depth,
                path=apath,
                fix=Fix("use a sigmoid output with bce", apath, "sigmoid"),
                evidence=evidence,
            )
        ]
    if loss == "cce" and not distribution:
        message = (
            f"cce treats the outputs as a probability distribution, but {act} outputs do not "
            "sum to 1"
        )
        if lo >= -RANGE_SLACK and hi <= 1 + RANGE_SLACK:
            message += ": every output can rise towards 1 at once, and the loss rewards it"
        return [
            D104.finding(
                message,
                layer=depth,
                path=apath,
                fix=Fix(
                    "use a softmax output with cce (or sigmoid outputs with bce)", apath, "softmax"
                ),
                evidence=evidence,
            )
        ]
    return []


@check(STATIC, D105)
def class_imbalance(ctx: Context) -> list[Finding]:
    """A class under MINORITY of the samples."""
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
        D105.finding(
            f"{len(small)} class{'es' if len(small) > 1 else ''} under {MINORITY:.0%} of the "
            f"samples ({listing}): accuracy can look high while they are never predicted",
            path=_data_path(ctx),
            evidence={"shares": [float(s) for s in shares], "classes": small},
        )
    ]
