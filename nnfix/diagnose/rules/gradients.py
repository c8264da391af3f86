"""G: gradients against the mathematics — the declared loss gradient (G102), the net's backprop
against central differences tensor by tensor (G101), gradient shapes (G103) and where the check
cannot judge (G104), and the constant a consistent backward carries (G105)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.conventions import CONVENTION_RTOL, Reading, reading
from nnfix.diagnose.findings import GRADIENTS_CHECKED, Finding, Fix
from nnfix.diagnose.gradcheck import (
    BANDS,
    ZERO_SHARE,
    GradcheckResult,
    TensorCheck,
    classify,
    relative_error,
)
from nnfix.diagnose.network_check import KINK, NetworkTarget, batch
from nnfix.diagnose.rules.derivatives import close
from nnfix.diagnose.rules.rule import (
    DERIVATIVES,
    ERROR,
    GRADIENT_CHECK,
    INFO,
    WARNING,
    Cause,
    Rule,
    check,
    prose,
    yaml_block,
)
from nnfix.engine import losses
from nnfix.errors import SpecPath

FAMILY = "G", "gradients against finite differences"  # the code prefix, and what its rules cover

EXCELLENT, FINE, SUSPICIOUS = (limit for limit, _ in BANDS[:3])  # G101: relative error bands
INPUT_GRADIENT = "input_gradient"  # G101's evidence key where the wrong gradient is a layer's dL/dx


G101 = Rule(
    code="G101",
    name="gradient-mismatch",
    severity=ERROR,
    summary="backprop gradient ≠ finite differences for a parameter tensor; names the first wrong tensor from the output and classifies it",
    detects=prose("""
        For each parameter tensor, the backprop gradient — nnfix's with your declared
        derivatives, or your own backward pass — against central finite differences of the
        loss in float64. Tensors are checked from the output down; each wrong one is
        classified: sign flipped (g ≈ −g_num), scaled by the batch size (g ≈ m·g_num or
        g_num/m), scaled by another constant (g ≈ c·g_num), transposed (g ≈ g_numᵀ), zero,
        or other, with its worst entries.
        """),
    why=prose("""
        Gradient descent lowers the loss only if it steps along the loss's gradient. A flipped
        sign climbs it; a factor of m turns lr = 0.1 into 25.6 at batch size 256 and ties the
        step to the batch size; a transposed gradient updates the wrong weights. Backprop
        computes each layer's gradient from the one above, so a mistake in one step corrupts
        every tensor below it: the first wrong tensor counting from the output is where the
        bug enters. Fix that one, re-check, then look at the rest.
        """),
    fix=prose("""
        Fix the derivative or backward step at the tensor the finding names; its `caused by`
        points at the A1xx or G102 finding that explains it, when there is one. In your own
        backward pass, look for a missing `/ m`, a missing transpose and a `+` that should be
        a `-`.
        """),
    before=yaml_block("""
        loss:                  # sigmoid output
          name: bce
          gradient: "y - a"    # dL/dz, sign flipped
          gradient_of: z
        """),
    after=yaml_block("""
        loss:
          name: bce
          gradient: "a - y"
          gradient_of: z
        """),
    thresholds=prose(f"""
        Relative error ‖g − g_num‖ / (‖g‖ + ‖g_num‖) per tensor: ≤ {EXCELLENT:g} excellent,
        ≤ {FINE:g} fine, ≤ {SUSPICIOUS:g} suspicious, above {SUSPICIOUS:g} wrong — the finding fires there
        (CS231n's bands for float64 central differences) — and only where the discrepancy
        exceeds the differences' own noise: the loss's rounding over the step, and for a
        tensor that seems wrong, how far its differences move between steps ε and 10ε.
        Tensors that cannot be verified are left to G104. Where the backward carries a
        convention (G105), each tensor is judged against that constant times its true gradient.
        """),
    causes=(  # the nearest wrong derivative at or above the tensor first: the most direct
        Cause(("A101", "A102", "A103"), layers="at_or_above"),
        Cause(("G102",)),
    ),
)


G102 = Rule(
    code="G102",
    name="loss-gradient-mismatch",
    severity=ERROR,
    summary="a declared loss gradient that is not the loss's derivative (shows a point where they differ)",
    detects=prose("""
        A declared `loss.gradient` (dL/da, or dL/dz of the output layer with `gradient_of: z`)
        that differs from the derivative of the loss. The finding shows a point where they
        differ most (y, a, yours, the true value), and says when yours is only the true one
        with its sign flipped or times a constant (such as a mean over the samples taken a
        second time: nnfix applies `reduction` itself).
        """),
    why=prose("""
        The loss gradient starts backprop: every parameter's gradient is a product that
        begins with it. The precedence slip `-(y/a + (1 - y/1 - a))` reads as
        −(y/a + 1 − y − a), which is negative for y = 0 and for y = 1 alike: at y = 0,
        a = 0.2 it gives −0.8 where the truth is +1.25. Gradient descent then raises the
        output whatever the label, and the net learns nothing about the input.
        """),
    fix=prose("""
        Write the derivative with explicit parentheses — BCE's dL/da is
        `-(y/a - (1 - y)/(1 - a))` — or, with a sigmoid output, use the simpler and stabler
        `gradient: "a - y"` with `gradient_of: z`.
        """),
    before=yaml_block("""
        loss:
          name: bce
          gradient: "-(y/a + (1 - y/1 - a))"
        """),
    after=yaml_block("""
        loss:
          name: bce
          gradient: "-(y/a - (1 - y)/(1 - a))"
        """),
)


G103 = Rule(
    code="G103",
    name="gradient-shape-mismatch",
    severity=ERROR,
    summary="a gradient whose shape is not its parameter's (bias gradient not summed over samples)",
    detects=prose("""
        A gradient returned by your backward pass whose shape is not its parameter's,
        typically db of shape (1, m) or (n, m) — not summed over the m samples — or W's
        gradient transposed; also a parameter with no gradient at all.
        """),
    why=prose("""
        NumPy broadcasting hides it: `b = b - lr * db` with b of shape (n, 1) and db of shape
        (n, m) silently makes b an (n, m) matrix, one bias per sample position in the batch.
        The forward pass broadcasts it back, so training seems to run while learning a bias
        for each position rather than one per unit; a batch of another size (the last partial
        batch, the test set) then crashes.
        """),
    fix=prose("""
        Sum over the samples: `db = np.sum(dZ, axis=1, keepdims=True) / m` in the columns
        layout, `np.sum(dZ, axis=0, keepdims=True) / m` in the rows layout — without the `/ m`
        where dZ already holds it (`delta = (A - Y) / m`). The finding shows the line in your
        own names, on your samples' axis, with the 1/m only where your sum needs it (measured
        against the true gradient): the line `nnfix fix` writes where the change is certain.
        """),
    before=yaml_block("""
        implementation:
          module: my_net.py
          forward: forward_propagation
          backward: backward_propagation
          layout: columns
        # my_net.py:  db = dZ / m
        """),
    after=yaml_block("""
        implementation:
          module: my_net.py
          forward: forward_propagation
          backward: backward_propagation
          layout: columns
        # my_net.py:  db = np.sum(dZ, axis=1, keepdims=True) / m
        """),
)


G104 = Rule(
    code="G104",
    name="gradcheck-unreliable",
    severity=INFO,
    summary="the check could not be trusted somewhere (kinks near ReLU's 0, float32 code, gradients below the noise floor, a non-finite loss) and why; a warning when it could verify nothing",
    detects=prose(f"""
        Places where a finite-difference check cannot give a verdict, and why: samples with a
        ReLU-family pre-activation within 1e-4 of 0, where the ±ε evaluations may straddle the
        kink (they are left out of the check); your code computing in float32; a tensor whose
        gradient is below the finite-difference noise floor, or agrees with the differences
        only within it (the loss's rounding over the step, including what saturated units
        pass on to it, and measured again with a 10× step where a tensor seems wrong); a
        tensor whose true gradient is zero up to rounding (a bias followed by batchnorm: the
        differences within their noise) and whose gradient from your code is below
        {ZERO_SHARE:g} of the largest gradient's norm, the rounding of its own arithmetic; an
        output probability of exactly 0 or 1, where the loss is clipped flat, or a loss that is
        not finite where the check moves the parameters. These are reported as unverifiable,
        never as wrong. When no tensor at all could be verified, the gradients were not
        checked: the finding is a warning that says why, and the report's verdict says so in
        every format (`UNCHECKED`, JSON `"verdict": "unchecked"`) — never a silent pass.
        """),
    why=prose("""
        Central differences (L(θ + ε) − L(θ − ε)) / 2ε assume a smooth function and exact
        arithmetic. Across a kink the two evaluations see two different slopes. Rounding adds
        an error of about ε_mach · |L| / ε: with ε = 1e-6 that is ~1e-10 · |L| in float64 but
        ~0.1 · |L| in float32, which swamps any real gradient. A gradient below that floor
        cannot be told from zero.
        """),
    fix=prose("""
        Usually nothing: a few kink entries in a ReLU net are expected. If your code casts to
        float32, let it compute in the dtype it is given (nnfix passes float64 for the check).
        When nothing could be verified, make the loss finite and measurable where the check
        starts: scale the inputs, use an init that suits the activation, and let the loss see
        probabilities where it takes their log.
        """),
    before=yaml_block("""
        implementation:
          module: my_net.py
          forward: forward_propagation
          backward: backward_propagation
        # my_net.py:  Z = (W @ A_prev + b).astype(np.float32)
        """),
    after=yaml_block("""
        implementation:
          module: my_net.py
          forward: forward_propagation
          backward: backward_propagation
        # my_net.py:  Z = W @ A_prev + b    # float64 in, float64 out
        """),
    causes=(  # gradients too small to measure: a symmetric or saturated net explains them
        Cause(("Y101", "D102", "Y103"), when=lambda f: bool(f.evidence.get("unverifiable"))),
        Cause(  # a loss that is not finite where the check starts: data or outputs that break it
            ("D101", "D103", "D104"), when=lambda f: f.evidence.get(GRADIENTS_CHECKED) is False
        ),
    ),
)


G105 = Rule(
    code="G105",
    name="gradient-convention",
    severity=WARNING,
    summary="every gradient is the true one times one constant (½, 2, −1, the batch size): a convention, not a bug",
    detects=prose("""
        Every checked tensor's gradient equals the true gradient of the spec's loss times the
        same constant c: the backward is consistent, but it differentiates c·L — a loss with
        a factor ½ (the quadratic cost ½‖a − y‖²), the descent direction −∇L returned for an
        update `W += lr·dW`, a sum over the samples where the loss is a mean. The finding says
        which, and the spec key that declares it. Where a bug sits beside the convention, c is
        read from the tensors nearest the output that agree, the finding names them, and the
        tensors that are not c × their true gradient are G101s judged against c.
        """),
    why=prose("""
        Such a backward trains exactly like the true one with its learning rate multiplied by
        c, so it is not a bug; but compared with the spec's loss every tensor looks wrong by
        the same factor, and the remedy is to say what your loss is, not to change your code.
        When a declared derivative or loss gradient explains the factor, that finding (A1xx,
        G102) is the root cause instead.
        """),
    fix=prose("""
        Declare the loss your backward differentiates: `loss: {name: mse, scale: 0.5}` for
        ½‖a − y‖², `reduction: sum` for a sum over the samples; a backward that returns −∇L
        for its own `W += lr·dW` update is as intended.
        """),
    before=yaml_block("""
        loss: mse           # your cost is 0.5 * np.sum((a - y)**2) / m
        """),
    after=yaml_block("""
        loss: {name: mse, scale: 0.5}
        """),
    thresholds=prose(f"""
        A tensor carries c when its gradient is c times its finite differences, to
        {CONVENTION_RTOL:g} relative plus the differences' own noise. c (≠ 1) is read from the
        first layer, from the output down, whose judged tensors all carry one factor that more
        than one judged tensor carries (every tensor, where only one is judged); it is the
        factor of the tensor measured most precisely among those that carry it. Tensors whose
        gradients are below the noise floor are not judged.
        """),
    causes=(  # a factor the tensors nearest the output carry: the loss gradient, or a derivative
        Cause(("G102",)),  # declared at or above the layer of the highest of them
        Cause(("A101", "A102", "A103"), layers="at_or_above"),
    ),
)


def _listing(names: list[str]) -> str:
    """["W4"] as "W4", ["W4", "b4", "W3"] as "W4, b4 and W3"."""
    return (
        ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + (names[-1] if names else "")
    )


def convention_finding(
    c: float,
    batch_size: int,
    loss,
    path: SpecPath,
    what: str = "your backward",
    carriers: list[str] | None = None,
    layer: int | None = None,
) -> Finding:
    """G105 for a factor c: what it means and the spec change that declares it. `carriers`:
    the tensors that carry it where others are G101s beside it (None: every judged one)."""
    m, k = batch_size, abs(c)
    near = CONVENTION_RTOL
    if abs(k - m) < near * m and loss.reduction == "mean":
        differentiated = f"the sum over the {m} samples where the loss is their mean"
        fix = Fix("declare the sum", ("loss", "reduction"), "sum")
    elif abs(k * m - 1) < near and loss.reduction == "sum":
        differentiated = f"the mean over the {m} samples where the loss is their sum"
        fix = Fix("declare the mean", ("loss", "reduction"), "mean")
    elif abs(k - 1) < near:
        differentiated = "L"
        fix = Fix("nothing to change if your update adds it; nnfix checks it as −∇L")
    else:
        scale = float(f"{k * loss.scale:.4g}")
        differentiated = f"{k:.4g}·L"
        if abs(k - 0.5) < near:
            differentiated += " (a loss with a factor ½, as the quadratic cost ½‖a − y‖²)"
        elif abs(k * m - 1) < near:
            differentiated += f" (the mean over the {m} samples taken twice)"
        fix = Fix(
            f"declare the factor: the loss your code differentiates is {scale:g}·{loss.name}",
            ("loss", "scale"),
            scale,
        )
    descent = "−∇L" if differentiated == "L" else f"−∇ of {differentiated}"
    meaning = (
        f"returns the descent direction {descent} (as an update `W += lr·dW` wants)"
        if c < 0
        else f"differentiates {differentiated}"
    )
    evidence: dict[str, object] = {"factor": c, "batch_size": m}
    if carriers is None:
        message = f"every gradient of {what} is {c:.4g} × the true one: it {meaning}"
    else:
        message = (
            f"the gradients of {what} nearest the output ({_listing(carriers)}) are {c:.4g} × "
            f"the true ones: it {meaning}; the tensors that are not are judged against that"
        )
        evidence["tensors"] = carriers
    return G105.finding(message, layer=layer, path=path, evidence=evidence, fix=fix)


def gradient_findings(
    result: GradcheckResult,
    *,
    batch_size: int,
    loss,
    layer_of: Callable[[str], int],
    path_of: Callable[[int], SpecPath],
    what: str,
    entry: Callable[[float], tuple[int, float] | None] | None = None,
) -> tuple[list[Finding], Reading]:
    """A check's G105 (the constant the backward carries, where it carries one) and a G101 for
    each tensor that is not that constant × the true gradient, output first; and the reading
    they come from (whose `agree` are the tensors right up to the convention). `entry(c)`, where
    the check can measure each layer's dL/dx: the first layer from the output whose backward
    hands a wrong one down, and its relative error — a G101 of its own when every tensor of
    that layer and above is right."""
    read = reading(result, layer_of)
    handed = None
    if entry is not None and read.off:
        handed = entry(read.c)
        if handed is not None and any(layer_of(t.name) >= handed[0] for t in read.off):
            handed = None  # the first wrong tensor is at or above it: that names the layer
    found: list[Finding] = []
    if read.convention is not None:
        carriers = None if not read.off else [t.name for t in read.agree]
        top = max(layer_of(t.name) for t in read.agree)  # what explains c is at or above it
        found.append(convention_finding(read.c, batch_size, loss, ("loss",), what, carriers, top))
    return found + mismatches(result, read, layer_of, path_of, what, batch_size, handed), read


def _against(t: TensorCheck, c: float, batch_size: int | None) -> tuple[str, float | None, float]:
    """t's classification, factor and relative error against c × the true gradient (c = 1:
    the check's own)."""
    if c == 1.0:
        assert t.classification is not None
        return t.classification, t.factor, t.error
    kind, factor = classify(t.analytic, c * t.numeric, batch_size, None, abs(c) * t.noise)
    return kind, factor, relative_error(t.analytic, c * t.numeric)


