"""A: declared activation derivatives against the mathematics (A101–A103). A mismatch is
explained by testing hypotheses — the other argument, another activation's derivative, a
flipped sign — before it is called A101."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.rules.rule import DERIVATIVES, ERROR, Rule, check, prose, yaml_block
from nnfix.engine import activations
from nnfix.engine.activations import numeric
from nnfix.engine.network import LayerActivation
from nnfix.run.build import argument_of
from nnfix.spec.expr import ExpressionError, compile_expression
from nnfix.spec.functions import UserFunction

FAMILY = "A", "activation derivatives"  # the code prefix, and what its rules cover

GRID = np.linspace(-4.0, 4.0, 161)  # z where a declared derivative is compared, with ...
ACTUAL_POINTS = 2000  # ... up to this many of the layer's own pre-activations at init
RTOL, ATOL = 1e-3, 1e-4  # a declared derivative agrees where |yours − true| ≤ ATOL + RTOL·|true|
KINK_SHARE = 0.5  # a point is left out where the one-sided slopes differ by this share of that
FAR = 30.0  # beyond |z| = FAR a derivative that overflows to NaN or inf is not compared


A101 = Rule(
    code="A101",
    name="derivative-mismatch",
    severity=ERROR,
    summary="a declared derivative that is not the derivative of its activation",
    detects=prose("""
        A layer's declared `derivative` that differs from the numerical derivative of its
        activation, on a grid of z and on the layer's actual pre-activations, in a way no
        known mistake explains (A102's wrong argument, A103's other activation). The finding
        shows the points where they differ most.
        """),
    why=prose("""
        Backprop multiplies the error arriving at a layer by the activation's derivative,
        dZ = dA ⊙ f'(z), and every layer below inherits the result. A wrong f' gives the
        layer and everything beneath it gradients of the wrong size or sign, so the weights
        move in directions that do not lower the loss.
        """),
    fix=prose("""
        Write the activation's true derivative (sigmoid: `sigmoid(z) * (1 - sigmoid(z))` in z,
        `a * (1 - a)` in a), or drop `derivative:` to let nnfix use the built-in one.
        """),
    before=yaml_block("""
        model:
          layers:
            - units: 16
              activation: {name: sigmoid, derivative: "sigmoid(z)"}
        """),
    after=yaml_block("""
        model:
          layers:
            - units: 16
              activation: {name: sigmoid, derivative: "sigmoid(z) * (1 - sigmoid(z))"}
        """),
    thresholds=prose(f"""
        Compared at {len(GRID)} values of z from {GRID[0]:g} to {GRID[-1]:g} and at up to
        {ACTUAL_POINTS} of the layer's own pre-activations at init; yours agrees where
        |yours − true| ≤ {ATOL:g} + {RTOL:g}·|true|, the true derivative being the central
        difference of the layer's function (step 1e-5·max(1, |z|)). Never at a kink: a point is
        left out where the function's left and right slopes over that step differ by more than
        {KINK_SHARE:g} of that tolerance (ReLU's and leaky ReLU's 0, or any kink of an
        expression), so a zero-initialised net, whose z are all 0, is compared on the grid
        alone. Beyond |z| = {FAR:g} a derivative that overflows (NaN, inf) is not compared. An
        activation written as an expression is first recognised as the built-in it computes
        (values equal to {numeric.MATCH_RTOL:g} relative on z in ±30), and judged as that one.
        """),
)


A102 = Rule(
    code="A102",
    name="derivative-wrong-argument",
    severity=ERROR,
    summary="a derivative that is right only if given the other argument (`1 - z**2` called on z instead of a)",
    detects=prose("""
        A declared derivative that is right when given the activation's output a but is given
        the pre-activation z, or the reverse. `1 - z**2` is tanh's derivative written in its
        output, 1 − a²; `z * (1 - z)` is sigmoid's, a(1 − a).
        """),
    why=prose("""
        tanh'(z) = 1 − tanh(z)² = 1 − a². Evaluated at z instead of a, 1 − z² is another
        function: right only at z = 0, 0 at |z| = 1 where the truth is 0.42, and negative
        beyond — at z = 2 it gives −3 instead of 0.07. Every gradient through a confident unit
        has its sign flipped and its size inflated, the layers below step uphill, and the loss
        stalls (near 0.693 on a balanced binary task).
        """),
    fix=prose("""
        Give the derivative the activation's output, as `dZ = dA * (1 - A**2)` does, and say
        so: `derivative_of: a`. Or keep z and write the derivative in z:
        `1 - tanh(z)**2`.
        """),
    before=yaml_block("""
        model:
          layers:
            - units: 10
              activation: {name: tanh, derivative: "1 - z**2", derivative_of: z}
        """),
    after=yaml_block("""
        model:
          layers:
            - units: 10
              activation: {name: tanh, derivative: "1 - z**2", derivative_of: a}
        """),
)


A103 = Rule(
    code="A103",
    name="derivative-of-other-activation",
    severity=ERROR,
    summary="a derivative that belongs to another activation (tanh's on a sigmoid layer)",
    detects=prose("""
        A declared derivative that is exactly the derivative of an activation other than the
        layer's: tanh's 1 − a² on a sigmoid layer, sigmoid's a(1 − a) on a tanh layer,
        ReLU's step on a leaky ReLU. The finding names the activation it belongs to.
        """),
    why=prose("""
        Usually a backward step copied from another layer. Sigmoid's derivative is a(1 − a);
        tanh's 1 − a² on a sigmoid output is (1 + a)/a times too large: 3× at a = 0.5, 11× at
        a = 0.1, and as a → 0 it tends to 1 instead of 0, so units that should pass almost no
        gradient pass a full one. The error is different for every unit and sample, so no
        learning rate makes up for it.
        """),
    fix=prose("""
        Use the derivative of the layer's own activation (sigmoid: `a * (1 - a)` with
        `derivative_of: a`), or drop `derivative:`.
        """),
    before=yaml_block("""
        model:
          layers:
            - units: 1
              activation: {name: sigmoid, derivative: "1 - a**2", derivative_of: a}
        """),
    after=yaml_block("""
        model:
          layers:
            - units: 1
              activation: {name: sigmoid, derivative: "a * (1 - a)", derivative_of: a}
        """),
)


def close(x: np.ndarray, y: np.ndarray) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(x - y) <= ATOL + RTOL * np.abs(y)))


def _call(uf: UserFunction, x: np.ndarray) -> np.ndarray:
    """A one-argument user derivative evaluated at x (whatever its variable is called)."""
    if uf.kind == "file":
        out = uf.fn(x)
    else:
        (var,) = uf.variables or {"z"}
        out = uf.fn(**{var: x})
    return np.broadcast_to(np.asarray(out, dtype=float), x.shape)


def numeric_derivative(forward, z: np.ndarray) -> np.ndarray:
    h = 1e-5 * np.maximum(1.0, np.abs(z))
    return (forward(z + h) - forward(z - h)) / (2 * h)


def _points(ctx: Context, layer: int) -> tuple[np.ndarray, int]:
    """Where to compare, as a column: the grid and the layer's own pre-activations at init,
    leaving out every point within a difference step of a kink — the built-in's, and any the
    function shows numerically (its one-sided slopes disagree). A zero-initialised net has
    z = 0 everywhere, ReLU's kink: then the grid alone is compared. Also how many of the
    layer's own values were left out so."""
    act = ctx.network.activations[layer - 1]
    actual = np.zeros(0)
    if ctx.init is not None:
        values = np.unique(ctx.network.preactivations(ctx.init.cache)[layer - 1])
        values = values[np.isfinite(values)]
        if len(values) > ACTUAL_POINTS:  # spread over their range, extremes included
            values = values[np.linspace(0, len(values) - 1, ACTUAL_POINTS).astype(int)]
        actual = values
    z = np.concatenate([GRID, actual]).reshape(-1, 1)
    keep = ~numeric.kinked(act.forward, z, KINK_SHARE * ATOL, KINK_SHARE * RTOL)
    if act.builtin is not None:
        keep &= act.builtin.smooth(z)
    return z[keep.ravel()], int((~keep[len(GRID) :]).sum())


