"""`nnfix init --from`: the user's module explored by calling it on a small batch, in nnfix's
worker. For each way their network is built (`sizes`), each function or method that could be
the forward is tried with SPEC §3's discovery (`usercode.shapes`), the activations read off
what it computed (`usercode.fit`); then the backward and loss candidates with that forward.
Each working set of roles is judged (`Verdict`): the loss and step its values show, and how
well it is supported; `conclude` makes the best one the spec."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnfix.engine.activations import Activation
from nnfix.engine.layers import Dense
from nnfix.engine.network import LayerActivation, Network
from nnfix.init import guess, roles, sizes
from nnfix.init.guess import LossGuess
from nnfix.init.sizes import Request, Sizes
from nnfix.spec.model import ImplementationSpec
from nnfix.usercode import objects, sandbox, survey
from nnfix.usercode.build import SHAPES
from nnfix.usercode.fit import Fitted, closest, fit
from nnfix.usercode.grads import Gradients
from nnfix.usercode.loader import LoadedModule
from nnfix.usercode.model import Batch, SetupError, UserModel
from nnfix.usercode.sandbox import Broken, UserCallError

Array = np.ndarray
BATCHES = (13, 11, 17, 19, 23, 29)  # a batch size none of the widths has: shapes then tell
PER_SAMPLE = (False, "vector", "column")
AVAILABLE = {  # what nnfix can pass, by shape and role
    ("functions", "forward"): {"params", "X"},
    ("functions", "backward"): {"params", "X", "Y", "cache", "output"},
    ("functions", "loss"): {"params", "X", "Y", "output"},
    ("object", "forward"): {"X"},
    ("object", "backward"): {"X", "Y", "output"},
    ("object", "loss"): {"X", "Y", "output"},
}
FAILED = (SetupError, UserCallError, Broken, ValueError, TypeError, KeyError)


# --- activations, as the spec writes them ---------------------------------------------------------


DEFAULT_SLOPES = {"leaky_relu": 0.01, "elu": 1.0}


def activation_value(act: Activation) -> Any:
    """As the spec writes it: the name, with the slope where it is not the default."""
    if act.alpha is not None and DEFAULT_SLOPES.get(act.name) != act.alpha:
        return {"name": act.name, "alpha": act.alpha}
    return act.name


def layer_activation(act: Activation) -> LayerActivation:
    derivative = act.derivative if act.elementwise else None
    return LayerActivation(act.name, act.fn, derivative, act, False)


def with_activations(network: Network, acts: list[Activation]) -> Network:
    return Network(
        [
            Dense(layer.W, layer.b, layer_activation(a))
            for layer, a in zip(network.dense_layers, acts, strict=True)
        ]
    )


class Fitter:
    """UserModel.fit for init: the activations read off what their forward computed."""

    def __init__(self) -> None:
        self.fitted: Fitted | None = None
        self.near: Fitted | None = None  # where none fits: the nearest built-in network

    def __call__(
        self, model: UserModel, out: Array, x: Array, values: dict[str, Array] | None
    ) -> Network | None:
        net = model.network
        values = values if values is not None else dict(zip(net.names, net.params, strict=True))
        weights = [np.asarray(values[f"W{l}"], dtype=np.float64) for l in range(1, net.depth + 1)]
        biases = [
            np.asarray(values[f"b{l}"], dtype=np.float64).reshape(1, -1)
            if f"b{l}" in values
            else None
            for l in range(1, net.depth + 1)
        ]
        single = model.out_dtype is not None and model.out_dtype == np.float32
        arrays = _left_behind(model)
        found = fit(out, x, weights, biases, arrays, 2e-4 if single else 1e-5)
        if found is None:
            self.near = closest(out, x, weights, biases, arrays, 2e-4 if single else 1e-5)
            return None
        self.fitted = found
        return with_activations(net, found.activations)


def _left_behind(model: UserModel) -> list[Array]:
    """Every array the last forward returned or left on the user's objects or module."""
    roots: list[Any] = [model.left_behind]
    roots += [getattr(model, "obj", None), *getattr(model, "objects", [])]
    if model.shape == "functions":
        roots.append(model.module)
    out: list[Array] = []
    seen: set[int] = set()
    for root in roots:
        if isinstance(root, np.ndarray):
            arrays = [root]
        elif root is None:
            continue
        else:
            arrays = [r.get() for r in objects.walk(root, "")]
        for a in arrays:
            if id(a) not in seen and isinstance(a, np.ndarray) and a.dtype.kind == "f":
                seen.add(id(a))
                out.append(a)
    return out


# --- trying a set of roles ------------------------------------------------------------------------