def mismatches(
    result: GradcheckResult,
    read: Reading,
    layer_of: Callable[[str], int],
    path_of: Callable[[int], SpecPath],
    where_code: str = "backprop",
    batch_size: int | None = None,
    handed: tuple[int, float] | None = None,
) -> list[Finding]:
    """G101 for each tensor that is not c × its true gradient (`read`: c = 1 where the backward
    carries no constant), output first: the first one is where the bug enters — unless
    `handed` names a layer above every wrong tensor whose backward hands down a wrong dL/dx
    (and its relative error): the bug enters there, a G101 of its own, first. `layer_of(name)`
    is a tensor's layer, `path_of(layer)` the spec path to point at."""
    found = []
    wrong = read.off
    wrong_names = {t.name for t in wrong}
    c = read.c
    right_above: list[str] = []
    if handed is not None:
        found.append(_input_gradient_finding(result, read, layer_of, path_of, handed))
    for t in result.tensors:
        if t.name not in wrong_names:
            if c == 1.0 or not t.unverifiable:
                right_above.append(t.name)
            continue
        layer = layer_of(t.name)
        first = t is wrong[0] and handed is None
        where = ""
        if t is wrong[0] and handed is not None:
            where = (
                f"{t.name} is the first wrong tensor from the output, wrong in what layer "
                f"{handed[0]}'s backward hands down (its dL/dx): "
            )
        if first:
            if right_above:
                verb = (
                    ("matches" if len(right_above) == 1 else "match")
                    if c == 1.0
                    else f"{'is' if len(right_above) == 1 else 'are'} {c:.4g} × the true gradient"
                )
                where = f"{_listing(right_above)} {verb}; "
            where += (
                f"{t.name} is the first wrong tensor from the output: the bug enters at layer "
                f"{layer}. "
            )
        kind, factor, error = _against(t, c, batch_size)
        worst = t.worst(1, c)[0]
        if c == 1.0:
            what = f"{t.name}'s gradient is {kind}"
            numeric = f"finite differences {worst[2]:.4g}"
        elif t.factor:
            what = f"{t.name}'s gradient is {t.factor:.4g} × the true one where the rest is {c:.4g} ×: {kind}"
            numeric = f"{c:.4g} × finite differences {c * worst[2]:.4g}"
        else:
            what = f"{t.name}'s gradient, against {c:.4g} × the true one, is {kind}"
            numeric = f"{c:.4g} × finite differences {c * worst[2]:.4g}"
        message = (
            f"{where}{what} (relative error {error:.2g}; at {worst[0]} {where_code} gives "
            f"{worst[1]:.4g}, {numeric})"
        )
        same_layer = [u.name for u in result.tensors if u is not t and layer_of(u.name) == layer]
        if t.name.startswith("b") and not wrong_names & set(same_layer):
            message += (
                f"; only the bias of layer {layer} is wrong (its weights match): look at how db "
                "is reduced over the samples"
            )
        evidence: dict[str, object] = {
            "relative_error": error,
            "classification": kind,
            "factor": factor,
            "mode": t.mode,
            "worst": [{"index": list(i), "backprop": a, "numeric": n} for i, a, n in t.worst(3, c)],
            "first_wrong": first,
        }
        if c != 1.0:
            evidence["convention"] = c
        found.append(
            G101.finding(
                message,
                layer=layer,
                parameter=t.name,
                path=path_of(layer),
                evidence=evidence,
                fix=Fix(f"fix the backward step of layer {layer}"),
            )
        )
    return found


