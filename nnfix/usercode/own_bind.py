"""Binding the calls into their code (SPEC §3.1): the values each argument takes (the batch, one
sample, their parameters, the output), and the call through `sandbox.call`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nnfix.usercode import own_run, sandbox
from nnfix.usercode.binding import said
from nnfix.usercode.calls import BindingError, bind, parameters, role_of
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.sequences import one, per_step

Array = np.ndarray


if TYPE_CHECKING:
    from nnfix.usercode.own import OwnNet


def x_given(net: OwnNet) -> Array:
    return np.ascontiguousarray(net.x.T) if net.columns else net.x


def targets_held(net: OwnNet) -> list[Array]:
    """The targets in forms nnfix does not give through y_given (a script's pass holds its
    own): none here."""
    return []


def y_given(net: OwnNet, out: Array | None = None) -> Array:
    """The targets in the form their output has (one-hot where it has several units), or
    as integer labels."""
    y = net.y
    flat = y.reshape(-1) if y.ndim == 1 or y.shape[-1] == 1 else None
    if net.y_form == "flat" and flat is not None:
        return flat
    if net.y_form == "labels" or out is None:
        return flat.astype(int) if flat is not None and is_integral(flat) else y
    k = out.shape[0] if net.y_form == "columns" else (out.shape[-1] if out.ndim > 1 else 1)
    if flat is not None:
        rows = np.eye(k)[flat.astype(int)] if k > 1 and _labels_below(flat, k) else flat[:, None]
    else:
        rows = y
    if out.ndim == 1:
        return rows.reshape(-1)
    return np.ascontiguousarray(rows.T) if net.y_form == "columns" else rows


def values_of(net: OwnNet, out: Array | None = None, cache: Any = None) -> dict[str, Any]:
    values: dict[str, Any] = {"X": x_given(net), "Y": y_given(net, out)}
    if net.zeros is not None:
        values["zeros"] = net.zeros.copy()
    if net.root is not None:
        values["params"] = net.root
    if out is not None:
        values["output"] = out
    if cache is not None:
        values["cache"] = cache
    if out is not None and net._returned:
        values["named"] = net._returned
    return values


def sample_values(net: OwnNet, i: int, out: Any = None, cache: Any = None) -> dict[str, Any]:
    """One sample, as a column (n, 1), a vector (n,), a Python list (where their weights are
    lists), a list of token ids or an array as held (an image as it is); its target alike (a
    target per step given whole; a class label as the integer where their code takes it so)."""
    form = net.sample_form or "vector"
    sample = np.asarray(net.x[i])
    if net.as_lists:  # `input_vector + [1]` concatenates a list where it adds to an array
        x: Any = np.asarray(sample, dtype=np.float64).reshape(-1).tolist()
    elif sample.ndim > 1 and form in ("column", "vector"):
        x = np.asarray(sample, dtype=np.float64)  # an image or a sequence of vectors as held
    else:
        x = one(sample, form)
    values: dict[str, Any] = {"X": x}
    if net.sample_labels:
        values["Y"] = int(np.asarray(net.y).reshape(-1)[i])
    elif per_step(net.y, net.x):
        values["Y"] = one(net.y[i], form)
    elif form == "list" and net.y.ndim == 1 and net.y.dtype.kind in "iu":
        values["Y"] = int(net.y[i])  # `target: next` or `label`: one token id, or class
    elif net._outs or net.loss_in_forward:
        k = int(np.size(net._outs[0][0])) if net._outs and not net.loss_in_forward else 1
        target = target_row(net, i, k)
        values["Y"] = (
            target.tolist() if net.as_lists else target[:, None] if form == "column" else target
        )
    if net.zeros is not None:
        values["zeros"] = net.zeros.copy()
    if out is not None or cache is not None:
        values["named"] = net._named.get(i, {})
    if net.root is not None:
        values["params"] = net.root
    if out is not None:
        values["output"] = out
    if cache is not None:
        values["cache"] = cache
    return values


def labels(net: OwnNet) -> bool:
    """Are the targets one integer class label per sample?"""
    flat = np.asarray(net.y)
    return (flat.ndim == 1 or flat.shape[-1] == 1) and is_integral(
        flat.reshape(-1).astype(np.float64)
    )


def target_row(net: OwnNet, i: int, k: int) -> Array:
    y = net.y
    if y.ndim == 1 or y.shape[-1] == 1:
        v = float(np.asarray(y).reshape(-1)[i])
        if k > 1 and _labels_below(np.asarray(y, dtype=np.float64).reshape(-1), k):
            return np.eye(k)[int(v)]
        return np.array([v])
    return np.asarray(y[i], dtype=np.float64)


def arguments_of(
    net: OwnNet,
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
        p.name: net.names[p.name]
        for p in parameters(fn) or []
        if p.name in net.names and not isinstance(net.names[p.name], np.ndarray)
    }
    if "params" in values:
        bound = {  # named as an earlier call's parameter that took their parameters
            **{p.name: "params" for p in parameters(fn) or [] if p.name in net._carried},
            **bound,
        }
    if values.get("named") and "output" in values and "output" not in fallback:
        fallback = ("output", *fallback)  # beside the forward's named values: its output
    settled = net._settled.get(key_of(fn), {})
    return bind(
        fn,
        role,
        values,
        depth=max(1, len(net.tensors) // 2),
        arguments={**bound, **settled, **(extra or {}), **net.impl.arguments},
        fallback=fallback,
        named=named_for(net, values, fn),
        record=record,
    )


def claimants(
    net: OwnNet, role: str, fn: Callable, values: dict[str, Any], fallback: tuple
) -> list[str]:
    """The parameters that all claim the output by their names where none takes the
    targets (`backward(output, predicted)`): one of them is the target, found by values."""
    record: dict[str, str] = {}
    try:
        arguments_of(net, role, fn, values, fallback, record=record)
    except BindingError:
        return []
    given = dict(net.impl.arguments or {})
    outputs = [p for p, what in record.items() if what == "output" and p not in given]
    return outputs if len(outputs) > 1 and "Y" not in record.values() else []


def call(
    net: OwnNet,
    role: str,
    fn: Callable,
    values: dict[str, Any],
    fallback: tuple,
    extra: dict[str, Any] | None = None,
) -> Any:
    if net.chain is not None and role in ("forward", "loss"):  # it calls their methods
        if role == "forward":
            return net.chain.forward(values["X"])
        return net.chain.value(values["output"], values["Y"])
    record: dict[str, str] = {}
    depth = max(1, len(net.tensors) // 2)
    try:
        args, kwargs = arguments_of(net, role, fn, values, fallback, extra, record)
    except BindingError as exc:
        raise SetupError(
            str(exc), role, hint=f"arguments: {{{exc.parameter}: <X, Y, params or a value>}}"
        ) from None
    name = key_of(fn)
    net._carried.update({p: w for p, w in record.items() if w == "params"})
    if extra is None and name not in net._bound and record:  # how each call was bound
        net._bound.add(name)
        unusual = any(role_of(p, role, depth) != what for p, what in record.items())
        settles = " (`arguments:` settles them)" if unusual else ""
        net.found.say(f"arguments of {said(fn, record, sources_of(net))}{settles}")
    seed_numpy(net.seed)  # a dropout mask is the same mask at every evaluation
    return sandbox.call(role, fn, *args, **kwargs)


def sources_of(net: OwnNet) -> dict[str, str]:
    """Where each named value comes from, for the header."""
    sources = {}
    if isinstance(net.root, dict):
        sources.update({str(k): "your parameters" for k in net.root})
    forward = net.impl.forward or "forward"
    sources.update({k: f"what {forward} returned" for k in net._returned})
    return sources


def named_for(net: OwnNet, values: dict[str, Any], fn: Callable) -> dict[str, Any]:
    """Values by the names their code gives them: the arrays of a params dict by their
    keys, what the forward returned (for the sample being called) by its names, and —
    for a backward that takes `dZ` where the forward returned `Z, cache` — dL/dZ."""
    out: dict[str, Any] = {}
    if isinstance(net.root, dict):
        out.update({str(k): v for k, v in net.root.items() if isinstance(k, str)})
    out.update(values.get("named", {}))
    wanted = f"d{net._out_name}"
    if (
        net.sample_form is None
        and net._out_name
        and "output" in values
        and any(p.name == wanted for p in parameters(fn) or [])
    ):
        out[wanted] = own_run.output_gradient(net, values["output"], values.get("cache"))
        net.found.say(f"{wanted}: the loss's gradient at your forward's {net._out_name}")
    return out


def key_of(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def is_integral(values: Array) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(np.all(finite == np.round(finite))) and finite.min() >= 0


def _labels_below(values: Array, k: int) -> bool:
    return is_integral(values) and values.max() < k
