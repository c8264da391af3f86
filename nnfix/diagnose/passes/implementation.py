"""The user's own forward/backward code (SPEC §3): U101 when it raises or returns the wrong
thing, U102 when its forward is not the spec's network, G103 for gradients of the wrong shape
or missing, G101 for gradients that do not match central differences of their own loss."""

from __future__ import annotations

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix, Severity
from nnfix.diagnose.gradcheck import gradcheck
from nnfix.diagnose.passes.gradients import mismatches
from nnfix.diagnose.pipeline import finding
from nnfix.errors import InputError, Problem
from nnfix.implementation.adapter import Implementation, UserCallError
from nnfix.implementation.binding import BindingError
from nnfix.spec.usercode import RefError

BATCH = 32


def _implementation(ctx: Context) -> Implementation | None:
    if ctx.spec.implementation is None:
        return None
    if "implementation" not in ctx.cache:
        try:
            ctx.cache["implementation"] = Implementation(ctx.loaded, ctx.network)
        except RefError as exc:
            key = "module" if "file not found" in str(exc) else "forward"
            raise InputError(
                [Problem(str(exc), path=("implementation", key), hint=exc.hint)],
                source=ctx.loaded.source,
            ) from None
    return ctx.cache["implementation"]


def _error(exc: UserCallError | BindingError, role: str) -> Finding:
    """U101 for a function that raised or returned the wrong thing; a signature nnfix cannot
    bind is not a finding but bad input (exit 2): nothing of that function could be run."""
    if isinstance(exc, BindingError):
        raise InputError(
            [Problem(str(exc), path=("implementation", role))], kind="module"
        ) from None
    trace = getattr(exc, "trace", None)
    return finding(
        "U101",
        str(exc),
        path=("implementation", getattr(exc, "function", role)),
        evidence={"traceback": trace} if trace else {},
    )


def _batch(ctx: Context, impl: Implementation):
    rows = np.flatnonzero(ctx.finite_rows)[:BATCH]
    x, y = ctx.data.x_train[rows], ctx.y_train[rows]
    return x, y, impl.samples(x), impl.samples(y)


def _arrays(node, found=None) -> list[np.ndarray]:
    """Every array in a cache, however the user nested it."""
    found = [] if found is None else found
    if isinstance(node, np.ndarray):
        found.append(node)
    elif isinstance(node, dict):
        for v in node.values():
            _arrays(v, found)
    elif isinstance(node, list | tuple):
        for v in node:
            _arrays(v, found)
    return found


def user_forward(ctx: Context) -> list[Finding]:
    """U101/U102 for the user's forward."""
    impl = _implementation(ctx)
    if impl is None or ctx.y_train is None:
        return []
    x, _, X, _ = _batch(ctx, impl)
    params = impl.params(ctx.network)
    before = impl.snapshot(params)
    try:
        with np.errstate(all="ignore"):
            AL, cache = impl.forward(params, X)
    except (UserCallError, BindingError) as exc:
        return [_error(exc, "forward")]
    found = []
    changed = [k for k in before if not np.array_equal(before[k], params[k])]
    if changed:
        found.append(
            finding(
                "U101",
                f"{impl.forward_fn.__name__} changes the parameters it is given ({', '.join(changed)}): nnfix passes copies, but a training loop that reuses them trains other weights than it thinks",
                path=("implementation", "forward"),
                evidence={"mutated": changed},
                severity=Severity.WARNING,
            )
        )
    reference = ctx.network.forward(x)
    expected = impl.samples(reference.a[-1])
    if AL.dtype == np.float32:
        found.append(
            finding(
                "G104",
                f"{impl.forward_fn.__name__} computes in float32 although it is given float64: gradients through it can only be checked to about 1e-3",
                path=("implementation", "forward"),
                evidence={"dtype": "float32"},
            )
        )
    if AL.shape != expected.shape:
        found.append(
            finding(
                "U102",
                f"{impl.forward_fn.__name__} returns AL of shape {AL.shape}; the spec's network gives {expected.shape} ({impl.spec.layout} layout)",
                path=("implementation", "forward"),
                evidence={"shape": list(AL.shape), "expected": list(expected.shape)},
            )
        )
    elif not np.allclose(AL, expected, rtol=1e-5, atol=1e-7):
        layer = _first_parting(impl, cache, reference)
        where = (
            f"; the first layer whose values part from the spec's is layer {layer}" if layer else ""
        )
        found.append(
            finding(
                "U102",
                f"{impl.forward_fn.__name__} does not compute the spec's network: its output differs by up to {float(np.max(np.abs(AL - expected))):.3g}{where}",
                layer=layer,
                path=ctx.layer_path(layer, "activation")
                if layer
                else ("implementation", "forward"),
                evidence={
                    "max_difference": float(np.max(np.abs(AL - expected))),
                    "first_layer": layer,
                },
                fix=Fix(
                    "make the spec's model describe the network your code computes (layer sizes, activations, order)"
                ),
            )
        )
    ctx.cache["forward"] = (AL, cache)
    return found


