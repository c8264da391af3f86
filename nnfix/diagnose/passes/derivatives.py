"""Declared derivatives against the mathematics: A101–A103 for activation derivatives, G102
for the loss gradient. A mismatch is explained by testing hypotheses — the other argument,
another activation's derivative, a flipped sign, a constant factor — before calling it A101."""

from __future__ import annotations

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.pipeline import finding
from nnfix.engine import activations, losses
from nnfix.engine.build import _argument_of
from nnfix.spec.functions import UserFunction
from nnfix.spec.model import ACTIVATIONS

GRID = np.linspace(-4.0, 4.0, 161)
KINKED = ("relu", "leaky_relu", "elu")

# each activation's derivative as an expression, written in z and in its output a
DERIVATIVE_TEXT = {
    "sigmoid": {"z": "sigmoid(z) * (1 - sigmoid(z))", "a": "a * (1 - a)"},
    "tanh": {"z": "1 - tanh(z)**2", "a": "1 - a**2"},
    "relu": {"z": "where(z > 0, 1, 0)", "a": "where(a > 0, 1, 0)"},
    "leaky_relu": {"z": "where(z > 0, 1, {alpha})", "a": "where(a > 0, 1, {alpha})"},
    "elu": {"z": "where(z > 0, 1, {alpha} * exp(z))", "a": "where(a > 0, 1, a + {alpha})"},
    "softplus": {"z": "sigmoid(z)", "a": "1 - exp(-a)"},
    "swish": {"z": "sigmoid(z) * (1 + z * (1 - sigmoid(z)))"},
    "linear": {"z": "1", "a": "1"},
}
DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}


def _close(x: np.ndarray, y: np.ndarray) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(x - y) <= 1e-4 + 1e-3 * np.abs(y)))


def _call(uf: UserFunction, x: np.ndarray) -> np.ndarray:
    """A one-argument user derivative evaluated at x (whatever its variable is called)."""
    if uf.kind == "file":
        out = uf.fn(x)
    else:
        (var,) = uf.variables or {"z"}
        out = uf.fn(**{var: x})
    return np.broadcast_to(np.asarray(out, dtype=float), x.shape)


def _numeric(forward, z: np.ndarray) -> np.ndarray:
    h = 1e-5 * np.maximum(1.0, np.abs(z))
    return (forward(z + h) - forward(z - h)) / (2 * h)


def _text(name: str, variable: str, alpha: float | None) -> str | None:
    text = DERIVATIVE_TEXT.get(name, {}).get(variable)
    if text is None:
        return None
    return text.format(alpha=alpha if alpha is not None else DEFAULT_ALPHA.get(name))


