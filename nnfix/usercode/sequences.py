"""Code that takes one sequence, or returns its loss beside its gradients (SPEC §3.1–§3.3): a
sample as the code holds it (a list of token ids, an array of any rank), the `zeros`
placeholder (an initial state of the shape the code needs, found by trying the sizes the
parameters' shapes hold), the names a function's return statement gives what it returns (so a
backward's `hs` is the forward's `hs`), and a `(loss, dW1, …, h_last)` return read as the loss,
the gradients, and the state the forward leaves (not a gradient)."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from nnfix.usercode.grads import Gradients, Judge, Param, from_value
from nnfix.usercode.layout import Layout

Array = np.ndarray


# --- one sample as the code holds it, and what it gives back ----------------------------------------------------------


def sample_forms(x: Array) -> list[str]:
    """The forms one sample of `x` (samples first) may be given in, most usual first: token ids
    as a Python list or an array; a sample of rank 2 and up as it is; a vector as a column
    (n, 1) or as a vector (n,)."""
    if x.dtype.kind in "iu" and x.ndim == 2:
        return ["list", "array"]
    if x.ndim > 2:
        return ["array"]
    return ["column", "vector"]


def one(value: Array, form: str) -> Any:
    """One sample (or its target) in `form`."""
    if form == "list":
        return [v.item() for v in np.asarray(value).reshape(-1)]
    if form == "array":
        return np.array(value)
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    return flat[:, None] if form == "column" else flat


def per_step(y: Array, x: Array) -> bool:
    """Targets that hold one target per step of a sequence (`target: shifted`), or are of a
    sample's own rank: given whole per sample, in the sample's form."""
    return y.ndim >= 2 and (x.dtype.kind in "iu" or x.ndim > 2) and y.shape[1:] == x.shape[1:]


def flat(value: Any) -> Array:
    """An output as one row of numbers (an RNN's list of per-step outputs joined)."""
    try:
        return np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list | tuple):
            parts = [
                np.asarray(v, dtype=np.float64).reshape(-1)
                for v in value
                if isinstance(v, np.ndarray) and v.dtype.kind == "f"
            ]
            if parts:
                return np.concatenate(parts)
        return np.zeros(0)


def shape_of(value: Any) -> str:
    """An output's shape for the header: an array's, or how many steps a list or dict holds."""
    if isinstance(value, np.ndarray):
        return str(tuple(value.shape))
    if isinstance(value, list | tuple | dict):
        return f"a {type(value).__name__} of {len(value)} steps"
    return type(value).__name__


def differentiated(f: Callable[[Array], float], at: Any) -> Array:
    """df/da at `at` by central differences over its entries (an output of a small batch)."""
    a = np.array(at, dtype=np.float64)
    grad = np.zeros_like(a)
    for k in range(a.size):
        h = 1e-6 * max(1.0, abs(float(a.flat[k])))
        old = a.flat[k]
        a.flat[k] = old + h
        up = f(a)
        a.flat[k] = old - h
        down = f(a)
        a.flat[k] = old
        grad.flat[k] = (up - down) / (2 * h)
    return grad


# --- the `zeros` placeholder ------------------------------------------------------------------


def zeros_shapes(arrays: list[Array]) -> list[tuple[int, ...]]:
    """The shapes a zero initial state may have, most likely first: each size found along the
    parameters' axes — a square matrix's first (an RNN's hidden-to-hidden Whh) before the others,
    the more often a size recurs the earlier — as a column (h, 1) and as a vector (h,)."""
    square: Counter[int] = Counter()
    sizes: Counter[int] = Counter()
    for a in arrays:
        if a.ndim == 2 and a.shape[0] == a.shape[1]:
            square[a.shape[0]] += 1
        for n in a.shape:
            if n > 1:
                sizes[n] += 1
    order = [n for n, _ in square.most_common()]
    order += [n for n, _ in sizes.most_common() if n not in order]
    return [shape for n in order for shape in ((n, 1), (n,))]


def uses_zeros(arguments: dict[str, Any] | None) -> bool:
    return any(v == "zeros" for v in (arguments or {}).values())


# --- what a function's return statement names ---------------------------------------------------


_RETURNS: dict[Any, list[str | None] | None] = {}  # a function's code -> its return names


