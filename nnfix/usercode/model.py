"""The user's code of any shape (SPEC §3) as nnfix needs it: their parameters set to nnfix's
values, their forward's output, their loss and their gradients — in nnfix's rows layout, named
by nnfix's slots (W1, b1, …) — whether they wrote functions (A), an object (B) or a chain of
layer objects (C). Found by calling their code and watching what it reads, returns and sets.

Every call into their code goes through `sandbox.call`: it raises UserCallError (a U101
finding) with their traceback, never anything else."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from nnfix.engine.network import Network
from nnfix.spec.model import ImplementationSpec
from nnfix.usercode import sandbox
from nnfix.usercode.calls import BindingError, CallSpec, CallSyntaxError, bind, parse_call
from nnfix.usercode.grads import Gradients, Param
from nnfix.usercode.layout import Layout
from nnfix.usercode.sandbox import UserCallError

Array = np.ndarray
RTOL, ATOL = 1e-5, 1e-7  # their output agrees with the spec's network to this
CONSTRUCT_BATCH = 7  # samples given to a constructor that takes the data (X, Y)
PROBABILITY_LOSSES = ("bce", "cce")  # losses of probabilities: undefined on scores below 0


class SetupError(Exception):
    """Something in `implementation:` that nnfix cannot use as written: exit 2, at `key`."""

    def __init__(self, message: str, key: str, hint: str | None = None, trace: str | None = None):
        super().__init__(message)
        self.key = key
        self.hint = hint
        self.trace = trace

    def problem(self):
        from nnfix.errors import Problem

        return Problem(
            str(self), path=("implementation", self.key), hint=self.hint, detail=self.trace
        )

    def __reduce__(self):
        return SetupError, (str(self), self.key, self.hint, self.trace)


@dataclass
class Batch:
    """A batch in nnfix's rows layout, with what the user's code may want instead."""

    x: Array  # (m, n_in)
    y: Array  # (m, k), one-hot where the output has several units
    labels: Array | None  # (m,) integer labels, for classification targets

    @property
    def m(self) -> int:
        return len(self.x)


@dataclass
class Found:
    """What discovery found, said in the report's header and by `nnfix init --from`."""

    parameters: str = ""
    gradients: str = ""
    layout: str = ""
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"parameters: {self.parameters}"] if self.parameters else []
        out += [f"gradients: {self.gradients}"] if self.gradients else []
        out += [f"layout: {self.layout}"] if self.layout else []
        return out + self.notes


class CaseInsensitiveDict(dict):
    """The params dict nnfix builds: `parameters["w1"]` finds the key "W1"."""

    def _key(self, key):
        if isinstance(key, str) and not dict.__contains__(self, key):
            for k in dict.keys(self):
                if isinstance(k, str) and k.lower() == key.lower():
                    return k
        return key

    def __getitem__(self, key):
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key):
        return dict.__contains__(self, self._key(key))

    def get(self, key, default=None):
        return dict.get(self, self._key(key), default)


