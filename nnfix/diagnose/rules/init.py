"""Y: the initial weights — symmetry, sign, scale through depth, and units that stay identical
(Y101–Y104)."""

from __future__ import annotations

import math

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.rules.rule import (
    ERROR,
    INIT_STATISTICS,
    STATIC,
    TRAINING_PROBE,
    USER_CODE,
    WARNING,
    Rule,
    caused_by,
    check,
    prose,
    yaml_block,
)
from nnfix.engine.network import Network
from nnfix.errors import InputError

FAMILY = "Y", "initialisation"  # the code prefix, and what its rules cover

IDENTICAL = 0.99  # Y102: mean pairwise cosine similarity of a layer's weight vectors
COLLAPSE, EXPLODE = 0.1, 10.0  # Y103: std(z) of the last hidden layer against the first
EXPLODED_STD = 1e2  # Y103: a pre-activation std this large explodes whatever the depth
NO_SIGNAL = 1e-9  # Y103: z varying over the samples by less than this share of its size


Y101 = Rule(
    code="Y101",
    name="symmetric-init",
    severity=ERROR,
    summary="a hidden layer whose weights start constant (zeros): all its units stay one unit",
    detects=prose("""
        A hidden layer whose units all start with identical incoming weights and biases:
        `init: zeros` or `constant`, for the model or the layer. The output layer is exempt:
        its units are told apart by their different targets.
        """),
    why=prose("""
        Units with the same weights compute the same output, receive the same gradient and
        take the same step, so they stay identical for ever: gradient descent has no way to
        break the tie, and a layer of 64 units trains as one unit copied 64 times. Zeros are
        worse still: tanh and ReLU give a = 0, so the next layer's weights get no gradient and
        pass none back; only the output biases learn, and the loss settles at the label
        prior's entropy — 10·H(0.1) = 3.25 for MNIST with ten sigmoid outputs, ln 2 = 0.693
        for balanced binary labels.
        """),
    fix=prose("""
        A random init that breaks the tie and keeps the signal's scale: `he_normal` for
        ReLU-family layers, `xavier_normal` for tanh and sigmoid. Biases can stay zeros: once
        the weights differ, so do the units.
        """),
    before=yaml_block("""
        model:
          init: zeros
          layers:
            - {units: 64, activation: tanh}
            - {units: 10, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: xavier_normal
          layers:
            - {units: 64, activation: tanh}
            - {units: 10, activation: sigmoid}
        """),
)


Y102 = Rule(
    code="Y102",
    name="units-stay-identical",
    severity=ERROR,
    summary="after training, a layer's units still have (near) identical weights",
    detects=prose("""
        After the training probe, a hidden layer whose units' incoming weight vectors (with
        their biases) are still nearly parallel: the layer has not used its width.
        """),
    why=prose("""
        Units that never drifted apart compute the same feature, so the layer has the
        capacity of one unit and the net is far smaller than the spec says. The usual cause
        is a symmetric init (Y101); when the init was random, look for a backward pass that
        gives every unit the same gradient, such as a sum over the wrong axis.
        """),
    fix=prose("""
        Break the symmetry at init (`he_normal` for ReLU-family layers, `xavier_normal` for
        tanh and sigmoid) and check that your backward pass gives each unit its own gradient
        (`nnfix diagnose --select G101`).
        """),
    before=yaml_block("""
        model:
          init: {name: constant, value: 0.1}
          layers:
            - {units: 32, activation: relu}
            - {units: 1, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: he_normal
          layers:
            - {units: 32, activation: relu}
            - {units: 1, activation: sigmoid}
        """),
    thresholds=prose(f"""
        Mean pairwise cosine similarity of a layer's incoming weight vectors above {IDENTICAL:g} after
        the probe. Independent random vectors give about 0; even the all-positive uniform
        [0, 1) init gives only 0.75.
        """),
    causes=caused_by("Y101"),
)


