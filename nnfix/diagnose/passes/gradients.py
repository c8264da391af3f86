"""G101/G104: the net's backprop — with the spec's declared derivatives and loss gradient —
against central differences of its loss, in float64, tensor by tensor from the output down."""

from __future__ import annotations

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.gradcheck import GradcheckResult, gradcheck
from nnfix.diagnose.pipeline import finding
from nnfix.engine.network import Network

BATCH = 64  # samples the check runs on
KINK = 1e-4  # a ReLU-family pre-activation this close to 0 may cross it under a perturbation
KINKED = ("relu", "leaky_relu", "elu")


def _batch(ctx: Context) -> tuple[np.ndarray, np.ndarray, int]:
    """Training samples for the check, leaving out those sitting on a ReLU kink."""
    init = ctx.init
    x, y = init.x, init.y
    near = np.zeros(len(x), bool)
    for layer, spec in enumerate(ctx.spec.model.layers):
        if spec.activation.name in KINKED:
            near |= np.any(np.abs(init.cache.z[layer]) < KINK, axis=1)
    keep = np.flatnonzero(~near)
    excluded = 0
    if len(keep) >= min(BATCH, len(x)) // 2:  # enough smooth samples: use only those
        excluded = int(near[: keep[:BATCH][-1] + 1].sum()) if len(keep) else 0
        x, y = x[keep], y[keep]
    return x[:BATCH], y[:BATCH], excluded


