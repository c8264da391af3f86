"""Reading the user's gradients wherever their backward leaves them: a dict keyed by names
(`dW1`, `dw1`, `W1`, `grad_W1`, case-insensitive), a list or tuple in layer order, a nesting of
those (`(nabla_b, nabla_w)`, `[(dW, db), …]`), a `(loss, grads)` pair, or arrays their backward
set on their objects. Arrays that are no parameter's gradient (`dA1`, `dZ3`) are ignored."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnfix.engine.network import Slot
from nnfix.usercode.layout import Layout
from nnfix.usercode.objects import Ref, float_list
from nnfix.usercode.spelling import spell

Array = np.ndarray
Judge = Callable[[dict[str, np.ndarray]], float]
PREFIXES = ("nabla", "delta", "gradient", "grads", "grad", "d", "g")
SUFFIXES = ("gradient", "grads", "grad", "prime")


@dataclass
class Param:
    """One of nnfix's parameters as the user's code holds it."""

    slot: Slot
    ref: Ref  # where the array is
    shape: tuple[int, ...]  # its shape in the user's layout

    @property
    def name(self) -> str:
        return self.ref.leaf if self.ref.kind == "attr" else str(self.ref.key)


@dataclass
class Gradients:
    """The user's gradients matched to nnfix's parameters."""

    arrays: dict[str, Array] = field(default_factory=dict)  # slot name -> gradient, rows layout
    wrong: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = field(default_factory=dict)
    # slot name -> (their shape, the parameter's shape in their layout, where it was found)
    paths: dict[str, str] = field(default_factory=dict)  # slot name -> where it was found
    missing: list[str] = field(default_factory=list)  # slots with no gradient
    extra: list[str] = field(default_factory=list)  # gradients of parameters that do not exist
    where: str = ""  # for the report: "backprop's return value (nabla_b, nabla_w)"
    loss: float | None = None  # when backward returned (loss, grads)
    raw: dict[str, Array] = field(default_factory=dict)  # slot name -> their array, as found
    holders: dict[str, tuple[int, Any]] = field(default_factory=dict)
    # slot name -> (id of the dict, list or object it was found in, its key there)
    from_update: bool = False  # read off an in-place update (−Δparameter / step size)
    returned_by: tuple[Any, str] | None = field(default=None, repr=False, compare=False)
    # the function whose return value the paths index, and its name: for `shown`
    inside: str = ""  # where the gradients are in what it returned: "[1]" of (loss, grads)

    def shown(self, path: str) -> str:
        """A path where the gradients were found, as the user's code spells it: `grads['db1']`
        for `['db1']` in what their backward returns (`backward(…)['db1']` where its return
        statements do not say)."""
        if self.returned_by is None or not path.startswith("["):
            return path
        fn, name = self.returned_by
        return spell(self.inside + path, fn, name)

    @property
    def found(self) -> bool:
        return bool(self.arrays or self.wrong)


def normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def stem(name: str) -> str:
    """A gradient's name with its gradient marks taken off: dW1 -> w1, grad_W -> w."""
    low = normal(name)
    for suffix in SUFFIXES:
        if low.endswith(suffix) and len(low) > len(suffix):
            low = low[: -len(suffix)]
    for prefix in PREFIXES:
        if low.startswith(prefix) and len(low) > len(prefix):
            return low[len(prefix) :]
    return low


def _array(value: Any) -> Array | None:
    """An array of numbers (a NumPy scalar too: `np.sum(dZ)` given as db is a gradient of
    the wrong shape, not a missing one); a nested list of floats (a pure-Python net's) as one."""
    if isinstance(value, np.generic) or float_list(value):
        value = np.asarray(value, dtype=np.float64)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu" and value.size:
        return value.astype(float, copy=False) if value.dtype.kind != "f" else value
    return None


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | np.number) or (
        isinstance(value, np.ndarray) and value.size == 1 and value.ndim <= 2
    )


def _record(
    out: Gradients, p: Param, layout: Layout, value: Array, path: str, holder: tuple[int, Any]
) -> None:
    out.paths[p.slot.name] = path
    out.raw[p.slot.name] = value
    out.holders[p.slot.name] = holder
    array = _array(value)
    assert array is not None
    if array.shape != p.shape and _broadcasts_to(array, p.shape):  # (H,) for a (1, H) bias
        array = array.reshape(p.shape)
    if array.shape == p.shape:
        out.arrays[p.slot.name] = np.array(layout.to_rows(p.slot, array), dtype=np.float64)
    else:
        out.wrong[p.slot.name] = (tuple(array.shape), p.shape, path)


def _broadcasts_to(array: Array, shape: tuple[int, ...]) -> bool:
    """The same entries as an array of `shape`, and `param -= lr * grad` keeps the parameter's
    shape: an (H,) gradient of a (1, H) bias (an (n,) one of an (n, 1) bias makes it (n, n))."""
    try:
        return (
            array.size == int(np.prod(shape)) and np.broadcast_shapes(array.shape, shape) == shape
        )
    except ValueError:
        return False


