"""U: the user's own forward/backward code (SPEC §3) — when it raises or returns the wrong
thing (U101), and when its forward is not the spec's network (U102); its gradients are checked
here too, for the shapes (G103) and against central differences of its own loss (G101)."""

from __future__ import annotations

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.findings import Finding, Fix, Severity
from nnfix.diagnose.gradcheck import gradcheck
from nnfix.diagnose.rules.gradients import G101, G103, G104, mismatches
from nnfix.diagnose.rules.rule import ERROR, USER_CODE, WARNING, Rule, check, prose, yaml_block
from nnfix.errors import ModuleError, Problem
from nnfix.implementation.adapter import Implementation, UserCallError
from nnfix.implementation.binding import BindingError

FAMILY = "U", "the user's own code"  # the code prefix, and what its rules cover

BATCH = 32  # samples the user's code is called on
RTOL, ATOL = 1e-5, 1e-7  # U102: their output agrees with the spec's network to this


U101 = Rule(
    code="U101",
    name="user-code-error",
    severity=ERROR,
    summary="the user's function raised or returned the wrong type: shows their traceback, not nnfix's",
    detects=prose("""
        A function of yours — a `file.py:function` activation or derivative, or the
        `implementation:` forward, backward or loss — that raised, or returned something other
        than what nnfix expects (an array of z's shape, `AL` or `(AL, cache)`, a dict of
        gradients, a number). The finding shows your traceback with nnfix's frames left out.
        """),
    why=prose("""
        nnfix cannot check what it cannot run; the passes that do not need the function carry
        on.
        """),
    fix=prose("""
        Fix the function at the line the traceback points at; the message says what was
        expected.
        """),
    before=yaml_block("""
        implementation:
          module: my_net.py
          forward: forward_propagation
          backward: backward_propagation
        # my_net.py: backward_propagation builds grads but ends without `return grads`
        """),
    after=yaml_block("""
        implementation:
          module: my_net.py
          forward: forward_propagation
          backward: backward_propagation
        # my_net.py: backward_propagation ends with `return grads`
        """),
)


U102 = Rule(
    code="U102",
    name="forward-mismatch",
    severity=WARNING,
    summary="the user's forward does not compute the network the spec declares",
    detects=prose("""
        Your forward function, given the same parameters and inputs as nnfix's reference
        forward pass, returns a different output. Where your cache shows the intermediates,
        the finding names the first layer where shapes or values part.
        """),
    why=prose("""
        If your code computes another network than the spec declares — an activation swapped,
        a layer skipped, W used untransposed — every other check compares your gradients and
        your training against the wrong model.
        """),
    fix=prose("""
        Make the spec describe the network your code computes, or fix your forward pass at
        the layer named.
        """),
    before=yaml_block("""
        model:
          layers:
            - {units: 8, activation: relu}       # my_net.py uses np.tanh here
            - {units: 1, activation: sigmoid}
        implementation:
          module: my_net.py
          forward: forward_propagation
          backward: backward_propagation
        """),
    after=yaml_block("""
        model:
          layers:
            - {units: 8, activation: tanh}
            - {units: 1, activation: sigmoid}
        implementation:
          module: my_net.py
          forward: forward_propagation
          backward: backward_propagation
        """),
)


def user_error(exc: UserCallError | BindingError, role: str, ctx: Context) -> Finding:
    """U101 for a function that raised or returned the wrong thing; a signature nnfix cannot
    bind is not a finding but bad input (exit 2): nothing of that function could be run."""
    if isinstance(exc, BindingError):
        raise ModuleError(
            [Problem(str(exc), path=("implementation", role))], ctx.loaded.source
        ) from None
    trace = getattr(exc, "trace", None)
    return U101.finding(
        str(exc),
        path=("implementation", getattr(exc, "function", role)),
        evidence={"traceback": trace} if trace else {},
    )


def _batch(ctx: Context, impl: Implementation):
    assert ctx.y_train is not None
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