class NetworkLoss:
    """A net's loss on one batch as a function of its parameters [W1, b1, …], in the shape the
    gradient check wants: `f`, `grad`, `partial` (only tensor i moved: the layers under it are
    reused) and `pattern` (which side of its kink every ReLU-like unit is on)."""

    def __init__(self, net: Network, x: np.ndarray, y: np.ndarray, loss, l2: float = 0.0):
        self.acts, self.x, self.y, self.loss_fn, self.l2 = net.activations, x, y, loss, l2
        self.kinked = [l for l, act in enumerate(net.activations) if act.builtin in KINKED]
        self.base = net.forward(x)
        self.side = b""

    def _net(self, ps) -> Network:
        return Network(list(ps[0::2]), list(ps[1::2]), self.acts)

    def _value(self, net: Network, cache) -> float:
        if self.kinked:
            self.side = np.packbits(
                np.concatenate([(cache.z[l] > 0).ravel() for l in self.kinked])
            ).tobytes()
        return net.loss(cache, self.y, self.loss_fn, self.l2)

    def f(self, ps) -> float:
        net = self._net(ps)
        return self._value(net, net.forward(self.x))

    def partial(self, ps, i: int) -> float:
        net = self._net(ps)
        return self._value(net, net.forward(self.x, i // 2, self.base))

    def grad(self, ps) -> list[np.ndarray]:
        return self._net(ps).loss_and_grads(self.x, self.y, self.loss_fn, self.l2)[1]

    def pattern(self) -> bytes:
        return self.side

    def check(self, net: Network, **options) -> GradcheckResult:
        order = [
            i for l in range(net.depth - 1, -1, -1) for i in (2 * l, 2 * l + 1)
        ]  # output first
        return gradcheck(
            self.f,
            self.grad,
            net.params,
            names=net.names,
            batch_size=len(self.x),
            order=order,
            pattern=self.pattern if self.kinked else None,
            partial=self.partial,
            **options,
        )


def check_network(ctx: Context) -> tuple[GradcheckResult, int]:
    x, y, excluded = _batch(ctx)
    gc = ctx.options.gradcheck
    with np.errstate(all="ignore"):
        result = NetworkLoss(ctx.network, x, y, ctx.loss, ctx.spec.train.l2).check(
            ctx.network,
            eps=gc.get("eps", 1e-6),
            mode=gc.get("mode", "auto"),
            samples=gc.get("samples", 16),
            seed=ctx.spec.seed,
        )
    return result, excluded


def _causes(ctx: Context, layer: int) -> list[str]:
    """Root causes that change layer `layer`'s gradient: a wrong derivative at or above it, a
    wrong loss gradient."""
    derivatives = sorted(
        (
            f
            for f in ctx.findings
            if f.code in ("A101", "A102", "A103") and (f.location.layer or 0) >= layer
        ),
        key=lambda f: f.location.layer,
    )  # the nearest wrong derivative first: it is the most direct cause
    codes = [f.code for f in derivatives] + [f.code for f in ctx.findings if f.code == "G102"]
    return list(dict.fromkeys(codes))


def mismatches(
    ctx: Context, result: GradcheckResult, path_of, where_code: str = "backprop"
) -> list[Finding]:
    """G101 for each wrong tensor of a check whose tensors are named W{l}/b{l}, output first:
    the first wrong one is where the bug enters; `path_of(layer)` is the spec path to point at."""
    found = []
    wrong = result.wrong
    right_above: list[str] = []
    for t in result.tensors:
        if not t.wrong:
            right_above.append(t.name)
            continue
        layer = int(t.name[1:])
        first = t is wrong[0]
        where = ""
        if first:
            if right_above:
                names = (
                    ", ".join(right_above[:-1])
                    + (" and " if len(right_above) > 1 else "")
                    + right_above[-1]
                )
                where = f"{names} match{'es' if len(right_above) == 1 else ''}; "
            where += f"{t.name} is the first wrong tensor from the output: the bug enters at layer {layer}. "
        worst = t.worst(1)[0]
        message = f"{where}{t.name}'s gradient is {t.classification} (relative error {t.error:.2g}; at {worst[0]} {where_code} gives {worst[1]:.4g}, finite differences {worst[2]:.4g})"
        if t.name.startswith("b") and f"W{layer}" not in {w.name for w in wrong}:
            message += f"; only the bias of layer {layer} is wrong (W{layer} matches): look at how db is reduced over the samples"
        causes = _causes(ctx, layer)
        found.append(
            finding(
                "G101",
                message,
                layer=layer,
                parameter=t.name,
                path=path_of(layer),
                evidence={
                    "relative_error": t.error,
                    "classification": t.classification,
                    "factor": t.factor,
                    "mode": t.mode,
                    "worst": [
                        {"index": list(i), "backprop": a, "numeric": n} for i, a, n in t.worst()
                    ],
                    "first_wrong": first,
                },
                fix=Fix(
                    f"fix the backward step of layer {layer}"
                    + (" (see the findings it is caused by)" if causes else "")
                ),
                caused_by=causes,
            )
        )
    return found


def gradient_check(ctx: Context) -> list[Finding]:
    if ctx.init is None or not np.isfinite(ctx.init.loss) or ctx.spec.implementation is not None:
        return []  # with an implementation, the user's own backward is what gets checked
    result, excluded = check_network(ctx)
    found = mismatches(ctx, result, ctx.layer_path)
    unverifiable = [t for t in result.tensors if t.unverifiable]
    kinks = sum(t.kinks for t in result.tensors)
    if unverifiable or kinks:  # samples left out near kinks alone do not weaken the check
        reasons = [f"{t.name}: {t.unverifiable}" for t in unverifiable]
        if kinks:
            reasons.append(f"{kinks} differences crossed a ReLU kink and were left out")
        if excluded:
            reasons.append(
                f"{excluded} samples left out: a ReLU pre-activation within {KINK:g} of its kink"
            )
        found.append(
            finding(
                "G104",
                "the gradient check could not judge everything: " + "; ".join(reasons),
                evidence={
                    "unverifiable": [t.name for t in unverifiable],
                    "excluded_samples": excluded,
                    "kink_crossings": kinks,
                },
                # gradients too small to measure: a symmetric or saturated net explains them
                caused_by=[c for c in ("Y101", "D102", "Y103") if ctx.has(c)]
                if unverifiable
                else [],
            )
        )
    ctx.gradcheck_result = result
    return found


def user_precision(ctx: Context) -> list[Finding]:
    """G104: a function of the user's own file that computes in single precision, where float64
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
                finding(
                    "G104",
                    f"`{uf.text}` computes in {out.dtype} although it is given float64: its rounding (~{np.finfo(out.dtype).eps:.0e} relative) limits how closely a gradient through it can be checked",
                    path=path,
                    evidence={"dtype": str(out.dtype)},
                    fix=Fix(
                        "let the function keep its input's dtype (drop the .astype(np.float32)) while checking"
                    ),
                )
            )
    return found
