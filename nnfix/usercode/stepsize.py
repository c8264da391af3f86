"""What an update does as it runs, read by tracing their step once: its step size, and the
statement that leaves a parameter in another shape (or whose in-place update of it raises on a
step of another shape).

The step size (SPEC §3.2 D, E): where no literal, default or
attribute holds it (`lr = 1 / epoch`, a schedule), their step is traced once and the first
statement of theirs that changes a parameter by a multiple of something — `W = W - lr * dW`,
`W -= lr * dW`, `self.W -= self.alpha * grad` — gives the number that multiplier held when the
statement ran. Decided by values: the statement counts only when a parameter's value did change
across it, and the multiplier counts only when it evaluates to a number > 0 in that frame."""

from __future__ import annotations

import ast
import linecache
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from nnfix.usercode.loader import Place, is_users, place_of
from nnfix.usercode.update import StepSize

Array = np.ndarray


@lru_cache(maxsize=64)
def _updates(filename: str) -> dict[int, list[ast.expr]]:
    """Per first line of an update-shaped statement of a file, the expressions that may be its
    multiplier: `t = t - k * d` or `t -= k * d` (either factor of the product)."""
    try:
        tree = ast.parse(Path(filename).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    out: dict[int, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        change: ast.expr | None = None
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Sub):
            change = node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.value, ast.BinOp)
            and isinstance(node.value.op, ast.Sub)
            and ast.unparse(node.value.left) == ast.unparse(node.targets[0])
        ):
            change = node.value.right
        if isinstance(change, ast.BinOp) and isinstance(change.op, ast.Mult | ast.Div):
            factors = _factors(change.left if isinstance(change.op, ast.Div) else change)
            out[node.lineno] = [f for f in factors if isinstance(f, ast.Name | ast.Attribute)]
    return out