Y103 = Rule(
    code="Y103",
    name="init-scale-mismatch",
    severity=WARNING,
    summary="activation std collapsing or exploding through depth at init; names the init that fits the activation",
    detects=prose("""
        At init, on the training data, the standard deviation of the pre-activations z
        shrinking or growing by an order of magnitude from the first layer to the last hidden
        one, or exceeding 100 in any layer. The finding names the init that suits the layer's
        activation.
        """),
    why=prose("""
        Each layer multiplies the spread of the signal by about √n_in · std(W) times a factor
        of the activation (1 for tanh near 0, 1/√2 for ReLU, which zeroes half of it), and the
        backward pass scales gradients the same way. Below 1 the signal and the gradients
        fade with depth; above 1 tanh and sigmoid saturate and ReLU values blow up. With
        `normal, std: 0.01` and 128 tanh units each layer multiplies the spread by
        √128 · 0.01 = 0.11. The inits that keep the factor at 1: He, std √(2/n_in), for the
        ReLU family; Xavier/Glorot, std √(2/(n_in + n_out)), for tanh and sigmoid; LeCun,
        std √(1/n_in), for SELU-like self-normalising units.
        """),
    fix=prose("""
        Use the init that suits the activation, for the model or per layer: `he_normal` for
        relu, leaky_relu, elu, swish and softplus; `xavier_normal` for tanh and sigmoid;
        `lecun_normal` for a SELU-like activation written as an expression.
        """),
    before=yaml_block("""
        model:
          init: {name: normal, std: 0.01}
          layers:
            - {units: 128, activation: tanh}
            - {units: 128, activation: tanh}
            - {units: 128, activation: tanh}
            - {units: 1, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: xavier_normal
          layers:
            - {units: 128, activation: tanh}
            - {units: 128, activation: tanh}
            - {units: 128, activation: tanh}
            - {units: 1, activation: sigmoid}
        """),
    thresholds=prose(f"""
        std(z) of the last hidden layer below {COLLAPSE:g}× or above {EXPLODE:g}× that of the
        first, or any layer's std(z) above {EXPLODED_STD:g}. A well-initialised net keeps the ratio near 1 (the variance
        arguments of Glorot & Bengio 2010 and He et al. 2015). A layer whose z does not vary
        over the samples (by less than {NO_SIGNAL:g} of its root-mean-square: a zero-init
        layer, whose z is its bias) carries no signal: the ratio is measured only up to the
        layer before it, and a first layer without signal is not measured at all — a std of 0
        is no signal (Y101 says why), never a collapse or an infinite ratio.
        """),
    causes=caused_by("Y104", "D102"),
    suppressed_by=("Y101",),  # a symmetric layer collapses by construction: Y101 says why
)


Y104 = Rule(
    code="Y104",
    name="one-signed-init",
    severity=WARNING,
    summary="all initial weights of a layer share a sign (e.g. uniform [0, 1))",
    detects=prose("""
        A layer whose initial weights are all positive (or all negative), as `np.random.rand`
        — uniform on [0, 1) — gives. Constant weights are Y101's, not this rule's.
        """),
    why=prose("""
        Weights from [0, 1) have mean 0.5, so every unit adds up its inputs with the same sign
        and z has a large common offset: 0.5 · Σ xᵢ, about 51 for an MNIST image scaled to
        [0, 1]. Sigmoid and tanh units start saturated, and the units start out alike. Going
        back, a layer whose outgoing weights are all positive hands every unit an error
        signal of the same sign for a given sample, so the units are pushed up or down
        together instead of specialising.
        """),
    fix=prose("""
        An init centred on zero: `he_normal` for ReLU-family layers, `xavier_normal` for tanh
        and sigmoid (or at least `{name: uniform, low: -0.05, high: 0.05}`).
        """),
    before=yaml_block("""
        model:
          init: {name: uniform, low: 0, high: 1}
          layers:
            - {units: 32, activation: sigmoid}
            - {units: 10, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: xavier_normal
          layers:
            - {units: 32, activation: sigmoid}
            - {units: 10, activation: sigmoid}
        """),
)


def _fix(ctx: Context, l: int, what: str, code: bool) -> Fix:
    """The spec's init to change; for the init in the user's code, their code to change."""
    suggestion = ctx.suited_init(l)
    if code:
        return Fix(
            f"{what} in your code: {suggestion} (e.g. np.random.randn(...) * np.sqrt(1 / n_in))"
        )
    return Fix(
        f"{what}: {suggestion} for {ctx.network.activations[l - 1].name}",
        ctx.init_path(l),
        suggestion,
    )


