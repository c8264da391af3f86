"""Running their forward and their loss (SPEC §3.1): the output and what it returns beside it, on
the batch or one sample at a time, and the loss, theirs or the spec's of their output."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nnfix.engine.losses import total
from nnfix.usercode import own_bind, own_grads, sandbox
from nnfix.usercode.binding import assigned_order, returned_names
from nnfix.usercode.calls import parameters, role_of
from nnfix.usercode.model import SetupError
from nnfix.usercode.objects import first_number, float_list, is_float_array
from nnfix.usercode.sequences import differentiated, flat, loss_first, named, return_names
from nnfix.usercode.step import step_loss

Array = np.ndarray


if TYPE_CHECKING:
    from nnfix.usercode.own import OwnNet


def output_gradient(net: OwnNet, out: Array, cache: Any) -> Array:
    """dL/d(output) of the loss (theirs, else the spec's) at their output, by central
    differences over its entries (the output of a small batch is small)."""

    def loss_of(v: Array) -> float:
        theirs = their_loss(net, v, cache)
        return theirs if theirs is not None else spec_loss(net, v)

    return differentiated(loss_of, out)


def forward(net: OwnNet) -> tuple[Array, Any]:
    """Their forward on the batch: the output, and what it returned beside it (per sample:
    the outputs stacked as rows, each sample's kept in `_outs`)."""
    if net.chain is not None:
        fn: Callable = net.chain.forward
        fallback: tuple = ("X",)
    elif not net.impl.forward:
        raise SetupError("nnfix needs your forward", "forward", hint="forward: <its name>")
    else:
        fn = net.function(net.impl.forward, "forward")
        fallback = ("X",) if inspect.ismethod(fn) or net.root is None else ("X", "params")
    if net.sample_form is not None:
        if not net._outs and _takes_y(fn, net.impl.arguments) and net._labels():
            net.sample_labels = True  # `out[label]`: one-hot needs a width not known yet
            net.found.say("targets: one integer label per sample, as your forward takes it")
        return forward_samples(net, fn, fallback)
    values = own_bind.values_of(net)
    if _optional(fn, "Y"):  # `loss(X, y=None)`: the scores without y, (loss, grads) with it
        values.pop("Y")
    elif net.y_oriented:
        values["Y"] = y_as_x(net)
    try:
        value = own_bind.call(net, "forward", fn, values, fallback)
    except sandbox.UserCallError:
        if net.y_oriented or "Y" not in values or not _takes_y(fn, net.impl.arguments):
            raise
        value = forward_y_as_x(net, fn, values, fallback)
    loss = loss_first(value)
    if loss is not None:  # (loss, grads): a loss and backward in one, the loss the number
        net.loss_in_forward = True
        net._losses = [loss]
        # (cost, cache) of a forward that takes Y: a backward's `cache` is the cache
        return np.array([loss]), value[1] if len(value) == 2 else value
    out, net._cache = split(net, value)
    net._returned = named(value, return_names(fn))
    net._out_name = next((n for n, v in net._returned.items() if v is out), None)
    if out is None:
        raise SetupError(
            f"your forward returned {type(value).__name__}, not the network's output",
            "forward",
            hint="output: <where a forward that returns None leaves its result>",
        )
    return out, net._cache


def y_as_x(net: OwnNet) -> Array:
    """The targets laid out as X is: one row per sample, or one column (`Y.shape[1]` is m)."""
    rows = net.y if net.y.ndim == 2 else net.y.reshape(len(net.y), -1)
    return np.ascontiguousarray(rows.T) if net.columns else rows


def forward_y_as_x(net: OwnNet, fn: Callable, values: dict[str, Any], fallback: tuple) -> Any:
    """Their forward that takes Y and raised on the targets flat: called with them laid out
    as X is (`m = Y.shape[1]` of samples as columns); their first error where that raises
    too."""
    first = sys.exc_info()[1]
    try:
        value = own_bind.call(net, "forward", fn, {**values, "Y": y_as_x(net)}, fallback)
    except sandbox.UserCallError:
        assert first is not None
        raise first from None
    net.y_oriented = True
    shape = y_as_x(net).shape
    net.found.say(f"targets: {shape}, laid out as X is, as your forward takes them")
    return value


def forward_samples(net: OwnNet, fn: Callable, fallback: tuple) -> tuple[Array, Any]:
    """Their forward of each sample: the outputs stacked as rows, each sample's output and
    what it returned beside it kept in `_outs` (and by the return statement's names); a
    forward that returns (loss, grads…) gives each sample's loss."""
    net._outs, net._losses, net._named = [], [], {}
    names = return_names(fn)
    rows = []
    for i in range(net.m):
        value = own_bind.call(net, "forward", fn, own_bind.sample_values(net, i), fallback)
        loss = loss_first(value)
        if loss is not None:
            net.loss_in_forward = True
            net._losses.append(loss)
            net._outs.append((np.array([loss]), value))
            rows.append(np.array([loss]))
            continue
        out_i, cache_i = split(net, value, samples=1)
        if out_i is None and isinstance(value, tuple | list) and value:
            out_i, cache_i = value[-1], value  # (xs, hs, ps): lists or dicts per step
        if out_i is None:
            raise SetupError(
                f"your forward returned {type(value).__name__} for one sample, not its output",
                "forward",
            )
        net._outs.append((out_i, cache_i))
        net._named[i] = named(value, names)
        rows.append(flat(out_i))
    net.y_form = "rows"
    if all(len(r) == len(rows[0]) for r in rows):
        return np.stack(rows), None
    return np.zeros((net.m, 0)), None


def split(net: OwnNet, value: Any, samples: int | None = None) -> tuple[Array | None, Any]:
    """(the output, its cache) in what a forward returned: an array; (output, cache); or a
    tuple of the intermediates, or a dict of them (a cache), whose output is the last array
    with the batch's samples — the last of those as wide as the targets, where they say
    (`(z, h)`: the scores first, then the hidden layer)."""
    if value is None and net.impl.output and net.root is not None:
        value = getattr(net.root, net.impl.output, None)
    value = _from_lists(value, net.m if samples is None else samples)
    if is_float_array(value):
        return value, None
    if isinstance(value, tuple | list) and value:
        if is_float_array(value[0]) and len(value) == 2 and not is_float_array(value[1]):
            return value[0], value[1]
        values = list(value)
    elif isinstance(value, dict) and value:  # a cache dict {"Z1": …, "A1": …, "A2": …}
        values = list(value.values())
    else:
        return None, None
    m = net.m if samples is None else samples
    arrays = [v for v in values if is_float_array(v) and (samples is not None or m in v.shape)]
    if not arrays:
        return None, None
    if isinstance(value, tuple | list):  # in the order the forward computes them
        arrays = by_assignment(net, value, arrays)
    width = target_width(net) if samples is None else None
    wide = [a for a in arrays if a.size == width * m] if width else []
    return (wide or arrays)[-1], value


def by_assignment(net: OwnNet, value: tuple | list, arrays: list[Array]) -> list[Array]:
    """The arrays a forward returned in the order it computes them, where its return
    statement names them and its code assigns each (`return z, h`: h first)."""
    if not net.impl.forward:
        return arrays
    fn = net.function(net.impl.forward, "forward")
    names = returned_names(fn)
    if names is None or len(names) != len(value):
        return arrays
    order = assigned_order(fn, names)
    if order is None:
        return arrays
    rank = {id(v): order.index(n) for n, v in zip(names, value, strict=True)}
    return sorted(arrays, key=lambda a: rank.get(id(a), -1))


def target_width(net: OwnNet) -> int | None:
    """The output's units the targets settle: a one-hot's width, or 1 for one real-valued
    target per sample; None for integer labels (a sigmoid unit or a softmax over them)."""
    y = net.y
    if y.ndim == 2 and y.shape[1] > 1:
        return int(y.shape[1])
    flat = np.asarray(y).reshape(-1)
    if flat.dtype.kind == "f" and not own_bind.is_integral(flat):
        return 1
    return None


def their_loss(net: OwnNet, out: Array, cache: Any) -> float | None:
    if not net.impl.loss:
        return None
    fn = loss_function(net)
    values = own_bind.values_of(net, out, cache)
    if own_bind.key_of(fn) not in net._settled:
        settle_loss(net, fn, values)
    value = own_bind.call(net, "loss", fn, values, ("output", "Y"))
    number = parts(net, value)
    if number is None:
        raise SetupError(f"your loss returned {type(value).__name__}, not a number", "loss")
    return number


def settle_loss(net: OwnNet, fn: Callable, values: dict[str, Any]) -> None:
    """A loss whose parameters all claim the output (`mse(output, predicted)`): the one that
    takes the targets is the one whose loss is finite (log of a one-hot target is not);
    where either is, the loss is the same either way, or nnfix asks (exit 2)."""
    claimants = own_bind.claimants(net, "loss", fn, values, ("output", "Y"))
    net._settled[own_bind.key_of(fn)] = {}
    if not claimants:
        return
    results = []
    for p in claimants:
        try:
            number = parts(net, own_bind.call(net, "loss", fn, values, ("output", "Y"), {p: "Y"}))
        except sandbox.UserCallError:
            number = None
        if number is not None and np.isfinite(number):
            results.append((p, number))
    if not results or (
        len(results) > 1
        and not np.allclose([n for _, n in results], results[0][1], rtol=1e-9, atol=0)
    ):
        raise SetupError(
            f"{own_bind.key_of(fn)}: {' and '.join(claimants)} both name the output by their names, and "
            "nnfix cannot tell from the values which one takes the targets",
            "arguments",
            hint=f"arguments: {{{claimants[0]}: Y}} (or output)",
        )
    chosen = results[0][0]
    net._settled[own_bind.key_of(fn)] = {chosen: "Y"}
    net.found.say(
        f"arguments of {own_bind.key_of(fn)}: {chosen} ← the targets, by values (its name says the "
        "output; `arguments:` settles it)"
    )


def loss_function(net: OwnNet) -> Callable:
    if net.chain is not None:
        return net.chain.value
    return net.function(net.impl.loss_call or "", "loss")


def loss_of(net: OwnNet) -> float:
    """The loss of their forward at the values their arrays hold now: the one their backward
    returns beside the gradients, else their own loss function, else the spec's loss of
    their output."""
    if net.loss_in_forward:
        net.forward()
        return float(np.mean(net._losses))
    if net.loss_by_backward:
        return own_grads.backward_loss(net)
    if net.impl.step and not net.impl.forward:
        return step_loss(net)
    out, cache = net.forward()
    if net.sample_form is not None and net.impl.loss:  # their loss of one sample, averaged
        fn = loss_function(net)
        values = []
        for i, (out_i, cache_i) in enumerate(net._outs):
            value = parts(net, sample_loss(net, fn, i, out_i, cache_i))
            if value is None:
                raise SetupError("your loss returned no number for one sample", "loss")
            values.append(value)
        return float(np.mean(values))
    theirs = their_loss(net, out, cache)
    if theirs is not None:
        return theirs
    return spec_loss(net, out)


def parts(net: OwnNet, value: Any) -> float | None:
    """Their loss as a number; a tuple of numbers is their sum, as a training loop adds
    `data_loss + regularization_loss` (an accuracy beside the loss is flat in the
    parameters: it adds nothing to the gradient)."""
    if isinstance(value, tuple | list) and len(value) > 1 and all(_scalar(v) for v in value):
        net.found.say(
            f"loss: the sum of the {len(value)} numbers {net.impl.loss} returns "
            "(a data loss and a penalty, as a training loop adds them)"
        )
        return float(sum(float(np.asarray(v).reshape(-1)[0]) for v in value))
    return first_number(value)


def sample_loss(net: OwnNet, fn: Callable, i: int, out: Any, cache: Any) -> Any:
    """Their loss of one sample; where it takes one argument nnfix has no role for and
    raises given the output, the sample as a training set of one (inputs, targets) pair
    (`calculate_total_error(training_sets)`), kept from then on when that works."""
    values = own_bind.sample_values(net, i, out, cache)
    pairs = {net._pairs: [[values["X"], values["Y"]]]} if net._pairs else None
    try:
        return own_bind.call(net, "loss", fn, values, ("output", "Y"), pairs)
    except sandbox.UserCallError:
        required = [p for p in parameters(fn) or [] if p.default is p.empty]
        if net._pairs or len(required) != 1 or role_of(required[0].name, "loss", 1):
            raise
        name = required[0].name
        value = own_bind.call(
            net, "loss", fn, values, ("output", "Y"), {name: [[values["X"], values["Y"]]]}
        )
        net._pairs = name
        net.found.say(f"loss: {net.impl.loss} given each sample as [[inputs, targets]]")
        return value


def spec_loss(net: OwnNet, out: Array) -> float:
    spec = net.loss_spec
    if spec is None:
        raise SetupError(
            "nnfix needs the loss your backward differentiates",
            "loss",
            hint="loss: <your cost function>, or the spec's `loss:` (bce, cce, mse, mae)",
        )
    a = np.asarray(out, dtype=np.float64)
    keep = net.y_form
    if keep == "labels":  # their backward's labels: the loss's targets as the output holds them
        net.y_form = net.out_form
    try:
        y = np.asarray(own_bind.y_given(net, out), dtype=np.float64)
    finally:
        net.y_form = keep
    if net.y_form == "columns" or (keep == "labels" and net.out_form == "columns"):
        a, y = a.T, y.T
    a, y = a.reshape(net.m, -1), y.reshape(net.m, -1)
    if spec.name == "cce" and (a.min() < 0 or a.max() > 1):  # scores: through softmax
        value = total("cce", a, a, y, "softmax")
    elif spec.name == "bce" and (a.min() < 0 or a.max() > 1):  # scores: through sigmoid
        value = total("bce", a, 1 / (1 + np.exp(-a)), y, "sigmoid")
    else:
        value = total(spec.name, a, a, y, None)
    return value * spec.scale * (1.0 / net.m if spec.reduction == "mean" else 1.0)


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


def _optional(fn: Callable, role: str) -> bool:
    """Does `fn` take `role` (X, Y, …) by a parameter with a default?"""
    return any(
        role_of(p.name, "forward", 1) == role and p.default is not p.empty
        for p in parameters(fn) or []
    )


def _scalar(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | np.number):
        return True
    return isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu"


def _takes_y(fn: Callable, arguments: dict[str, Any]) -> bool:
    """Does `fn` take the targets (a parameter named for them, or given Y by `arguments:`)?"""
    for p in parameters(fn) or []:
        given = arguments.get(p.name)
        if given == "Y" or (given is None and role_of(p.name, "forward", 1) == "Y"):
            return True
    return False