@dataclass
class Attempt:
    """One set of roles tried, and what calling it showed."""

    sizes: Sizes
    impl: dict[str, Any]
    network: Network | None = None  # the spec's network with the activations found
    fitted: Fitted | None = None
    found: list[str] = field(default_factory=list)
    output: Array | None = None  # their forward's output on the batch (rows)
    grads: Gradients | None = None
    in_place: bool = False
    values: dict[str, Array] | None = None  # the parameters their gradients were taken at
    loss_value: float | None = None
    rank: int = 0  # the name tiers of its roles, summed: lower is likelier
    failure: str = ""
    ran: bool = False  # the forward ran on the batch (and gave an output of the right shape)
    approximate: bool = False  # no built-in network computes it: the nearest is taken
    raised: bool = False  # the backward raised inside the user's code (a U101 to report)
    near: Network | None = None  # the nearest built-in network, where none fits
    bias_form: str | None = None  # the bias shape discovery gave their code
    near_fit: Fitted | None = None

    @property
    def complete_grads(self) -> bool:
        g = self.grads
        return g is not None and not g.wrong and not g.missing and bool(g.arrays)


def probe_batch(units: list[int], request: Request) -> Batch:
    m = next(b for b in BATCHES if b not in units)
    rng = np.random.default_rng(5)
    n_in, k = units[0], units[-1]
    if request.x is not None and len(request.x) >= 2:
        rows = np.flatnonzero(np.all(np.isfinite(request.x), axis=1))[:m]
        x = np.asarray(request.x[rows], dtype=np.float64)
        m = len(x)
    else:
        x = rng.normal(0.0, 1.0, (m, n_in))
    if k == 1:
        labels = rng.integers(0, 2, m)
        return Batch(x, labels[:, None].astype(np.float64), None)
    labels = rng.permutation(np.arange(m) % k)
    return Batch(x, np.eye(k)[labels], labels)


def _model(a: Attempt, loaded: LoadedModule) -> tuple[UserModel, Fitter]:
    # a call that hung marks its role ("forward") broken for the rest of a diagnosis; here
    # each candidate is another function under the same role: the next one gets its chance
    sandbox.GUARD.broken.clear()
    impl = ImplementationSpec(module=loaded.path.name, **a.impl)
    model = SHAPES[impl.shape](impl, loaded.module, a.sizes.network())
    fitter = Fitter()
    model.fit = fitter
    return model, fitter


def _forward(a: Attempt, loaded: LoadedModule, batch: Batch) -> Attempt:
    """Does this forward compute a network of these sizes? The activations that say so."""
    try:
        model, fitter = _model(a, loaded)
        model.discover(batch)
        out = model.forward(batch.x)
        if out is None:
            a.failure = "computes nothing nnfix can read"
            return a
        a.ran = True
        a.bias_form = model.layout.bias
        if not model.matches(out, batch.x, model.get_params()):
            a.failure = "its output is no network of these sizes with built-in activations"
            if fitter.near is not None:
                a.near = with_activations(model.network, fitter.near.activations)
                a.near_fit, a.output = fitter.near, out
                a.found = model.found.lines()
            return a
    except FAILED as exc:
        a.failure = str(exc)
        return a
    a.network, a.fitted, a.output = model.network, fitter.fitted, out
    a.found = model.found.lines()
    return a


def read_gradients(a: Attempt, loaded: LoadedModule, batch: Batch) -> Attempt:
    """What this backward gives, with this forward (reading an in-place update as −Δ)."""
    for update in (None, 1.0):
        impl = {**a.impl, "update_lr": update} if update else a.impl
        try:
            model, _ = _model(Attempt(a.sizes, impl), loaded)
            model.discover(batch)
            model.fit = None
            if a.network is not None:
                model.network = a.network
            found = model.gradients(batch)
        except SetupError as exc:
            if exc.key == "backward" and "update_lr" in (exc.hint or "") and update is None:
                continue
            a.failure = str(exc)
            return a
        except UserCallError as exc:
            a.failure = str(exc)
            a.raised = exc.trace is not None and " line " in exc.trace  # in their own code
            return a
        except FAILED as exc:
            a.failure = str(exc)
            return a
        if _holds_parameters(found, model):
            a.failure = "returns the parameters themselves, not gradients"
            return a
        a.grads, a.in_place = found, update is not None
        a.values = model.get_params()
        a.found = model.found.lines()
        return a
    return a


def _holds_parameters(found: Gradients, model: UserModel) -> bool:
    """Did it hand back the parameter arrays themselves (a `parameters()` method)?"""
    params = [p.ref.get() for p in model.params]
    return any(
        isinstance(g, np.ndarray) and any(np.shares_memory(g, p) for p in params)
        for g in found.raw.values()
    )