def _input_gradient_finding(
    result: GradcheckResult,
    read: Reading,
    layer_of: Callable[[str], int],
    path_of: Callable[[int], SpecPath],
    handed: tuple[int, float],
) -> Finding:
    """The G101 of the layer whose backward hands down a wrong dL/dx while its own gradients,
    and every one above, are right: where the bug enters."""
    layer, error = handed
    wrong = {t.name for t in read.off}
    right = [t.name for t in result.tensors if layer_of(t.name) >= layer and t.name not in wrong]
    own = [n for n in right if layer_of(n) == layer]
    right_ones = (
        f"its own gradients ({_listing(own)}) and every tensor above it match"
        if own
        else "every tensor above it matches (it has no parameters)"
    )
    return G101.finding(
        f"layer {layer}'s backward hands a wrong dL/dx down to layer {layer - 1} (relative "
        f"error {error:.2g} along random directions of its input): {right_ones}, so the bug "
        f"enters in layer {layer}'s input gradient; the wrong tensors "
        f"below ({_listing([t.name for t in read.off])}) inherit it",
        layer=layer,
        path=path_of(layer),
        evidence={"relative_error": error, INPUT_GRADIENT: True, "first_wrong": True},
        fix=Fix(f"fix the input gradient (dL/dx) in the backward step of layer {layer}"),
    )


