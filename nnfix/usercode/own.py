"""The user's code as the network (SPEC §3.1): with no `model:` in the spec, nnfix learns the
network by running the code on a small batch — which float arrays are the parameters (the ones
that move the loss), what the forward returns, the loss (theirs, or the spec's of their output),
and the gradients the backward returns or stores — with no layer type known to it. The truth
the checks compare with is the derivative of that loss of their forward.

Every call into their code goes through `sandbox.call` (a UserCallError, U101, with their
traceback); what nnfix cannot work out is a SetupError naming the key that settles it."""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnfix.engine.layers.layer import Slot
from nnfix.engine.losses import total
from nnfix.spec.model import ImplementationSpec, LossSpec
from nnfix.usercode import absent, sandbox
from nnfix.usercode.binding import assigned_order, name_tuple, returned_names, said
from nnfix.usercode.calls import (
    BindingError,
    CallSyntaxError,
    NameRef,
    bind,
    parameters,
    parse_call,
    role_of,
)
from nnfix.usercode.chain import LayerChain
from nnfix.usercode.grads import Gradients, Param, from_changes
from nnfix.usercode.layout import Layout
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.needed import EFFECTS
from nnfix.usercode.objects import (
    ListRef,
    Ref,
    changed,
    first_number,
    float_list,
    is_float_array,
    snapshot,
    walk,
)
from nnfix.usercode.sequences import (
    differentiated,
    flat,
    gradients_in,
    loss_first,
    named,
    needs_state,
    one,
    per_step,
    return_names,
    sample_forms,
    shape_of,
    state_items,
    uses_zeros,
    zeros_shapes,
)
from nnfix.usercode.statements import run_statements
from nnfix.usercode.step import step_gradients, step_loss

Array = np.ndarray
SAMPLES = 8  # samples their code is checked on
RANKS = (1, 8)  # the ranks of the arrays that may be parameters (a conv's filters are 4-D)
AS_IS = Layout(columns=False, bias="row")  # their arrays are compared as they hold them


_is_array = is_float_array
_number = first_number


def _digest(value: Any) -> str:
    array = np.ascontiguousarray(value)
    return hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest() + str(array.shape)