@check(USER_CODE, U101, U102, G104)
def user_forward(ctx: Context) -> list[Finding]:
    """The user's forward: does it run, and does it compute the spec's network?"""
    impl = ctx.implementation
    if impl is None or ctx.y_train is None:
        return []
    x, _, X, _ = _batch(ctx, impl)
    params = impl.params(ctx.network)
    before = impl.snapshot(params)
    try:
        with np.errstate(all="ignore"):
            AL, cache = impl.forward(params, X)
    except (UserCallError, BindingError) as exc:
        return [user_error(exc, "forward", ctx)]
    found = []
    name = impl.forward_fn.__name__
    changed = [k for k in before if not np.array_equal(before[k], params[k])]
    if changed:
        found.append(
            U101.finding(
                f"{name} changes the parameters it is given ({', '.join(changed)}): nnfix passes "
                "copies, but a training loop that reuses them trains other weights than it thinks",
                path=("implementation", "forward"),
                evidence={"mutated": changed},
                severity=Severity.WARNING,
            )
        )
    reference = ctx.network.forward(x)
    expected = impl.samples(reference.a[-1])
    if AL.dtype == np.float32:
        found.append(
            G104.finding(
                f"{name} computes in float32 although it is given float64: gradients through it "
                "can only be checked to about 1e-3",
                path=("implementation", "forward"),
                evidence={"dtype": "float32"},
            )
        )
    if AL.shape != expected.shape:
        found.append(
            U102.finding(
                f"{name} returns AL of shape {AL.shape}; the spec's network gives "
                f"{expected.shape} ({impl.spec.layout} layout)",
                path=("implementation", "forward"),
                evidence={"shape": list(AL.shape), "expected": list(expected.shape)},
            )
        )
    elif not np.allclose(AL, expected, rtol=RTOL, atol=ATOL):
        layer = _first_parting(impl, cache, reference)
        where = (
            f"; the first layer whose values part from the spec's is layer {layer}" if layer else ""
        )
        difference = float(np.max(np.abs(AL - expected)))
        found.append(
            U102.finding(
                f"{name} does not compute the spec's network: its output differs by up to "
                f"{difference:.3g}{where}",
                layer=layer,
                path=ctx.layer_path(layer, "activation")
                if layer
                else ("implementation", "forward"),
                evidence={"max_difference": difference, "first_layer": layer},
                fix=Fix(
                    "make the spec's model describe the network your code computes (layer sizes, "
                    "activations, order)"
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
            arr.shape == want.shape and np.allclose(arr, want, rtol=RTOL, atol=ATOL)
            for arr in arrays
        ):
            return l
    return len(reference.a)


@check(USER_CODE, G103, G101, U101)
def user_gradients(ctx: Context) -> list[Finding]:
    """The user's backward: a gradient for every parameter, of its shape, matching finite
    differences of their own loss."""
    impl = ctx.implementation
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
        return [user_error(exc, "backward", ctx)]
    matched = impl.gradients(grads)
    found = []
    path = ("implementation", "backward")
    layer_of = {s.name: s.layer for s in ctx.network.slots}
    for name in matched.missing:
        found.append(
            G103.finding(
                f"no gradient for {name}: expected the key '{impl.grad_key[name]}' (your backward "
                f"returned {', '.join(map(str, grads)) or 'nothing'})",
                parameter=name,
                layer=layer_of[name],
                path=path,
                evidence={"keys": [str(k) for k in grads]},
            )
        )
    for key in matched.extra:
        found.append(
            G103.finding(
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
            message += (
                f": it is not summed over the {m} samples, so `b -= lr * db` would turn {name} "
                "into a matrix"
            )
            fix = Fix(
                f"sum over the samples: {impl.grad_key[name]} = np.sum(dZ, axis={axis}, "
                "keepdims=True) / m"
            )
        found.append(
            G103.finding(
                message,
                layer=layer_of[name],
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

    order = [s.name for s in sorted(ctx.network.slots, key=lambda s: -s.layer)]
    order = [n for n in order if n in checkable]
    gc = ctx.options.gradcheck
    try:
        with np.errstate(all="ignore"):
            result = gradcheck(
                lambda ps: f(dict(zip([impl.key[n] for n in order], ps, strict=True))),
                [checkable[n] for n in order],
                [full[impl.key[n]] for n in order],
                eps=gc.get("eps", 1e-6),
                mode=gc.get("mode", "auto"),
                samples=gc.get("samples", 16),
                batch_size=m,
                seed=ctx.spec.seed,
            )
    except UserCallError as exc:
        return [*found, user_error(exc, exc.function, ctx)]
    for t, name in zip(result.tensors, order, strict=True):
        t.name = name
    found += mismatches(result, layer_of.__getitem__, lambda layer: path, "your backward")
    return found