class UserModel:
    """Common to the three shapes: parameters, the calls, and reading gradients."""

    shape = ""

    def __init__(self, impl: ImplementationSpec, module: ModuleType, network: Network):
        self.impl = impl
        self.module = module
        self.network = network  # the spec's net: the truth the user's code is compared with
        self.depth = network.depth
        self.k = network.sizes[-1]
        self.layout: Layout = Layout(impl.layout == "columns", "column")
        self.params: list[Param] = []
        self.found = Found()
        self.per_sample: str | None = None if not impl.per_sample else str(impl.per_sample)
        self.labels: bool | None = None  # targets as integer labels (None: not known yet)
        self.update_lr = impl.update_lr
        self.arguments = dict(impl.arguments or {})
        self.keep_update = False
        self.out_dtype: np.dtype | None = None  # the dtype their forward computed in
        self.initial: dict[str, Array] = {}  # every array of their objects as built, by path
        self.left_behind: Any = None  # what the last forward returned or set: a cache, arrays
        self.loss_name = ""  # the spec's loss: what their forward's output is read for
        self.scores: bool | None = None  # their forward returns the output's z (None: not known)
        # `nnfix init --from`, where the activations are what is being found: given an output of
        # theirs, the spec's network with the activations that compute it (None: none do)
        self.fit: (
            Callable[[UserModel, Array, Array, dict[str, Array] | None], Network | None] | None
        ) = None

    # --- parameters ------------------------------------------------------------------------

    def set_params(self, values: dict[str, Array]) -> None:
        """Put nnfix's parameter values (rows layout) into the user's arrays, in place."""
        for p in self.params:
            if p.slot.name in values:
                target = p.ref.get()
                target[...] = self.layout.to_user(p.slot, values[p.slot.name])

    def get_params(self) -> dict[str, Array]:
        """The user's current parameter values, as nnfix's (rows layout, copies)."""
        return {
            p.slot.name: np.array(self.layout.to_rows(p.slot, p.ref.get()), dtype=np.float64)
            for p in self.params
        }

    @property
    def precision(self) -> float:
        """The machine epsilon their code computes in: float32 code rounds at 1.2e-7."""
        dtypes = [p.ref.get().dtype for p in self.params]
        if self.out_dtype is not None:
            dtypes.append(self.out_dtype)
        return max((float(np.finfo(d).eps) for d in dtypes if d.kind == "f"), default=2.2e-16)

    def initial_values(self) -> dict[str, Array] | None:
        """The parameters as their own code created them (rows layout), or None when nnfix
        builds the parameters itself (functions over a params dict)."""
        values = {}
        for p in self.params:
            start = self.initial.get(p.ref.path)
            if start is None or start.shape != p.shape:
                return None
            values[p.slot.name] = np.array(self.layout.to_rows(p.slot, start), dtype=np.float64)
        return values or None

    def cast(self, dtype: str) -> list[tuple[Any, Array]]:
        """Hold the parameters as `dtype` arrays: a converted copy put where each of theirs of
        another type was (as nnfix's engine trains in train.dtype). Returns what was replaced,
        for `uncast`; raises TypeError where a parameter cannot be replaced (a tuple holds
        it), having put back what it had replaced."""
        target = np.dtype(dtype)
        replaced: list[tuple[Any, Array]] = []
        for p in self.params:
            old = p.ref.get()
            if old.dtype == target:
                continue
            try:
                p.ref.set(old.astype(target))
            except (TypeError, AttributeError, ValueError):
                self.uncast(replaced)
                raise TypeError(f"{p.ref.path} is held where nnfix cannot replace it") from None
            replaced.append((p.ref, old))
        return replaced

    def uncast(self, replaced: list[tuple[Any, Array]]) -> None:
        """Put back the arrays `cast` replaced, holding the values the copies have now."""
        for ref, old in replaced:
            old[...] = ref.get()
            ref.set(old)

    def views(self) -> dict[str, Array]:
        """The user's own arrays, seen in the rows layout: updating these updates theirs."""
        return {p.slot.name: self.layout.to_rows(p.slot, p.ref.get()) for p in self.params}

    # --- calls -----------------------------------------------------------------------------

    def _call(self, role: str, fn: Callable, kind: str, values: dict, fallback=()) -> Any:
        try:
            args, kwargs = bind(
                fn, kind, values, depth=self.depth, arguments=self.arguments, fallback=fallback
            )
        except BindingError as exc:
            raise SetupError(
                str(exc), role.split(".")[0], hint=f"arguments: {{{exc.parameter}: X}}"
            ) from None
        return sandbox.call(role, fn, *args, **kwargs)

    def output(self, value: Any, m: int, what: str) -> Array:
        """nnfix's (m, k) view of what a forward gave: an array, or the first array of the
        output's shape in a tuple such as (AL, cache)."""
        for item in value if isinstance(value, tuple | list) else (value,):
            if isinstance(item, np.ndarray) and item.dtype.kind in "fiu":
                out = self.layout.outputs(item, m, self.k)
                if out is not None:
                    self.out_dtype = item.dtype
                    return out.astype(np.float64, copy=False)
        got = (
            f"an array of shape {np.shape(value)}"
            if isinstance(value, np.ndarray)
            else "None (no return statement?)"
            if value is None
            else type(value).__name__
        )
        raise UserCallError(
            what,
            f"returned {got}; expected the network's output, shape ({m}, {self.k}) or "
            f"({self.k}, {m}), alone or first in a tuple such as (AL, cache)",
        )

    def reading(self, out: Array) -> tuple[Array, Array, str | None]:
        """(z, a, the output activation's name) of the output layer, as the spec's loss reads
        what their forward returned: (out, out, None) — or, where their forward returns values
        no probability takes (below 0 or above 1) for a loss of probabilities (bce, cce) and the
        spec's output activation makes probabilities of them, (out, that activation of out, its
        name): the forward returns the output layer's pre-activation, the scores (as cs231n's
        `loss(X)` does), and the loss is theirs through that activation. Decided on the first
        output read, and said in the report's header."""
        act, loss = self.network.activations[-1], self.loss_name
        if self.scores is None:
            low, high = act.builtin.output_range if act.builtin is not None else (-1.0, 1.0)
            finite = out[np.isfinite(out)]
            self.scores = bool(
                loss in PROBABILITY_LOSSES
                and low >= 0
                and high <= 1
                and (np.any(finite < 0) or np.any(finite > 1))
            )
            if self.scores:
                self.found.notes.append(
                    f"output: your forward returns the output layer's scores (values outside "
                    f"[0, 1], which {loss} cannot take as probabilities): the loss is read "
                    f"through the spec's {act.name} output, {loss}({act.name}(scores))"
                )
        if not self.scores:
            return out, out, None
        with np.errstate(all="ignore"):
            return out, act.forward(out), act.builtin_name

    def probe_values(self) -> dict[str, Array]:
        """nnfix's initial parameters with biases made non-zero: zero biases would hide a bias
        of the wrong shape (a (n, 1) bias broadcast over a vector input adds nothing)."""
        rng = np.random.default_rng(20_240_617)
        return {
            slot.name: p if slot.role == "weight" else rng.normal(0.0, 0.5, p.shape)
            for slot, p in zip(self.network.slots, self.network.params, strict=True)
        }

    def matches(self, out: Array, x: Array, values: dict[str, Array] | None = None) -> bool:
        """Is `out` the spec's network's output for x (with `values` as its parameters)?"""
        if self.fit is not None:
            fitted = self.fit(self, out, x, values)
            if fitted is None:
                return False
            self.network = fitted
        network = self.network
        if values is not None:
            network = network.with_params([values[n] for n in network.names])
        reference = network.forward(x).a[-1]
        return out.shape == reference.shape and bool(
            np.allclose(out, reference, rtol=RTOL, atol=ATOL)
        )

    # --- what each shape provides -----------------------------------------------------------

    def discover(self, batch: Batch) -> None:
        """Find the parameters and how to call the code, on `batch`."""
        raise NotImplementedError

    def forward(self, x: Array) -> Array | None:
        """Their network's output for x (rows layout), or None when they have no forward."""
        raise NotImplementedError

    def loss(self, batch: Batch) -> float | None:
        """Their loss on the batch, or None when they have none (the spec's loss is used)."""
        return None

    def gradients(self, batch: Batch, keep_update: bool = False) -> Gradients:
        """Their gradients for the batch, as nnfix's (rows layout) where the shapes fit.

        Targets go in the output's shape, or as integer labels where the code indexes with
        them (found on the first call: the one that runs); per-sample code is called once per
        sample and its gradients averaged, as their own mini-batch loop does. A backward that
        updates the parameters itself is undone unless `keep_update` (nnfix train keeps it)."""
        self.keep_update = keep_update
        if self.labels is None and batch.labels is not None:
            try:
                found = self._any(batch)
                self.labels = False
                return found
            except UserCallError as first:
                self.labels = True
                try:
                    return self._any(batch)
                except UserCallError as second:
                    if _indexes(first):  # it indexes with the targets: labels got further
                        raise second from None
                    self.labels = False
                    raise first from None
        return self._any(batch)

    def _any(self, batch: Batch) -> Gradients:
        found = self._each(batch)
        if found.where and not self.found.gradients:
            self.found.gradients = found.where + (
                f"; one sample at a time ({self.per_sample}s), averaged" if self.per_sample else ""
            )
        if self.labels and not any(n.startswith("targets") for n in self.found.notes):
            self.found.notes.append("targets: integer labels (your code indexes with them)")
        return found

    def _each(self, batch: Batch) -> Gradients:
        if not self.per_sample:
            return self._gradients(batch)
        if self.per_sample == "True":  # column or vector: the one their code takes
            for form in ("column", "vector"):
                self.per_sample = form
                try:
                    return self._per_sample(batch)
                except UserCallError:
                    if form == "vector":
                        self.per_sample = "column"
                        raise
        return self._per_sample(batch)

    def _gradients(self, batch: Batch) -> Gradients:
        raise NotImplementedError

    def x_user(self, x: Array) -> Array:
        """Inputs as their code takes them: the batch in their layout, or one sample."""
        if self.per_sample in ("column", "vector") and len(x) == 1:
            return self.layout.sample(x, 0, self.per_sample)
        return self.layout.samples(x)

    def y_user(self, batch: Batch) -> Array:
        """Targets as their code takes them: labels, the batch in their layout, or one sample."""
        if self.labels and batch.labels is not None:
            return batch.labels
        if self.per_sample in ("column", "vector") and batch.m == 1:
            return self.layout.sample(batch.y, 0, self.per_sample)
        return self.layout.samples(batch.y)

    def output_user(self, out: Array) -> Array:
        """An output (rows layout) as their code holds it."""
        if self.per_sample in ("column", "vector") and len(out) == 1:
            return self.layout.sample(out, 0, self.per_sample)
        return self.layout.samples(out)

    # --- shared by the shapes ----------------------------------------------------------------

    def _per_sample(self, batch: Batch) -> Gradients:
        """Gradients averaged over the samples, each computed alone, as their own loop does."""
        total: dict[str, Array] = {}
        last = Gradients()
        for i in range(batch.m):
            single = Batch(
                batch.x[i : i + 1],
                batch.y[i : i + 1],
                batch.labels[i : i + 1] if batch.labels is not None else None,
            )
            last = self._gradients(single)
            if last.wrong or last.missing:
                return last
            for name, g in last.arrays.items():
                total[name] = total.get(name, 0) + g
        last.arrays = {name: g / batch.m for name, g in total.items()}
        return last

    def _in_place(self, before: dict[str, Array]) -> Gradients:
        """The gradient of a backward that updated the parameters itself: −Δ / update_lr;
        the parameters are put back."""
        after = self.get_params()
        changed = [n for n in before if not np.array_equal(before[n], after[n])]
        if not changed:
            return Gradients()
        if not self.update_lr:
            raise SetupError(
                "your backward updates the parameters in place and returns no gradients: nnfix "
                "reads the gradient from the update, given its step size",
                "backward",
                hint="update_lr: <the learning rate that update uses>",
            )
        out = Gradients(
            where=f"the update of the parameters, divided by update_lr {self.update_lr:g}",
            from_update=True,
        )
        for p in self.params:
            name = p.slot.name
            out.arrays[name] = -(after[name] - before[name]) / self.update_lr
            out.paths[name] = p.ref.path
            out.raw[name] = np.array(p.ref.get())  # the updated array, where the trace finds it
            out.holders[name] = (id(p.ref.owner), p.ref.key)
        if not self.keep_update:
            self.set_params(before)
        return out