def _loss(a: Attempt, loaded: LoadedModule, batch: Batch) -> float | None:
    """Their loss on the batch: targets as given, else as integer labels."""
    try:
        model, _ = _model(a, loaded)
        model.discover(batch)
    except FAILED:
        return None
    model.fit = None
    for labels in (False, True) if batch.labels is not None else (False,):
        model.labels = labels
        try:
            value = model.loss(batch)
        except FAILED:
            continue
        return value if value is not None and math.isfinite(value) else None
    return None


# --- the roles of each shape ----------------------------------------------------------------------


def callables_of(s: Sizes, loaded: LoadedModule) -> dict[str, Any]:
    if s.shape == "functions":
        return dict(survey.functions(loaded))
    cls = s.kind
    if cls is None:
        return {}
    return {name: getattr(cls, name) for name in survey.methods(cls)}


def role_candidates(
    s: Sizes, role: str, pool: dict[str, Any], depth: int
) -> list[tuple[str, dict[str, str], int]]:
    """(name, arguments it needs, tier) of what could be `role`, likeliest first."""
    available = AVAILABLE[(s.shape, role)]
    if s.params is not None and any("[" in v or "." in v for v in s.params.values()):
        available = available - {"params"}  # the parameters live in their module
    out = []
    for name, fn in roles.ranked(pool, role):
        if name == s.source:
            continue  # what built the parameters is not also what uses them
        arguments = roles.binding(fn, role, available, depth)
        if arguments is None:
            continue
        if role != "forward" and not _takes_data(fn, role, depth, arguments, s.shape):
            continue  # what takes no targets computes no loss nor gradient
        out.append((name, arguments, roles.tier(name, role)))
    return out


def _takes_data(fn: Any, role: str, depth: int, arguments: dict[str, str], shape: str) -> bool:
    """Can it be given the targets (or the output, or a cache)? An object's method may also
    take nothing and read the data the object was built with."""
    from nnfix.usercode.calls import role_of

    params = [p for p in roles.parameters(fn) or [] if p.name != "self"]
    if shape == "object" and not [p for p in params if p.default is p.empty]:
        return True
    named = {role_of(p.name, role, depth) for p in params} | set(arguments.values())
    return bool(named & {"Y", "cache", "output"})  # a gradient or a loss needs the targets


def _base(s: Sizes) -> dict[str, Any]:
    impl: dict[str, Any] = {}
    if s.shape == "object":
        impl["model"] = s.model
    if s.shape == "layers":
        impl["layers"] = s.layers
    if s.params is not None:
        impl["params"] = dict(s.params)
    return impl


def _merge(impl: dict[str, Any], arguments: dict[str, str]) -> dict[str, Any]:
    if not arguments:
        return impl
    return {**impl, "arguments": {**impl.get("arguments", {}), **arguments}}


def explore(s: Sizes, loaded: LoadedModule, request: Request) -> list[Attempt]:
    """Every working set of roles for a network of these sizes."""
    batch = probe_batch(s.sizes, request)
    if s.shape == "layers":
        return _layers(s, loaded, batch)
    pool = callables_of(s, loaded)
    depth = len(s.sizes) - 1
    forwards: list[Attempt] = []
    near: list[Attempt] = []
    for group in roles.tiers(
        [(n, (args, t)) for n, args, t in role_candidates(s, "forward", pool, depth)], "forward"
    ):
        for name, (arguments, t) in group:
            batch_run: Attempt | None = None
            for per_sample in PER_SAMPLE:  # one sample at a time where a batch does not fit
                impl = _merge({**_base(s), "forward": name, "per_sample": per_sample}, arguments)
                tried = _forward(Attempt(s, impl, rank=t), loaded, batch)
                if tried.fitted is not None and _as_theirs(tried, per_sample, batch_run):
                    forwards.append(tried)
                    break
                if tried.near is not None and not near:
                    near.append(tried)
                if not per_sample:
                    batch_run = tried
        if forwards:
            break
    if not forwards and near:  # a forward with a mistake of its own: U102 will say where
        a = near[0]
        a.network, a.fitted, a.approximate = a.near, a.near_fit, True
        forwards = [a]
    out: list[Attempt] = []
    backwards = role_candidates(s, "backward", pool, depth)
    losses = role_candidates(s, "loss", pool, depth)
    for forward in forwards:
        found = _backwards(forward, backwards, loaded, batch) or [forward]
        for attempt in found:
            _choose_loss(attempt, losses, loaded, batch)
        out += found
    return out