def _first_parting(impl: Implementation, cache, reference) -> int | None:
    """The first layer whose activations, in the user's layout, appear nowhere in their cache
    (the output itself is compared directly, so all hidden ones matching points at the last)."""
    arrays = _arrays(cache)
    if not arrays:
        return None
    for l, a in enumerate(reference.a[:-1], start=1):
        want = impl.samples(a)
        if not any(
            arr.shape == want.shape and np.allclose(arr, want, rtol=1e-5, atol=1e-7)
            for arr in arrays
        ):
            return l
    return len(reference.a)


def user_gradients(ctx: Context) -> list[Finding]:
    """G103 and G101 for the user's backward."""
    impl = _implementation(ctx)
    if impl is None or ctx.y_train is None or "forward" not in ctx.cache:
        return []
    x, _, X, Y = _batch(ctx, impl)
    m = len(x)
    params = impl.params(ctx.network)
    AL, cache = ctx.cache["forward"]
    try:
        with np.errstate(all="ignore"):
            grads = impl.backward(params, X, Y, AL, cache)
    except (UserCallError, BindingError) as exc:
        return [_error(exc, "backward")]
    matched = impl.gradients(grads)
    found = []
    path = ("implementation", "backward")
    for name in matched.missing:
        found.append(
            finding(
                "G103",
                f"no gradient for {name}: expected the key '{impl.grad_key[name]}' (your backward returned {', '.join(map(str, grads)) or 'nothing'})",
                parameter=name,
                layer=int(name[1:]),
                path=path,
                evidence={"keys": [str(k) for k in grads]},
            )
        )
    for key in matched.extra:
        found.append(
            finding(
                "G103",
                f"gradient '{key}' belongs to no parameter: the net has {impl.depth} layers",
                path=path,
                evidence={"key": key},
            )
        )
    checkable = {}
    for name, g in matched.arrays.items():
        want = params[impl.key[name]].shape
        if g.shape == want:
            checkable[name] = g
            continue
        summed = (
            name.startswith("b") and m in g.shape and g.size == want[0 if impl.columns else 1] * m
        )
        axis = 1 if impl.columns else 0
        message = f"the gradient of {name} has shape {g.shape}, {name} has {want}"
        fix = None
        if summed:
            message += f": it is not summed over the {m} samples, so `b -= lr * db` would turn {name} into a matrix"
            fix = Fix(
                f"sum over the samples: {impl.grad_key[name]} = np.sum(dZ, axis={axis}, keepdims=True) / m"
            )
        found.append(
            finding(
                "G103",
                message,
                layer=int(name[1:]),
                parameter=name,
                path=path,
                evidence={"shape": list(g.shape), "expected": list(want), "samples": m},
                fix=fix,
            )
        )
    if not checkable:
        return found
    full = impl.params(ctx.network)

    def f(ps: dict) -> float:
        merged = {**full, **{k: v.copy() for k, v in ps.items()}}
        AL_, _ = impl.forward(merged, X)
        return impl.loss(AL_, Y, ctx.loss)

    order_names = [
        n for l in range(impl.depth, 0, -1) for n in (f"W{l}", f"b{l}") if n in checkable
    ]
    subset = {impl.key[n]: full[impl.key[n]] for n in order_names}
    gc = ctx.options.gradcheck
    try:
        with np.errstate(all="ignore"):
            result = gradcheck(
                f,
                [checkable[n] for n in order_names],
                subset,
                names=order_names,
                eps=gc.get("eps", 1e-6),
                mode=gc.get("mode", "auto"),
                samples=gc.get("samples", 16),
                batch_size=m,
                seed=ctx.spec.seed,
            )
    except UserCallError as exc:
        return [*found, _error(exc, exc.function)]
    found += mismatches(ctx, result, lambda layer: path, where_code="your backward")
    return found
