"""Reading the gradients their code gives (SPEC §3.1): those the backward returns or stores, or
the change its step makes, matched to the parameters."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nnfix.usercode import own_bind, own_find, sandbox
from nnfix.usercode.calls import BindingError
from nnfix.usercode.grads import Gradients, Param, from_changes
from nnfix.usercode.layout import Layout
from nnfix.usercode.model import SetupError
from nnfix.usercode.objects import changed, first_number, snapshot, walk
from nnfix.usercode.sequences import gradients_in, needs_state, return_names, state_items
from nnfix.usercode.step import step_gradients

Array = np.ndarray
AS_IS = Layout(columns=False, bias="row")  # their arrays are compared as they hold them


if TYPE_CHECKING:
    from nnfix.usercode.own import OwnNet


def backward_value(
    net: OwnNet,
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
        found = own_bind.values_of(net, out, cache)
        if given is not None:
            found["output"] = given
        return found

    try:
        return own_bind.call(net, "backward", fn, values(), fallback, extra)
    except sandbox.UserCallError as first:
        if net.y_form == "labels" or not own_bind.is_integral(net.y.reshape(-1)):
            raise
        keep, net.y_form = net.y_form, "labels"
        try:
            value = own_bind.call(net, "backward", fn, values(), fallback, extra)
        except sandbox.UserCallError:
            net.y_form = keep
            raise first from None  # their error on the targets as given, not on labels
        net.found.say("targets: integer labels, as your backward indexes with them")
        return value


def backward_loss(net: OwnNet) -> float:
    out, cache = net.forward()
    fn = net.function(net.impl.backward or "", "backward")
    fallback = ("params", "cache", "X", "Y") if not inspect.ismethod(fn) else ("X", "Y")
    if net.sample_form is not None:  # each sample's, averaged
        numbers = [
            first_number(
                own_bind.call(net, "backward", fn, own_bind.sample_values(net, i, o, c), fallback)
            )
            for i, (o, c) in enumerate(net._outs)
        ]
        if any(n is None for n in numbers):
            raise SetupError("your backward stopped returning its loss", "backward")
        return float(np.mean([n for n in numbers if n is not None]))
    value = _loss_beside(
        own_bind.call(net, "backward", fn, own_bind.values_of(net, out, cache), fallback)
    )
    if value is None:
        raise SetupError("your backward stopped returning its loss", "backward")
    return value


def gradients(net: OwnNet) -> Gradients:
    """The gradients their backward returns, or stores on their model, matched to the
    parameters (by name, then by position and shape); their parameters are put back."""
    if net.chain is not None:
        return net.chain.gradients(net.tensors)
    if net.impl.step:
        return step_gradients(net)
    if not net.impl.backward:
        raise SetupError("nnfix needs your backward", "backward", hint="backward: <its name>")
    kept = [(p.ref, p.ref.get(), p.ref.get().copy()) for p in net.tensors]
    root = net.root if net.root is not None else net.module
    before = snapshot(walk(root, "", ranks=own_find.RANKS))
    out, cache = net.forward()
    forwarded = snapshot(walk(root, "", ranks=own_find.RANKS))  # what their backward alone changes
    fn = net.function(net.impl.backward, "backward")
    fallback = ("params", "cache", "X", "Y") if not inspect.ismethod(fn) else ("X", "Y")
    if net.sample_form is not None:
        found = per_sample_gradients(net, fn, fallback)
        for ref, array, values in kept:
            ref.set(array)
            array[...] = values
        if found is None:
            raise SetupError(
                f"{net.impl.backward} returned no gradients for one sample", "backward"
            )
        return found
    tries = backward_tries(net, fn, out, cache, fallback)
    scored: list[tuple[float, str, Gradients | None]] = []
    failed: sandbox.UserCallError | None = None
    what = f"{net.impl.backward}'s return value"
    for n, (extra, given, how) in enumerate(tries):
        try:
            value = backward_value(net, fn, out, cache, fallback, extra, given)
        except sandbox.UserCallError as exc:  # their error where every way raises
            failed = failed or exc
            if len(tries) == 1 or (n == len(tries) - 1 and not scored):
                raise failed from None
            continue
        found = gradients_in(
            value,
            net.tensors,
            AS_IS,
            return_names(fn),
            what=what,
            judge=lambda arrays: agreement_of(net, arrays),
        )
        if found is not None and found.missing and own_find.state_of(net, found, kept):
            found = gradients_in(
                value,
                net.tensors,
                AS_IS,
                return_names(fn),
                what=what,
                judge=lambda arrays: agreement_of(net, arrays),
            )
        moved = changed(root, before, "")
        by_backward = changed(root, forwarded, "")
        for ref, array, values in kept:  # an update they made is undone
            ref.set(array)
            array[...] = values
        if found is not None:
            found.returned_by = (fn, net.impl.backward)
        else:
            found = from_changes(moved, net.tensors, AS_IS)
            if found is None or found.missing:  # without what the forward set (an output
                alone = from_changes(by_backward, net.tensors, AS_IS)  # shaped like a
                if alone is not None and (found is None or len(alone.missing) < len(found.missing)):
                    found = alone  # bias's gradient that kept the samples)
        if len(tries) == 1:
            scored.append((0.0, how, found))
            break
        agreement = agreement_of(net, found.arrays) if found is not None else -np.inf
        scored.append((agreement, how, found))
    found = choose(net, fn, tries, scored)
    if found is None:
        raise SetupError(
            f"{net.impl.backward} returned no gradients and set none nnfix could match to "
            "your parameters",
            "backward",
            hint="grads: {weight: <where your weight gradients are>, bias: …}",
        )
    return found


def backward_tries(
    net: OwnNet, fn: Callable, out: Array, cache: Any, fallback: tuple
) -> list[tuple[dict[str, str] | None, Array | None, str]]:
    """The ways to call their backward that the names leave open, each with what it says:
    as the names say; each of the parameters that all claim the output as the targets; the
    output as probabilities where it is scores that the spec's loss takes through softmax
    or sigmoid (a `yhat` the code computes between forward and backward)."""
    if own_bind.key_of(fn) in net._settled:  # settled at the first call: one call from then on
        given = probabilities(net, out) if net._probabilities_given else None
        return [(None, given, "")]
    tries: list[tuple[dict[str, str] | None, Array | None, str]] = [(None, None, "")]
    claimants = own_bind.claimants(
        net, "backward", fn, own_bind.values_of(net, out, cache), fallback
    )
    if claimants:
        tries = [({p: "Y"}, None, f"{p} ← the targets") for p in claimants]
    probs = probabilities(net, out)
    if probs is not None and "output" in roles(net, "backward", fn, out, cache, fallback):
        tries += [
            (extra, probs, f"{how + '; ' if how else ''}the output as probabilities")
            for extra, _, how in list(tries)
        ]
    return tries


def roles(
    net: OwnNet, role: str, fn: Callable, out: Array, cache: Any, fallback: tuple
) -> set[str]:
    record: dict[str, str] = {}
    try:
        own_bind.arguments_of(
            net, role, fn, own_bind.values_of(net, out, cache), fallback, record=record
        )
    except BindingError:
        return set()
    return set(record.values())


def probabilities(net: OwnNet, out: Array) -> Array | None:
    """The output through the activation the spec's loss gives scores (softmax over the
    classes, sigmoid), where their output is scores; None otherwise."""
    spec = net.loss_spec
    a = np.asarray(out, dtype=np.float64)
    if spec is None or net.impl.loss or spec.name not in ("cce", "bce") or a.size == 0:
        return None
    if a.min() >= 0 and a.max() <= 1:
        return None
    if spec.name == "bce":
        return 1 / (1 + np.exp(-a))
    axis = 0 if net.out_form == "columns" else -1
    shifted = np.exp(a - a.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def choose(
    net: OwnNet,
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
            f"{own_bind.key_of(fn)}: {' and '.join(dict.fromkeys(claimants))} both name the output by "
            "their names, and nnfix cannot tell from the values which one takes the targets",
            "arguments",
            hint=f"arguments: {{{claimants[0]}: Y}} (or output)",
        )
    if not clear:
        how, found = scored[0][1], scored[0][2]  # as the names say
    chosen = next(t for t in tries if t[2] == how)
    net._settled[own_bind.key_of(fn)] = chosen[0] or {}
    net._probabilities_given = chosen[1] is not None
    if how:
        net.found.say(
            f"arguments of {own_bind.key_of(fn)}: {how}, by values (its gradients agree with your loss "
            "that way; `arguments:` settles it)"
        )
    return found


def agreement_of(net: OwnNet, arrays: dict[str, Array]) -> float:
    """How well candidate gradients agree with the loss: per tensor, the derivative along one
    random direction by central differences against the candidate's, summed (0 is
    perfect). For gradients in a list whose order their shapes cannot tell."""
    score = 0.0
    for p in net.tensors:
        g = arrays.get(p.slot.name)
        if g is None:
            continue
        key = (p.slot.name, _digest(p.ref.get()))  # at these values: measured once
        if key not in net._slopes:
            net._slopes[key] = slope_of(net, p)
        measured = net._slopes[key]
        if measured is None:
            return -np.inf
        direction, slope = measured
        theirs = float(np.sum(np.asarray(g, dtype=np.float64) * direction))
        score -= abs(theirs - slope) / (abs(theirs) + abs(slope) + 1e-12)
    return score


def slope_of(net: OwnNet, p: Param) -> tuple[Array, float] | None:
    """The loss's derivative along one seeded random direction of `p` (with the direction)."""
    value = p.ref.get()
    direction = np.random.default_rng(len(net.tensors)).standard_normal(value.shape)
    h = 1e-5 * (1.0 + float(np.max(np.abs(value))))
    try:
        p.ref.set(value + h * direction)
        plus = net.loss()
        p.ref.set(value - h * direction)
        minus = net.loss()
    except (sandbox.UserCallError, SetupError):
        return None
    finally:
        p.ref.set(value)
    return direction, (plus - minus) / (2 * h)


