"""The corrected line of a culprit (SPEC §3.6): candidate edits of the line's expression — the
usual mistakes undone: another array of the same shape in place of one (the derivative given Z
where it takes A, the wrong layer's cache), another activation's derivative, the sign, a
missing or extra 1/m or 2, a transposed product, a sum over the samples, a misplaced bracket —
computed on the values the line read when it ran, and the edit whose value equals the measured
true one kept, in the user's own names. Decided by values alone: where no edit (or pair of
edits) reproduces the truth, no line is proposed.

Only expressions of arrays, numbers, arithmetic and NumPy's own functions are computed again
(nothing of the user's is called)."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

Array = np.ndarray
MAX_TRIED = 4000  # candidate expressions computed, at most
MAX_SWAPS = 12  # other arrays tried in place of one
RTOL = 1e-5  # agreement with the true value, relative to its largest element

_DERIVATIVES = (  # elementwise derivatives of usual activations, in their argument X
    "1 - X ** 2",
    "X * (1 - X)",
    "1 - np.tanh(X) ** 2",
    "1 / (1 + np.exp(-X)) * (1 - 1 / (1 + np.exp(-X)))",
    "(X > 0)",
)
_CHAIN = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def corrected(code: str, names: dict[str, Any], truths: list[Array], m: int) -> str | None:
    """`code` (one line: `target = expression`) with the edit of its expression whose value,
    on `names` (what the line read), equals one of `truths` (the true value under each
    convention a correct backward may use: the 1/m applied early or late); None where none
    does."""
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return None
    statement = tree.body[0]
    if len(statement.targets) != 1 or not _safe(statement.value, names):
        return None
    search = _Search(names, [np.asarray(t, dtype=np.float64) for t in truths], m)
    found = search.run(statement.value)
    if found is None:
        return None
    target = ast.get_source_segment(code.strip(), statement.targets[0]) or ast.unparse(
        statement.targets[0]
    )
    return f"{target} = {ast.unparse(found)}"


def _safe(node: ast.expr, names: dict[str, Any]) -> bool:
    """Every call in it is NumPy's own (or `len`), every name known: computing it again calls
    nothing of the user's."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id not in names and sub.id != "len":
            return False
        if isinstance(sub, ast.Lambda | ast.NamedExpr | ast.Await | ast.Yield):
            return False
        if isinstance(sub, ast.Call):
            fn = _value(sub.func, names)
            owner = getattr(fn, "__self__", None)
            if not (fn is len or _numpys(fn) or isinstance(owner, np.ndarray)):
                return False
    return True


def _numpys(fn: Any) -> bool:
    return isinstance(fn, np.ufunc) or (
        callable(fn) and str(getattr(fn, "__module__", "") or "").startswith("numpy")
    )


def _value(node: ast.expr, names: dict[str, Any]) -> Any:
    try:
        tree = ast.fix_missing_locations(ast.Expression(node))
        with np.errstate(all="ignore"):
            return eval(compile(tree, "<nnfix>", "eval"), {"__builtins__": {}}, names)
    except Exception:
        return None