def _indexes(exc: UserCallError) -> bool:
    """Did the call fail indexing with float targets (where integer labels were expected)?"""
    text = str(exc)  # NumPy: "arrays used as indices must be of integer (or boolean) type",
    # "only integers, slices ... are valid indices", "only integer scalar arrays can be ..."
    return text.startswith(("raised IndexError", "raised TypeError")) and "integer" in text


def resolve(module: ModuleType, name: str, key: str) -> Any:
    """A dotted name in the module's namespace (what it defines or imports)."""
    target: Any = module
    for part in name.split("."):
        if not hasattr(target, part):
            import difflib

            pool = [n for n in vars(module) if not n.startswith("_")]
            close = difflib.get_close_matches(part, pool, n=1)
            raise SetupError(
                f"'{name}' is not defined in {getattr(module, '__file__', 'your module')}",
                key,
                hint=f"did you mean '{close[0]}'?" if close else None,
            )
        target = getattr(target, part)
    return target


def call_spec(text: str, key: str) -> CallSpec:
    try:
        return parse_call(text)
    except CallSyntaxError as exc:
        raise SetupError(f"{text!r}: {exc}", key) from None


def seed_numpy(seed: int) -> None:
    """Seed NumPy's global and default generators (and random's), as for `init: yours`."""
    import random

    np.random.seed(seed % 2**32)
    random.seed(seed)
    with contextlib.suppress(Exception):  # numpy>=1.17: a default_rng that code may share
        np.random.default_rng(seed)