def _finish(out: Gradients, params: list[Param]) -> Gradients:
    out.missing = [
        p.slot.name
        for p in params
        if p.slot.name not in out.arrays and p.slot.name not in out.wrong
    ]
    return out


def from_value(
    value: Any,
    params: list[Param],
    layout: Layout,
    patterns: dict[str, str] | None = None,
    what: str = "backward's return value",
    judge: Judge | None = None,
) -> Gradients | None:
    """The gradients in what a backward returned; None when it holds none. `judge` scores how
    well candidate gradients (slot name -> array) agree with the loss, for orders that their
    shapes alone cannot tell apart."""
    loss, at = None, ""
    if isinstance(value, tuple | list) and len(value) == 2 and _scalar(value[0]):
        loss, value, at = float(np.asarray(value[0]).reshape(-1)[0]), value[1], "[1]"
    elif isinstance(value, tuple | list) and len(value) == 2 and _scalar(value[1]):  # (grads, loss)
        loss, value, at = float(np.asarray(value[1]).reshape(-1)[0]), value[0], "[0]"
    out: Gradients | None
    if isinstance(value, dict):
        out = _by_name(value, params, layout, patterns)
        out.where = f"{what} (a dict: {', '.join(map(str, list(value)[:4]))}{', …' if len(value) > 4 else ''})"
    elif isinstance(value, list | tuple):
        out = _by_position(value, params, layout, judge)
        if out is None:
            return None
        out.where = f"{what} ({_structure(value)})"
    else:
        return None
    out.loss, out.inside = loss, at
    return out if out.found else None


def _by_name(
    grads: dict, params: list[Param], layout: Layout, patterns: dict[str, str] | None
) -> Gradients:
    out = Gradients()
    keys = {str(k): k for k in grads}
    lower = {k.lower(): k for k in keys}
    used: set[str] = set()
    for p in params:
        if patterns:
            pattern = patterns.get(p.slot.role)
            wanted = pattern.format(l=p.slot.layer, i=p.slot.layer - 1) if pattern else None
            found = lower.get(wanted.lower()) if wanted else None
            candidates = [found] if found is not None else []
        else:
            target = normal(p.name)
            candidates = [k for k in keys if stem(k) == target or normal(k) == target]
        arrays = [
            (k, a)
            for k in candidates
            if k not in used and (a := _array(grads[keys[k]])) is not None
        ]
        if not arrays:
            continue
        arrays.sort(key=lambda item: item[1].shape != p.shape)  # the right shape first
        key = arrays[0][0]
        used.add(key)
        original = grads[keys[key]]
        _record(out, p, layout, original, f"[{keys[key]!r}]", (id(grads), keys[key]))
    stems = {re.sub(r"\d+", "#", normal(p.name)) for p in params}
    numbers = {int(n) for p in params for n in re.findall(r"\d+", p.name)}
    for k in keys:
        if k in used or _array(grads[keys[k]]) is None:
            continue
        digits = re.findall(r"\d+", k)
        if digits and re.sub(r"\d+", "#", stem(k)) in stems and int(digits[-1]) not in numbers:
            out.extra.append(k)
    return _finish(out, params)


def _leaves(value: Any, path: str = "", holder: tuple[int, Any] = (0, None)) -> list[tuple]:
    """(path, value, (id of its list, tuple or dict, index or key)) of every leaf of a nesting
    (a layer's dict inside a list: `[{'W': dW3, 'b': db3}, …]`)."""
    if isinstance(value, list | tuple):
        return [
            leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]", (id(value), i))
        ]
    if isinstance(value, dict) and path:
        return [
            leaf for k, v in value.items() for leaf in _leaves(v, f"{path}[{k!r}]", (id(value), k))
        ]
    return [(path, value, holder)]


def _structure(value: Any) -> str:
    if isinstance(value, list | tuple) and value and isinstance(value[0], dict):
        return f"{len(value)} dicts of {len(value[0])}"
    if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
        inner = len(value[0])
        return f"{len(value)} {'lists' if isinstance(value[0], list) else 'tuples'} of {inner}"
    return f"{len(value)} arrays" if isinstance(value, list | tuple) else type(value).__name__