def _as(whose: str) -> str:
    return f" {whose.strip()}" if whose.strip() else ""


def _symmetric(ctx: Context, net: Network, whose: str, path_of) -> list[Finding]:
    found = []
    for l, layer in enumerate(net.layers[:-1], start=1):  # the output's units differ by their
        W, b = layer.W, layer.b  # targets
        if W.shape[1] < 2 or not np.all(W[:, :1] == W):
            continue
        if b is not None and not np.all(b == b[:, :1]):
            continue
        value = float(W.flat[0])
        found.append(
            Y101.finding(
                f"all {W.shape[1]} units of layer {l} start with identical weights ({value:g})"
                f"{_as(whose)}: they compute the same output, get the same gradient and stay one unit",
                layer=l,
                parameter=f"W{l}",
                path=path_of(l),
                evidence={"units": int(W.shape[1]), "weight": value, "init": ctx.init_name(l)},
                fix=_fix(ctx, l, "a random init that breaks the symmetry", bool(whose)),
            )
        )
    return found


def _one_signed(ctx: Context, net: Network, whose: str, path_of) -> list[Finding]:
    found = []
    for l, W in enumerate(net.weights, start=1):
        if W.size < 4 or np.all(W.flat[0] == W):
            continue  # constant weights are Y101's
        positive, negative = bool(np.all(W >= 0)), bool(np.all(W <= 0))
        if not (positive or negative):
            continue
        sign = "positive" if positive else "negative"
        found.append(
            Y104.finding(
                f"all {W.size} initial weights of layer {l}{_as(whose)} are {sign} (mean {W.mean():.3g}): "
                "pre-activations grow with the layer's width and the units start out nearly alike",
                layer=l,
                parameter=f"W{l}",
                path=path_of(l),
                evidence={"min": float(W.min()), "max": float(W.max()), "mean": float(W.mean())},
                fix=_fix(ctx, l, "an init centred on zero", bool(whose)),
            )
        )
    return found


def _theirs(ctx: Context) -> bool:
    """The net starts from the values the user's code creates (`init: yours`)."""
    return ctx.spec.implementation is not None and ctx.spec.implementation.init == "yours"


@check(STATIC, Y101)
def symmetric_init(ctx: Context) -> list[Finding]:
    """A hidden layer whose units all start with the same incoming weights and bias."""
    if _theirs(ctx):
        return _symmetric(ctx, ctx.network, "as your code creates them", _code_path)
    return _symmetric(ctx, ctx.network, "", ctx.init_path)


@check(STATIC, Y104)
def one_signed_init(ctx: Context) -> list[Finding]:
    """Every initial weight of a layer has the same sign."""
    if _theirs(ctx):
        return _one_signed(ctx, ctx.network, "as your code creates them ", _code_path)
    return _one_signed(ctx, ctx.network, "", ctx.init_path)


def _code_path(layer: int) -> tuple:
    return ("implementation", "init")


@check(USER_CODE, Y101, Y104)
def users_own_init(ctx: Context) -> list[Finding]:
    """The init rules on the values the user's code creates itself, where they differ in kind
    from the spec's `model.init` (which replaces them for the checks)."""
    impl = ctx.spec.implementation
    if impl is None or impl.init == "yours" or ctx.y_train is None:
        return []
    try:
        values = ctx.user.initial_values()
    except InputError:  # their module could not be loaded: exit 2, located
        raise
    except Exception:  # their code could not be called: U101 says so
        return []
    if values is None:
        return []
    theirs = ctx.network.with_params(
        [values.get(n, p) for n, p in zip(ctx.network.names, ctx.network.params, strict=True)]
    )
    whose = "as your code creates them "
    ours = {(f.code, f.location.layer) for f in _symmetric(ctx, ctx.network, "", ctx.init_path)}
    ours |= {(f.code, f.location.layer) for f in _one_signed(ctx, ctx.network, "", ctx.init_path)}
    found = _symmetric(ctx, theirs, whose, lambda l: ("implementation", "model"))
    found += _one_signed(ctx, theirs, whose, lambda l: ("implementation", "model"))
    return [f for f in found if (f.code, f.location.layer) not in ours]


