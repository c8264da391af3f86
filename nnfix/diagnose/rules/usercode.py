"""U: the user's own forward/backward code (SPEC §3) — when it raises or returns the wrong
thing (U101), and when its forward is not the spec's network (U102); its gradients are checked
here too, for the shapes (G103) and against central differences of its own loss (G101)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from nnfix.diagnose.context import Context
from nnfix.diagnose.conventions import Reading
from nnfix.diagnose.findings import Finding, Fix, Severity, Source
from nnfix.diagnose.gradcheck import Target, check_target
from nnfix.diagnose.network_check import kinked, rounding, sides, smooth
from nnfix.diagnose.rules.gradients import (
    G101,
    G103,
    G104,
    G105,
    budget_finding,
    gradient_findings,
    unreliable,
)
from nnfix.diagnose.rules.rule import ERROR, USER_CODE, WARNING, Rule, check, prose, yaml_block
from nnfix.engine.network import Network
from nnfix.fix.usercode import SUMMED, bias_fix, bias_line, source_file, summed_axis
from nnfix.usercode.culprit import (
    Culprit,
    Judge,
    Search,
    Trace,
    calibrate,
    trace_forward,
    trace_gradients,
)
from nnfix.usercode.loader import Place
from nnfix.usercode.model import Batch, UserModel
from nnfix.usercode.sandbox import Broken, UserCallError
from nnfix.usercode.truth import Truth

FAMILY = "U", "the user's own code"  # the code prefix, and what its rules cover

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


def user_error(exc: UserCallError) -> Finding:
    """U101 for a call into the user's code that raised, exited, hung or returned nonsense,
    pointed at the deepest line of theirs it went through."""
    found = U101.finding(
        str(exc) if str(exc).startswith(exc.role) else f"{exc.role} {exc}",
        path=exc.path or ("implementation", exc.function),
        evidence={"traceback": exc.trace} if exc.trace else {},
    )
    if exc.where is not None:
        place, code = exc.where
        found.location.source = source(place, place.col or 1, code)
    return found


def source(place: Place, col: int, code: str) -> Source:
    """A place in the user's files as the report names it: relative to the working directory
    where the file is under it."""
    try:
        file = place.file.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        file = place.file.as_posix()
    return Source(file, place.line, col, code, place.cell)


def _point(finding: Finding, culprit: Culprit | None, lead: str) -> None:
    """Name the user's line behind a finding: in its location, message and evidence."""
    if culprit is None:
        return
    finding.location.source = source(culprit.place, culprit.col, culprit.code)
    finding.message += f"; {lead} {culprit.place.file.name}:{culprit.place.line}: {culprit.says}"
    finding.evidence["culprit"] = culprit.evidence()


def _search(ctx: Context, model: UserModel, trace: Trace | None, right: list[str]) -> Search | None:
    """A traced call of the user's code, and the truth to compare it with."""
    if trace is None:
        return None
    b = trace.batch
    truth = Truth(model, ctx.network, ctx.loss, b.x, b.y, b.labels, ctx.spec.train.l2)
    c = calibrate(trace.grads, truth, right) if trace.grads is not None else 1.0
    slots = {s.name: (s.layer, s.role) for s in ctx.network.slots}
    return Search(trace, truth, Judge(truth, c, model.precision), slots)


def _locate_forward(ctx: Context, model: UserModel, finding: Finding) -> None:
    """Point a U102 at the first line of the user's forward that makes a wrong value."""
    try:
        search = _search(ctx, model, trace_forward(model, ctx.user_batch), [])
        if search is not None:
            _point(finding, search.forward(), "the first wrong value is made at")
    except Exception:
        if os.environ.get("NNFIX_DEBUG"):
            raise
    finally:
        model.set_params(ctx.user_values)


def _locate(ctx: Context, model: UserModel, found: list[Finding], right: list[str]) -> None:
    """Point each G101 (the first wrong tensor), G103 and U101 of the user's backward at the
    line of theirs where it starts (SPEC §3)."""
    wanted = [
        f
        for f in found
        if f.code in ("G103", "U101") or (f.code == "G101" and f.evidence.get("first_wrong"))
    ]
    if not wanted:
        return
    try:
        search = _search(ctx, model, trace_gradients(model, ctx.user_batch), right)
        if search is None:
            return
        for f in wanted:
            if ctx.options.remaining() <= 0:  # --budget: the findings stand without their line
                f.evidence["line"] = "not searched: --budget ran out"
                continue
            name = f.location.parameter
            if f.code == "U101":
                _point(f, search.raised(), "the wrong value is made at")
            elif f.code == "G101" and name:
                _point(f, search.gradient(name), "your backward first goes wrong at")
            elif f.code == "G103" and name in (
                search.trace.grads.wrong if search.trace.grads else {}
            ):
                _point(f, search.shape(name), "it is made at")
                _sum_fix(f, search, name)
            elif f.code == "G103" and name:
                _point(f, search.missing(name), "see")
    except Exception:
        if os.environ.get("NNFIX_DEBUG"):
            raise
        # the line is a help, not the finding: a failure to find it must not lose the finding
    finally:
        model.set_params(ctx.user_values)


