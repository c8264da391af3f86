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
from nnfix.engine.build import argument_of
from nnfix.spec.functions import UserFunction

FAMILY = "A", "activation derivatives"  # the code prefix, and what its rules cover

GRID = np.linspace(
    -4.0, 4.0, 161
)  # z where a declared derivative is compared, with the layer's own
ACTUAL_POINTS = 2000  # ... and up to this many of the layer's pre-activations at init
RTOL, ATOL = 1e-3, 1e-4  # a declared derivative agrees where |yours − true| ≤ ATOL + RTOL·|true|


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


def _points(ctx: Context, layer: int) -> np.ndarray:
    """Where to compare: a grid and the layer's own pre-activations at init, off its kinks."""
    z = GRID
    if ctx.init is not None:
        actual = ctx.init.cache.z[layer - 1].ravel()
        z = np.concatenate([GRID, actual[np.isfinite(actual)][:ACTUAL_POINTS]])
    builtin = ctx.network.activations[layer - 1].builtin
    return z[builtin.smooth(z)] if builtin is not None else z


def _worst(z, fed, declared, true, k=3) -> list[dict]:
    order = np.argsort(-np.abs(declared - true))[:k]
    return [
        {
            "z": float(z[i]),
            "given": float(fed[i]),
            "yours": float(declared[i]),
            "true": float(true[i]),
        }
        for i in order
    ]


def _derivative_fix(ctx: Context, layer: int, variable: str, path: tuple) -> Fix:
    """The true derivative written in `variable`, as the spec change that declares it."""
    builtin = ctx.network.activations[layer - 1].builtin
    name = ctx.network.activations[layer - 1].name
    right = builtin.text(variable) if builtin is not None else None
    if right is None:
        return Fix(f"{name}'s derivative: drop `derivative:` and nnfix uses the true one")
    return Fix(f"{name}'s derivative in {variable}: {right}", (*path, "derivative"), right)


@check(DERIVATIVES, A101, A102, A103)
def activation_derivatives(ctx: Context) -> list[Finding]:
    """A101–A103 for every layer whose derivative the spec declares."""
    found = []
    for layer, spec in enumerate(ctx.spec.model.layers, start=1):
        act = spec.activation
        path = ctx.layer_path(layer, "activation")
        uf = ctx.loaded.functions.get((*path, "derivative"))
        if uf is None:
            continue
        forward = ctx.network.activations[layer - 1].forward
        z = _points(ctx, layer)
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
        if close(declared, true):
            continue
        evidence: dict[str, Any] = {"worst": _worst(z, fed, declared, true), "given": fed_name}
        other_name = "a" if fed_name == "z" else "z"
        if other is not None:
            with np.errstate(all="ignore"):
                as_other = _call(uf, other)
            if close(as_other, true):
                found.append(
                    A102.finding(
                        f"`{uf.text}` is {act.name}'s derivative written in {other_name}, but "
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
            match = _other_activation(uf, fed, act.name)
            if match is not None:
                other_act, written_in = match
                found.append(
                    A103.finding(
                        f"`{uf.text}` is {other_act}'s derivative (written in {written_in}), "
                        f"but this layer is {act.name}",
                        layer=layer,
                        path=(*path, "derivative"),
                        evidence={**evidence, "derivative_of": other_act},
                        fix=_derivative_fix(ctx, layer, fed_name, path),
                    )
                )
                continue
        variable = fed_name if fed_name in ("z", "a") else "z"
        worst = evidence["worst"][0]
        flipped = close(-declared, true)
        found.append(
            A101.finding(
                f"`{uf.text}` is not the derivative of {act.name}"
                + (": its sign is flipped" if flipped else "")
                + f": at z = {worst['z']:.3g} it gives {worst['yours']:.4g}, the derivative is "
                f"{worst['true']:.4g}",
                layer=layer,
                path=(*path, "derivative"),
                evidence=evidence,
                fix=_derivative_fix(ctx, layer, variable, path),
            )
        )
    return found


def _other_activation(uf: UserFunction, fed: np.ndarray, own: str) -> tuple[str, str] | None:
    """The built-in activation whose derivative (in z or in a) the user's function is."""
    with np.errstate(all="ignore"):
        declared = _call(uf, fed)
        for name in activations.NAMES:
            builtin = activations.get(name)
            if name == own or not builtin.elementwise:
                continue
            for form, written_in in ((builtin.dz, "z"), (builtin.da, "a")):
                if form is not None and close(declared, np.asarray(form(fed), float)):
                    return name, written_in
    return None
