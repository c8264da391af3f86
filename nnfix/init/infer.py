"""`nnfix init --from`: the user's module explored by calling it on a small batch, in nnfix's
worker. For each way their network is built (`sizes`), each function or method that could be
the forward is tried with SPEC §3's discovery (`usercode.shapes`), the activations read off
what it computed (`usercode.fit`); then the backward and loss candidates with that forward.
The best-supported set of roles becomes the spec (`Inference`), every key with how it was found
and the other candidates where the values could not tell them apart."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
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
CHOOSE_LOSS = "CHOOSE: the loss your backward differentiates; this is the usual one for"
FAILED = (SetupError, UserCallError, Broken, ValueError, TypeError, KeyError)


# --- the result ---------------------------------------------------------------------------------


@dataclass
class Key:
    """One key of the spec: its value, how it was found, the other candidates."""

    value: Any
    how: str = ""
    others: list[Any] = field(default_factory=list)
    choose: bool = False  # nnfix could not decide: the user should


@dataclass
class Inference:
    """What `nnfix init --from` found, ready to be written as a spec."""

    module: Path
    shape: str | None = None
    data: Key | None = None
    inputs: int = 0
    units: list[int] = field(default_factory=list)
    sizes_how: str = ""
    activations: list[Key] = field(default_factory=list)
    biases: list[bool] = field(default_factory=list)
    init: Key | None = None
    bias_init: Key | None = None
    loss: Key | None = None
    train: Key | None = None
    implementation: dict[str, Key] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)  # discovery's header lines
    undecided: list[str] = field(default_factory=list)  # what the user should choose
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # top-level statements not run
    gradients_right: bool | None = None  # their gradients matched the spec's loss at init

    @property
    def complete(self) -> bool:
        return bool(self.units) and self.shape is not None and not self.undecided


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
            for layer, a in zip(network.layers, acts, strict=True)
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


def _batch(units: list[int], request: Request) -> Batch:
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


def _gradients(a: Attempt, loaded: LoadedModule, batch: Batch) -> Attempt:
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


def _callables(s: Sizes, loaded: LoadedModule) -> dict[str, Any]:
    if s.shape == "functions":
        return dict(survey.functions(loaded))
    cls = s.kind
    if cls is None:
        return {}
    return {name: getattr(cls, name) for name in survey.methods(cls)}


def _candidates(
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
    batch = _batch(s.sizes, request)
    if s.shape == "layers":
        return _layers(s, loaded, batch)
    pool = _callables(s, loaded)
    depth = len(s.sizes) - 1
    forwards: list[Attempt] = []
    near: list[Attempt] = []
    for group in roles.tiers(
        [(n, (args, t)) for n, args, t in _candidates(s, "forward", pool, depth)], "forward"
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
    backwards = _candidates(s, "backward", pool, depth)
    losses = _candidates(s, "loss", pool, depth)
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
        return _gradients(tried, loaded, batch)

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
            a = _gradients(a, loaded, batch)
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
        where = "their loss function" if a.loss_value is not None else "backward's (loss, grads)"
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
        batch = _batch(s.sizes, request)
        for attempt in explore(s, loaded, request):
            if attempt.network is not None and attempt.output is not None:
                verdicts.append(judge(attempt, batch.y, batch.x))
    verdicts.sort(key=lambda v: v.score, reverse=True)
    return verdicts, found


# --- the conclusion ---------------------------------------------------------------------------------


def _final(v: Verdict, loaded: LoadedModule, request: Request) -> tuple[dict[str, Any], list[str]]:
    """The implementation keys diagnose will run, checked as it will run them: a forward that
    returns logits is left out (the spec's network is then the forward), and so is one that
    hides their vector biases from nnfix (a params dict it builds takes the bias form the
    forward accepts first, and (1, n) works wherever (n,) does)."""
    a = v.attempt
    impl = dict(a.impl)
    notes: list[str] = []
    logits = v.loss.output is not None
    if logits and "forward" in impl:
        notes.append(
            f"forward: {impl['forward']} returns the scores before the {v.loss.output} (your loss "
            "applies it): not the network's output, so the spec's network is the forward"
        )
        impl.pop("forward")
    if not impl.get("per_sample"):
        impl.pop("per_sample", None)
    if a.in_place and v.update_lr is not None:
        impl["update_lr"] = v.update_lr
    if "backward" not in impl and not (a.sizes.shape == "layers" and "loss" in impl):
        return impl, notes
    batch = _batch(a.sizes.sizes, request)
    checked = _gradients(Attempt(a.sizes, impl, network=a.network, fitted=a.fitted), loaded, batch)
    if "forward" in impl and checked.grads is not None and checked.grads.wrong:
        bare = {k: val for k, val in impl.items() if k != "forward"}
        again = _gradients(
            Attempt(a.sizes, bare, network=a.network, fitted=a.fitted), loaded, batch
        )
        if again.complete_grads:
            notes.append(
                f"forward: {impl['forward']} is left out: with it nnfix would hold your biases as "
                "(1, n) where your code has (n,); without it, your backward's gradients say which"
            )
            impl, checked = bare, again
    a.found = checked.found or a.found
    return impl, notes


def conclude(
    verdicts: list[Verdict], found: list[Sizes], loaded: LoadedModule, request: Request
) -> Inference:
    """The spec's keys from the best verdict, the others where they tie."""
    inference = Inference(loaded.path)
    inference.skipped = [f"{s.place}: {s.code}" for s in loaded.skipped]
    if not verdicts:
        return _undecided(inference, found, loaded, request)
    best = verdicts[0]
    a = best.attempt
    assert a.network is not None and a.fitted is not None
    s = a.sizes
    impl, notes = _final(best, loaded, request)
    inference.notes += notes
    inference.shape = s.shape
    inference.inputs = s.sizes[0]
    inference.units = s.sizes[1:]
    inference.biases = list(s.biases)
    inference.sizes_how = s.how
    inference.found = a.found
    inference.gradients_right = best.gradients_right if a.grads is not None else None
    for layer, (act, read) in enumerate(zip(a.network.activations, [*a.fitted.read], strict=True)):
        builtin = act.builtin
        assert builtin is not None
        last = layer == len(a.network.activations) - 1
        if last and best.loss.output is not None:
            how = f"your loss applies {best.loss.output} to the scores your forward returns"
        elif read:
            how = "read off what your forward left behind for this layer"
        elif last:
            how = "the output your forward returned"
        else:
            how = "the only built-in that reproduces your forward's output here"
        inference.activations.append(Key(activation_value(builtin), how))
    inference.implementation = _implementation_keys(impl, best, s)
    if "backward" not in impl and s.shape != "layers":
        names = [
            n for n, _, _ in _candidates(s, "backward", _callables(s, loaded), len(s.sizes) - 1)
        ]
        inference.implementation["backward"] = Key(
            None,
            "no function of yours gave gradients for nnfix's batch: name your backward",
            names[:3],
            choose=True,
        )
        inference.undecided.append(
            "backward: nothing in your module gave gradients for nnfix's batch"
            + (f" (tried {', '.join(names[:3])})" if names else "")
        )
    ties = [
        v
        for v in verdicts[1:]
        if v.score == best.score and _roles(v.attempt.impl) != _roles(a.impl)
    ]
    for tie in ties:
        for key, value in _roles(tie.attempt.impl).items():
            if key in inference.implementation and value != impl.get(key):
                entry = inference.implementation[key]
                if value not in entry.others:
                    entry.others.append(value)
                    entry.choose = True
    for key, entry in inference.implementation.items():
        if entry.choose and entry.value is not None:
            others = ", ".join(map(str, entry.others))
            inference.undecided.append(
                f"{key}: {entry.value} or {others} — both do the same on nnfix's batch"
            )
    inference.init, inference.bias_init = _init(s, a.network)
    inference.loss = Key(best.loss.spec, best.loss_how, [g.spec for g in best.loss_others[:2]])
    if a.grads is not None and not best.gradients_right:
        inference.notes.append(
            "your gradients do not match the loss at init: `nnfix diagnose` says where"
        )
    output = a.network.activations[-1].name
    if request.x is None:
        data = guess.generated(s.sizes[0], s.sizes[-1], best.loss.name, output)
        inference.data = Key(data.value, data.how)
    inference.train = _train(loaded, s)
    return inference


def _roles(impl: dict[str, Any]) -> dict[str, Any]:
    return {k: impl[k] for k in ("model", "layers", "forward", "backward", "loss") if k in impl}


def _implementation_keys(impl: dict[str, Any], v: Verdict, s: Sizes) -> dict[str, Key]:
    a = v.attempt
    out: dict[str, Key] = {}
    if "model" in impl:
        out["model"] = Key(impl["model"], f"builds your network: {s.how}")
    if "layers" in impl:
        out["layers"] = Key(impl["layers"], s.how)
    if "forward" in impl:
        out["forward"] = Key(
            impl["forward"], "returned your network's output for a batch nnfix gave it"
        )
    if "backward" in impl:
        grads = a.grads
        where = grads.where if grads is not None and grads.where else "its gradients"
        how = f"gives the gradients: {where}"
        if a.in_place:
            how = "updates your parameters in place: nnfix reads the gradient off the update"
        out["backward"] = Key(impl["backward"], how)
    if "loss" in impl:
        if s.shape == "layers":
            out["loss"] = Key(
                impl["loss"],
                v.loss_how
                if a.loss_value is not None
                else "the loss object your backward pass starts from",
            )
        elif a.loss_value is not None:
            out["loss"] = Key(
                impl["loss"], f"returned {a.loss_value:.6g}, a built-in loss of the output"
            )
    if impl.get("per_sample"):
        how = {
            "vector": "your code takes one sample at a time, as a vector (n,)",
            "column": "your code takes one sample at a time, as a column (n, 1): on a batch its "
            "gradients are the samples' summed, with the biases' not summed",
        }[impl["per_sample"]]
        out["per_sample"] = Key(impl["per_sample"], how)
    if impl.get("arguments"):
        names = ", ".join(impl["arguments"])
        out["arguments"] = Key(
            impl["arguments"], f"{names}: names nnfix does not bind by itself, read by their words"
        )
    if impl.get("params"):
        out["params"] = Key(impl["params"], "where your init function puts the parameters")
    if "update_lr" in impl:
        known = s.known_lr is not None and math.isclose(impl["update_lr"], s.known_lr, rel_tol=1e-3)
        how = (
            "the learning rate your constructor is given"
            if known
            else f"the step that makes the update −update_lr × {v.loss.text()}'s gradient"
        )
        out["update_lr"] = Key(impl["update_lr"], how)
    return out


def _init(s: Sizes, network: Network) -> tuple[Key | None, Key | None]:
    if s.weights:
        found = guess.init_scheme(s.weights)
        weight = Key(found.value, f"from your code's initial values: {found.how}")
        bias = guess.bias_scheme(s.bias_values)
        return weight, Key(
            bias.value, f"from your code's initial biases: {bias.how}"
        ) if bias else None
    first = network.activations[0].builtin
    name = first.init if first is not None else "xavier_normal"
    return Key(
        name,
        f"your code creates no parameters nnfix could read: the init that suits "
        f"{network.activations[0].name}",
    ), None


def _train(loaded: LoadedModule, s: Sizes) -> Key:
    value: dict[str, Any] = {"optimizer": "sgd", "lr": 0.1, "epochs": 100, "batch_size": 32}
    if s.known_lr is not None and 0 < s.known_lr <= 10:
        value["lr"] = s.known_lr
        return Key(value, "lr: the learning rate your constructor is given")
    rates = learning_rates(loaded)
    if len(set(rates.values())) == 1:
        rate = next(iter(rates.values()))
        value["lr"] = rate
        where = ", ".join(rates)
        return Key(value, f"lr: the learning rate your code uses ({where})")
    how = "lr: nnfix's default"
    if rates:
        how += " (your code has several: " + ", ".join(f"{k} {v:g}" for k, v in rates.items()) + ")"
    return Key(value, how)


def learning_rates(loaded: LoadedModule) -> dict[str, float]:
    """The learning rates the user's code gives as defaults: `where -> value`."""
    out: dict[str, float] = {}
    pool: dict[str, Any] = dict(survey.functions(loaded))
    for cname, cls in survey.classes(loaded).items():
        pool.update({f"{cname}.{m}": fn for m, fn in survey.methods(cls).items()})
        pool[f"{cname}()"] = cls
    for where, fn in pool.items():
        for p in roles.parameters(fn) or []:
            default = p.default
            number = isinstance(default, int | float) and not isinstance(default, bool)
            if roles.is_lr(p.name) and number and 0 < default <= 10:
                out[f"{where}'s {p.name}"] = float(default)
    return out


def _undecided(
    inference: Inference, found: list[Sizes], loaded: LoadedModule, request: Request
) -> Inference:
    """No set of roles worked: the candidates, and what would settle it."""
    if not found:
        inference.undecided.append(
            "the layer sizes: nothing in your module creates parameters that nnfix can call "
            "(an init function or a constructor with its arguments); run init again with "
            "--layers, the widths of your hidden and output layers (e.g. --layers 16,8,1)"
        )
    else:
        inference.undecided.append(
            "the roles: nothing in your module computed a network of the sizes "
            + "; ".join(f"{s.sizes} ({s.how})" for s in found[:3])
            + " that nnfix could read"
        )
    how = "picked by its name: without the layer sizes nnfix could not call it"
    models = [
        (n, c)
        for n, c in roles.ranked(survey.classes(loaded), "model")
        if not roles.is_layer(c) and not roles.is_loss(c) and roles.tier(n, "model") == 0
    ]
    if models:  # a model class: its constructor, with its parameters to fill in
        name, cls = models[0]
        params = [p.name for p in roles.parameters(cls) or [] if p.default is p.empty]
        call = f"{name}({', '.join(params)})"
        inference.implementation["model"] = Key(
            call,
            f"{how}; write its arguments as literal values (the layer sizes: [2, 16, 1] …)",
            [n for n, _ in models[1:]],
            choose=True,
        )
        pool = {m: getattr(cls, m) for m in survey.methods(cls)}
    else:
        pool = dict(survey.functions(loaded))
    for role in ("forward", "backward", "loss"):
        names = [n for n, _ in roles.ranked(pool, role) if roles.tier(n, role) == 0]
        if names:
            inference.implementation[role] = Key(names[0], how, names[1:], choose=True)
            if len(names) > 1:
                inference.undecided.append(f"{role}: {' or '.join(names)}")
    if request.layers:
        inference.units = list(request.layers)
        inference.inputs = request.inputs
    k = inference.units[-1] if inference.units else 1
    data = guess.generated(request.inputs, k, "bce", "sigmoid")
    if request.x is None:
        inference.data = Key(data.value, data.how)
    natural = "bce" if k == 1 else "cce"
    inference.loss = Key(
        natural, f"{CHOOSE_LOSS} {'one sigmoid output' if k == 1 else 'softmax outputs'}"
    )
    inference.train = _train(loaded, Sizes("functions", [request.inputs, k], [True], ""))
    return inference