def _sum_fix(finding: Finding, search: Search, name: str) -> None:
    """A bias gradient not summed over the samples, located: how its sum compares with the true
    gradient (evidence `summed`), and the fix `nnfix fix` writes (or suggests) for the line —
    for a bias gradient summed over the other axis too, where fix turns the axis."""
    if finding.location.source is None:
        return
    summed = _summed(search, name)
    if summed is not None:
        finding.evidence["summed"] = summed
    try:
        text = source_file(finding.location.source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    if finding.fix is not None or bias_line(finding, text) is not None:
        finding.fix = Fix(bias_fix(finding, text))


def _summed(search: Search, name: str) -> str | None:
    """The gradient of `name` as their backward gives it, summed over the samples, against the
    true one: "right", "m times" (the 1/m is missing) or "1/m" (divided by m twice)."""
    grads = search.trace.grads
    if grads is None or name not in grads.wrong or f"d{name}" not in search.truth.by_name:
        return None
    shape, want, _ = grads.wrong[name]
    m = search.judge.m
    axis = summed_axis(shape, want, m)
    if axis is None:
        return None
    total = np.asarray(grads.raw[name], dtype=np.float64).sum(axis=axis[0], keepdims=axis[1])
    r = search.judge.proportional(total, search.truth.by_name[f"d{name}"], final=True)
    for word, factor in zip(SUMMED, (1.0, float(m), 1.0 / m), strict=True):
        if r is not None and abs(r / factor - 1) < 1e-6:
            return word
    return None


def _model(ctx: Context, report: bool = True) -> tuple[UserModel | None, list[Finding]]:
    """The user's code as found on the check batch; or the U101 that stopped finding it
    (reported by the first check that asks)."""
    if ctx.spec.implementation is None or ctx.y_train is None:
        return None, []
    try:
        return ctx.user, []
    except UserCallError as exc:
        return None, [user_error(exc)] if report else []
    except Broken:
        return None, []


def _arrays(node, found=None) -> list[np.ndarray]:
    """Every array in what a forward left behind (a cache, an object), however nested."""
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
    model, found = _model(ctx)
    if model is None:
        return found
    batch = ctx.user_batch
    before = model.get_params()
    try:
        out = model.forward(batch.x)
    except UserCallError as exc:
        return [user_error(exc)]
    except Broken:
        return []
    if out is None:
        return []  # no forward of their own: the spec's network is the truth
    out = model.reading(out)[1]  # scores: compared through the spec's output activation
    changed = [n for n, v in model.get_params().items() if not np.array_equal(v, before[n])]
    if changed:
        model.set_params(before)
        found.append(
            U101.finding(
                f"your forward changes the parameters it is given ({', '.join(changed)}): a "
                "training loop that reuses them trains other weights than it thinks",
                path=("implementation", "forward"),
                evidence={"mutated": changed},
                severity=Severity.WARNING,
            )
        )
    if any(p.ref.get().dtype == np.float32 for p in model.params):
        found.append(
            G104.finding(
                "your code computes in float32: its gradients are checked with a larger step and "
                "judged only beyond float32's rounding (about 1e-4 relative)",
                path=("implementation", "module"),
                evidence={"dtype": "float32"},
            )
        )
    reference = ctx.network.forward(batch.x)
    expected = reference.a[-1]
    bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
    if bad and np.all(np.isfinite(expected)):
        found.append(
            U102.finding(
                f"your forward's output holds {bad} non-finite value{'s' if bad != 1 else ''} "
                f"(NaN or inf) of {np.size(out)}, where the spec's network gives finite ones",
                path=("implementation", "forward"),
                evidence={"non_finite": bad, "size": int(np.size(out))},
                fix=Fix(
                    "find where your forward divides by zero, takes the log of 0 or overflows "
                    "(exp of a large value)"
                ),
            )
        )
        return found
    if not np.allclose(out, expected, rtol=RTOL, atol=ATOL):
        layer = _first_parting(model, reference)
        where = (
            f"; the first layer whose values part from the spec's is layer {layer}" if layer else ""
        )
        difference = float(np.max(np.abs(out - expected)))
        parting = U102.finding(
            f"your forward does not compute the spec's network: its output differs by up to "
            f"{difference:.3g}{where}",
            layer=layer,
            path=ctx.layer_path(layer, "activation") if layer else ("implementation", "forward"),
            evidence={"max_difference": difference, "first_layer": layer},
            fix=Fix(
                "make the spec's model describe the network your code computes (layer sizes, "
                "activations, order), or fix your forward at the line named"
            ),
        )
        found.append(parting)
        _locate_forward(ctx, model, parting)
    return found


def _first_parting(model: UserModel, reference) -> int | None:
    """The first layer whose activations, in the user's layout, appear nowhere among the
    arrays their forward left behind (all hidden ones there: the output layer)."""
    arrays = [a for a in _arrays(model.left_behind) if isinstance(a, np.ndarray)]
    if not arrays:
        return None
    for l, a in enumerate(reference.a[:-1], start=1):
        if not any(
            (seen := model.layout.outputs(arr, len(a), a.shape[1])) is not None
            and np.allclose(seen, a, rtol=RTOL, atol=ATOL)
            for arr in arrays
        ):
            return l
    return len(reference.a)


def _not_summed(name: str, shape: tuple, want: tuple, m: int) -> bool:
    return name.startswith("b") and m in shape and int(np.prod(shape)) == int(np.prod(want)) * m


@check(USER_CODE, G103, G101, G105, G104, U101)
def user_gradients(ctx: Context) -> list[Finding]:
    """The user's backward: a gradient for every parameter, of its shape, matching finite
    differences of the loss their own forward gives; each wrong one pointed at their line."""
    model, found = _model(ctx, report=False)
    if model is None:
        return found
    found, right = _gradients(ctx, model)
    _locate(ctx, model, found, right)
    return found


def _gradients(ctx: Context, model: UserModel) -> tuple[list[Finding], list[str]]:
    """The findings about their gradients, and the parameters whose gradients are right."""
    found: list[Finding] = []
    batch, excluded = _smooth_batch(ctx)
    m = batch.m
    try:
        grads = model.gradients(batch)
    except UserCallError as exc:
        return [user_error(exc)], []
    except Broken:
        return [], []
    path = ("implementation", "backward")
    layer_of = {s.name: s.layer for s in ctx.network.slots}
    names = {p.slot.name: p.name for p in model.params}
    for name in grads.missing:
        found.append(
            G103.finding(
                f"no gradient for {name} (such as 'd{names.get(name, name)}') in "
                f"{grads.where or 'what your backward returns or sets'}",
                parameter=name,
                layer=layer_of[name],
                path=path,
                evidence={"found": sorted(grads.paths.values())},
            )
        )
    for key in grads.extra:
        found.append(
            G103.finding(
                f"gradient {key!r} belongs to no parameter: the net has {ctx.network.depth} layers",
                path=path,
                evidence={"key": key},
            )
        )
    for name, (shape, want, where) in grads.wrong.items():
        message = (
            f"the gradient of {name} ({grads.shown(where)}) has shape {shape}, {name} has {want}"
        )
        summed = _not_summed(name, shape, want, m)
        if summed:
            message += (
                f": it is not summed over the {m} samples, so `b -= lr * db` would turn {name} "
                "into a matrix"
            )
        shaped = G103.finding(
            message,
            layer=layer_of[name],
            parameter=name,
            path=path,
            evidence={"shape": list(shape), "expected": list(want), "samples": m},
        )
        if summed:
            shaped.fix = Fix(bias_fix(shaped, None, 1 if model.layout.columns else 0))
        found.append(shaped)
    for name, value in grads.arrays.items():
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        if bad:
            found.append(
                G101.finding(
                    f"the gradient of {name} ({grads.shown(grads.paths.get(name, 'from your backward'))}) "
                    f"holds {bad} non-finite value{'s' if bad != 1 else ''} (NaN or inf) of "
                    f"{np.size(value)}: one step of gradient descent makes {name} non-finite",
                    layer=layer_of[name],
                    parameter=name,
                    path=path,
                    evidence={"non_finite": bad, "size": int(np.size(value)), "first_wrong": True},
                    fix=Fix(
                        "find where your backward divides by zero, takes the log of 0 or "
                        "overflows (exp of a large value) for this tensor"
                    ),
                )
            )
    finite = {n: v for n, v in grads.arrays.items() if np.all(np.isfinite(v))}
    if not finite:
        return found, []
    try:
        result = _check(ctx, model, batch, finite)
    except UserCallError as exc:
        return [*found, user_error(exc)], []
    finally:
        model.set_params(ctx.user_values)
    ctx.gradchecked = result
    judged, read = gradient_findings(
        result,
        batch_size=m,
        loss=ctx.spec.loss,
        layer_of=layer_of.__getitem__,
        path_of=lambda layer: path,
        what="your backward",
    )
    if grads.from_update and read.convention is not None and read.c < 0:
        judged = _climbs(judged, read, layer_of, path, model.update_lr)
        read = Reading(1.0, [], read.off + read.agree)  # nothing right: the update is the bug
    off = {t.name for t in read.off}  # right: up to the constant the rest of it carries
    right = [t.name for t in result.tensors if t.name not in off]
    return found + judged + budget_finding(result) + unreliable(result, excluded), right


def _climbs(
    judged: list[Finding], read: Reading, layer_of: dict, path, lr: float | None
) -> list[Finding]:
    """An in-place update along +gradient (SPEC §3.5): what reads as a constant c < 0 in the
    gradient it implies is no convention — the update climbs the loss. A G101 at the tensor
    nearest the output that carries it, in place of the G105."""
    names = [t.name for t in read.agree]
    first = names[0]
    climbing = G101.finding(
        f"your update moves {_listed(names)} along +{-read.c:.3g} × the gradient: it climbs the "
        "loss instead of descending it",
        layer=layer_of[first],
        parameter=first,
        path=path,
        evidence={"factor": read.c, "tensors": names, "first_wrong": True, "update_lr": lr},
        fix=Fix(
            "flip the sign of the step: `W -= lr * dW` where dW is the gradient, `W += lr * d` "
            "where d is the descent direction"
        ),
    )
    return [climbing, *(f for f in judged if f.code != "G105")]


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _smooth_batch(ctx: Context) -> tuple[Batch, int]:
    """The batch their gradients are checked on: the user batch without the samples that sit on
    a ReLU kink (as the network's own check leaves them out), and how many were left out."""
    full = ctx.user_batch
    keep, excluded = smooth(ctx.network, ctx.network.forward(full.x), full.m)
    if len(keep) == full.m or len(keep) == 0:  # none left (non-finite inputs): check them all
        return full, 0
    labels = full.labels[keep] if full.labels is not None else None
    return Batch(full.x[keep], full.y[keep], labels), excluded


def _saturated(loss: str, a: np.ndarray, y: np.ndarray) -> bool:
    """An output probability of exactly 0 or 1 (to the loss's clipping) where its target needs
    the other end: the spec's loss, computed from the output, is clipped and flat there, while
    their backward differentiates the true one."""
    e = 1e-7 if a.dtype == np.float32 else 1e-12
    if loss == "bce":
        return bool(np.any((a <= e) & (y > 0)) or np.any((a >= 1 - e) & (y < 1)))
    if loss == "cce":
        return bool(np.any((a <= e) & (y > 0)))
    return False


def _check(ctx: Context, model: UserModel, batch: Batch, grads: dict[str, np.ndarray]):
    """Their gradients against central differences of the loss of their own forward (their
    loss where they give one, the spec's otherwise), output layer first. The spec's network at
    the same values says which side of its kinks every ReLU-like unit is on, and how much the
    values the loss is computed through add to its rounding (a saturated output, say)."""
    names = [s.name for s in sorted(ctx.network.slots, key=lambda s: -s.layer) if s.name in grads]
    start = ctx.user_values
    arrays = [np.array(start[n], dtype=np.float64, order="C") for n in names]
    values = dict(start)
    network = ctx.network
    layers = kinked(network, network.forward(batch.x))
    side = [b""]

    def spec_net() -> Network:
        return network.with_params([values[n] for n in network.names])

    def loss(_tensor: int | None) -> float:
        values.update(zip(names, arrays, strict=True))
        model.set_params(values)
        if layers:
            net = spec_net()
            side[0] = sides(net, net.forward(batch.x), layers)
        theirs = model.loss(batch)
        if theirs is not None:
            return theirs
        out = model.forward(batch.x)
        if out is None:  # no forward of their own: the spec's network with their values
            net = spec_net()
            return net.loss(net.forward(batch.x), batch.y, ctx.loss)
        z, a, output = model.reading(out)  # their scores: through the spec's output activation
        if output is None and _saturated(ctx.loss.name, a, batch.y):
            return math.inf  # the loss is clipped there: flat, nothing to check against
        return ctx.loss.value(z, a, batch.y, output)

    net = spec_net()
    with np.errstate(all="ignore"):
        size = rounding(net, net.forward(batch.x), batch.y, ctx.loss, from_output=True)
    gc = ctx.options.gradcheck
    target = Target(
        arrays,
        [grads[n] for n in names],
        names,
        loss,
        (lambda: side[0]) if layers else None,
        precision=model.precision,
        rounding=size,
    )
    with np.errstate(all="ignore"):
        return check_target(
            target,
            eps=gc.get("eps", 1e-6),
            mode=gc.get("mode", "auto"),
            samples=gc.get("samples", 16),
            seed=ctx.spec.seed,
            batch_size=batch.m,
            deadline=ctx.options.deadline,
        )