@check(GRADIENT_CHECK, G101, G104, G105)
def gradient_check(ctx: Context) -> list[Finding]:
    """The spec's net: backprop with the declared derivatives against finite differences."""
    init = ctx.init
    if init is None or ctx.spec.implementation is not None:
        return []  # with an implementation, the user's own backward is what gets checked
    if not np.isfinite(init.loss):
        why = f"the loss at the initial parameters is {init.loss} (not finite): nothing to differentiate"
        return [not_checked(why, {"loss": init.loss}, Fix(UNCHECKED_FIX["the loss is not finite"]))]
    x, y, excluded = batch(ctx.network, init.cache, init.y)
    gc = ctx.options.gradcheck
    target = NetworkTarget(ctx.network, x, y, ctx.loss, ctx.spec.train.l2)
    with np.errstate(all="ignore"):
        result = target.check(
            eps=gc.get("eps", 1e-6),
            mode=gc.get("mode", "auto"),
            samples=gc.get("samples", 16),
            seed=ctx.spec.seed,
            deadline=ctx.options.deadline,
        )
    ctx.gradchecked = result
    layer_of = {s.name: s.layer for s in ctx.network.slots}
    found, _ = gradient_findings(
        result,
        batch_size=len(x),
        loss=ctx.spec.loss,
        layer_of=layer_of.__getitem__,
        path_of=lambda layer: ctx.layer_path(layer),
        what="backprop",
        entry=target.wrong_input_gradient,
    )
    return found + budget_finding(result) + unreliable(result, excluded)


