"""The names the user's code gives its values, for binding their functions' arguments (SPEC §3.3
"The arguments"): the names a function's `return` statements give what it returns
(`return Z1, A1, Z2, A2`, `return {"W1": W1, …}`), the parameters of a model call that returned
a bare tuple named as the forward takes them (`forward_prop(W1, b1, W2, b2, X)`), and the role a
parameter's name says by one of its words (`data_train` is X, `labels_train` is Y)."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

from nnfix.usercode.calls import parameters, role_of, word_role
from nnfix.usercode.spelling import returned


def returned_names(fn: Callable) -> list[str] | None:
    """The names of what `fn` returns, as its return statements spell them: `return Z1, A1` ->
    [Z1, A1]; `return {"A3": A3, …}` -> its keys. None where its return statements do not agree
    on one spelling (or its source cannot be read)."""
    spellings: set[tuple[str, ...]] = set()
    for node, _ in returned(fn):
        if isinstance(node, ast.Tuple | ast.List) and all(
            isinstance(e, ast.Name) for e in node.elts
        ):
            spellings.add(tuple(e.id for e in node.elts if isinstance(e, ast.Name)))
        elif isinstance(node, ast.Dict) and all(
            isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys
        ):
            spellings.add(
                tuple(
                    k.value
                    for k in node.keys
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                )
            )
        elif not (isinstance(node, ast.Constant) and node.value is None):
            return None
    if len(spellings) != 1:
        return None
    names = spellings.pop()
    return list(names) if len(set(names)) == len(names) else None


def assigned_order(fn: Callable, names: list[str]) -> list[str] | None:
    """`names` in the order `fn` last assigns them (`h = relu(…)` then `z = W2 @ h + b2`: h, z):
    the output of a forward that returns `(z, h)` is z. None where its source cannot be read
    or a name is never assigned in it."""
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(fn)))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, ValueError, IndentationError):
        return None
    last: dict[str, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            continue
        at = (node.lineno, node.col_offset)
        targets = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name) and leaf.id in names:
                    last[leaf.id] = max(last.get(leaf.id, at), at)
    if set(last) != set(names):
        return None
    return sorted(names, key=last.__getitem__)


def data_role(name: str, kind: str, depth: int) -> str | None:
    return role_of(name, kind, depth) or word_role(name)


def own_parameters(forward: Callable, depth: int) -> list[str]:
    """The forward's parameters that are neither data nor a container of parameters: the ones
    that take the parameters one by one (`W1, b1, W2, b2` of `forward_prop(W1, b1, W2, b2, X)`)."""
    return [
        p.name
        for p in parameters(forward) or []
        if p.default is p.empty
        and p.name != "self"
        and data_role(p.name, "forward", depth) not in ("X", "Y", "params", "cache")
    ]


def name_tuple(
    arrays: tuple | list, made_by: Callable | None, forward: Callable
) -> tuple[dict[str, Any], str] | None:
    """A model call's bare tuple of arrays named as the forward takes them: by the names the
    call's return statement gives them where the forward takes those names, else by the order
    the forward takes its parameters, then checked by shape (a weight is a matrix, a bias of a
    layer a vector of its units). None where the forward does not take them one by one."""
    if not arrays or not all(isinstance(a, np.ndarray) for a in arrays):
        return None
    wanted = own_parameters(forward, max(1, len(arrays) // 2))
    if not wanted:
        return None
    spelt = returned_names(made_by) if made_by is not None else None
    if spelt is not None and len(spelt) == len(arrays):
        lower = {n.lower(): n for n in wanted}
        if all(n.lower() in lower for n in spelt):
            named = {lower[n.lower()]: a for n, a in zip(spelt, arrays, strict=True)}
            return named, "by the names its return statement gives them"
    if len(wanted) != len(arrays):
        return None
    named = dict(zip(wanted, arrays, strict=True))
    if all(_fits(n, a) for n, a in named.items()):
        return named, "in the order your forward takes them"
    by_shape = _by_shape(wanted, list(arrays))
    if by_shape is None:
        return named, "in the order your forward takes them (their shapes do not say otherwise)"
    return by_shape, "in the order your forward takes them, weights and biases by their shapes"


def _kind(name: str) -> str | None:
    """What a parameter's name says it holds: `W1`, `weights` a weight; `b2`, `bias` a bias."""
    low = name.lower().lstrip("_")
    if low.startswith(("weight", "w")):
        return "weight"
    if low.startswith(("bias", "b")):
        return "bias"
    return None


def _vector(array: np.ndarray) -> bool:
    return sum(n > 1 for n in array.shape) <= 1


def _fits(name: str, array: np.ndarray) -> bool:
    """A bias-named parameter holds a vector, a weight-named one more than a vector."""
    kind = _kind(name)
    return kind is None or (kind == "bias") == _vector(array)


def _by_shape(wanted: list[str], arrays: list[np.ndarray]) -> dict[str, np.ndarray] | None:
    """The weights (more than vectors) to the weight-named parameters in order, the vectors to
    the bias-named ones in order; None where the names and shapes do not divide so."""
    kinds = [_kind(n) for n in wanted]
    if None in kinds:
        return None
    matrices = [a for a in arrays if not _vector(a)]
    vectors = [a for a in arrays if _vector(a)]
    if len(matrices) != kinds.count("weight") or len(vectors) != kinds.count("bias"):
        return None
    named: dict[str, np.ndarray] = {}
    for name, kind in zip(wanted, kinds, strict=True):
        named[name] = (matrices if kind == "weight" else vectors).pop(0)
    return named


WHAT = {
    "X": "the batch",
    "Y": "the targets",
    "output": "the forward's output",
    "cache": "what the forward returned beside its output",
    "params": "your parameters",
    "arguments:": "your arguments:",
}


def said(fn: Callable, record: dict[str, str], sources: dict[str, str]) -> str:
    """`backward_prop: Z1, A1 ← what forward_prop returned; W2 ← your parameter; X ← the batch`:
    what a call was given, grouped, for the report's header. `sources` says where each named
    value came from."""
    groups: dict[str, list[str]] = {}
    for parameter, what in record.items():
        where = sources.get(what) or WHAT.get(what, what)
        groups.setdefault(where, []).append(parameter)
    name = getattr(fn, "__name__", str(fn))
    return f"{name}: " + "; ".join(f"{', '.join(ps)} ← {where}" for where, ps in groups.items())