class _Search:
    """Edits of one expression, one and then two at a time, until one gives the truth."""

    def __init__(self, names: dict[str, Any], truths: list[Array], m: int):
        self.names = {**names, "len": len}
        self.truths, self.m = truths, m
        self.tried = 0
        self.np = next((k for k, v in names.items() if v is np), None)
        self.batch = next(
            (k for k, v in names.items() if type(v) is int and v == m and m > 1), None
        )
        self.arrays = {
            k: v
            for k, v in names.items()
            if isinstance(v, np.ndarray) and v.dtype.kind == "f" and not k.startswith("_")
        }

    def run(self, expr: ast.expr) -> ast.expr | None:
        firsts = list(self.edits(expr))
        for one in firsts:
            if self.right(one):
                return one
        for one in firsts:
            for two in self.edits(one):
                if self.tried > MAX_TRIED:
                    return None
                if self.right(two):
                    return two
        return None

    def right(self, expr: ast.expr) -> bool:
        self.tried += 1
        with np.errstate(all="ignore"):
            value = _value(expr, self.names)
        if not isinstance(value, np.ndarray | float | int) or isinstance(value, bool):
            return False
        value = np.asarray(value, dtype=np.float64)
        for truth in self.truths:
            if value.shape != truth.shape:
                continue
            scale = float(np.max(np.abs(truth))) if truth.size else 0.0
            if scale > 0 and np.allclose(value, truth, rtol=RTOL, atol=RTOL * scale):
                return not self._cancels(expr)
        return False

    def _cancels(self, expr: ast.expr) -> bool:
        """An edit that only cancels a term (`h * 1 - h`, `(1 - 1) / x`): a sum or difference
        that is zero everywhere is no corrected line, whatever the whole gives."""
        for node in ast.walk(expr):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
                value = _value(node, self.names)
                if value is not None and np.size(value) and not np.any(value):
                    return True
        return False

    # --- the edits --------------------------------------------------------------------------------

    def edits(self, expr: ast.expr) -> Iterator[ast.expr]:
        for make in (
            self._names,
            self._derivatives,
            self._signs,
            self._scales,
            self._transposes,
            self._sums,
            self._brackets,
        ):
            yield from make(expr)

    def _names(self, expr: ast.expr) -> Iterator[ast.expr]:
        """Another array of the same shape in place of one (Z for A, the other layer's)."""
        for i, node in _nodes(expr):
            if not isinstance(node, ast.Name) or node.id not in self.arrays:
                continue
            shape = self.arrays[node.id].shape
            others = [k for k, v in self.arrays.items() if k != node.id and v.shape == shape]
            for other in others[:MAX_SWAPS]:
                yield _put(expr, i, ast.Name(other, ast.Load()))

    def _derivatives(self, expr: ast.expr) -> Iterator[ast.expr]:
        """Another activation's derivative in place of an elementwise one of one array."""
        numpy = self.np or "np"
        for i, node in _nodes(expr):
            if not isinstance(node, ast.BinOp | ast.Compare):
                continue
            leaves = {
                n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in self.arrays
            }
            if len(leaves) != 1:
                continue
            (x,) = leaves
            for form in _DERIVATIVES:
                new = ast.parse(form.replace("np.", f"{numpy}.").replace("X", x), mode="eval").body
                if ast.dump(new) != ast.dump(node):
                    yield _put(expr, i, new)

    def _signs(self, expr: ast.expr) -> Iterator[ast.expr]:
        for i, neg in _nodes(expr):
            if isinstance(neg, ast.UnaryOp) and isinstance(neg.op, ast.USub):
                yield _put(expr, i, neg.operand)
        if not (isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub)):
            yield ast.UnaryOp(ast.USub(), copy.deepcopy(expr))
        for i, node in _nodes(expr):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
                flipped = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
                yield _put(expr, i, ast.BinOp(node.left, flipped, node.right))

    def _scales(self, expr: ast.expr) -> Iterator[ast.expr]:
        """A missing or extra 1/m, 2 or ½."""
        m: ast.expr = ast.Name(self.batch, ast.Load()) if self.batch else ast.Constant(self.m)
        factors = [ast.Constant(2)] + ([m] if self.m > 1 else [])
        for f in factors:
            yield ast.BinOp(copy.deepcopy(expr), ast.Div(), copy.deepcopy(f))
            yield ast.BinOp(copy.deepcopy(expr), ast.Mult(), copy.deepcopy(f))
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div | ast.Mult):
            yield copy.deepcopy(expr.left)

    def _transposes(self, expr: ast.expr) -> Iterator[ast.expr]:
        for i, node in _nodes(expr):
            pair = _product(node)
            if pair is None:
                continue
            a, b, rebuild = pair
            for new in (rebuild(_t(b), _t(a)), rebuild(b, a), rebuild(_t(a), b), rebuild(a, _t(b))):
                yield _put(expr, i, new)
        yield ast.Attribute(copy.deepcopy(expr), "T", ast.Load())

    def _sums(self, expr: ast.expr) -> Iterator[ast.expr]:
        """Summed over an axis (the samples'), or over another axis than written."""
        numpy = self.np or "np"
        value = _value(expr, self.names)
        ndim = np.ndim(value) if isinstance(value, np.ndarray) else 0
        for axis in range(ndim):
            yield ast.Call(
                ast.Attribute(ast.Name(numpy, ast.Load()), "sum", ast.Load()),
                [copy.deepcopy(expr)],
                [
                    ast.keyword("axis", ast.Constant(axis)),
                    ast.keyword("keepdims", ast.Constant(True)),
                ],
            )
        for i, node in _nodes(expr):
            if not isinstance(node, ast.Call):
                continue
            for k, kw in enumerate(node.keywords):
                if kw.arg == "axis" and isinstance(kw.value, ast.Constant):
                    for axis in (0, 1):
                        if axis != kw.value.value:
                            new = copy.deepcopy(node)
                            new.keywords[k] = ast.keyword("axis", ast.Constant(axis))
                            yield _put(expr, i, new)

    def _brackets(self, expr: ast.expr) -> Iterator[ast.expr]:
        """The same operands and operators in the same order, bracketed otherwise
        (`1 - Y / 1 - AL` for `(1 - Y) / (1 - AL)`)."""
        for i, node in _nodes(expr):
            if not isinstance(node, ast.BinOp) or not isinstance(node.op, _CHAIN):
                continue
            leaves, ops = _flat(node)
            if not 3 <= len(leaves) <= 5:
                continue
            for new in _trees(leaves, ops):
                if ast.dump(new) != ast.dump(node):
                    yield _put(expr, i, new)