def _worst(z, fed, declared, true, k=3) -> list[dict]:
    with np.errstate(all="ignore"):
        order = np.argsort(-np.nan_to_num(np.abs(declared - true), nan=np.inf))[:k]
    return [
        {
            "z": float(z[i]),
            "given": float(fed[i]),
            "yours": float(declared[i]),
            "true": float(true[i]),
        }
        for i in order
    ]


def _label(act: LayerActivation) -> str:
    """The layer's activation as the spec writes it, with the built-in it computes if it is
    written otherwise: `maximum(z, 0.01*z)` (leaky_relu, alpha 0.01)."""
    builtin = act.builtin
    if builtin is None or act.name == builtin.name:
        return act.name
    alpha = f", alpha {builtin.alpha:g}" if builtin.alpha is not None else ""
    return f"`{act.name}` ({builtin.name}{alpha})"


def _compiles(text: str) -> bool:
    try:
        compile_expression(text, ("z", "a"))
    except ExpressionError:
        return False
    return True


def _derivative_fix(act: LayerActivation, variable: str, path: tuple) -> Fix:
    """The true derivative written in `variable`, as the spec change that declares it; where it
    cannot be written so, the sentence that says to remove the declaration."""
    builtin = act.builtin
    label = _label(act)
    right = builtin.text(variable) if builtin is not None else None
    if right is not None and _compiles(right):
        return Fix(
            f"the derivative of {label} in {variable}: {right}", (*path, "derivative"), right
        )
    if builtin is not None and builtin.text_z is not None and variable == "a":
        return Fix(
            f"the derivative of {label} cannot be written in a alone: write it in z, "
            f"{builtin.text_z}, with derivative_of: z — or remove `derivative:` from this "
            "layer and nnfix uses the true one"
        )
    return Fix(
        f"remove `derivative:` from this layer: nnfix then uses the true derivative of {label}"
    )