def _key(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _loss_beside(value: Any) -> float | None:
    """The loss a backward returns beside its gradients: (loss, grads) or (grads, loss)."""
    if isinstance(value, tuple | list) and len(value) == 2:
        first, second = _number(value[0]), _number(value[1])
        if first is not None and not isinstance(value[0], tuple | list):
            return first
        return second
    return _number(value)


@dataclass
class Found:
    """What was found of their code, for the report's header."""

    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


class OwnNet:
    """Their code on a batch: `tensors` (the parameters, in the order their model holds them),
    `loss()` at the values those arrays hold, `gradients()` as their code gives them."""

    def __init__(
        self,
        impl: ImplementationSpec,
        module: types.ModuleType,
        x: Array,
        y: Array,
        loss: LossSpec | None,
        seed: int = 0,
    ):
        self.impl, self.module, self.loss_spec, self.seed = impl, module, loss, seed
        self.x, self.y = x, y  # rows: (m, …) inputs; (m,) labels or (m, k) targets
        self.m = len(x)
        self.found = Found()
        self.root: Any = None  # what `model:` made (a container of arrays or an object)
        self.columns = False  # X given as (features, m)
        self.y_form = "rows"  # the targets as their output holds them: rows | columns | labels
        self.tensors: list[Param] = []
        self._cache: Any = None  # what their forward returned beside the output
        self.sample_form: str | None = None  # per sample: one x as a column (n, 1) or a vector
        self._outs: list[tuple[Array, Any]] = []  # per sample: each one's output and cache
        self.loss_by_backward = False  # their backward returns (loss, grads): that loss is L
        self.chain: LayerChain | None = None  # `layers:`: their layer objects, chained
        self.names: dict[str, Any] = {}  # what `model:`'s statements bound, by name
        self.root_name = ""  # the name the root is bound to, where known (`network`)
        self.step_size: float | None = None  # the step size of `step:`'s update, once read
        self.sample_labels = False  # per sample: Y as the integer class label
        self._pairs: str | None = None  # their loss's parameter that takes [[x, y], …]
        self.as_lists = False  # per sample: X and Y given as Python lists (their weights are)
        self.loss_in_forward = False  # their forward returns (loss, grads…): that loss is L
        self.y_oriented = False  # a forward that takes Y takes it as X is laid out: (1, m)
        self.zeros: Array | None = None  # the `zeros` placeholder: an initial state
        self._item_names: list[
            str | None
        ] = []  # a returned tuple's items, as its return names them
        self._named: dict[int, dict[str, Any]] = {}  # per sample: what the forward returned
        self._losses: list[float] = []  # per sample: the loss each forward returned
        self._returned: dict[str, Any] = {}  # the batch: what the forward returned, by name
        self._out_name: str | None = None  # the name its return statement gives the output
        self.out_form = "rows"  # how their output holds the samples: rows | columns
        self._bound: set[str] = set()  # the functions whose arguments the header has said
        self._carried: dict[str, str] = {}  # a parameter name an earlier call gave their
        # parameters to (`p` of forward(X, p)): the same in every later call (backward(X, y, p))
        self._slopes: dict[tuple, tuple[Array, float] | None] = {}  # per tensor and values
        self._probabilities_given = False  # their backward takes the probabilities of scores
        self._settled: dict[str, dict[str, str]] = {}  # per function: arguments settled by values

    # --- their names ---------------------------------------------------------------------------

    def _get(self, base: Any, name: str) -> Any:
        value = base
        for part in name.split("."):
            value = getattr(value, part)
        return value

    def function(self, name: str, key: str) -> Callable:
        """A method (or an attribute's method: `cost.fn`) of their model, else a function of
        their module."""
        bases = [self.root] if self.root is not None else []
        bases += [types.SimpleNamespace(**self.names)] if self.names else []
        for base in [*bases, self.module]:
            try:
                value = self._get(base, name)
            except AttributeError:
                continue
            if callable(value):
                return value
        where = "your model or your module" if self.root is not None else "your module"
        raise SetupError(f"{where} has no function '{name}'", key)

    def _construct(self, text: str, key: str) -> Any:
        """What a `model:` call makes: names of their module and calls of them may be nested in
        its arguments, X and Y stand for the batch; or a dict, list or tuple of those
        (`{'W': np.random.randn(3, 3, 3, 2), 'b': np.zeros((1, 1, 1, 2))}`), made as it says."""
        container = text.strip()[:1] in ("{", "[", "(")
        try:  # a container is read as the one argument of a call, its items made alike
            call = parse_call(f"_({text})" if container else text, names=True)
        except CallSyntaxError as exc:
            raise SetupError(str(exc), key) from None
        seed_numpy(self.seed)
        if container:
            args, _ = call.arguments({"X": self.x, "Y": self.y}, lambda p: self._made(p, key))
            return args[0]
        return self._made(call, key)

    def _returned_names(self, text: str, count: int) -> list[str | None]:
        """The names the `model:` function's return statement gives the arrays it returns."""
        try:
            fn = self._get(self.module, parse_call(text, names=True).name)
        except (AttributeError, CallSyntaxError):
            return []
        names = return_names(fn) if callable(fn) else None
        return names if names is not None and len(names) == count else []

    def _made(self, part: Any, key: str) -> Any:
        name = part.name
        try:
            value = self._get(self.module, name)
        except AttributeError:
            raise SetupError(f"your module has no '{name}'", key) from None
        if isinstance(part, NameRef):
            return value
        args, kwargs = part.arguments({"X": self.x, "Y": self.y}, lambda p: self._made(p, key))
        return sandbox.call(key, value, *args, **kwargs)

    # --- building ------------------------------------------------------------------------------

    def build(self) -> None:
        """The model their code makes, how its forward takes the batch, and its parameters."""
        if isinstance(self.impl.loss, list) and not self.impl.layers:
            raise SetupError("implementation.loss as a list is not read yet", "loss")
        if not (self.impl.model or self.impl.layers or walk(self.module, "", ranks=RANKS)):
            made = self._found_model()  # no parameters among their globals: the function that
            if made is not None:  # makes them, where it needs no argument (`init_params()`)
                self.impl = self.impl.model_copy(update={"model": made})
                self.found.say(f"model: {made}, the function of your module that makes them")
        statements = self.impl.model if isinstance(self.impl.model, list) else None
        if self.impl.model_call and _expression(self.impl.model_call):  # `[Conv(3), Pool(2)]`
            statements = [f"model = {self.impl.model_call}"]
        if self.impl.layers:  # shape C: layer objects, chained (chain.py)
            self.chain = LayerChain(self)
            self.chain.build()
            self.root, self.root_name = self.chain.objects, "layers"
        elif statements:
            built = run_statements(
                statements, self.module, {"X": self.x, "Y": self.y}, self.seed, self.impl.forward
            )
            self.root, self.root_name, self.names = built.root, built.name, built.names
            self.found.say(
                f"model: {len(statements)} statement{'s' if len(statements) > 1 else ''} → "
                f"{built.name} ({type(self.root).__name__})"
            )
        elif self.impl.model_call:
            self.root = self._construct(self.impl.model_call, "model")
            if isinstance(self.root, tuple | list) and self.impl.forward:
                self._name_parameters()  # taken one by one: a dict by the forward's names
            if isinstance(self.root, tuple):  # a tuple of arrays, held as a list so that nnfix
                self.root = list(self.root)  # can put its own arrays in their places
                self._item_names = self._returned_names(self.impl.model_call, len(self.root))
            self.found.say(f"model: {self.impl.model} → {type(self.root).__name__}")
        else:
            self.found.say("parameters: looked for among your module's globals")
        self.as_lists = any(isinstance(r, ListRef) for r in self._refs())
        if self.impl.step and not self.impl.forward:  # the loss is the one their step returns
            per = self.impl.per_sample
            self.sample_form = (per if isinstance(per, str) else "vector") if per else None
            self.sample_labels = bool(per) and self._labels()
            self.found.say(
                "no forward: the loss is the one your step returns, at the values it starts from"
            )
            if not per:
                self._find_step_targets()
        else:
            self._find_forms()
            if not self.impl.loss and self.loss_spec is None and not self.loss_in_forward:
                self._probe_backward_loss()
        self._find_tensors()

    def _found_model(self) -> str | None:
        """The call of a function of their module that takes no argument and returns their
        parameters (a dict, list or tuple holding float arrays): `init_params()`. Their roles'
        functions, and names that train, plot, save or download, are never called."""
        roles = {self.impl.forward, self.impl.backward, self.impl.loss_call}
        roles |= {self.impl.step} if isinstance(self.impl.step, str) else set()
        for name, fn in list(vars(self.module).items()):
            if (
                not inspect.isfunction(fn)
                or fn.__module__ != self.module.__name__
                or name in roles
                or name.startswith("_")
                or EFFECTS.search(name)
                or any(p.default is p.empty for p in parameters(fn) or [])
                or parameters(fn) is None
            ):
                continue
            try:
                value = sandbox.call("model", fn)
            except sandbox.UserCallError:
                continue
            items = value.values() if isinstance(value, dict) else value
            if isinstance(value, dict | list | tuple) and (
                sum(isinstance(v, np.ndarray) and v.dtype.kind == "f" for v in items) >= 2
            ):
                return f"{name}()"
        return None

    def _name_parameters(self) -> None:
        """A model call that returns its arrays as a bare tuple (`return W1, b1, W2, b2`) for a
        forward that takes them one by one: each named as the forward takes it, held in a dict
        by those names (so that nnfix can set them, and bind them by name), and said."""
        forward = self.function(self.impl.forward or "", "forward")
        try:
            made_by = self._get(self.module, parse_call(str(self.impl.model_call)).name)
        except (AttributeError, CallSyntaxError):
            made_by = None
        named = name_tuple(self.root, made_by if callable(made_by) else None, forward)
        if named is None:
            return
        self.root, how = named
        self.found.say(
            f"parameters: {', '.join(self.root)} — the arrays {self.impl.model} returns, named {how}"
        )

    def _probe_backward_loss(self) -> None:
        """A backward that returns (loss, grads) where no loss is given: that loss is L."""
        if not self.impl.backward:
            return
        fn = self.function(self.impl.backward, "backward")
        fallback = ("params", "cache", "X", "Y") if not inspect.ismethod(fn) else ("X", "Y")
        # the targets as their output holds them, else as integer labels (cs231n's
        # `loss(X, y)` indexes the probabilities with y), as _settle_targets tries their loss
        forms = (self.y_form, "labels") if self.sample_form is None and self._labels() else ()
        for form in forms or (self.y_form,):
            keep, self.y_form = self.y_form, form
            try:
                if self.sample_form is not None:
                    out_i, cache_i = self._outs[0]
                    values = self._sample_values(0, out_i, cache_i)
                    value = self._call("backward", fn, values, fallback)
                else:
                    out, cache = self.forward()
                    value = self._call("backward", fn, self._values(out, cache), fallback)
            except (sandbox.UserCallError, SetupError):
                self.y_form = keep
                continue
            if loss_first(value) is not None:
                self.loss_by_backward = True
                self.found.say(
                    f"loss: the number {self.impl.backward} returns beside the gradients"
                )
                if form == "labels" and keep != "labels":
                    self.found.say("targets: integer labels, as your backward indexes with them")
                return
            self.y_form = keep

    def _find_forms(self) -> None:
        """X as rows (samples first) or as columns; the targets as their output holds them. Code
        that takes one sample (`per_sample:`) is given each as a column (n, 1) or a vector."""
        if self.impl.per_sample:
            self._find_sample_form()
            return
        first_error: sandbox.UserCallError | None = None
        tries = [
            (columns, shape)
            for shape in self._zeros_shapes(batch=True)
            for columns in ((False, True) if self.x.ndim == 2 else (False,))
        ]
        for columns, shape in tries:
            self.columns = columns
            self.zeros = None if shape is None else np.zeros(shape)
            try:
                out, _ = self.forward()
            except sandbox.UserCallError as exc:
                first_error = _kept(first_error, exc)
                continue
            if self.loss_in_forward:
                data = "X (features, samples)" if columns else "X (samples, …)"
                self.found.say(
                    f"layout: {data}; your forward returns the loss beside the gradients: "
                    "that number is the loss checked"
                )
                if shape is not None:
                    self.found.say(f"zeros: an initial state of shape {shape}, as your code needs")
                return
            if out.ndim >= 1 and out.shape[0] == self.m:
                self.y_form = "rows"
            elif out.ndim >= 2 and out.shape[-1] == self.m:
                self.y_form = "columns"
            else:
                continue
            self.out_form = self.y_form
            data = "X (features, samples)" if columns else "X (samples, …)"
            self.found.say(f"layout: {data}; your forward's output {tuple(out.shape)}")
            if shape is not None:
                self.found.say(f"zeros: an initial state of shape {shape}, as your code needs")
            self._settle_targets(out)
            return
        if first_error is not None:
            self.columns = False
            try:  # a forward of one sample (a step may still take the batch)
                self._find_sample_form()
            except SetupError:
                self.sample_form = None
                raise _uncalled(first_error, "X as rows (samples first) and as columns") from None
            self.found.say("your forward takes one sample at a time (found by calling it)")
            return
        raise SetupError(
            "your forward returned no array with the batch's samples along its first or last axis",
            "forward",
        )

    def _find_step_targets(self) -> None:
        """A step with no forward: the targets as the data holds them, else one column flat
        (m,), where the first raises and the second does not."""
        first_error: sandbox.UserCallError | None = None
        for form in ("rows", "flat"):
            self.y_form = form
            try:
                self.loss()
            except sandbox.UserCallError as exc:
                first_error = _kept(first_error, exc)
                continue
            if form == "flat":
                self.found.say("targets: one value per sample, flat (m,), as your step takes them")
            return
        self.y_form = "rows"
        assert first_error is not None
        raise first_error

    def _zeros_shapes(self, batch: bool) -> list[tuple[int, ...] | None]:
        """The shapes to try for the `zeros` placeholder (sequences.zeros_shapes): per sample
        a column or a vector; for the batch, one row per sample (m, h) or one column (h, m)."""
        if not uses_zeros(self.impl.arguments):
            return [None]
        root = self.root if self.root is not None else self.module
        data = {id(self.x), id(self.y)}
        arrays = [r.get() for r in walk(root, "", ranks=RANKS) if id(r.get()) not in data]
        shapes = zeros_shapes(arrays)
        if not shapes:
            raise SetupError(
                "`zeros` is an initial state sized by your parameters' shapes, and nnfix "
                "found no float array in your model or module's globals to size it by",
                "arguments",
                hint="model: <the call that makes your parameters>, or the state as a "
                "literal in arguments:",
            )
        if not batch:
            return list(shapes)
        sizes = [s[0] for s in shapes if len(s) == 1]
        return [shape for n in sizes for shape in ((self.m, n), (n, self.m))]

    def _find_sample_form(self) -> None:
        """One sample as their code takes it (sequences.sample_forms), and the `zeros` state
        of the shape it needs: each tried until their forward runs."""
        per = self.impl.per_sample
        forms = [per] if isinstance(per, str) else sample_forms(self.x)
        zeros = self._zeros_shapes(batch=False)
        first_error: sandbox.UserCallError | None = None
        # their weights as Python lists: each sample as a list first (`x + [1]` concatenates a
        # list, where an array would add 1 and compute something else without raising)
        tries = ([("vector", True)] if self.as_lists else []) + [(f, False) for f in forms]
        for form, as_lists in tries:
            for shape in zeros:
                self.sample_form, self.as_lists = form, as_lists
                self.zeros = None if shape is None else np.zeros(shape)
                try:
                    out, _ = self.forward()
                except sandbox.UserCallError as exc:
                    first_error = _kept(first_error, exc)
                    continue
                held = {
                    "column": "a column (n, 1)",
                    "vector": "a vector (n,)",
                    "list": "a list of token ids",
                    "array": "an array",
                }[form]
                what = (
                    "the loss it returns beside the gradients"
                    if self.loss_in_forward
                    else f"output per sample {shape_of(self._outs[0][0])}"
                )
                self.found.say(
                    f"one sample at a time, as {'a vector (a Python list)' if as_lists else held}; {what}"
                )
                if shape is not None:
                    self.found.say(f"zeros: an initial state of shape {shape}, as your code needs")
                self._settle_targets(out)
                return
        assert first_error is not None
        raise _uncalled(first_error, " and as ".join(f"a {f}" for f in forms) + " per sample")

    def _settle_targets(self, out: Array) -> None:
        """Their loss takes the targets as their output holds them, or as integer labels."""
        if not self.impl.loss or self.sample_form is not None:  # one sample: its form settles it
            return
        for form in (self.y_form, "labels"):
            keep, self.y_form = self.y_form, form
            try:
                value = self._their_loss(out, self._cache)
            except sandbox.UserCallError:
                value = None
            if value is not None and np.isfinite(value):
                if form == "labels":
                    self.found.say("targets: integer labels, as your loss indexes with them")
                return
            self.y_form = keep

    def _refs(self) -> list[Ref]:
        """The float arrays their model or module holds; a pure-Python net's nested lists of
        floats where it holds no array (or where a step's update is read)."""
        root = self.root if self.root is not None else self.module
        name = self.root_name if isinstance(root, list | tuple) else ""
        found = walk(root, name, ranks=RANKS, lists=bool(self.impl.step))
        if not any(self._usable(r) for r in found):
            found = walk(root, name, ranks=RANKS, lists=True)
        return [r for r in found if self._usable(r)]

    def _usable(self, r: Ref) -> bool:
        return not self._data(r.get()) and not isinstance(r.owner, tuple)  # a tuple's: not settable

    def _data(self, value: Any) -> bool:
        """Is `value` nnfix's batch, or a view of it (a layer's `self.last_input = x` of the
        sample it was given): data, never a parameter, though nudging it moves the loss."""
        return any(
            isinstance(value, np.ndarray)
            and isinstance(d, np.ndarray)
            and (value is d or np.shares_memory(value, d))
            for d in (self.x, self.y)
        )

    def _find_tensors(self) -> None:
        """The float arrays their model holds (or their module's globals) that move the loss."""
        refs = self._candidates()
        base = self.loss()
        moving = [r for r in refs if self._moves(r, base)]
        if not moving:
            raise SetupError(
                "nnfix found no float array in your model that moves the loss: nothing to check",
                "model",
                hint="model: <the call that creates your parameters>",
            )
        order = self._order_of_use(moving)
        self._number(sorted(moving, key=lambda r: order.get(id(r), len(order))))
        names = ", ".join(p.slot.name for p in self.tensors[:6])
        more = ", …" if len(self.tensors) > 6 else ""
        self.found.say(f"parameters: {len(self.tensors)} arrays that move the loss ({names}{more})")

    def _number(self, refs: list[Ref]) -> None:
        """The parameters, in their order of use: a layer per weight, a vector after it its bias."""
        self.tensors = []
        layer, previous = 0, ""
        for ref in refs:
            vector = sum(n > 1 for n in ref.get().shape) <= 1
            role = "bias" if vector and previous == "weight" else "weight"
            layer += role == "weight"
            previous = role
            shown = _shown(ref)
            if ref.owner is self.root and ref.kind == "item" and self._item_names:
                shown = self._item_names[ref.key] or shown  # `return U, V, W, b_hidden, b_out`
            self.tensors.append(Param(Slot(shown, layer, role), ref, tuple(ref.get().shape)))

    def _state(self, found: Gradients, kept: list[tuple[Ref, Array, Array]]) -> list[str]:
        """The arrays that move the loss but are their code's state, not parameters: no gradient
        is returned for them and their training pass changed them (batchnorm's running mean and
        variance, which a test-time forward reads)."""
        altered = {
            id(ref)
            for ref, array, values in kept
            if ref.get() is not array or not np.array_equal(array, values, equal_nan=True)
        }
        state = [p for p in self.tensors if p.slot.name in found.missing and id(p.ref) in altered]
        if not state or len(state) == len(self.tensors):
            return []
        self._number([p.ref for p in self.tensors if p not in state])
        names = ", ".join(p.slot.name for p in state)
        self.found.say(f"state, not parameters: {names} (your training pass changes them)")
        return [p.slot.name for p in state]

    def _candidates(self) -> list[Ref]:
        """The arrays that may be parameters: every float array of their model (or module)."""
        return self._refs()

    def _order_of_use(self, refs: list[Ref]) -> dict[int, int]:
        """The order in which their forward first computes with each parameter (id(ref) ->
        rank): each array is stood in for, during one forward, by a view that notes when NumPy
        first computes with it — the parameter used last is nearest the output."""
        first: dict[int, int] = {}
        originals = [(r, r.get()) for r in refs]
        try:
            for k, (ref, value) in enumerate(originals):
                view = value.view(_Noted)
                view.tag = (k, first)
                ref.set(view)
            self.forward()
        except (sandbox.UserCallError, SetupError):
            return {}
        finally:
            for ref, value in originals:
                ref.set(value)
        return {
            id(originals[k][0]): rank
            for rank, k in enumerate(sorted(first, key=lambda j: first[j]))
        }

    def _moves(self, ref: Ref, base: float) -> bool:
        value = ref.get()
        rng = np.random.default_rng(0)
        nudged = value + 1e-3 * (1 + np.abs(value)) * rng.standard_normal(value.shape)
        kept = value.copy()
        in_place = not isinstance(ref, ListRef) and value.flags.writeable
        if in_place:  # in place: an array their layers share with a dict of params moves too
            value[...] = nudged
        else:
            ref.set(nudged.astype(value.dtype))
        try:
            moved = self.loss()
        except (sandbox.UserCallError, SetupError):
            return False
        finally:
            if in_place:
                value[...] = kept
            else:
                ref.set(value)
        return bool(np.isfinite(moved)) and abs(moved - base) > 1e-9 * max(1.0, abs(base))

    # --- the batch as their code takes it --------------------------------------------------

    def x_given(self) -> Array:
        return np.ascontiguousarray(self.x.T) if self.columns else self.x

    def targets_held(self) -> list[Array]:
        """The targets in forms nnfix does not give through y_given (a script's pass holds its
        own): none here."""
        return []

    def y_given(self, out: Array | None = None) -> Array:
        """The targets in the form their output has (one-hot where it has several units), or
        as integer labels."""
        y = self.y
        flat = y.reshape(-1) if y.ndim == 1 or y.shape[-1] == 1 else None
        if self.y_form == "flat" and flat is not None:
            return flat
        if self.y_form == "labels" or out is None:
            return flat.astype(int) if flat is not None and _integral(flat) else y
        k = out.shape[0] if self.y_form == "columns" else (out.shape[-1] if out.ndim > 1 else 1)
        if flat is not None:
            rows = (
                np.eye(k)[flat.astype(int)] if k > 1 and _labels_below(flat, k) else flat[:, None]
            )
        else:
            rows = y
        if out.ndim == 1:
            return rows.reshape(-1)
        return np.ascontiguousarray(rows.T) if self.y_form == "columns" else rows

    # --- calling their code ----------------------------------------------------------------

    def _values(self, out: Array | None = None, cache: Any = None) -> dict[str, Any]:
        values: dict[str, Any] = {"X": self.x_given(), "Y": self.y_given(out)}
        if self.zeros is not None:
            values["zeros"] = self.zeros.copy()
        if self.root is not None:
            values["params"] = self.root
        if out is not None:
            values["output"] = out
        if cache is not None:
            values["cache"] = cache
        if out is not None and self._returned:
            values["named"] = self._returned
        return values

    def _sample_values(self, i: int, out: Any = None, cache: Any = None) -> dict[str, Any]:
        """One sample, as a column (n, 1), a vector (n,), a Python list (where their weights are
        lists), a list of token ids or an array as held (an image as it is); its target alike (a
        target per step given whole; a class label as the integer where their code takes it so)."""
        form = self.sample_form or "vector"
        sample = np.asarray(self.x[i])
        if self.as_lists:  # `input_vector + [1]` concatenates a list where it adds to an array
            x: Any = np.asarray(sample, dtype=np.float64).reshape(-1).tolist()
        elif sample.ndim > 1 and form in ("column", "vector"):
            x = np.asarray(sample, dtype=np.float64)  # an image or a sequence of vectors as held
        else:
            x = one(sample, form)
        values: dict[str, Any] = {"X": x}
        if self.sample_labels:
            values["Y"] = int(np.asarray(self.y).reshape(-1)[i])
        elif per_step(self.y, self.x):
            values["Y"] = one(self.y[i], form)
        elif form == "list" and self.y.ndim == 1 and self.y.dtype.kind in "iu":
            values["Y"] = int(self.y[i])  # `target: next` or `label`: one token id, or class
        elif self._outs or self.loss_in_forward:
            k = int(np.size(self._outs[0][0])) if self._outs and not self.loss_in_forward else 1
            target = self._target_row(i, k)
            values["Y"] = (
                target.tolist()
                if self.as_lists
                else target[:, None]
                if form == "column"
                else target
            )
        if self.zeros is not None:
            values["zeros"] = self.zeros.copy()
        if out is not None or cache is not None:
            values["named"] = self._named.get(i, {})
        if self.root is not None:
            values["params"] = self.root
        if out is not None:
            values["output"] = out
        if cache is not None:
            values["cache"] = cache
        return values

    def _labels(self) -> bool:
        """Are the targets one integer class label per sample?"""
        flat = np.asarray(self.y)
        return (flat.ndim == 1 or flat.shape[-1] == 1) and _integral(
            flat.reshape(-1).astype(np.float64)
        )

    def _target_row(self, i: int, k: int) -> Array:
        y = self.y
        if y.ndim == 1 or y.shape[-1] == 1:
            v = float(np.asarray(y).reshape(-1)[i])
            if k > 1 and _labels_below(np.asarray(y, dtype=np.float64).reshape(-1), k):
                return np.eye(k)[int(v)]
            return np.array([v])
        return np.asarray(y[i], dtype=np.float64)

    def _arguments_of(
        self,
        role: str,
        fn: Callable,
        values: dict[str, Any],
        fallback: tuple,
        extra: dict[str, Any] | None = None,
        record: dict[str, str] | None = None,
    ) -> tuple[list, dict]:
        """Their function's arguments: `arguments:` first, then `extra` and what nnfix settled
        by values for this function, then a value a `model:` statement bound under the
        parameter's name, then by name, by shape and in order (calls.bind)."""
        bound = {  # a parameter named as a `model:` statement bound a value: that value
            p.name: self.names[p.name]
            for p in parameters(fn) or []
            if p.name in self.names and not isinstance(self.names[p.name], np.ndarray)
        }
        if "params" in values:
            bound = {  # named as an earlier call's parameter that took their parameters
                **{p.name: "params" for p in parameters(fn) or [] if p.name in self._carried},
                **bound,
            }
        if values.get("named") and "output" in values and "output" not in fallback:
            fallback = ("output", *fallback)  # beside the forward's named values: its output
        settled = self._settled.get(_key(fn), {})
        return bind(
            fn,
            role,
            values,
            depth=max(1, len(self.tensors) // 2),
            arguments={**bound, **settled, **(extra or {}), **self.impl.arguments},
            fallback=fallback,
            named=self._named_for(values, fn),
            record=record,
        )

    def _claimants(
        self, role: str, fn: Callable, values: dict[str, Any], fallback: tuple
    ) -> list[str]:
        """The parameters that all claim the output by their names where none takes the
        targets (`backward(output, predicted)`): one of them is the target, found by values."""
        record: dict[str, str] = {}
        try:
            self._arguments_of(role, fn, values, fallback, record=record)
        except BindingError:
            return []
        given = dict(self.impl.arguments or {})
        outputs = [p for p, what in record.items() if what == "output" and p not in given]
        return outputs if len(outputs) > 1 and "Y" not in record.values() else []

    def _call(
        self,
        role: str,
        fn: Callable,
        values: dict[str, Any],
        fallback: tuple,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        if self.chain is not None and role in ("forward", "loss"):  # it calls their methods
            if role == "forward":
                return self.chain.forward(values["X"])
            return self.chain.value(values["output"], values["Y"])
        record: dict[str, str] = {}
        depth = max(1, len(self.tensors) // 2)
        try:
            args, kwargs = self._arguments_of(role, fn, values, fallback, extra, record)
        except BindingError as exc:
            raise SetupError(
                str(exc), role, hint=f"arguments: {{{exc.parameter}: <X, Y, params or a value>}}"
            ) from None
        name = _key(fn)
        self._carried.update({p: w for p, w in record.items() if w == "params"})
        if extra is None and name not in self._bound and record:  # how each call was bound
            self._bound.add(name)
            unusual = any(role_of(p, role, depth) != what for p, what in record.items())
            settles = " (`arguments:` settles them)" if unusual else ""
            self.found.say(f"arguments of {said(fn, record, self._sources())}{settles}")
        seed_numpy(self.seed)  # a dropout mask is the same mask at every evaluation
        return sandbox.call(role, fn, *args, **kwargs)

    def _sources(self) -> dict[str, str]:
        """Where each named value comes from, for the header."""
        sources = {}
        if isinstance(self.root, dict):
            sources.update({str(k): "your parameters" for k in self.root})
        forward = self.impl.forward or "forward"
        sources.update({k: f"what {forward} returned" for k in self._returned})
        return sources

    def _named_for(self, values: dict[str, Any], fn: Callable) -> dict[str, Any]:
        """Values by the names their code gives them: the arrays of a params dict by their
        keys, what the forward returned (for the sample being called) by its names, and —
        for a backward that takes `dZ` where the forward returned `Z, cache` — dL/dZ."""
        out: dict[str, Any] = {}
        if isinstance(self.root, dict):
            out.update({str(k): v for k, v in self.root.items() if isinstance(k, str)})
        out.update(values.get("named", {}))
        wanted = f"d{self._out_name}"
        if (
            self.sample_form is None
            and self._out_name
            and "output" in values
            and any(p.name == wanted for p in parameters(fn) or [])
        ):
            out[wanted] = self._output_gradient(values["output"], values.get("cache"))
            self.found.say(f"{wanted}: the loss's gradient at your forward's {self._out_name}")
        return out

    def _output_gradient(self, out: Array, cache: Any) -> Array:
        """dL/d(output) of the loss (theirs, else the spec's) at their output, by central
        differences over its entries (the output of a small batch is small)."""

        def loss_of(v: Array) -> float:
            theirs = self._their_loss(v, cache)
            return theirs if theirs is not None else self._spec_loss(v)

        return differentiated(loss_of, out)

    def forward(self) -> tuple[Array, Any]:
        """Their forward on the batch: the output, and what it returned beside it (per sample:
        the outputs stacked as rows, each sample's kept in `_outs`)."""
        if self.chain is not None:
            fn: Callable = self.chain.forward
            fallback: tuple = ("X",)
        elif not self.impl.forward:
            raise SetupError("nnfix needs your forward", "forward", hint="forward: <its name>")
        else:
            fn = self.function(self.impl.forward, "forward")
            fallback = ("X",) if inspect.ismethod(fn) or self.root is None else ("X", "params")
        if self.sample_form is not None:
            if not self._outs and _takes_y(fn, self.impl.arguments) and self._labels():
                self.sample_labels = True  # `out[label]`: one-hot needs a width not known yet
                self.found.say("targets: one integer label per sample, as your forward takes it")
            return self._forward_samples(fn, fallback)
        values = self._values()
        if _optional(fn, "Y"):  # `loss(X, y=None)`: the scores without y, (loss, grads) with it
            values.pop("Y")
        elif self.y_oriented:
            values["Y"] = self._y_as_x()
        try:
            value = self._call("forward", fn, values, fallback)
        except sandbox.UserCallError:
            if self.y_oriented or "Y" not in values or not _takes_y(fn, self.impl.arguments):
                raise
            value = self._forward_y_as_x(fn, values, fallback)
        loss = loss_first(value)
        if loss is not None:  # (loss, grads): a loss and backward in one, the loss the number
            self.loss_in_forward = True
            self._losses = [loss]
            # (cost, cache) of a forward that takes Y: a backward's `cache` is the cache
            return np.array([loss]), value[1] if len(value) == 2 else value
        out, self._cache = self._split(value)
        self._returned = named(value, return_names(fn))
        self._out_name = next((n for n, v in self._returned.items() if v is out), None)
        if out is None:
            raise SetupError(
                f"your forward returned {type(value).__name__}, not the network's output",
                "forward",
                hint="output: <where a forward that returns None leaves its result>",
            )
        return out, self._cache

    def _y_as_x(self) -> Array:
        """The targets laid out as X is: one row per sample, or one column (`Y.shape[1]` is m)."""
        rows = self.y if self.y.ndim == 2 else self.y.reshape(len(self.y), -1)
        return np.ascontiguousarray(rows.T) if self.columns else rows

    def _forward_y_as_x(self, fn: Callable, values: dict[str, Any], fallback: tuple) -> Any:
        """Their forward that takes Y and raised on the targets flat: called with them laid out
        as X is (`m = Y.shape[1]` of samples as columns); their first error where that raises
        too."""
        first = sys.exc_info()[1]
        try:
            value = self._call("forward", fn, {**values, "Y": self._y_as_x()}, fallback)
        except sandbox.UserCallError:
            assert first is not None
            raise first from None
        self.y_oriented = True
        shape = self._y_as_x().shape
        self.found.say(f"targets: {shape}, laid out as X is, as your forward takes them")
        return value

    def _forward_samples(self, fn: Callable, fallback: tuple) -> tuple[Array, Any]:
        """Their forward of each sample: the outputs stacked as rows, each sample's output and
        what it returned beside it kept in `_outs` (and by the return statement's names); a
        forward that returns (loss, grads…) gives each sample's loss."""
        self._outs, self._losses, self._named = [], [], {}
        names = return_names(fn)
        rows = []
        for i in range(self.m):
            value = self._call("forward", fn, self._sample_values(i), fallback)
            loss = loss_first(value)
            if loss is not None:
                self.loss_in_forward = True
                self._losses.append(loss)
                self._outs.append((np.array([loss]), value))
                rows.append(np.array([loss]))
                continue
            out_i, cache_i = self._split(value, samples=1)
            if out_i is None and isinstance(value, tuple | list) and value:
                out_i, cache_i = value[-1], value  # (xs, hs, ps): lists or dicts per step
            if out_i is None:
                raise SetupError(
                    f"your forward returned {type(value).__name__} for one sample, not its output",
                    "forward",
                )
            self._outs.append((out_i, cache_i))
            self._named[i] = named(value, names)
            rows.append(flat(out_i))
        self.y_form = "rows"
        if all(len(r) == len(rows[0]) for r in rows):
            return np.stack(rows), None
        return np.zeros((self.m, 0)), None

    def _split(self, value: Any, samples: int | None = None) -> tuple[Array | None, Any]:
        """(the output, its cache) in what a forward returned: an array; (output, cache); or a
        tuple of the intermediates, or a dict of them (a cache), whose output is the last array
        with the batch's samples — the last of those as wide as the targets, where they say
        (`(z, h)`: the scores first, then the hidden layer)."""
        if value is None and self.impl.output and self.root is not None:
            value = getattr(self.root, self.impl.output, None)
        value = _from_lists(value, self.m if samples is None else samples)
        if _is_array(value):
            return value, None
        if isinstance(value, tuple | list) and value:
            if _is_array(value[0]) and len(value) == 2 and not _is_array(value[1]):
                return value[0], value[1]
            values = list(value)
        elif isinstance(value, dict) and value:  # a cache dict {"Z1": …, "A1": …, "A2": …}
            values = list(value.values())
        else:
            return None, None
        m = self.m if samples is None else samples
        arrays = [v for v in values if _is_array(v) and (samples is not None or m in v.shape)]
        if not arrays:
            return None, None
        if isinstance(value, tuple | list):  # in the order the forward computes them
            arrays = self._by_assignment(value, arrays)
        width = self._target_width() if samples is None else None
        wide = [a for a in arrays if a.size == width * m] if width else []
        return (wide or arrays)[-1], value

    def _by_assignment(self, value: tuple | list, arrays: list[Array]) -> list[Array]:
        """The arrays a forward returned in the order it computes them, where its return
        statement names them and its code assigns each (`return z, h`: h first)."""
        if not self.impl.forward:
            return arrays
        fn = self.function(self.impl.forward, "forward")
        names = returned_names(fn)
        if names is None or len(names) != len(value):
            return arrays
        order = assigned_order(fn, names)
        if order is None:
            return arrays
        rank = {id(v): order.index(n) for n, v in zip(names, value, strict=True)}
        return sorted(arrays, key=lambda a: rank.get(id(a), -1))

    def _target_width(self) -> int | None:
        """The output's units the targets settle: a one-hot's width, or 1 for one real-valued
        target per sample; None for integer labels (a sigmoid unit or a softmax over them)."""
        y = self.y
        if y.ndim == 2 and y.shape[1] > 1:
            return int(y.shape[1])
        flat = np.asarray(y).reshape(-1)
        if flat.dtype.kind == "f" and not _integral(flat):
            return 1
        return None

    def _their_loss(self, out: Array, cache: Any) -> float | None:
        if not self.impl.loss:
            return None
        fn = self._loss_function()
        values = self._values(out, cache)
        if _key(fn) not in self._settled:
            self._settle_loss(fn, values)
        value = self._call("loss", fn, values, ("output", "Y"))
        number = self._parts(value)
        if number is None:
            raise SetupError(f"your loss returned {type(value).__name__}, not a number", "loss")
        return number

    def _settle_loss(self, fn: Callable, values: dict[str, Any]) -> None:
        """A loss whose parameters all claim the output (`mse(output, predicted)`): the one that
        takes the targets is the one whose loss is finite (log of a one-hot target is not);
        where either is, the loss is the same either way, or nnfix asks (exit 2)."""
        claimants = self._claimants("loss", fn, values, ("output", "Y"))
        self._settled[_key(fn)] = {}
        if not claimants:
            return
        results = []
        for p in claimants:
            try:
                number = self._parts(self._call("loss", fn, values, ("output", "Y"), {p: "Y"}))
            except sandbox.UserCallError:
                number = None
            if number is not None and np.isfinite(number):
                results.append((p, number))
        if not results or (
            len(results) > 1
            and not np.allclose([n for _, n in results], results[0][1], rtol=1e-9, atol=0)
        ):
            raise SetupError(
                f"{_key(fn)}: {' and '.join(claimants)} both name the output by their names, and "
                "nnfix cannot tell from the values which one takes the targets",
                "arguments",
                hint=f"arguments: {{{claimants[0]}: Y}} (or output)",
            )
        chosen = results[0][0]
        self._settled[_key(fn)] = {chosen: "Y"}
        self.found.say(
            f"arguments of {_key(fn)}: {chosen} ← the targets, by values (its name says the "
            "output; `arguments:` settles it)"
        )

    def _loss_function(self) -> Callable:
        if self.chain is not None:
            return self.chain.value
        return self.function(self.impl.loss_call or "", "loss")

    def loss(self) -> float:
        """The loss of their forward at the values their arrays hold now: the one their backward
        returns beside the gradients, else their own loss function, else the spec's loss of
        their output."""
        if self.loss_in_forward:
            self.forward()
            return float(np.mean(self._losses))
        if self.loss_by_backward:
            return self._backward_loss()
        if self.impl.step and not self.impl.forward:
            return step_loss(self)
        out, cache = self.forward()
        if self.sample_form is not None and self.impl.loss:  # their loss of one sample, averaged
            fn = self._loss_function()
            values = []
            for i, (out_i, cache_i) in enumerate(self._outs):
                value = self._parts(self._sample_loss(fn, i, out_i, cache_i))
                if value is None:
                    raise SetupError("your loss returned no number for one sample", "loss")
                values.append(value)
            return float(np.mean(values))
        theirs = self._their_loss(out, cache)
        if theirs is not None:
            return theirs
        return self._spec_loss(out)

    def _parts(self, value: Any) -> float | None:
        """Their loss as a number; a tuple of numbers is their sum, as a training loop adds
        `data_loss + regularization_loss` (an accuracy beside the loss is flat in the
        parameters: it adds nothing to the gradient)."""
        if isinstance(value, tuple | list) and len(value) > 1 and all(_scalar(v) for v in value):
            self.found.say(
                f"loss: the sum of the {len(value)} numbers {self.impl.loss} returns "
                "(a data loss and a penalty, as a training loop adds them)"
            )
            return float(sum(float(np.asarray(v).reshape(-1)[0]) for v in value))
        return _number(value)

    def _sample_loss(self, fn: Callable, i: int, out: Any, cache: Any) -> Any:
        """Their loss of one sample; where it takes one argument nnfix has no role for and
        raises given the output, the sample as a training set of one (inputs, targets) pair
        (`calculate_total_error(training_sets)`), kept from then on when that works."""
        values = self._sample_values(i, out, cache)
        pairs = {self._pairs: [[values["X"], values["Y"]]]} if self._pairs else None
        try:
            return self._call("loss", fn, values, ("output", "Y"), pairs)
        except sandbox.UserCallError:
            required = [p for p in parameters(fn) or [] if p.default is p.empty]
            if self._pairs or len(required) != 1 or role_of(required[0].name, "loss", 1):
                raise
            name = required[0].name
            value = self._call(
                "loss", fn, values, ("output", "Y"), {name: [[values["X"], values["Y"]]]}
            )
            self._pairs = name
            self.found.say(f"loss: {self.impl.loss} given each sample as [[inputs, targets]]")
            return value

    def _spec_loss(self, out: Array) -> float:
        spec = self.loss_spec
        if spec is None:
            raise SetupError(
                "nnfix needs the loss your backward differentiates",
                "loss",
                hint="loss: <your cost function>, or the spec's `loss:` (bce, cce, mse, mae)",
            )
        a = np.asarray(out, dtype=np.float64)
        keep = self.y_form
        if keep == "labels":  # their backward's labels: the loss's targets as the output holds them
            self.y_form = self.out_form
        try:
            y = np.asarray(self.y_given(out), dtype=np.float64)
        finally:
            self.y_form = keep
        if self.y_form == "columns" or (keep == "labels" and self.out_form == "columns"):
            a, y = a.T, y.T
        a, y = a.reshape(self.m, -1), y.reshape(self.m, -1)
        if spec.name == "cce" and (a.min() < 0 or a.max() > 1):  # scores: through softmax
            value = total("cce", a, a, y, "softmax")
        elif spec.name == "bce" and (a.min() < 0 or a.max() > 1):  # scores: through sigmoid
            value = total("bce", a, 1 / (1 + np.exp(-a)), y, "sigmoid")
        else:
            value = total(spec.name, a, a, y, None)
        return value * spec.scale * (1.0 / self.m if spec.reduction == "mean" else 1.0)

    def _backward_value(
        self,
        fn: Callable,
        out: Array,
        cache: Any,
        fallback: tuple,
        extra: dict[str, str] | None = None,
        given: Array | None = None,
    ) -> Any:
        """Their backward's value (`given` in place of the output where nnfix tries the
        probabilities for scores); where it raises on targets shaped like the output, the targets
        as integer labels (`scores[np.arange(N), y]`), kept from then on when they work."""

        def values() -> dict[str, Any]:
            found = self._values(out, cache)
            if given is not None:
                found["output"] = given
            return found

        try:
            return self._call("backward", fn, values(), fallback, extra)
        except sandbox.UserCallError as first:
            if self.y_form == "labels" or not _integral(self.y.reshape(-1)):
                raise
            keep, self.y_form = self.y_form, "labels"
            try:
                value = self._call("backward", fn, values(), fallback, extra)
            except sandbox.UserCallError:
                self.y_form = keep
                raise first from None  # their error on the targets as given, not on labels
            self.found.say("targets: integer labels, as your backward indexes with them")
            return value

    def _backward_loss(self) -> float:
        out, cache = self.forward()
        fn = self.function(self.impl.backward or "", "backward")
        fallback = ("params", "cache", "X", "Y") if not inspect.ismethod(fn) else ("X", "Y")
        if self.sample_form is not None:  # each sample's, averaged
            numbers = [
                _number(self._call("backward", fn, self._sample_values(i, o, c), fallback))
                for i, (o, c) in enumerate(self._outs)
            ]
            if any(n is None for n in numbers):
                raise SetupError("your backward stopped returning its loss", "backward")
            return float(np.mean([n for n in numbers if n is not None]))
        value = _loss_beside(self._call("backward", fn, self._values(out, cache), fallback))
        if value is None:
            raise SetupError("your backward stopped returning its loss", "backward")
        return value

    # --- their gradients -------------------------------------------------------------------

    def gradients(self) -> Gradients:
        """The gradients their backward returns, or stores on their model, matched to the
        parameters (by name, then by position and shape); their parameters are put back."""
        if self.chain is not None:
            return self.chain.gradients(self.tensors)
        if self.impl.step:
            return step_gradients(self)
        if not self.impl.backward:
            raise SetupError("nnfix needs your backward", "backward", hint="backward: <its name>")
        kept = [(p.ref, p.ref.get(), p.ref.get().copy()) for p in self.tensors]
        root = self.root if self.root is not None else self.module
        before = snapshot(walk(root, "", ranks=RANKS))
        out, cache = self.forward()
        forwarded = snapshot(walk(root, "", ranks=RANKS))  # what their backward alone changes
        fn = self.function(self.impl.backward, "backward")
        fallback = ("params", "cache", "X", "Y") if not inspect.ismethod(fn) else ("X", "Y")
        if self.sample_form is not None:
            found = self._per_sample_gradients(fn, fallback)
            for ref, array, values in kept:
                ref.set(array)
                array[...] = values
            if found is None:
                raise SetupError(
                    f"{self.impl.backward} returned no gradients for one sample", "backward"
                )
            return found
        tries = self._backward_tries(fn, out, cache, fallback)
        scored: list[tuple[float, str, Gradients | None]] = []
        failed: sandbox.UserCallError | None = None
        what = f"{self.impl.backward}'s return value"
        for n, (extra, given, how) in enumerate(tries):
            try:
                value = self._backward_value(fn, out, cache, fallback, extra, given)
            except sandbox.UserCallError as exc:  # their error where every way raises
                failed = failed or exc
                if len(tries) == 1 or (n == len(tries) - 1 and not scored):
                    raise failed from None
                continue
            found = gradients_in(
                value, self.tensors, AS_IS, return_names(fn), what=what, judge=self._agreement
            )
            if found is not None and found.missing and self._state(found, kept):
                found = gradients_in(
                    value, self.tensors, AS_IS, return_names(fn), what=what, judge=self._agreement
                )
            moved = changed(root, before, "")
            by_backward = changed(root, forwarded, "")
            for ref, array, values in kept:  # an update they made is undone
                ref.set(array)
                array[...] = values
            if found is not None:
                found.returned_by = (fn, self.impl.backward)
            else:
                found = from_changes(moved, self.tensors, AS_IS)
                if found is None or found.missing:  # without what the forward set (an output
                    alone = from_changes(by_backward, self.tensors, AS_IS)  # shaped like a
                    if alone is not None and (
                        found is None or len(alone.missing) < len(found.missing)
                    ):
                        found = alone  # bias's gradient that kept the samples)
            if len(tries) == 1:
                scored.append((0.0, how, found))
                break
            agreement = self._agreement(found.arrays) if found is not None else -np.inf
            scored.append((agreement, how, found))
        found = self._choose(fn, tries, scored)
        if found is None:
            raise SetupError(
                f"{self.impl.backward} returned no gradients and set none nnfix could match to "
                "your parameters",
                "backward",
                hint="grads: {weight: <where your weight gradients are>, bias: …}",
            )
        return found

    def _backward_tries(
        self, fn: Callable, out: Array, cache: Any, fallback: tuple
    ) -> list[tuple[dict[str, str] | None, Array | None, str]]:
        """The ways to call their backward that the names leave open, each with what it says:
        as the names say; each of the parameters that all claim the output as the targets; the
        output as probabilities where it is scores that the spec's loss takes through softmax
        or sigmoid (a `yhat` the code computes between forward and backward)."""
        if _key(fn) in self._settled:  # settled at the first call: one call from then on
            given = self._probabilities(out) if self._probabilities_given else None
            return [(None, given, "")]
        tries: list[tuple[dict[str, str] | None, Array | None, str]] = [(None, None, "")]
        claimants = self._claimants("backward", fn, self._values(out, cache), fallback)
        if claimants:
            tries = [({p: "Y"}, None, f"{p} ← the targets") for p in claimants]
        probs = self._probabilities(out)
        if probs is not None and "output" in self._roles("backward", fn, out, cache, fallback):
            tries += [
                (extra, probs, f"{how + '; ' if how else ''}the output as probabilities")
                for extra, _, how in list(tries)
            ]
        return tries

    def _roles(self, role: str, fn: Callable, out: Array, cache: Any, fallback: tuple) -> set[str]:
        record: dict[str, str] = {}
        try:
            self._arguments_of(role, fn, self._values(out, cache), fallback, record=record)
        except BindingError:
            return set()
        return set(record.values())

    def _probabilities(self, out: Array) -> Array | None:
        """The output through the activation the spec's loss gives scores (softmax over the
        classes, sigmoid), where their output is scores; None otherwise."""
        spec = self.loss_spec
        a = np.asarray(out, dtype=np.float64)
        if spec is None or self.impl.loss or spec.name not in ("cce", "bce") or a.size == 0:
            return None
        if a.min() >= 0 and a.max() <= 1:
            return None
        if spec.name == "bce":
            return 1 / (1 + np.exp(-a))
        axis = 0 if self.out_form == "columns" else -1
        shifted = np.exp(a - a.max(axis=axis, keepdims=True))
        return shifted / shifted.sum(axis=axis, keepdims=True)

    def _choose(
        self,
        fn: Callable,
        tries: list[tuple[dict[str, str] | None, Array | None, str]],
        scored: list[tuple[float, str, Gradients | None]],
    ) -> Gradients | None:
        """The call whose gradients agree best with the loss, where the names left several
        open; said in the header. Where the targets' parameter is open and the values do not
        tell clearly, nnfix asks (exit 2 naming the parameter and `arguments:`)."""
        if len(tries) == 1 or not scored:
            return scored[0][2] if scored else None
        ranked = sorted(scored, key=lambda s: s[0], reverse=True)
        best, how, found = ranked[0]
        clear = len(ranked) == 1 or best - ranked[1][0] > 0.5  # one of them raised: the other
        if tries[0][0] is not None and not clear:  # which parameter takes the targets
            claimants = [p for extra, _, _ in tries if extra for p in extra]
            raise SetupError(
                f"{_key(fn)}: {' and '.join(dict.fromkeys(claimants))} both name the output by "
                "their names, and nnfix cannot tell from the values which one takes the targets",
                "arguments",
                hint=f"arguments: {{{claimants[0]}: Y}} (or output)",
            )
        if not clear:
            how, found = scored[0][1], scored[0][2]  # as the names say
        chosen = next(t for t in tries if t[2] == how)
        self._settled[_key(fn)] = chosen[0] or {}
        self._probabilities_given = chosen[1] is not None
        if how:
            self.found.say(
                f"arguments of {_key(fn)}: {how}, by values (its gradients agree with your loss "
                "that way; `arguments:` settles it)"
            )
        return found

    def _agreement(self, arrays: dict[str, Array]) -> float:
        """How well candidate gradients agree with the loss: per tensor, the derivative along one
        random direction by central differences against the candidate's, summed (0 is
        perfect). For gradients in a list whose order their shapes cannot tell."""
        score = 0.0
        for p in self.tensors:
            g = arrays.get(p.slot.name)
            if g is None:
                continue
            key = (p.slot.name, _digest(p.ref.get()))  # at these values: measured once
            if key not in self._slopes:
                self._slopes[key] = self._slope(p)
            measured = self._slopes[key]
            if measured is None:
                return -np.inf
            direction, slope = measured
            theirs = float(np.sum(np.asarray(g, dtype=np.float64) * direction))
            score -= abs(theirs - slope) / (abs(theirs) + abs(slope) + 1e-12)
        return score

    def _slope(self, p: Param) -> tuple[Array, float] | None:
        """The loss's derivative along one seeded random direction of `p` (with the direction)."""
        value = p.ref.get()
        direction = np.random.default_rng(len(self.tensors)).standard_normal(value.shape)
        h = 1e-5 * (1.0 + float(np.max(np.abs(value))))
        try:
            p.ref.set(value + h * direction)
            plus = self.loss()
            p.ref.set(value - h * direction)
            minus = self.loss()
        except (sandbox.UserCallError, SetupError):
            return None
        finally:
            p.ref.set(value)
        return direction, (plus - minus) / (2 * h)

    def _state_items(
        self, fn: Callable, values: dict[str, Any], value: Any, fallback: tuple
    ) -> set[int] | None:
        """Which items of a `(loss, dW…, h)` return are the state the forward leaves: the ones
        that stay the same when the targets differ (a derivative of the loss moves with them),
        by calling once more with each target one token on (or the targets rolled)."""
        y = values.get("Y")
        if isinstance(y, list):
            k = int(max(np.max(self.x), np.max(self.y))) + 1
            other: Any = [(t + 1) % k for t in y]
        elif isinstance(y, int):
            other = (y + 1) % (int(max(np.max(self.x), np.max(self.y))) + 1)
        elif isinstance(y, np.ndarray) and y.size > 1:
            other = np.roll(y, 1)
        else:
            return None
        try:
            again = self._call("backward", fn, {**values, "Y": other}, fallback)
        except (sandbox.UserCallError, SetupError):
            return None
        found = state_items(value, again)
        if found:
            self.found.say(
                "state: what your backward returns after the loss at "
                + ", ".join(f"[{k}]" for k in sorted(found))
                + " is the same whatever the targets: what your forward leaves, no gradient"
            )
        return found

    def _per_sample_gradients(self, fn: Callable, fallback: tuple) -> Gradients | None:
        """Their backward of one sample, for each sample: the mean of what it returns, as the
        mean loss's gradient (a shape that is wrong in any sample is wrong)."""
        found: Gradients | None = None
        sums: dict[str, Array] = {}
        names = return_names(fn)
        state: set[int] | None = None
        for i, (out_i, cache_i) in enumerate(self._outs):
            values = self._sample_values(i, out_i, cache_i)
            value = self._call("backward", fn, values, fallback)
            if state is None and needs_state(value, len(self.tensors)):
                state = self._state_items(fn, values, value, fallback)
            got = gradients_in(
                value,
                self.tensors,
                AS_IS,
                names,
                what=f"{self.impl.backward}'s return value",
                state=state,
            )
            if got is None:
                return None
            got.returned_by = (fn, self.impl.backward or "backward")
            for name, g in got.arrays.items():
                sums[name] = sums.get(name, 0) + g
            found = found or got
        assert found is not None
        found.arrays = {name: g / self.m for name, g in sums.items() if name in found.arrays}
        self.found.say(
            f"gradients: the mean of {self.impl.backward}'s per sample, as your loss is their mean"
        )
        return found


class _Noted(np.ndarray):
    """A parameter array that notes, in its `tag`'s record, when NumPy first computes with it
    (a ufunc such as `@` or `+`, a function such as np.dot, or the method `x.dot(W)`, whose
    result NumPy makes of this class for its higher priority); slices and views keep the tag."""

    tag: tuple[int, dict] | None = None
    __array_priority__ = 1000.0  # `x.dot(W)` makes its result of this class, from W: noted

    def __array_finalize__(self, obj: Any) -> None:
        tag = getattr(obj, "tag", None)
        if tag is not None and self.base is None:  # a new array computed from it (ndarray.dot)
            k, first = tag
            first.setdefault(k, len(first))
            tag = None
        self.tag = tag

    def _note(self) -> None:
        if self.tag is not None:
            k, first = self.tag
            first.setdefault(k, len(first))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = tuple(_plain(x) for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(x) for x in kwargs["out"])
        return getattr(ufunc, method)(*plain, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return func(*_plain_all(args), **_plain_all(kwargs))


def _plain(x: Any) -> Any:
    if isinstance(x, _Noted):
        x._note()
        return x.view(np.ndarray)
    return x


def _plain_all(value: Any) -> Any:
    if isinstance(value, _Noted):
        return _plain(value)
    if isinstance(value, list | tuple):
        return type(value)(_plain_all(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain_all(v) for k, v in value.items()}
    return value


def _expression(text: str) -> bool:
    """Is `model:` an expression other than a call (a list of layer calls)?"""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return False
    return not isinstance(node, ast.Call | ast.Name | ast.Attribute)


def _scalar(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | np.number):
        return True
    return isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu"


def _from_lists(value: Any, m: int) -> Any:
    """A forward's value with Python lists of floats as arrays: a rectangular list (the output,
    with m rows for a batch), or a list of such lists (the intermediates, the output last)."""
    if float_list(value):
        array = np.array(value, dtype=np.float64)
        per_layer = m == 1 and array.ndim == 2 and array.shape[1] > 1  # [hidden, outputs]
        if not per_layer and (m == 1 or array.shape[0] == m):
            return array
    if isinstance(value, list | tuple) and value and all(float_list(v) for v in value):
        return tuple(np.array(v, dtype=np.float64) for v in value)
    return value


def _kept(first: sandbox.UserCallError | None, exc: sandbox.UserCallError) -> sandbox.UserCallError:
    """The error to report of a forward tried in several forms: the first, unless a later form
    got as far as using a package that is not installed (that form takes the data)."""
    return exc if first is None or absent.used_package(str(exc)) else first


def _uncalled(exc: sandbox.UserCallError, tried: str) -> Exception:
    """Their forward raised in every form nnfix gave it the batch in: nnfix may be the one
    calling it wrong, so this is no finding about their code (a U101 would be a false error)
    but the question of how it takes the data (exit 2), with their traceback — unless it used a
    package that is not installed, which is theirs to install whatever the form (U101)."""
    if absent.used_package(str(exc)):
        return exc
    return SetupError(
        f"your forward raised whenever nnfix called it ({tried}): {exc}",
        "forward",
        hint="per_sample:, layout: or arguments: say how your forward takes the data",
        trace=exc.trace,
    )


def _takes_y(fn: Callable, arguments: dict[str, Any]) -> bool:
    """Does `fn` take the targets (a parameter named for them, or given Y by `arguments:`)?"""
    for p in parameters(fn) or []:
        given = arguments.get(p.name)
        if given == "Y" or (given is None and role_of(p.name, "forward", 1) == "Y"):
            return True
    return False


def _optional(fn: Callable, role: str) -> bool:
    """Does `fn` take `role` (X, Y, …) by a parameter with a default?"""
    return any(
        role_of(p.name, "forward", 1) == role and p.default is not p.empty
        for p in parameters(fn) or []
    )


def _shown(ref: Ref) -> str:
    """A parameter's name as their code spells it: `W1` for a dict's key, `weights[0]` for an
    attribute's item, `Wxh` for a global."""
    path = ref.path.lstrip(".")
    if path.startswith("['") and path.endswith("']") and path.count("[") == 1:
        return path[2:-2]
    return path


def _integral(values: Array) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(np.all(finite == np.round(finite))) and finite.min() >= 0


def _labels_below(values: Array, k: int) -> bool:
    return _integral(values) and values.max() < k