def _points(ctx: Context, layer: int, name: str) -> np.ndarray:
    z = GRID
    if ctx.init is not None:
        actual = ctx.init.cache.z[layer - 1].ravel()
        actual = actual[np.isfinite(actual)][:2000]
        z = np.concatenate([GRID, actual])
    if name in KINKED:
        z = z[np.abs(z) > 1e-3]
    return z


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
        z = _points(ctx, layer, act.name)
        with np.errstate(all="ignore"):
            a = forward(z)
            true = _numeric(forward, z)
            if uf.variables == {"z", "a"}:
                declared = np.broadcast_to(np.asarray(uf.fn(z=z, a=a), float), z.shape)
                fed_name, fed, other = "z and a", z, None
            else:
                fed_name = _argument_of(uf, act.derivative_of)
                fed, other = (z, a) if fed_name == "z" else (a, z)
                declared = _call(uf, fed)
        if _close(declared, true):
            continue
        evidence = {"worst": _worst(z, fed, declared, true), "given": fed_name}
        other_name = "a" if fed_name == "z" else "z"
        if other is not None:
            with np.errstate(all="ignore"):
                as_other = _call(uf, other)
            if _close(as_other, true):
                found.append(
                    finding(
                        "A102",
                        f"`{uf.text}` is {act.name}'s derivative written in {other_name}, but your code gives it {fed_name}: it is right only for the other argument",
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
            match = _other_activation(uf, fed, fed_name, act.name)
            if match is not None:
                other_act, written_in = match
                right = _text(act.name, fed_name, act.alpha)
                found.append(
                    finding(
                        "A103",
                        f"`{uf.text}` is {other_act}'s derivative (written in {written_in}), but this layer is {act.name}",
                        layer=layer,
                        path=(*path, "derivative"),
                        evidence={**evidence, "derivative_of": other_act},
                        fix=Fix(
                            f"{act.name}'s derivative in {fed_name}"
                            + (f": {right}" if right else ": drop `derivative:`"),
                            (*path, "derivative"),
                            right,
                        ),
                    )
                )
                continue
        right = _text(act.name, fed_name if fed_name in ("z", "a") else "z", act.alpha)
        worst = evidence["worst"][0]
        flipped = _close(-declared, true)
        found.append(
            finding(
                "A101",
                f"`{uf.text}` is not the derivative of {act.name}"
                + (": its sign is flipped" if flipped else "")
                + f": at z = {worst['z']:.3g} it gives {worst['yours']:.4g}, the derivative is {worst['true']:.4g}",
                layer=layer,
                path=(*path, "derivative"),
                evidence=evidence,
                fix=Fix(
                    f"{act.name}'s derivative"
                    + (f": {right}" if right else ": drop `derivative:` to use the true one"),
                    (*path, "derivative"),
                    right,
                ),
            )
        )
    return found


def _other_activation(
    uf: UserFunction, fed: np.ndarray, fed_name: str, own: str
) -> tuple[str, str] | None:
    """The built-in activation whose derivative (in z or in a) the user's function is."""
    with np.errstate(all="ignore"):
        declared = _call(uf, fed)
        for name in ACTIVATIONS:
            if name in (own, "softmax"):
                continue
            builtin = activations.get(name)
            for form, written_in in ((builtin.dz, "z"), (builtin.da, "a")):
                if form is not None and _close(declared, np.asarray(form(fed), float)):
                    return name, written_in
    return None


def loss_gradient(ctx: Context) -> list[Finding]:
    """G102: the declared loss gradient against the loss's derivative."""
    uf = ctx.loaded.functions.get(("loss", "gradient"))
    if uf is None:
        return []
    spec = ctx.spec.loss
    out = ctx.spec.model.layers[-1].activation
    declared_fn = ctx.loss.declared
    if spec.gradient_of == "a":
        a, y = _loss_points(ctx)
        true = _numeric_loss_grad(lambda aa: losses.total(spec.name, aa, aa, y, None), a)
        z = a
    else:
        if ctx.init is None:
            return []
        z, y = ctx.init.cache.z[-1][:64], ctx.init.y[:64]
        forward = ctx.network.activations[-1].forward
        a = forward(z)
        builtin = out.name if out.name in ACTIVATIONS else None
        true = _numeric_loss_grad(
            lambda zz: losses.total(spec.name, zz, forward(zz), y, builtin), z
        )
    with np.errstate(all="ignore"):
        declared = np.asarray(declared_fn(a, y, z), float)
    ok = np.isfinite(true)
    if _close(declared[ok], true[ok]):
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
    if np.all(np.abs(declared[ok] - c * true[ok]) <= 1e-4 + 1e-3 * np.abs(c * true[ok])):
        if abs(c + 1) < 1e-3:
            kind = "; its sign is flipped"
        else:
            kind = f"; it is the derivative times {c:.4g}" + (
                " (nnfix applies the mean over samples itself: leave it out)" if c < 1 else ""
            )
    right = {
        ("bce", "a"): "-(y/a - (1 - y)/(1 - a))",
        ("cce", "a"): "-y/a",
        ("mse", "a"): "2 * (a - y)",
        ("mae", "a"): "sign(a - y)",
    }.get((spec.name, spec.gradient_of))
    if spec.gradient_of == "z" and (spec.name, out.name) in (
        ("bce", "sigmoid"),
        ("cce", "softmax"),
    ):
        right = "a - y"
    return [
        finding(
            "G102",
            f"`{uf.text}` is not {spec.name}'s {what}{kind}: at y = {point['y']:g}, a = {point['a']:.3g} it gives {point['yours']:.4g}, the derivative is {point['expected']:.4g}",
            layer=ctx.network.depth,
            path=("loss", "gradient"),
            evidence={"point": point, "factor": c},
            fix=Fix(
                f"{spec.name}'s {what}" + (f": {right}" if right else ""),
                ("loss", "gradient"),
                right,
            ),
        )
    ]


def _loss_points(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(a, y) pairs to compare dL/da at: a grid over the output's range for each target value."""
    name = ctx.spec.loss.name
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
