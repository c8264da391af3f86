"""Finding what their code is (SPEC §3.1): the model it makes, the forms its functions take the
batch in, and which of its float arrays are the parameters (the ones that move the loss)."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from nnfix.engine.layers.layer import Slot
from nnfix.usercode import absent, own_bind, own_run, sandbox
from nnfix.usercode.binding import name_tuple
from nnfix.usercode.calls import CallSyntaxError, parameters, parse_call
from nnfix.usercode.grads import Gradients, Param
from nnfix.usercode.model import SetupError
from nnfix.usercode.needed import EFFECTS
from nnfix.usercode.objects import ListRef, Ref, walk
from nnfix.usercode.sequences import loss_first, sample_forms, shape_of, uses_zeros, zeros_shapes

Array = np.ndarray
RANKS = (1, 8)  # the ranks of the arrays that may be parameters (a conv's filters are 4-D)


if TYPE_CHECKING:
    from nnfix.usercode.own import OwnNet


def found_model(net: OwnNet) -> str | None:
    """The call of a function of their module that takes no argument and returns their
    parameters (a dict, list or tuple holding float arrays): `init_params()`. Their roles'
    functions, and names that train, plot, save or download, are never called."""
    roles = {net.impl.forward, net.impl.backward, net.impl.loss_call}
    roles |= {net.impl.step} if isinstance(net.impl.step, str) else set()
    for name, fn in list(vars(net.module).items()):
        if (
            not inspect.isfunction(fn)
            or fn.__module__ != net.module.__name__
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


def name_parameters(net: OwnNet) -> None:
    """A model call that returns its arrays as a bare tuple (`return W1, b1, W2, b2`) for a
    forward that takes them one by one: each named as the forward takes it, held in a dict
    by those names (so that nnfix can set them, and bind them by name), and said."""
    forward = net.function(net.impl.forward or "", "forward")
    try:
        made_by = net._get(net.module, parse_call(str(net.impl.model_call)).name)
    except (AttributeError, CallSyntaxError):
        made_by = None
    named = name_tuple(net.root, made_by if callable(made_by) else None, forward)
    if named is None:
        return
    net.root, how = named
    net.found.say(
        f"parameters: {', '.join(net.root)} — the arrays {net.impl.model} returns, named {how}"
    )


def probe_backward_loss(net: OwnNet) -> None:
    """A backward that returns (loss, grads) where no loss is given: that loss is L."""
    if not net.impl.backward:
        return
    fn = net.function(net.impl.backward, "backward")
    fallback = ("params", "cache", "X", "Y") if not inspect.ismethod(fn) else ("X", "Y")
    # the targets as their output holds them, else as integer labels (cs231n's
    # `loss(X, y)` indexes the probabilities with y), as _settle_targets tries their loss
    forms = (net.y_form, "labels") if net.sample_form is None and net._labels() else ()
    for form in forms or (net.y_form,):
        keep, net.y_form = net.y_form, form
        try:
            if net.sample_form is not None:
                out_i, cache_i = net._outs[0]
                values = own_bind.sample_values(net, 0, out_i, cache_i)
                value = own_bind.call(net, "backward", fn, values, fallback)
            else:
                out, cache = net.forward()
                value = own_bind.call(
                    net, "backward", fn, own_bind.values_of(net, out, cache), fallback
                )
        except (sandbox.UserCallError, SetupError):
            net.y_form = keep
            continue
        if loss_first(value) is not None:
            net.loss_by_backward = True
            net.found.say(f"loss: the number {net.impl.backward} returns beside the gradients")
            if form == "labels" and keep != "labels":
                net.found.say("targets: integer labels, as your backward indexes with them")
            return
        net.y_form = keep


def find_forms(net: OwnNet) -> None:
    """X as rows (samples first) or as columns; the targets as their output holds them. Code
    that takes one sample (`per_sample:`) is given each as a column (n, 1) or a vector."""
    if net.impl.per_sample:
        find_sample_form(net)
        return
    first_error: sandbox.UserCallError | None = None
    tries = [
        (columns, shape)
        for shape in zeros_shapes_for(net, batch=True)
        for columns in ((False, True) if net.x.ndim == 2 else (False,))
    ]
    for columns, shape in tries:
        net.columns = columns
        net.zeros = None if shape is None else np.zeros(shape)
        try:
            out, _ = net.forward()
        except sandbox.UserCallError as exc:
            first_error = _kept(first_error, exc)
            continue
        if net.loss_in_forward:
            data = "X (features, samples)" if columns else "X (samples, …)"
            net.found.say(
                f"layout: {data}; your forward returns the loss beside the gradients: "
                "that number is the loss checked"
            )
            if shape is not None:
                net.found.say(f"zeros: an initial state of shape {shape}, as your code needs")
            return
        if out.ndim >= 1 and out.shape[0] == net.m:
            net.y_form = "rows"
        elif out.ndim >= 2 and out.shape[-1] == net.m:
            net.y_form = "columns"
        else:
            continue
        net.out_form = net.y_form
        data = "X (features, samples)" if columns else "X (samples, …)"
        net.found.say(f"layout: {data}; your forward's output {tuple(out.shape)}")
        if shape is not None:
            net.found.say(f"zeros: an initial state of shape {shape}, as your code needs")
        settle_targets(net, out)
        return
    if first_error is not None:
        net.columns = False
        try:  # a forward of one sample (a step may still take the batch)
            find_sample_form(net)
        except SetupError:
            net.sample_form = None
            raise _uncalled(first_error, "X as rows (samples first) and as columns") from None
        net.found.say("your forward takes one sample at a time (found by calling it)")
        return
    raise SetupError(
        "your forward returned no array with the batch's samples along its first or last axis",
        "forward",
    )


def find_step_targets(net: OwnNet) -> None:
    """A step with no forward: the targets as the data holds them, else one column flat
    (m,), where the first raises and the second does not."""
    first_error: sandbox.UserCallError | None = None
    for form in ("rows", "flat"):
        net.y_form = form
        try:
            net.loss()
        except sandbox.UserCallError as exc:
            first_error = _kept(first_error, exc)
            continue
        if form == "flat":
            net.found.say("targets: one value per sample, flat (m,), as your step takes them")
        return
    net.y_form = "rows"
    assert first_error is not None
    raise first_error


def zeros_shapes_for(net: OwnNet, batch: bool) -> list[tuple[int, ...] | None]:
    """The shapes to try for the `zeros` placeholder (sequences.zeros_shapes): per sample
    a column or a vector; for the batch, one row per sample (m, h) or one column (h, m)."""
    if not uses_zeros(net.impl.arguments):
        return [None]
    root = net.root if net.root is not None else net.module
    data = {id(net.x), id(net.y)}
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
    return [shape for n in sizes for shape in ((net.m, n), (n, net.m))]


def find_sample_form(net: OwnNet) -> None:
    """One sample as their code takes it (sequences.sample_forms), and the `zeros` state
    of the shape it needs: each tried until their forward runs."""
    per = net.impl.per_sample
    forms = [per] if isinstance(per, str) else sample_forms(net.x)
    zeros = zeros_shapes_for(net, batch=False)
    first_error: sandbox.UserCallError | None = None
    # their weights as Python lists: each sample as a list first (`x + [1]` concatenates a
    # list, where an array would add 1 and compute something else without raising)
    tries = ([("vector", True)] if net.as_lists else []) + [(f, False) for f in forms]
    for form, as_lists in tries:
        for shape in zeros:
            net.sample_form, net.as_lists = form, as_lists
            net.zeros = None if shape is None else np.zeros(shape)
            try:
                out, _ = net.forward()
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
                if net.loss_in_forward
                else f"output per sample {shape_of(net._outs[0][0])}"
            )
            net.found.say(
                f"one sample at a time, as {'a vector (a Python list)' if as_lists else held}; {what}"
            )
            if shape is not None:
                net.found.say(f"zeros: an initial state of shape {shape}, as your code needs")
            settle_targets(net, out)
            return
    assert first_error is not None
    raise _uncalled(first_error, " and as ".join(f"a {f}" for f in forms) + " per sample")


def settle_targets(net: OwnNet, out: Array) -> None:
    """Their loss takes the targets as their output holds them, or as integer labels."""
    if not net.impl.loss or net.sample_form is not None:  # one sample: its form settles it
        return
    for form in (net.y_form, "labels"):
        keep, net.y_form = net.y_form, form
        try:
            value = own_run.their_loss(net, out, net._cache)
        except sandbox.UserCallError:
            value = None
        if value is not None and np.isfinite(value):
            if form == "labels":
                net.found.say("targets: integer labels, as your loss indexes with them")
            return
        net.y_form = keep


def refs_of(net: OwnNet) -> list[Ref]:
    """The float arrays their model or module holds; a pure-Python net's nested lists of
    floats where it holds no array (or where a step's update is read)."""
    root = net.root if net.root is not None else net.module
    name = net.root_name if isinstance(root, list | tuple) else ""
    found = walk(root, name, ranks=RANKS, lists=bool(net.impl.step))
    if not any(usable(net, r) for r in found):
        found = walk(root, name, ranks=RANKS, lists=True)
    return [r for r in found if usable(net, r)]


def usable(net: OwnNet, r: Ref) -> bool:
    return not is_data(net, r.get()) and not isinstance(r.owner, tuple)  # a tuple's: not settable


def is_data(net: OwnNet, value: Any) -> bool:
    """Is `value` nnfix's batch, or a view of it (a layer's `net.last_input = x` of the
    sample it was given): data, never a parameter, though nudging it moves the loss."""
    return any(
        isinstance(value, np.ndarray)
        and isinstance(d, np.ndarray)
        and (value is d or np.shares_memory(value, d))
        for d in (net.x, net.y)
    )


def find_tensors(net: OwnNet) -> None:
    """The float arrays their model holds (or their module's globals) that move the loss."""
    refs = net._candidates()
    base = net.loss()
    moving = [r for r in refs if moves(net, r, base)]
    if not moving:
        raise SetupError(
            "nnfix found no float array in your model that moves the loss: nothing to check",
            "model",
            hint="model: <the call that creates your parameters>",
        )
    order = order_of_use(net, moving)
    number_refs(net, sorted(moving, key=lambda r: order.get(id(r), len(order))))
    names = ", ".join(p.slot.name for p in net.tensors[:6])
    more = ", …" if len(net.tensors) > 6 else ""
    net.found.say(f"parameters: {len(net.tensors)} arrays that move the loss ({names}{more})")


def number_refs(net: OwnNet, refs: list[Ref]) -> None:
    """The parameters, in their order of use: a layer per weight, a vector after it its bias."""
    net.tensors = []
    layer, previous = 0, ""
    for ref in refs:
        vector = sum(n > 1 for n in ref.get().shape) <= 1
        role = "bias" if vector and previous == "weight" else "weight"
        layer += role == "weight"
        previous = role
        shown = shown_name(ref)
        if ref.owner is net.root and ref.kind == "item" and net._item_names:
            shown = net._item_names[ref.key] or shown  # `return U, V, W, b_hidden, b_out`
        net.tensors.append(Param(Slot(shown, layer, role), ref, tuple(ref.get().shape)))


def state_of(net: OwnNet, found: Gradients, kept: list[tuple[Ref, Array, Array]]) -> list[str]:
    """The arrays that move the loss but are their code's state, not parameters: no gradient
    is returned for them and their training pass changed them (batchnorm's running mean and
    variance, which a test-time forward reads)."""
    altered = {
        id(ref)
        for ref, array, values in kept
        if ref.get() is not array or not np.array_equal(array, values, equal_nan=True)
    }
    state = [p for p in net.tensors if p.slot.name in found.missing and id(p.ref) in altered]
    if not state or len(state) == len(net.tensors):
        return []
    number_refs(net, [p.ref for p in net.tensors if p not in state])
    names = ", ".join(p.slot.name for p in state)
    net.found.say(f"state, not parameters: {names} (your training pass changes them)")
    return [p.slot.name for p in state]


def candidates(net: OwnNet) -> list[Ref]:
    """The arrays that may be parameters: every float array of their model (or module)."""
    return refs_of(net)


def order_of_use(net: OwnNet, refs: list[Ref]) -> dict[int, int]:
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
        net.forward()
    except (sandbox.UserCallError, SetupError):
        return {}
    finally:
        for ref, value in originals:
            ref.set(value)
    return {
        id(originals[k][0]): rank for rank, k in enumerate(sorted(first, key=lambda j: first[j]))
    }


def moves(net: OwnNet, ref: Ref, base: float) -> bool:
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
        moved = net.loss()
    except (sandbox.UserCallError, SetupError):
        return False
    finally:
        if in_place:
            value[...] = kept
        else:
            ref.set(value)
    return bool(np.isfinite(moved)) and abs(moved - base) > 1e-9 * max(1.0, abs(base))


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


def _kept(first: sandbox.UserCallError | None, exc: sandbox.UserCallError) -> sandbox.UserCallError:
    """The error to report of a forward tried in several forms: the first, unless a later form
    got as far as using a package that is not installed (that form takes the data)."""
    return exc if first is None or absent.used_package(str(exc)) else first


def shown_name(ref: Ref) -> str:
    """A parameter's name as their code spells it: `W1` for a dict's key, `weights[0]` for an
    attribute's item, `Wxh` for a global."""
    path = ref.path.lstrip(".")
    if path.startswith("['") and path.endswith("']") and path.count("[") == 1:
        return path[2:-2]
    return path


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