def state_items_of(
    net: OwnNet, fn: Callable, values: dict[str, Any], value: Any, fallback: tuple
) -> set[int] | None:
    """Which items of a `(loss, dW…, h)` return are the state the forward leaves: the ones
    that stay the same when the targets differ (a derivative of the loss moves with them),
    by calling once more with each target one token on (or the targets rolled)."""
    y = values.get("Y")
    if isinstance(y, list):
        k = int(max(np.max(net.x), np.max(net.y))) + 1
        other: Any = [(t + 1) % k for t in y]
    elif isinstance(y, int):
        other = (y + 1) % (int(max(np.max(net.x), np.max(net.y))) + 1)
    elif isinstance(y, np.ndarray) and y.size > 1:
        other = np.roll(y, 1)
    else:
        return None
    try:
        again = own_bind.call(net, "backward", fn, {**values, "Y": other}, fallback)
    except (sandbox.UserCallError, SetupError):
        return None
    found = state_items(value, again)
    if found:
        net.found.say(
            "state: what your backward returns after the loss at "
            + ", ".join(f"[{k}]" for k in sorted(found))
            + " is the same whatever the targets: what your forward leaves, no gradient"
        )
    return found


def per_sample_gradients(net: OwnNet, fn: Callable, fallback: tuple) -> Gradients | None:
    """Their backward of one sample, for each sample: the mean of what it returns, as the
    mean loss's gradient (a shape that is wrong in any sample is wrong)."""
    found: Gradients | None = None
    sums: dict[str, Array] = {}
    names = return_names(fn)
    state: set[int] | None = None
    for i, (out_i, cache_i) in enumerate(net._outs):
        values = own_bind.sample_values(net, i, out_i, cache_i)
        value = own_bind.call(net, "backward", fn, values, fallback)
        if state is None and needs_state(value, len(net.tensors)):
            state = state_items_of(net, fn, values, value, fallback)
        got = gradients_in(
            value,
            net.tensors,
            AS_IS,
            names,
            what=f"{net.impl.backward}'s return value",
            state=state,
        )
        if got is None:
            return None
        got.returned_by = (fn, net.impl.backward or "backward")
        for name, g in got.arrays.items():
            sums[name] = sums.get(name, 0) + g
        found = found or got
    assert found is not None
    found.arrays = {name: g / net.m for name, g in sums.items() if name in found.arrays}
    net.found.say(
        f"gradients: the mean of {net.impl.backward}'s per sample, as your loss is their mean"
    )
    return found


def _digest(value: Any) -> str:
    array = np.ascontiguousarray(value)
    return hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest() + str(array.shape)


def _loss_beside(value: Any) -> float | None:
    """The loss a backward returns beside its gradients: (loss, grads) or (grads, loss)."""
    if isinstance(value, tuple | list) and len(value) == 2:
        first, second = first_number(value[0]), first_number(value[1])
        if first is not None and not isinstance(value[0], tuple | list):
            return first
        return second
    return first_number(value)