def return_names(fn: Callable) -> list[str | None] | None:
    """The names a function's return statements give the items of the tuple it returns
    (`return loss, dWxh, hs[t]` -> ['loss', 'dWxh', None]); None where it returns no tuple, or
    its return statements disagree, or its source cannot be read. Read once per function."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None:
        return None
    if code not in _RETURNS:
        _RETURNS[code] = _return_names(fn)
    return _RETURNS[code]


def _return_names(fn: Callable) -> list[str | None] | None:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    if not tree.body or not isinstance(tree.body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    found: list[list[str | None]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue  # a nested function's returns are its own
            if isinstance(child, ast.Return) and isinstance(child.value, ast.Tuple | ast.List):
                found.append([e.id if isinstance(e, ast.Name) else None for e in child.value.elts])
            visit(child)

    visit(tree.body[0])
    if not found or any(f != found[0] for f in found):
        return None
    return found[0]


def named(value: Any, names: list[str | None] | None) -> dict[str, Any]:
    """What a function returned, by the names its return statement gives the items."""
    if names is None or not isinstance(value, tuple | list) or len(value) != len(names):
        return {}
    return {n: v for n, v in zip(names, value, strict=True) if n is not None}


# --- a loss returned beside the gradients ---------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.number) or (
        isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu"
    ):
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    return None


def _holds_arrays(value: Any, depth: int = 3) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f" and value.size > 1
    if depth and isinstance(value, dict):
        return any(_holds_arrays(v, depth - 1) for v in value.values())
    if depth and isinstance(value, list | tuple):
        return any(_holds_arrays(v, depth - 1) for v in value)
    return False


def loss_first(value: Any) -> float | None:
    """The loss of a `(loss, grads)` or `(loss, dW1, db1, …, h)` return: a number first, then
    arrays (or containers of them). None for anything else (an output, (output, cache))."""
    if not isinstance(value, tuple | list) or len(value) < 2:
        return None
    number = _number(value[0])
    if number is None or not any(_holds_arrays(v) for v in value[1:]):
        return None
    return number


def needs_state(value: Any, count: int) -> bool:
    """A `(loss, …)` return with more arrays after the loss than there are parameters."""
    return loss_first(value) is not None and len(value) - 1 > count


def state_items(value: Any, again: Any) -> set[int]:
    """The indices (in `value`) of the arrays after the loss that are equal in `again`, the
    same call with other targets: the state the forward leaves (a hidden state carried to the
    next sequence), which does not move with the targets where a derivative of the loss does."""
    if not isinstance(again, tuple | list) or len(again) != len(value):
        return set()
    return {
        k
        for k in range(1, len(value))
        if isinstance(value[k], np.ndarray)
        and isinstance(again[k], np.ndarray)
        and value[k].shape == again[k].shape
        and np.array_equal(value[k], again[k])
    }


def gradients_in(
    value: Any,
    params: list[Param],
    layout: Layout,
    names: list[str | None] | None,
    what: str,
    state: set[int] | None = None,
    judge: Judge | None = None,
) -> Gradients | None:
    """The gradients in what a backward returned: as `grads.from_value` reads them; else by the
    names its return statement gives the items (`return dA_prev, dW, db`: dW is W's, dA_prev
    no parameter's); else by shape, where each parameter's shape is its own and the arrays
    returned hold each once (`[dU, dV, dW]` of U, W, V); else, in a `(loss, dW1, …, h_last)`
    return, the items after the loss by position less the `state` (the items `state_items`
    finds the targets do not move), or — where that was not found — less the items past the
    parameters' count: a gradient is of the loss, one per parameter, and code returns them
    together before the state."""
    found = from_value(value, params, layout, what=what, judge=judge)
    if found is not None and not found.missing and not found.wrong:
        return found
    if not isinstance(value, tuple | list):
        return found
    loss = loss_first(value)
    first = (names or [None])[0] if loss is not None else None
    by_name = {
        k: v
        for k, v in named(value, names).items()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f" and k != first
    }
    if by_name:
        out = from_value(by_name, params, layout, what=what)
        if out is not None and not out.missing and not out.wrong:
            out.loss = loss
            return out
    by_shape = _by_shape(value[1:] if loss is not None else value, params)
    if by_shape is not None:
        out = from_value(by_shape, params, layout, what=what)
        if out is not None and not out.missing and not out.wrong:
            out.loss = loss
            return out
    if loss is None or len(value) < 3:
        return found
    if state:  # found by values: the items the targets do not move
        rest = [v for k, v in enumerate(value) if k and k not in state]
        out = from_value((loss, tuple(rest)), params, layout, what=what)
        if out is not None and not out.missing and not out.wrong:
            return out
    rest = list(value[1:])
    n = len(params)
    if len(rest) > n:
        left = rest[n:]
        rest = rest[:n]
        if not all(isinstance(s, np.ndarray) for s in left):
            return found
    out = from_value((loss, tuple(rest)), params, layout, what=what)
    return out if out is not None else found


def _by_shape(items: Any, params: list[Param]) -> dict[str, Array] | None:
    """The arrays returned, keyed by the parameter whose shape each has, where every parameter's
    shape is unlike the others' and the arrays are exactly one of each (in any order)."""
    if not isinstance(items, tuple | list):
        return None
    arrays = [v for v in items if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    shapes = [p.shape for p in params]
    if len(set(shapes)) != len(shapes) or len(arrays) != len(params):
        return None
    if sorted(a.shape for a in arrays) != sorted(shapes):
        return None
    owner = {p.shape: p.name for p in params}
    return {owner[a.shape]: a for a in arrays}
