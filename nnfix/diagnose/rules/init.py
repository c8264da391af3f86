"""Y: the initial weights — symmetry, sign, scale through depth, and units that stay identical
(Y101–Y104)."""

from __future__ import annotations

from dataclasses import dataclass

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
from nnfix.engine import activations
from nnfix.engine.initializers import initialize
from nnfix.engine.network import Network
from nnfix.errors import InputError
from nnfix.spec.model import InitSpec

FAMILY = "Y", "initialisation"  # the code prefix, and what its rules cover

IDENTICAL = 0.99  # Y102: units within 1% of their mean unit (similarity above this)
COLLAPSE = 0.1  # Y103: the signal kept from the first hidden layer to the last, against
# what the init that suits the activations keeps
EXPLODE = 10.0  # Y103: |z| of the last hidden layer against the first
EXPLODED_STD = 1e2  # Y103: a pre-activation this large (root-mean-square) explodes at any depth
SATURATED_UNITS = 0.5  # Y103: a layer saturates when more than this share of its units sit
# past the activation's saturation point for more than this share of the samples
NO_SIGNAL = 1e-9  # Y103: z varying over the samples by less than this share of its size
SATURATES = activations.get("sigmoid").saturates_beyond  # |z| where sigmoid and tanh go flat


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
        The layer's incoming weight vectors after the probe lie within {1 - IDENTICAL:.0%} of
        their mean vector on average (similarity 1 − mean distance from the mean unit / mean
        length, above {IDENTICAL:g}). Independent random vectors give about 0, the all-positive
        uniform [0, 1) init 0.5; units that only point the same way (a small init early in its
        slow start) are not identical.
        """),
    causes=caused_by("Y101", "G101"),  # or a backward that gives every unit the same gradient
)


Y103 = Rule(
    code="Y103",
    name="init-scale-mismatch",
    severity=WARNING,
    summary="activation std collapsing or exploding through depth at init; names the init that fits the activation",
    detects=prose("""
        At init, on the training data, an init whose scale does not fit the activations: the
        signal — how much each unit's pre-activation z varies over the samples — fading
        through depth far faster than under the init that suits the activations; sigmoid or
        tanh layers starting saturated where that init's do not; or z growing by an order of
        magnitude from the first hidden layer to the last, or past 100 in any layer. The
        finding names the init that suits the layer's activation.
        """),
    why=prose("""
        Each layer multiplies the spread of the signal over the samples by about
        √n_in · std(W) times the activation's slope (1 for tanh near 0, ¼ for sigmoid, 1/√2
        for ReLU, which zeroes half of it), and the backward pass scales gradients the same
        way. Below 1 the signal and the gradients fade with depth: with `normal, std: 0.05`
        and 32 sigmoid units each layer keeps √32 · 0.05 · ¼ = 0.07 of it, and six layers
        down a millionth is left. What a layer's z varies by over the samples is what carries
        the input; its offset (each unit's mean z over the samples) carries nothing, and a
        unit whose |mean z| is far past sigmoid's or tanh's saturation point is saturated
        whatever its spread — so a layer's z can look large while its signal has gone. Above
        1 tanh and sigmoid saturate and ReLU values blow up. The inits that keep the factor
        steady: He, std √(2/n_in), for the ReLU family; Xavier/Glorot, std √(2/(n_in +
        n_out)), for tanh and sigmoid; LeCun, std √(1/n_in), for SELU-like self-normalising
        units.
        """),
    fix=prose("""
        Use the init that suits the activation, for the model or per layer: `he_normal` for
        relu, leaky_relu, elu, swish and softplus; `xavier_normal` for tanh and sigmoid;
        `lecun_normal` for a SELU-like activation written as an expression.
        """),
    before=yaml_block("""
        model:
          init: {name: normal, std: 0.05}
          layers:
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 1, activation: sigmoid}
        """),
    after=yaml_block("""
        model:
          init: xavier_normal
          layers:
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 32, activation: sigmoid}
            - {units: 1, activation: sigmoid}
        """),
    thresholds=prose(f"""
        The signal of a layer is the spread of its z over the samples, unit by unit: the
        root-mean-square over the units of each unit's standard deviation over the samples.
        It collapses when the share of layer 1's signal that reaches the last hidden layer is
        below {COLLAPSE:g}× the share the same net keeps with each layer's weights drawn from
        the init that suits its activation (the same biases, data and seed) — so a deep
        sigmoid stack under Xavier, which fades by itself, is not blamed on its init. A layer
        saturates when more than {SATURATED_UNITS:.0%} of its sigmoid or tanh units have
        |z| > {SATURATES:g} for more than {SATURATED_UNITS:.0%} of the samples (as T108), and the
        suited init's layer does not. z explodes when its root-mean-square in the last hidden
        layer is above {EXPLODE:g}× that of the first (and {EXPLODE:g}× the growth the suited init
        shows there: a batchnorm brings any scale to 1 whatever the init), or above
        {EXPLODED_STD:g} in any layer. Both nets are measured on the same training-mode pass
        (batch statistics, the same dropout masks), each layer's z where its activation is
        applied (an rnn's cell inside it), a conv filter as one unit over its positions. A
        well-initialised net keeps the signal steady (the variance arguments of Glorot &
        Bengio 2010 and He et al. 2015). A layer whose z does not vary over the samples (by
        less than {NO_SIGNAL:g} of its root-mean-square: a zero-init layer, whose z is its
        bias) carries no signal: the layers are measured only up to the one before it, and a
        first layer without signal is not measured at all — a spread of 0 is no signal (Y101
        says why), never a collapse or an infinite ratio.
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
    for k, l in enumerate(net.weight_layers[:-1]):  # the output's units differ by their targets
        slot = net.slots[net.weight_index[k]]
        W = net.units(k)
        if slot.param is not None and not slot.param.symmetric:
            continue
        if W.shape[1] < 2 or not np.all(W[:, :1] == W):
            continue
        layer = net.layers[l - 1]
        if not all(  # its other per-unit parameters (the bias) alike too
            np.all(u == u[:, :1])
            for p, info in zip(layer.params(), layer.param_info(), strict=True)
            if info.role != "weight" and info.symmetric
            for u in [np.moveaxis(p, info.unit_axis, -1).reshape(-1, p.shape[info.unit_axis])]
        ):
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
    for l, W in zip(net.weight_layers, net.weights, strict=True):
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


def spread(z: np.ndarray) -> float:
    """How much a layer's z varies over the samples, unit by unit: the root-mean-square over
    the units of each unit's standard deviation over the samples. The units' offsets (their
    mean z) are left out: they are the same for every sample, so they carry no signal."""
    return float(np.sqrt(np.mean(np.var(z, axis=0))))


def size(z: np.ndarray) -> float:
    """How large a layer's z is, offsets and spread together: its root-mean-square."""
    return float(np.sqrt(np.mean(z * z)))


def carries_signal(z: np.ndarray) -> bool:
    """Do a layer's pre-activations vary over the samples at all? A zero-init layer's do not
    (z is its bias, the same for every sample): it passes on no signal, so no spread can be
    measured through it — neither a collapse nor an explosion."""
    return spread(z) > NO_SIGNAL * size(z)


def saturated(act, z: np.ndarray) -> float | None:
    """The share of a layer's units past the activation's saturation point for most samples
    (a unit whose |mean z| is far past it is saturated whatever its spread); None for an
    activation that does not saturate."""
    beyond = act.builtin.saturates_beyond if act.builtin is not None else None
    if beyond is None:
        return None
    return float((np.mean(np.abs(z) > beyond, axis=0) > SATURATED_UNITS).mean())


DRAWN = ("weight", "recurrent")  # the roles an init scheme draws; biases, scales stay as they are


def suited(ctx: Context) -> Network:
    """The net with each layer's weights (input and recurrent) drawn from the init that suits
    its activation, as its type draws them (its own fans: per filter for conv, per state for
    rnn), from the spec's seed; its biases, scales and shifts as they are: what a fitting init
    does on this data and depth."""
    rng = np.random.default_rng(ctx.spec.seed)
    net = ctx.network
    specs = ctx.spec.net_model.layers
    params = []
    for l, layer in enumerate(net.layers, start=1):
        info, own = layer.param_info(), layer.params()
        drawn = own
        if any(p.role in DRAWN for p in info):
            init = InitSpec(name=ctx.suited_init(l))
            spec = specs[l - 1] if l <= len(specs) else None
            if spec is not None and spec.type == layer.type:
                bias = InitSpec(name="zeros") if any(p.role == "bias" for p in info) else None
                dtype = str(own[0].dtype)
                drawn = (
                    type(layer)
                    .build(spec, net.shapes[l - 1], layer.activation, init, bias, rng, dtype)
                    .params()
                )
            else:  # a layer the spec does not describe (the user's code): a dense one's fans
                drawn = [
                    initialize(init, w.shape, w.shape[0], w.shape[-1], rng).astype(w.dtype)
                    if p.role in DRAWN
                    else w
                    for p, w in zip(info, own, strict=True)
                ]
        params += [
            new if p.role in DRAWN else old for p, old, new in zip(info, own, drawn, strict=True)
        ]
    return net.with_params(params)


@dataclass
class Profile:
    """A net's hidden layers at init: each one's signal, size and saturated share."""

    spread: list[float]
    size: list[float]
    saturated: list[float | None]
    signal: int  # the layers from the first that carry a signal; the rest get none through

    @classmethod
    def of(cls, net: Network, zs: list[np.ndarray]) -> Profile:
        """The profile of `net`'s hidden layers from their preactivations `zs`."""
        signal = 0
        while signal < len(zs) and carries_signal(zs[signal]):
            signal += 1
        return cls(
            [spread(z) for z in zs],
            [size(z) for z in zs],
            [
                saturated(act, net.by_unit(l, z))
                for l, (act, z) in enumerate(zip(net.activations, zs, strict=False), start=1)
            ],
            signal,
        )

    def kept(self, layer: int) -> float:
        """The share of layer 1's signal that reaches layer `layer`."""
        return self.spread[layer - 1] / self.spread[0]

    def saturates(self, layer: int) -> bool:
        share = self.saturated[layer - 1]
        return share is not None and share > SATURATED_UNITS


@check(INIT_STATISTICS, Y103)
def init_scale(ctx: Context) -> list[Finding]:
    """An init whose scale makes the signal collapse, the units saturate or z explode through
    the hidden layers, measured against what the init that suits the activations does."""
    if ctx.init is None:
        return []
    hidden = ctx.network.preactivations(ctx.init.cache)[:-1]
    if not hidden or not all(np.all(np.isfinite(z)) for z in hidden):
        return []
    ours = Profile.of(ctx.network, hidden)
    if ours.signal == 0:
        return []  # no signal in the first layer: a symmetric init or constant data (Y101, D)
    fit = suited(ctx)
    with np.errstate(all="ignore"):
        # the init pass's own mode: training (batch statistics, the same dropout masks)
        theirs = Profile.of(fit, fit.preactivations(fit.forward(ctx.init.x, train=True))[:-1])
    found = _scale_mismatch(ours, theirs)
    if found is None:
        return []
    kind, layer = found
    act = ctx.network.activations[layer - 1].name
    suggestion = ctx.suited_init(layer)
    depth = min(ours.signal, theirs.signal)
    evidence: dict[str, object] = {
        "z_spread": _per_layer(ours.spread),
        f"z_spread_{suggestion}": _per_layer(theirs.spread),
        "z_size": _per_layer(ours.size),
    }
    if any(s is not None for s in ours.saturated):
        evidence["saturated_share"] = _per_layer(ours.saturated)
    if ours.signal < len(hidden):
        evidence["no_signal_from_layer"] = ours.signal + 1
    init = f"{ctx.init_name(layer)} init, {act} units"
    if kind == "collapses":
        evidence["signal_kept"] = ours.kept(depth)
        evidence[f"signal_kept_{suggestion}"] = theirs.kept(depth)
        message = (
            f"the signal collapses through depth at init: each unit's z varies over the samples "
            f"by {ours.spread[0]:.3g} in layer 1 and {ours.spread[layer - 1]:.3g} in layer "
            f"{layer} ({init}), {ours.kept(depth):.2g} of it kept where {suggestion} keeps "
            f"{theirs.kept(depth):.2g}: the gradients fade the same way"
        )
    elif kind == "saturates":
        z = ctx.network.by_unit(layer, hidden[layer - 1])
        beyond = ctx.network.activations[layer - 1].builtin.saturates_beyond  # type: ignore[union-attr]
        share = ours.saturated[layer - 1] or 0.0
        offset = float(np.median(np.abs(z.mean(axis=0))))
        evidence["typical_offset"] = offset
        message = (
            f"{round(share * z.shape[1])} of layer {layer}'s {z.shape[1]} units start saturated "
            f"({init}): |z| > {beyond:g} for most samples, the typical unit's |mean z| "
            f"{offset:.3g} and its spread over the samples {ours.spread[layer - 1]:.3g}, where "
            f"{suggestion} saturates {round((theirs.saturated[layer - 1] or 0.0) * z.shape[1])}"
        )
    else:
        message = (
            f"the pre-activations explode at init: z's root-mean-square is {ours.size[0]:.3g} in "
            f"layer 1"
            + (f", {ours.size[layer - 1]:.3g} in layer {layer}" if layer > 1 else "")
            + f" ({init})"
        )
    return [
        Y103.finding(
            message,
            layer=layer,
            parameter=ctx.network.slots[ctx.network.weight_index[k]].name
            if (k := ctx.network.weight_of(layer)) is not None
            else None,
            path=ctx.init_path(layer),
            evidence=evidence,
            fix=Fix(
                f"{suggestion}, the init that suits {act} units", ctx.init_path(layer), suggestion
            ),
        )
    ]


def _scale_mismatch(ours: Profile, theirs: Profile) -> tuple[str, int] | None:
    """What goes wrong with the user's init and at which layer, or None: z past
    EXPLODED_STD, saturated layers the suited init does not saturate, a signal fading far
    faster than under the suited init, z growing through depth."""
    measured = range(1, ours.signal + 1)
    worst = max(measured, key=lambda l: ours.size[l - 1])
    if ours.size[worst - 1] > EXPLODED_STD:
        return "explodes", worst
    for l in measured:
        if ours.saturates(l) and not theirs.saturates(l):
            return "saturates", l
    depth = min(ours.signal, theirs.signal)
    if depth >= 2 and ours.kept(depth) < COLLAPSE * theirs.kept(depth):
        return "collapses", depth
    last = ours.signal
    if last >= 2 and ours.size[last - 1] > EXPLODE * ours.size[0]:
        suited_growth = theirs.size[last - 1] / theirs.size[0] if theirs.size[0] else 0.0
        if ours.size[last - 1] > EXPLODE * max(1.0, suited_growth) * ours.size[0]:
            return "explodes", last
    return None


def _per_layer(values: list) -> dict[str, float | None]:
    return {f"layer {l}": None if v is None else round(v, 6) for l, v in enumerate(values, start=1)}


def similarity(W: np.ndarray) -> float | None:
    """How alike a layer's units are (its incoming weight vectors, the columns): 1 − the units'
    mean distance from their mean unit over their mean length. 1 for identical units, about 0
    for random ones centred on zero, 0.5 for uniform [0, 1). Parallel units of different
    lengths are not alike: a small random init drifting along one shared direction (a slow
    start, each unit scaled by its own outgoing weight) leaves them apart, where a symmetric
    init or a backward that gives every unit the same gradient does not. None for fewer than
    two units or units of length zero."""
    W = W.astype(float)
    if W.shape[1] < 2:
        return None
    spread = float(np.abs(W - W[:, :1]).max())
    if spread <= 1e-12 * max(1.0, float(np.abs(W).max())):
        return 1.0
    size = float(np.linalg.norm(W, axis=0).mean())
    if size <= 0:
        return None
    apart = float(np.linalg.norm(W - W.mean(axis=1, keepdims=True), axis=0).mean())
    return 1.0 - apart / size


@check(TRAINING_PROBE, Y102)
def units_identical(ctx: Context) -> list[Finding]:
    """A hidden layer whose units still have (near) identical weights after the probe."""
    if ctx.probe is None:
        return []
    found = []
    net = ctx.probe_network()
    for k, l in enumerate(net.weight_layers[:-1]):
        W = net.units(k)
        value = similarity(W)
        if value is not None and value > IDENTICAL:
            found.append(
                Y102.finding(
                    f"after training, layer {l}'s {W.shape[1]} units still have identical weights "
                    f"(similarity {value:.3f}: within {1 - value:.1%} of their mean unit): the layer "
                    "works as one unit",
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