TOO_SMALL = (
    "the gradients at init are too small to measure: an init that suits the activation (Y103) "
    "or fewer saturating layers makes them measurable"
)
UNCHECKED_FIX = {  # G104 when no tensor could be verified: what makes the check possible, by why
    "the loss is not finite": (
        "make the loss finite where the check starts: an output of exactly 0 or 1 (saturated "
        "units: scale the inputs, a smaller init) or values the loss cannot take (scores where "
        "it wants probabilities) leave nothing to differentiate"
    ),
    "gradient below": TOO_SMALL,
    "gradient too close": TOO_SMALL,
}


def unreliable(result: GradcheckResult, excluded: int = 0) -> list[Finding]:
    """A G104 naming what the check could not judge — tensors below the finite-difference
    noise floor, differences across a ReLU kink, a loss that is not finite where it moves the
    parameters — and why: unverifiable, never wrong. When it could verify no tensor at all,
    the gradients were not checked: a warning, and the report's verdict says so (SPEC §3.5)."""
    unverifiable = [t for t in result.tensors if t.unverifiable]
    kinks = sum(t.kinks for t in result.tensors)
    if not unverifiable and not kinks:  # samples left out near kinks alone do not weaken it
        return []
    kinds: dict[str, list[str]] = {}
    for t in unverifiable:
        assert t.unverifiable is not None
        kinds.setdefault(t.unverifiable.split(" (")[0], []).append(t.name)
    reasons = [f"{_names(names)}: {kind}" for kind, names in kinds.items()]
    if kinks:
        reasons.append(f"{kinks} differences crossed a ReLU kink and were left out")
    if excluded:
        reasons.append(
            f"{excluded} samples left out: a ReLU pre-activation within {KINK:g} of its kink"
        )
    evidence: dict[str, object] = {
        "unverifiable": [t.name for t in unverifiable],
        "excluded_samples": excluded,
        "kink_crossings": kinks,
    }
    if len(unverifiable) < len(result.tensors):
        return [
            G104.finding(
                "the gradient check could not judge everything: " + "; ".join(reasons),
                evidence=evidence,
            )
        ]
    first = next(iter(kinds))
    fix = next((text for start, text in UNCHECKED_FIX.items() if first.startswith(start)), None)
    return [
        not_checked(
            f"no tensor could be verified — {'; '.join(reasons)}",
            evidence,
            Fix(fix) if fix else None,
        )
    ]