def carries_signal(z: np.ndarray) -> bool:
    """Do a layer's pre-activations vary over the samples at all? A zero-init layer's do not
    (z is its bias, the same for every sample): it passes on no signal, so no spread can be
    measured through it — neither a collapse nor an explosion."""
    spread = float(np.sqrt(np.mean(np.var(z, axis=0))))
    scale = float(np.sqrt(np.mean(z * z)))
    return spread > NO_SIGNAL * scale


@check(INIT_STATISTICS, Y103)
def init_scale(ctx: Context) -> list[Finding]:
    """Pre-activation spread collapsing or exploding from the first layer to the last hidden one."""
    if ctx.init is None:
        return []
    hidden = ctx.init.cache.z[:-1]
    zs = [float(z.std()) for z in hidden]
    if not zs or not all(math.isfinite(s) for s in zs):
        return []
    stds = {f"layer {l}": round(s, 6) for l, s in enumerate(zs, start=1)}
    signal = 0  # the layers from the first that carry a signal; the rest get none through
    while signal < len(hidden) and carries_signal(hidden[signal]):
        signal += 1
    if signal == 0:
        return []  # no signal in the first layer: a symmetric init or constant data (Y101, D)
    measured = zs[:signal]
    worst = max(range(signal), key=lambda i: measured[i])
    ratio = measured[-1] / measured[0]
    if measured[worst] > EXPLODED_STD:
        kind, layer = "explodes", worst + 1
    elif signal >= 2 and ratio < COLLAPSE:
        kind, layer = "collapses", signal
    elif signal >= 2 and ratio > EXPLODE:
        kind, layer = "explodes", signal
    else:
        return []
    act = ctx.network.activations[layer - 1].name
    suggestion = ctx.suited_init(layer)
    evidence: dict[str, object] = {"z_std": stds, "ratio_last_to_first": ratio}
    if signal < len(zs):
        evidence["no_signal_from_layer"] = signal + 1
    return [
        Y103.finding(
            f"the spread of pre-activations {kind} at init: std(z) is {zs[0]:.3g} in layer 1"
            + (f", {zs[layer - 1]:.3g} in layer {layer}" if layer > 1 else "")
            + f" ({ctx.init_name(layer)} init, {act} units)",
            layer=layer,
            parameter=f"W{layer}",
            path=ctx.init_path(layer),
            evidence=evidence,
            fix=Fix(
                f"{suggestion} keeps the spread of {act} layers steady through depth",
                ctx.init_path(layer),
                suggestion,
            ),
        )
    ]


def similarity(W: np.ndarray) -> float | None:
    """Mean pairwise cosine similarity of a layer's incoming weight vectors (its columns): 1 for
    identical units, about 0 for random ones; None for fewer than two units or a zero vector."""
    W = W.astype(float)
    if W.shape[1] < 2:
        return None
    spread = float(np.abs(W - W[:, :1]).max())
    if spread <= 1e-12 * max(1.0, float(np.abs(W).max())):
        return 1.0
    norms = np.linalg.norm(W, axis=0)
    if not np.all(norms > 0):
        return None
    unit = W / norms
    cos = unit.T @ unit
    n = cos.shape[0]
    return float((cos.sum() - n) / (n * (n - 1)))


@check(TRAINING_PROBE, Y102)
def units_identical(ctx: Context) -> list[Finding]:
    """A hidden layer whose units still have (near) identical weights after the probe."""
    if ctx.probe is None:
        return []
    found = []
    for l, W in enumerate(ctx.probe_network().weights[:-1], start=1):
        value = similarity(W)
        if value is not None and value > IDENTICAL:
            found.append(
                Y102.finding(
                    f"after training, layer {l}'s {W.shape[1]} units still have identical weights "
                    f"(mean cosine similarity {value:.3f}): the layer works as one unit",
                    layer=l,
                    parameter=f"W{l}",
                    path=ctx.init_path(l),
                    evidence={
                        "similarity": value,
                        "units": int(W.shape[1]),
                        "steps": len(ctx.probe.loss),
                    },
                )
            )
    return found