def _factors(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return [*_factors(node.left), *_factors(node.right)]
    return [node]


def _number(node: ast.expr, frame: FrameType) -> float | None:
    try:
        code = compile(ast.Expression(node), "<step size>", "eval")
        value = eval(code, frame.f_globals, dict(frame.f_locals))  # a name or an attribute
    except Exception:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    value = float(value)
    return value if np.isfinite(value) and value > 0 else None


class _Watch:
    """The trace: a candidate statement's multipliers read as it starts, the parameters compared
    when its frame moves on."""

    def __init__(self, params: Callable[[], list[Any]]):
        self.params = params
        self.found: StepSize | None = None
        self.pending: dict[int, tuple[list[tuple[str, float]], list[Array], str]] = {}

    def _global(self, frame: FrameType, event: str, arg: Any):
        if self.found is not None or event != "call":
            return None
        return self._local if is_users(frame.f_code.co_filename) else None

    def _local(self, frame: FrameType, event: str, arg: Any):
        if self.found is not None:
            return None
        if event not in ("line", "return"):
            return self._local
        waiting = self.pending.pop(id(frame), None)
        if waiting is not None:
            numbers, before, where = waiting
            now = self.params()
            if (
                any(_moved(a, b) for a, b in zip(before, now, strict=False))
                and len({v for _, v in numbers}) == 1
            ):
                name, value = numbers[0]
                self.found = StepSize(value, f"{name} at {where} when it ran")
                return None
        if event == "line":
            factors = _updates(frame.f_code.co_filename).get(frame.f_lineno)
            if factors:
                numbers = [
                    (ast.unparse(f), v) for f in factors if (v := _number(f, frame)) is not None
                ]
                if numbers:
                    before = [np.array(p, dtype=np.float64, copy=True) for p in self.params()]
                    where = f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"
                    self.pending[id(frame)] = (numbers, before, where)
        return self._local


def _moved(before: Array, now: Any) -> bool:
    now = np.asarray(now, dtype=np.float64)
    return now.shape != before.shape or not np.array_equal(now, before)


def step_size_of_run(run: Callable[[], Any], params: Callable[[], list[Any]]) -> StepSize | None:
    """The multiplier of the first update statement of theirs that changes a parameter when
    `run()` runs (`params()`: the parameters' current arrays); None where none does, or where
    the statement multiplies the change by more than one number."""
    watch = _Watch(params)
    previous = sys.gettrace()
    sys.settrace(watch._global)
    try:
        run()
    except Exception:
        pass  # the step's own error is reported where it is called for real
    finally:
        sys.settrace(previous)
    return watch.found


def reshaped_at(
    run: Callable[[], Any], params: Callable[[], list[Any]]
) -> dict[int, tuple[Place, Place | None]]:
    """The statement of theirs after which each parameter (by its index in `params()`) first
    has another shape (`b = b - lr * db` with db per sample), or whose in-place update of it
    raised on a step of another shape (`b -= lr * db`), and the statement that bound the name it
    read of that shape (`db = delta`), where one of its frame did."""
    return _traced(run, params)[0]


def misfit_steps(run: Callable[[], Any], params: Callable[[], list[Any]]) -> dict[int, tuple]:
    """Each parameter (by its index in `params()`) whose in-place update (`b -= lr * db`)
    raised when `run()` ran, because its step has a shape NumPy cannot put into it: the step's
    shape (the gradient's, G103)."""
    return _traced(run, params)[1]


def _traced(
    run: Callable[[], Any], params: Callable[[], list[Any]]
) -> tuple[dict[int, tuple[Place, Place | None]], dict[int, tuple]]:
    shapes = [np.shape(p) for p in params()]
    found: dict[int, tuple[Place, Place | None]] = {}
    misfits: dict[int, tuple] = {}
    last: dict[int, int] = {}  # a frame -> the line it is running
    ids: dict[int, dict[str, int]] = {}  # a frame -> its locals' identities at that line
    bound: dict[int, dict[str, int]] = {}  # a frame -> the line that last bound each local

    def local(frame: FrameType, event: str, arg: Any):
        key = id(frame)
        if event in ("line", "return") and key in last:
            now = {n: id(v) for n, v in frame.f_locals.items()}
            for n, v in now.items():
                if ids.get(key, {}).get(n) != v:
                    bound.setdefault(key, {})[n] = last[key]
            ids[key] = now
            place = place_of(frame.f_code.co_filename, last[key])
            for i, p in enumerate(params()):
                if i not in found and np.shape(p) != shapes[i] and place is not None:
                    found[i] = (place, _source(frame, last[key], np.shape(p), bound.get(key, {})))
        elif event == "exception" and key in last and issubclass(arg[0], ValueError):
            hit = _misfit(frame, last[key], params())
            place = place_of(frame.f_code.co_filename, last[key])
            if hit is not None and place is not None and hit[0] not in found:
                i, shape = hit
                misfits[i] = shape
                found[i] = (place, _source(frame, last[key], shape, bound.get(key, {})))
        elif event == "call":
            ids[key] = {n: id(v) for n, v in frame.f_locals.items()}
        if event == "line":
            last[key] = frame.f_lineno
        return local

    def watch(frame: FrameType, event: str, arg: Any):
        if event != "call" or not is_users(frame.f_code.co_filename):
            return None
        return local(frame, event, arg)

    previous = sys.gettrace()
    sys.settrace(watch)
    try:
        run()
    except Exception:
        pass  # the step's own error is reported where it is called for real
    finally:
        sys.settrace(previous)
    return found, misfits


def _misfit(frame: FrameType, line: int, params: list[Any]) -> tuple[int, tuple] | None:
    """(the parameter's index, the step's shape) where the statement at `line` is an in-place
    update of a parameter (`self.biases[i] -= lr * grad_b`) by a step NumPy cannot put into it.
    Its parts are read again in the frame only where they call nothing."""
    text = linecache.getline(frame.f_code.co_filename, line).strip()
    try:
        stmt = ast.parse(text).body[0]
    except (SyntaxError, IndexError):
        return None
    if not isinstance(stmt, ast.AugAssign) or any(isinstance(n, ast.Call) for n in ast.walk(stmt)):
        return None
    target = ast.parse(ast.unparse(stmt.target), mode="eval")
    try:
        array = eval(compile(target, "<target>", "eval"), frame.f_globals, frame.f_locals)
        step = eval(
            compile(ast.Expression(stmt.value), "<step>", "eval"), frame.f_globals, frame.f_locals
        )
    except Exception:
        return None
    index = next((i for i, p in enumerate(params) if p is array), None)
    if index is None or not isinstance(array, np.ndarray):
        return None
    shape = tuple(np.shape(step))
    try:
        fits = np.broadcast_shapes(shape, array.shape) == array.shape
    except ValueError:
        fits = False
    return None if fits else (index, shape)


def _source(frame: FrameType, line: int, shape: tuple, bound: dict[str, int]) -> Place | None:
    """Where the statement at `line` got the array of `shape` it made the parameter from: the
    line that bound a name it reads holding an array of that shape (another line than its own)."""
    text = linecache.getline(frame.f_code.co_filename, line).strip()
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            value = frame.f_locals.get(node.id)
            at = bound.get(node.id)
            if isinstance(value, np.ndarray) and value.shape == shape and at and at != line:
                if read_elsewhere(frame.f_code.co_filename, line, node.id):
                    return None  # a value other lines use right (the delta): the update's line
                return place_of(frame.f_code.co_filename, at)
    return None


def read_elsewhere(filename: str, line: int, name: str) -> bool:
    """Whether the function holding `line` (or the module, outside any) reads `name` on another
    line than `line`: `d1` that also makes W1's gradient, where `grad_b = delta` is read by the
    bias's update alone."""
    try:
        tree = ast.parse("".join(linecache.getlines(filename)))
    except (SyntaxError, ValueError):
        return True
    scope: ast.AST = tree
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
            and node.lineno >= getattr(scope, "lineno", 0)
        ):
            scope = node
    return any(
        isinstance(n, ast.Name)
        and isinstance(n.ctx, ast.Load)
        and n.id == name
        and n.lineno != line
        for n in ast.walk(scope)
    )