def _nodes(expr: ast.expr) -> Iterator[tuple[int, ast.expr]]:
    for i, node in enumerate(ast.walk(expr)):
        if isinstance(node, ast.expr):
            yield i, node


def _put(expr: ast.expr, index: int, new: ast.expr) -> ast.expr:
    """A copy of `expr` with its `index`-th node (ast.walk's order) replaced by `new`."""
    if index == 0:
        return copy.deepcopy(new)
    out = copy.deepcopy(expr)
    target = list(ast.walk(out))[index]
    for parent in ast.walk(out):
        for name, field in ast.iter_fields(parent):
            if field is target:
                setattr(parent, name, copy.deepcopy(new))
                return out
            if isinstance(field, list):
                for k, item in enumerate(field):
                    if item is target:
                        field[k] = copy.deepcopy(new)
                        return out
    return out


def _t(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return copy.deepcopy(node.value)
    return ast.Attribute(copy.deepcopy(node), "T", ast.Load())


def _product(node: ast.expr) -> tuple[ast.expr, ast.expr, Callable] | None:
    """A matrix product `a @ b` or `np.dot(a, b)`: its operands and how to make it again."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        return node.left, node.right, lambda a, b: ast.BinOp(a, ast.MatMult(), b)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("dot", "matmul")
        and len(node.args) == 2
        and not node.keywords
    ):
        func = node.func
        return node.args[0], node.args[1], lambda a, b: ast.Call(copy.deepcopy(func), [a, b], [])
    return None


def _flat(node: ast.expr) -> tuple[list[ast.expr], list[ast.operator]]:
    """The operands and operators of a chain of + - * / in written order."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, _CHAIN):
        left, lops = _flat(node.left)
        right, rops = _flat(node.right)
        return left + right, [*lops, node.op, *rops]
    return [node], []


def _trees(leaves: list[ast.expr], ops: list[ast.operator]) -> Iterator[ast.expr]:
    """Every bracketing of `leaves` joined by `ops` in order."""
    if len(leaves) == 1:
        yield copy.deepcopy(leaves[0])
        return
    for k in range(1, len(leaves)):
        for left in _trees(leaves[:k], ops[: k - 1]):
            for right in _trees(leaves[k:], ops[k:]):
                yield ast.BinOp(left, copy.deepcopy(ops[k - 1]), right)