def not_checked(why: str, evidence: dict[str, object], fix: Fix | None = None) -> Finding:
    """The G104 warning of a gradient check that verified nothing: the gradients were not
    checked, never a silent pass (SPEC §3.5); its evidence marks the report's verdict."""
    return G104.finding(
        f"the gradients were not checked: {why}",
        evidence=evidence | {GRADIENTS_CHECKED: False},
        fix=fix,
        severity=WARNING,
    )


def _names(names: list[str]) -> str:
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def budget_finding(result: GradcheckResult) -> list[Finding]:
    """A G104 naming the tensors the gradient check left out when --budget ran out."""
    if not result.skipped:
        return []
    done, left = len(result.tensors), len(result.skipped)
    shown = ", ".join(result.skipped[:6]) + (", …" if left > 6 else "")
    return [
        G104.finding(
            f"--budget ran out after the gradient check of {done} of {done + left} tensors "
            f"(from the output down): {shown} not checked",
            evidence={"checked": done, "not_checked": result.skipped},
            fix=Fix("give diagnose more time: --budget SECONDS (or diagnose.budget in the spec)"),
            severity=INFO,
        )
    ]


@check(GRADIENT_CHECK, G104)
def user_precision(ctx: Context) -> list[Finding]:
    """A function of the user's own file that computes in single precision, where float64
    finite differences cannot resolve differences below its rounding (~1e-7 relative)."""
    found = []
    probe = np.linspace(-2.0, 2.0, 9)
    for path, uf in ctx.loaded.functions.items():
        if uf.kind != "file":
            continue
        args = (probe, probe) if path == ("loss", "gradient") else (probe,)
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(uf.fn(*args))
        except Exception:
            continue  # a function that raises is U101's, reported where it is used
        if out.dtype in (np.float32, np.float16):
            found.append(
                G104.finding(
                    f"`{uf.text}` computes in {out.dtype} although it is given float64: its "
                    f"rounding (~{np.finfo(out.dtype).eps:.0e} relative) limits how closely a "
                    "gradient through it can be checked",
                    path=path,
                    evidence={"dtype": str(out.dtype)},
                    fix=Fix(
                        "let the function keep its input's dtype (drop the .astype(np.float32)) "
                        "while checking"
                    ),
                )
            )
    return found