def _compared(z: np.ndarray, declared: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Where yours is held against the truth: wherever the truth is finite, except where yours
    overflows (NaN, inf) far out, |z| > FAR, as exp(-z) does at z = -800."""
    return np.isfinite(true) & (np.isfinite(declared) | (np.abs(z) <= FAR))


@check(DERIVATIVES, A101, A102, A103)
def activation_derivatives(ctx: Context) -> list[Finding]:
    """A101–A103 for every layer whose derivative the spec declares."""
    found = []
    for layer, spec in enumerate(ctx.spec.net_model.layers, start=1):
        act = getattr(spec, "activation", None)
        if act is None:  # a type the network applies no activation after
            continue
        path = ctx.layer_path(layer, "activation")
        uf = ctx.loaded.functions.get((*path, "derivative"))
        la = ctx.network.activations[layer - 1]
        if uf is None or (la.builtin is not None and not la.builtin.elementwise):
            continue
        forward = la.forward
        z, on_kinks = _points(ctx, layer)
        if not len(z):
            continue
        with np.errstate(all="ignore"):
            a = forward(z)
            true = numeric_derivative(forward, z)
            if uf.variables == {"z", "a"}:
                declared = np.broadcast_to(np.asarray(uf.fn(z=z, a=a), float), z.shape)
                fed_name, fed, other = "z and a", z, None
            else:
                fed_name = argument_of(uf, act.derivative_of)
                fed, other = (z, a) if fed_name == "z" else (a, z)
                declared = _call(uf, fed)
        ok = _compared(z, declared, true)
        z, fed, declared, true = z[ok], fed[ok], declared[ok], true[ok]
        if other is not None:
            other = other[ok]
        if close(declared, true):
            continue
        label = _label(la)
        evidence: dict[str, Any] = {
            "worst": _worst(z, fed, declared, true),
            "given": fed_name,
            "points": len(z),
        }
        if on_kinks:
            evidence["left_out_on_kinks"] = on_kinks
        other_name = "a" if fed_name == "z" else "z"
        if other is not None:
            with np.errstate(all="ignore"):
                as_other = _call(uf, other)
            if close(as_other, true):
                found.append(
                    A102.finding(
                        f"`{uf.text}` is the derivative of {label} written in {other_name}, but "
                        f"your code gives it {fed_name}: it is right only for the other argument",
                        layer=layer,
                        path=(*path, "derivative_of")
                        if act.derivative_of
                        else (*path, "derivative"),
                        evidence=evidence,
                        fix=Fix(
                            f"say what your derivative is given: derivative_of: {other_name}",
                            (*path, "derivative_of"),
                            other_name,
                        ),
                    )
                )
                continue
            match = _other_activation(declared, fed, la.builtin_name)
            if match is not None:
                other_act, written_in = match
                found.append(
                    A103.finding(
                        f"`{uf.text}` is {other_act}'s derivative (written in {written_in}), "
                        f"but this layer is {label}",
                        layer=layer,
                        path=(*path, "derivative"),
                        evidence={**evidence, "derivative_of": other_act},
                        fix=_derivative_fix(la, fed_name, path),
                    )
                )
                continue
        variable = fed_name if fed_name in ("z", "a") else "z"
        worst = evidence["worst"][0]
        flipped = close(-declared, true)
        found.append(
            A101.finding(
                f"`{uf.text}` is not the derivative of {label}"
                + (": its sign is flipped" if flipped else "")
                + f": at z = {worst['z']:.3g} it gives {worst['yours']:.4g}, the derivative is "
                f"{worst['true']:.4g}",
                layer=layer,
                path=(*path, "derivative"),
                evidence=evidence,
                fix=_derivative_fix(la, variable, path),
            )
        )
    return found


def _other_activation(
    declared: np.ndarray, fed: np.ndarray, own: str | None
) -> tuple[str, str] | None:
    """The built-in activation whose derivative (in z or in a) the user's values are, other
    than the layer's own (the built-in it is or computes)."""
    with np.errstate(all="ignore"):
        for name in activations.NAMES:
            builtin = activations.get(name)
            if name == own or not builtin.elementwise:
                continue
            for form, written_in in ((builtin.dz, "z"), (builtin.da, "a")):
                if form is not None and close(declared, np.asarray(form(fed), float)):
                    return name, written_in
    return None