def _as_theirs(tried: Attempt, per_sample: Any, batch_run: Attempt | None) -> bool:
    """A forward that fits one sample at a time but runs on a batch without giving the
    network is per-sample code only where that batch run held the biases otherwise than
    their code does ((n, 1) where theirs are (n,), which broadcasts over a batch): a batch run
    with their own biases that computes something else is a mistake in the forward (U102)."""
    if not per_sample or batch_run is None or not batch_run.ran:
        return True
    theirs = tried.sizes.bias_form
    return theirs is None or batch_run.bias_form != theirs


def _backwards(
    forward: Attempt,
    candidates: list[tuple[str, dict[str, str], int]],
    loaded: LoadedModule,
    batch: Batch,
) -> list[Attempt]:
    """The backward candidates that give gradients with this forward: the first tier that has
    any (tiers further down may train at length), one sample at a time where their code works
    so."""
    out: list[Attempt] = []
    for group in roles.tiers([(n, (a, t)) for n, a, t in candidates], "backward"):
        raised: list[Attempt] = []
        for name, (arguments, t) in group:
            impl = _merge({**forward.impl, "backward": name}, arguments)
            tried = _per_sample(forward, impl, forward.rank + t, loaded, batch)
            if tried is not None and tried.raised:
                raised.append(tried)
            elif tried is not None:
                out.append(tried)
        if out:
            return out
        if raised:  # their backward raises: diagnose's U101 shows their traceback
            return raised[:1]
    return out


def _per_sample(
    forward: Attempt, impl: dict[str, Any], rank: int, loaded: LoadedModule, batch: Batch
) -> Attempt | None:
    """This backward on the batch, or one sample at a time where only that gives gradients of
    the parameters' shapes and their batch gradients are the samples' summed (code written for
    one sample) — not where a batch call gives right weight gradients and wrong bias shapes
    (a bias gradient not summed over the samples: the bug to report)."""

    def attempt(per_sample: Any) -> Attempt:
        tried = Attempt(forward.sizes, {**impl, "per_sample": per_sample}, rank=rank)
        tried.network, tried.fitted, tried.output = forward.network, forward.fitted, forward.output
        return read_gradients(tried, loaded, batch)

    first = attempt(impl.get("per_sample", False))
    if first.complete_grads:
        return first
    if first.grads is None and first.raised and impl.get("per_sample"):
        return first
    for per_sample in PER_SAMPLE:
        if per_sample == impl.get("per_sample", False) or not per_sample:
            continue
        single = attempt(per_sample)
        if not single.complete_grads:
            continue
        if first.grads is None or _sums(first.grads, single.grads, batch.m):
            return single
    if first.grads is not None and first.grads.found:
        return first
    return first if first.raised else None


def _sums(batch_grads: Gradients, single: Gradients | None, m: int) -> bool:
    """Are the weight gradients of a batch call the samples' summed (code for one sample)?"""
    if single is None:
        return False
    names = [n for n in single.arrays if n.startswith("W") and n in batch_grads.arrays]
    if not names:
        return True
    theirs = {n: batch_grads.arrays[n] for n in names}
    c = guess.ratio(theirs, {n: single.arrays[n] for n in names})
    return c is not None and math.isclose(c, m, rel_tol=1e-3)


def _choose_loss(
    a: Attempt,
    candidates: list[tuple[str, dict[str, str], int]],
    loaded: LoadedModule,
    batch: Batch,
) -> None:
    """Their loss function: the first candidate whose value is a built-in loss of the output."""
    if a.output is None or a.fitted is None:
        return
    output = a.fitted.activations[-1].name
    for name, arguments, _ in candidates:
        impl = _merge({**a.impl, "loss": name}, arguments)
        value = _loss(Attempt(a.sizes, impl), loaded, batch)
        if value is not None and guess.by_value(value, a.output, batch.y, output):
            a.impl = impl
            a.loss_value = value
            return


def _layers(s: Sizes, loaded: LoadedModule, batch: Batch) -> list[Attempt]:
    out = []
    for rank, loss in enumerate(s.losses or [None]):  # the ones their code makes first
        impl = {**_base(s), "loss": loss} if loss else _base(s)
        a = _forward(Attempt(s, impl, rank=rank), loaded, batch)
        if a.fitted is None:
            continue
        if loss:
            a.loss_value = _loss(a, loaded, batch)
            a = read_gradients(a, loaded, batch)
        out.append(a)
    return out


# --- choosing ---------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """An attempt with the loss and learning-rate reading that go with it."""

    attempt: Attempt
    loss: LossGuess
    loss_how: str
    loss_others: list[LossGuess]
    update_lr: float | None
    gradients_right: bool
    score: tuple