TRUE_GRADIENT = {  # (loss, gradient_of) -> the derivative as an expression
    ("bce", "a"): "-(y/a - (1 - y)/(1 - a))",
    ("cce", "a"): "-y/a",
    ("mse", "a"): "2 * (a - y)",
    ("mae", "a"): "sign(a - y)",
}
FUSED_GRADIENT = {("bce", "sigmoid"), ("cce", "softmax")}  # dL/dz of the output is a − y


@check(DERIVATIVES, G102)
def loss_gradient(ctx: Context) -> list[Finding]:
    """The declared loss gradient against the loss's derivative."""
    uf = ctx.loaded.functions.get(("loss", "gradient"))
    if uf is None:
        return []
    spec = ctx.spec.net_loss
    out = ctx.network.activations[-1]
    declared_fn = ctx.loss.declared
    assert declared_fn is not None  # the spec declares loss.gradient
    if spec.gradient_of == "a":
        a, y = _loss_points(ctx)
        true = _numeric_loss_grad(lambda aa: losses.total(spec.name, aa, aa, y, None), a)
        z = a
    else:
        if ctx.init is None:
            return []
        z, y = ctx.init.cache.z[-1][:64], ctx.init.y[:64]
        forward = out.forward
        a = forward(z)
        true = _numeric_loss_grad(
            lambda zz: losses.total(spec.name, zz, forward(zz), y, out.builtin_name), z
        )
    with np.errstate(all="ignore"):
        declared = np.asarray(declared_fn(a, y, z), float)
    ok = np.isfinite(true)
    if close(declared[ok], true[ok]):
        return []
    i = int(np.argmax(np.where(ok, np.abs(declared - true), -1)))
    point = {
        "y": float(y.flat[i]),
        "a": float(a.flat[i]),
        "yours": float(declared.flat[i]),
        "expected": float(true.flat[i]),
    }
    what = f"dL/d{spec.gradient_of}"
    kind = ""
    c = float(np.sum(declared[ok] * true[ok]) / max(np.sum(true[ok] ** 2), 1e-300))
    if close(declared[ok], c * true[ok]):
        if abs(c + 1) < 1e-3:
            kind = "; its sign is flipped"
        else:
            kind = f"; it is the derivative times {c:.4g}" + (
                " (nnfix applies the mean over samples itself: leave it out)" if c < 1 else ""
            )
    right = TRUE_GRADIENT.get((spec.name, spec.gradient_of))
    if spec.gradient_of == "z" and (spec.name, out.builtin_name) in FUSED_GRADIENT:
        right = "a - y"
    fix = (
        Fix(f"{spec.name}'s {what}: {right}", ("loss", "gradient"), right)
        if right
        else Fix(f"{spec.name}'s {what}: drop `gradient:` and nnfix uses the true one")
    )
    return [
        G102.finding(
            f"`{uf.text}` is not {spec.name}'s {what}{kind}: at y = {point['y']:g}, "
            f"a = {point['a']:.3g} it gives {point['yours']:.4g}, the derivative is "
            f"{point['expected']:.4g}",
            layer=ctx.network.depth,
            path=("loss", "gradient"),
            evidence={"point": point, "factor": c},
            fix=fix,
        )
    ]


def _loss_points(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(a, y) pairs to compare dL/da at: a grid over the output's range for each target value."""
    name = ctx.spec.net_loss.name
    k = ctx.units
    if name in ("bce", "cce"):
        grid = np.linspace(0.05, 0.95, 19)
        a = np.repeat(grid, 2)[:, None] * np.ones((1, k))
        y = np.tile([0.0, 1.0], len(grid))[:, None] * np.ones((1, k))
        return a, y
    y = ctx.init.y[:32] if ctx.init is not None else np.zeros((1, k))
    a = y + np.linspace(-1.5, 1.5, len(y))[:, None] + 0.013
    return a, y


def _numeric_loss_grad(total, x: np.ndarray) -> np.ndarray:
    """d(total)/dx entry by entry (total sums over entries, so this is elementwise)."""
    out = np.zeros_like(x)
    h = 1e-6
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = total(x)
        x[idx] = old - h
        minus = total(x)
        x[idx] = old
        out[idx] = (plus - minus) / (2 * h)
    return out