def _orders(value: Any, params: list[Param]) -> list[list[Param]]:
    """The orders of the parameters a nesting of this size could follow, most usual first:
    `(nabla_b, nabla_w)`, per layer (`[(dW1, db1), …]`, a layer without parameters giving an
    empty list), in parameter order, and each from the output layer back."""
    weights = [p for p in params if p.slot.role == "weight"]
    biases = [p for p in params if p.slot.role == "bias"]
    orders: list[list[Param]] = []
    nested = all(isinstance(v, list | tuple | dict) for v in value) and len(value) > 0
    if nested and len(value) == 2 and biases:  # (nabla_w, nabla_b) or (nabla_b, nabla_w)
        orders += [weights + biases, biases + weights]
        orders += [weights[::-1] + biases[::-1], biases[::-1] + weights[::-1]]
    per_layer = [[p for p in params if p.slot.layer == w.slot.layer] for w in weights]
    for layers in (per_layer, per_layer[::-1]):  # [(dW1, db1), (dW2, db2), ...] or output first
        orders += [
            [p for group in layers for p in group],
            [p for group in layers for p in reversed(group)],
        ]
    if not nested:
        orders += [list(params), weights + biases, biases + weights, weights]
        orders += [list(params)[::-1], weights[::-1] + biases[::-1], weights[::-1]]
        orders += [biases[::-1] + weights[::-1]]
    return orders


def _by_position(
    value: Any, params: list[Param], layout: Layout, judge: Judge | None = None
) -> Gradients | None:
    """The leaves matched to the parameters in the order whose shapes fit best; among orders
    that fit equally (a net whose layers have one shape), the one `judge` finds the values of
    agree best with the loss, else the most usual."""
    found = _leaves(value)
    leaves = [(path, _array(v)) for path, v, _ in found]
    if any(a is None for _, a in leaves):
        return None
    scored: list[tuple[int, list[Param]]] = []
    for order in _orders(value, params):
        if len(order) != len(leaves) or any(order == o for _, o in scored):
            continue
        score = sum(
            a is not None and (a.shape == p.shape or _broadcasts_to(a, p.shape))
            for (_, a), p in zip(leaves, order, strict=True)
        )
        scored.append((score, order))
    if not scored:
        return None
    top = max(score for score, _ in scored)
    tied = [order for score, order in scored if score == top]
    best = tied[0]
    if len(tied) > 1 and judge is not None:
        agreements = [
            judge(
                {
                    p.slot.name: a
                    for (_, a), p in zip(leaves, order, strict=True)
                    if a is not None and a.shape == p.shape
                }
            )
            for order in tied
        ]
        best = tied[int(np.argmax(agreements))]
    out = Gradients()
    for (path, v, holder), p in zip(found, best, strict=True):
        _record(out, p, layout, v, path, holder)
    return _finish(out, params)


def from_changes(
    changed: list[Ref],
    params: list[Param],
    layout: Layout,
    patterns: dict[str, Ref] | None = None,
) -> Gradients | None:
    """The gradients among the arrays a backward set or changed on the user's objects: for
    each parameter, an array beside it (same object) named like it, else of its shape."""
    param_paths = {p.ref.path for p in params}
    pool = [r for r in changed if r.path not in param_paths]
    out = Gradients()
    used: set[str] = set()
    for p in params:
        if patterns is not None:
            ref = patterns.get(p.slot.name)
            choice = next((r for r in pool if ref is not None and r.path == ref.path), None)
        else:
            theirs = {id(q.ref.owner) for q in params if q.ref.owner is not p.ref.owner}
            choice = _nearest(  # not an array beside another layer's parameters: theirs
                p, [r for r in pool if r.path not in used and id(r.owner) not in theirs]
            )
        if choice is None:
            continue
        value = choice.get()
        if _array(value) is None:
            continue
        used.add(choice.path)
        _record(out, p, layout, value, choice.path, (id(choice.owner), choice.key))
    if not out.found:
        return None
    out.where = "arrays your backward sets: " + ", ".join(out.paths[n] for n in list(out.paths)[:4])
    return _finish(out, params)


def _nearest(p: Param, pool: list[Ref]) -> Ref | None:
    """The changed array most likely to be `p`'s gradient."""
    target = normal(p.name)

    def score(r: Ref) -> tuple[int, int, int]:
        value = r.get()
        named = stem(r.leaf) == target or (r.kind == "item" and stem(str(r.key)) == target)
        return (named, r.owner is p.ref.owner, np.shape(value) == p.shape)

    ranked = sorted(pool, key=score, reverse=True)
    if not ranked:
        return None
    best = score(ranked[0])
    if best[0] or (best[1] and best[2]):
        return ranked[0]
    beside = [r for r in pool if r.owner is p.ref.owner]
    if len(beside) == 1 and _widened(np.shape(beside[0].get()), p.shape):
        return beside[0]  # the one array left beside it, p's shape with its 1s widened: (m, n)
    return None


def _widened(shape: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """`shape` is `want` with some of its axes of 1 made longer (a bias (1, n) whose gradient
    kept the samples, (m, n)): the wrong shape of a gradient that was not summed."""
    return (
        len(shape) == len(want)
        and shape != want
        and all(s == w or w == 1 for s, w in zip(shape, want, strict=True))
    )