def judge(a: Attempt, batch_y: Array, batch_x: Array) -> Verdict:
    assert a.network is not None and a.fitted is not None and a.output is not None
    output = a.fitted.activations[-1].name
    by_value: list[LossGuess] = []
    value = a.loss_value if a.loss_value is not None else (a.grads.loss if a.grads else None)
    if value is not None:
        by_value = guess.by_value(value, a.output, batch_y, output)
    network = a.network
    if by_value and by_value[0].output is not None:  # their forward returns logits
        acts = [*a.fitted.activations[:-1], _builtin(by_value[0].output)]
        network = with_activations(network, acts)
    theirs = a.grads.arrays if a.grads is not None else {}
    if a.values is not None:
        network = network.with_params([a.values[n] for n in network.names])
    fits = guess.by_gradients(network, batch_x, batch_y, theirs, network.activations[-1].name)
    update_lr = None
    right = False
    if by_value:
        chosen = by_value[0]
        where = (
            "your loss function" if a.loss_value is not None else "your backward's (loss, grads)"
        )
        how = f"{where} returned {value:.6g}: {chosen.text()} of the output"
        c = next((c for g, c in fits if _same(g, chosen)), None)
        right = c is not None and (a.in_place or math.isclose(c, 1.0, rel_tol=1e-3))
        if a.in_place and c is not None:
            update_lr = guess.nice(c, 6)
        others = by_value[1:]
    elif fits:
        chosen, c = _with_lr(fits, a.sizes.known_lr) if a.in_place else fits[0]
        right = True
        if a.in_place:
            update_lr = guess.nice(c, 6)
        how = f"your gradients are {chosen.text()}'s" + (
            f" (times {c:.4g}: G105 will say so)"
            if not a.in_place and not math.isclose(c, 1, rel_tol=1e-3)
            else ""
        )
        others = [g for g, c2 in fits[1:3] if math.isclose(c2, c, rel_tol=1e-3)]
    else:
        chosen = guess.natural(network.activations[-1].name, network.sizes[-1])
        how = f"the usual loss for a {network.activations[-1].name} output"
        others = []
        if a.in_place:  # a bug in some tensors: the step the others agree on
            voted = guess.step(network, batch_x, batch_y, theirs, a.sizes.known_lr)
            if voted is not None:
                chosen, c = voted
                update_lr = guess.nice(c, 6)
                how = f"most of your update's tensors are −{c:g} × {chosen.text()}'s gradient"
            else:
                update_lr = a.sizes.known_lr or 1.0
    found_grads = a.grads is not None and a.grads.found
    score = (
        1,
        int(found_grads),
        int(right),
        int(bool(by_value)),
        int(a.complete_grads),
        -guess.natural_rank(chosen, network.activations[-1].name),
        -a.rank,
    )
    a.network = network
    return Verdict(a, chosen, how, others, update_lr, right, score)


def _same(a: LossGuess, b: LossGuess) -> bool:
    return (a.name, a.reduction, a.scale) == (b.name, b.reduction, b.scale)


def _with_lr(fits: list[tuple[LossGuess, float]], known: float | None) -> tuple[LossGuess, float]:
    """For an in-place update −lr·g: the loss whose gradient makes lr the learning rate their
    code was given, else a step of 1, else the natural loss's."""
    if known is not None:
        for g, c in fits:
            if math.isclose(c, known, rel_tol=1e-3):
                return g, c
    for g, c in fits:
        if math.isclose(c, 1.0, rel_tol=1e-3):
            return g, c
    return fits[0]


def _builtin(name: str) -> Activation:
    from nnfix.engine import activations

    return activations.get(name)


def search_all(loaded: LoadedModule, request: Request) -> tuple[list[Verdict], list[Sizes]]:
    names = set(survey.functions(loaded)) | set(survey.classes(loaded))
    calls = survey.literal_calls(loaded, names)
    found = (
        sizes.of_layers(loaded, calls, request)
        + sizes.of_objects(loaded, calls, request)
        + sizes.of_functions(loaded, calls, request)
    )
    if request.layers and not any(s.shape == "functions" for s in found):
        widths = [request.inputs, *request.layers]
        found.append(Sizes("functions", widths, [True] * len(request.layers), "--layers"))
    verdicts = []
    for s in found:
        batch = probe_batch(s.sizes, request)
        for attempt in explore(s, loaded, request):
            if attempt.network is not None and attempt.output is not None:
                verdicts.append(judge(attempt, batch.y, batch.x))
    verdicts.sort(key=lambda v: v.score, reverse=True)
    return verdicts, found
