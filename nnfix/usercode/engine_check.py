"""The local checks of a user's own autograd engine (SPEC §3.6): each operation of their class on
a few values (`check_ops`: `a OP b` or `f(a)`, their backward() against central differences of
the operation's own forward, with the result used once and used twice), and each backward
closure of their network's graph at the nodes it runs at (`check_graph`: the dot-product test,
which also reaches closures made outside the class). A wrong one is named at the line of the
closure that wrote the wrong gradient, found by tracing it."""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnfix.usercode import sandbox
from nnfix.usercode.engine import Engine, EngineNet, run_backward, single
from nnfix.usercode.model import SetupError, seed_numpy

Array = np.ndarray
# methods no operation is: they run the graph, print, draw or change a value in place
NOT_OPS = re.compile(
    r"backward|grad|zero|step|update|draw|plot|show|save|print|numpy|tolist|item|detach|copy"
    r"|clone|const|stop|freeze"
    r"|^__(init|new|del|repr|str|format|hash|bool|len|iter|next|contains|eq|ne|lt|le|gt|ge"
    r"|getattr|getattribute|setattr|delattr|setitem|delitem|reduce|reduce_ex|sizeof|dir"
    r"|init_subclass|subclasshook|class_getitem|index|int|float|complex|round|trunc|floor"
    r"|ceil|array|array_ufunc|array_function|enter|exit|call|copy|deepcopy|getstate|setstate)__$"
    r"|^__i\w+__$"
)


# --- each operation on its own (SPEC §3.6) -------------------------------------------------------

SCALARS = ((0.7, 1.3), (-0.45, 0.8), (1.9, -0.6))  # a, b: away from 0 and every usual kink
NUMBER = 2.0  # the number a binary operation is given where it takes no value of the class
H = 1e-6
RTOL = 1e-4
H32, RTOL32 = 1e-3, 1e-2  # for an engine that computes in float32


@dataclass
class OpCheck:
    """One operation of their class checked on its own: its local backward against central
    differences of its own forward."""

    name: str  # "__mul__", "tanh"
    call: str  # how it was called: "a * b", "a.tanh()"
    wrong: bool = False
    checked: int = 0  # value sets compared
    failed: int = 0
    argument: str = ""  # the operand whose gradient is wrong: "a", "b"
    got: float = 0.0
    want: float = 0.0
    twice: bool = False  # wrong only where a value is used twice (an = for a +=)
    set: int = 0  # the value set it was found wrong on
    arity: int = 0  # 0: f(a); 1: f(a, b) with b a value of the class; 2: f(a, a number)
    top: Any = None  # the code of the backward closure the operation's result holds
    file: str | None = None
    line: int | None = None  # the line of the closure that computed the wrong gradient
    text: str = ""
    traced: bool = False  # the line was seen writing the gradient (not the closure's first)


SHOWN = {
    "__add__": "a + b",
    "__radd__": "b + a",
    "__sub__": "a - b",
    "__rsub__": "b - a",
    "__mul__": "a * b",
    "__rmul__": "b * a",
    "__truediv__": "a / b",
    "__rtruediv__": "b / a",
    "__pow__": "a ** b",
    "__rpow__": "b ** a",
    "__matmul__": "a @ b",
    "__rmatmul__": "b @ a",
    "__neg__": "-a",
    "__pos__": "+a",
    "__abs__": "abs(a)",
}


def operations(cls: type) -> list[str]:
    """Their class's operations: its dunder and public methods, less those that run the graph,
    print or change a value in place."""
    names = []
    for name in dir(cls):
        if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
            continue
        if NOT_OPS.search(name):
            continue
        if not callable(getattr(cls, name, None)) or isinstance(
            inspect.getattr_static(cls, name), staticmethod | classmethod | property
        ):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), object)
        if owner is object:
            continue
        names.append(name)
    return names


def check_ops(eng: Engine) -> list[OpCheck]:
    """Every operation of their class on a few values: `a OP b` (a value of the class, then a
    number, for b) or `f(a)`; their backward() of the result against central differences of its
    `.data`, once with each operand used once, once with the result taken twice and added (the
    `+=` a value used twice needs)."""
    array = _array_engine(eng)
    done: list[OpCheck] = []
    for name in operations(eng.cls):
        check = _check_op(eng, name, array)
        if check is not None:
            done.append(check)
    add = next((c for c in done if c.name == "__add__"), None)
    if add is None:
        return done
    if not add.wrong:
        _check_twice(eng, add, array)
    if add.wrong:  # a + b cannot take a result twice: the others are checked used once
        return done
    for check in done:
        if not check.wrong and check is not add:
            _check_twice(eng, check, array)
    return done


def _array_engine(eng: Engine) -> bool:
    try:
        v = sandbox.call("engine", eng.cls, 1.5)
        return isinstance(eng.value(v), np.ndarray)
    except sandbox.UserCallError:
        return True


def _sets(array: bool) -> int:
    """How many value sets an operation is checked on: an array engine's last one broadcasts
    b (2,) against a (2, 2), as a bias is added."""
    return len(SCALARS) + (1 if array else 0)


def _values(array: bool, k: int) -> tuple[Any, Any]:
    if not array:
        return SCALARS[k]
    rng = np.random.default_rng(k)
    if k == len(SCALARS):  # broadcasting
        return 0.5 + rng.random((2, 2)), 0.5 + rng.random(2)
    a, b = SCALARS[k]
    shift = np.sign(rng.standard_normal((2, 2))) if k else np.ones((2, 2))
    return (abs(a) + 0.3 * rng.random((2, 2))) * shift, (abs(b) + 0.3 * rng.random((2, 2))) * (
        1 if k == 0 else np.sign(b)
    )


def _call_op(eng: Engine, name: str, arity: int, a: Any, b: Any) -> Any:
    fn = getattr(a, name)
    if arity == 0:
        return fn()
    return fn(b if arity == 1 else NUMBER)


def _check_op(eng: Engine, name: str, array: bool) -> OpCheck | None:
    """The first arity the operation takes (none, a value, a number), checked on each value
    set where it computes a finite result."""
    check = OpCheck(name, "")
    for arity in (0, 1, 2):
        if not _arity_fits(eng.cls, name, arity):
            continue
        for k in range(_sets(array)):
            one = _compare(eng, name, arity, k, array, twice=False)
            if one is None:
                continue
            check.checked += 1
            if one.wrong:
                check.failed += 1
                if check.failed == 1 or (one.traced and not check.traced):
                    _take(check, one)  # the first failure, or the first whose line was seen
        if check.checked:
            check.call, check.arity = _shown(name, arity), arity
            check.wrong = check.failed > 0  # every value set is away from the usual kinks
            return check
    return None


def _arity_fits(cls: type, name: str, arity: int) -> bool:
    try:
        sig = inspect.signature(getattr(cls, name))
    except (TypeError, ValueError):
        return True
    params = list(sig.parameters.values())[1:]
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return not required if arity == 0 else len(required) == 1


def _shown(name: str, arity: int) -> str:
    text = SHOWN.get(name, f"a.{name}()" if arity == 0 else f"a.{name}(b)")
    return text.replace("b", str(NUMBER)) if arity == 2 else text


def _take(check: OpCheck, one: OpCheck) -> None:
    check.argument, check.got, check.want, check.set = one.argument, one.got, one.want, one.set
    check.top, check.file, check.line, check.text = one.top, one.file, one.line, one.text
    check.traced = one.traced


def _leaf(eng: Engine, value: Any) -> Any:
    """An operand: a value of their class that is itself the result of an operation (x + 0),
    as every value inside a network is, else a plain one."""
    zero = np.zeros_like(value) if isinstance(value, np.ndarray) else 0.0
    try:
        made = sandbox.call("engine", lambda: eng.operand(value) + eng.operand(zero))
        if eng.of(made) and np.array_equal(np.asarray(eng.value(made)), np.asarray(value)):
            return made
    except sandbox.UserCallError:
        pass
    return sandbox.call("engine", eng.operand, value)


def _compare(
    eng: Engine, name: str, arity: int, k: int, array: bool, twice: bool
) -> OpCheck | None:
    """One value set: None where the operation raises, returns no value of the class or a
    non-finite one; else whether backward() gave each operand its central-difference gradient."""
    av, bv = _values(array, k)
    try:
        a = _leaf(eng, av)
        b = _leaf(eng, bv) if arity == 1 else None
        build = _builder(eng, name, arity, twice)
        root = sandbox.call("engine", build, a, b)
    except (sandbox.UserCallError, SetupError):
        return None
    if not eng.of(root):
        return None
    try:
        out = np.asarray(eng.value(root), dtype=np.float64)
    except (TypeError, ValueError):  # a value holding no number (one of theirs, say)
        return None
    h, rtol = (H32, RTOL32) if single(eng.value(root)) else (H, RTOL)
    if not np.all(np.isfinite(out)):
        return None
    if k == len(SCALARS) and out.shape != np.shape(av):  # broadcast only as a bias is added
        return None
    operands = [("a", a)] + ([("b", b)] if b is not None else [])
    # the truth: central differences of the result's sum, each operand's value moved
    want: dict[str, Array] = {}
    try:
        for label, v in operands:
            base = np.array(eng.value(v), dtype=np.float64)
            g = np.zeros_like(base)
            for i in np.ndindex(base.shape):
                sides = []
                for step in (h, -h):
                    moved = base.copy()
                    moved[i] += step
                    eng.set_value(v, moved)
                    r = sandbox.call("engine", build, a, b)
                    sides.append(float(np.sum(np.asarray(eng.value(r), dtype=np.float64))))
                g[i] = (sides[0] - sides[1]) / (2 * h)
            eng.set_value(v, base)
            want[label] = g
    except (sandbox.UserCallError, SetupError, TypeError, ValueError):
        return None
    if not all(np.all(np.isfinite(g)) for g in want.values()):
        return None
    # their backward, traced to know which line wrote each operand's gradient
    for _, v in operands:
        eng.zero(v)
    try:
        root = sandbox.call("engine", build, a, b)
        writes = _traced_backward(eng, root, [v for _, v in operands])
    except sandbox.UserCallError:
        return None
    top = eng.closure(root)
    result = OpCheck(name, "", arity=arity, top=top.__code__ if top is not None else None)
    for label, v in operands:
        w = want[label]
        try:
            got = eng.as_array(v)
        except ValueError:  # a gradient of another shape than the value's
            got = np.full_like(w, np.nan)
        scale = max(float(np.max(np.abs(w))), float(np.max(np.abs(got))), 1e-8)
        if not np.max(np.abs(got - w)) <= rtol * scale + 1e-6:
            result.wrong, result.argument = True, label
            result.got, result.want = float(np.sum(got)), float(np.sum(w))
            result.set = k
            place = writes.get(id(v)) or writes.get(result.top)
            if place is not None:
                result.file, result.line = place
                result.text = _line_text(*place)
                result.traced = True
            elif (fn := eng.grad_fns(root).get(id(v))) is not None:  # (value, grad_fn) pairs
                result.file, result.line = fn.__code__.co_filename, fn.__code__.co_firstlineno
                result.text = _line_text(result.file, result.line)
                result.traced = True
            elif top is not None:
                result.file, result.line = top.__code__.co_filename, top.__code__.co_firstlineno
                result.text = _line_text(result.file, result.line)
            break
    return result


def _builder(eng: Engine, name: str, arity: int, twice: bool) -> Callable:
    """The operation's graph on operands a, b (seeded: an operation that draws random numbers
    draws the same ones each time)."""

    def build(a: Any, b: Any) -> Any:
        seed_numpy(0)
        one = _call_op(eng, name, arity, a, b)
        return one + _call_op(eng, name, arity, a, b) if twice else one

    return build


def _check_twice(eng: Engine, check: OpCheck, array: bool) -> None:
    arity = check.arity
    first: OpCheck | None = None
    for k in range(_sets(array)):
        one = _compare(eng, check.name, arity, k, array, twice=True)
        if one is not None and one.wrong and (first is None or (one.traced and not first.traced)):
            first = one
    if first is not None:
        _take(check, first)
        check.wrong = check.twice = True


def _traced_backward(eng: Engine, root: Any, operands: list[Any]) -> dict[Any, tuple]:
    """Their root.backward() under a tracer: for each operand (by id) the last line of a
    backward closure that changed its gradient, and for each closure (by code) the last line of
    it that changed any value's gradient (a closure that writes to the wrong value)."""
    nodes = _nodes(eng, root)
    codes = {f.__code__ for f in (eng.closure(v) for v in nodes) if f is not None}
    watched = nodes + [c for o in operands for c in eng.children(o)]
    before: dict[int, Any] = {}
    writes: dict[Any, tuple[str, int]] = {}
    lines: dict[int, int] = {}

    def local(frame, event, arg):
        if event in ("line", "return"):
            previous = lines.get(id(frame))
            if previous is not None:
                for v in watched:
                    now = _grad_copy(eng, v)
                    if not _equal(now, before[id(v)]):
                        before[id(v)] = now
                        writes[id(v)] = writes[frame.f_code] = (frame.f_code.co_filename, previous)
            lines[id(frame)] = frame.f_lineno
        return local

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            lines.pop(id(frame), None)
            for v in watched:  # what their backward() did between closures is not theirs
                before[id(v)] = _grad_copy(eng, v)
            return local
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        run_backward(eng, root)
    finally:
        sys.settrace(old)
    return writes


def _nodes(eng: Engine, root: Any) -> list[Any]:
    seen: dict[int, Any] = {}
    stack = [root]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen[id(v)] = v
            stack += eng.children(v)
    return list(seen.values())


def _grad_copy(eng: Engine, v: Any) -> Any:
    g = eng.plain_grad(v)
    return np.array(g, dtype=np.float64) if g is not None else None


def _equal(x: Any, y: Any) -> bool:
    if x is None or y is None:
        return x is y
    return x.shape == y.shape and bool(np.array_equal(x, y))


def _line_text(file: str, line: int) -> str:
    try:
        return Path(file).read_text(encoding="utf-8").splitlines()[line - 1].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return ""


# --- each node of their network's graph (SPEC §3.6) ----------------------------------------------

GRAPH_EPS = 1e-6  # the step along a random direction of every parameter
GRAPH_RTOL = 1e-3
GRAPH_EPS32, GRAPH_RTOL32 = 1e-3, 3e-2
PER_CLOSURE = 60  # nodes checked per backward closure at most


@dataclass
class NodeCheck:
    """A backward closure of their network's graph (any function's, not only the class's
    operations: a dropout layer's, a loss's) checked at the nodes it runs at."""

    code: Any  # the closure's code object
    name: str  # its qualified name: "Dropout.forward.<locals>.backward_fn"
    nodes: int = 0  # nodes checked (where the check could say something)
    failed: int = 0
    file: str | None = None
    line: int | None = None
    text: str = ""

    @property
    def wrong(self) -> bool:
        return self.failed > 0 and 2 * self.failed >= self.nodes


def check_graph(net: EngineNet, skip: set[Any]) -> list[NodeCheck]:  # every closure checked
    """Each node of their network's graph on its own, by the dot-product test: along a random
    direction d of every parameter, each node's value moves by δn (central differences of two
    forwards, nodes matched in the order they are made); its backward closure, given a random
    u as the node's gradient, must add to its children's gradients the g_c with
    Σ <g_c, δc> = <u, δn>. A closure that sets (=) rather than adds, writes to another value
    or computes another derivative fails it. Closures in `skip` were judged already."""
    eng = net.engine
    rng = np.random.default_rng(0)
    arrays = net.arrays
    saved = {k: a.copy() for k, a in arrays.items()}
    low = net.precision > 1e-10
    eps, rtol = (GRAPH_EPS32, GRAPH_RTOL32) if low else (GRAPH_EPS, GRAPH_RTOL)
    direction = {k: rng.standard_normal(a.shape) * (1 + np.abs(a)) * eps for k, a in arrays.items()}
    runs = []
    try:
        for sign in (1.0, -1.0, 0.0):
            for k, a in arrays.items():
                a[...] = saved[k] + sign * direction[k]
            made: list[Any] = []
            with _recording(eng.cls, made):
                root = net._engine_call(net.root_value)
            runs.append((made, root))
    except (SetupError, sandbox.UserCallError):
        return []
    finally:
        for k, a in arrays.items():
            a[...] = saved[k]
    (plus, _), (minus, _), (made, root) = runs
    if not (len(plus) == len(minus) == len(made)):
        return []  # the graph changes with the values: nodes cannot be matched
    index = {id(v): i for i, v in enumerate(made)}
    tangent: dict[int, Array] = {}
    for g in net.groups:  # the parameters move along the direction itself
        step = direction[g.path]
        whole = len(g.values) == 1 and isinstance(eng.value(g.values[0]), np.ndarray)
        for j, v in enumerate(g.values):
            at = -1 - len(tangent)
            index[id(v)] = at
            tangent[at] = step if whole else np.asarray(step.reshape(-1)[j])

    def moved(i: int) -> Array | None:
        if i not in tangent:
            try:
                p = np.asarray(eng.value(plus[i]), dtype=np.float64)
                m = np.asarray(eng.value(minus[i]), dtype=np.float64)
            except (TypeError, ValueError):
                return None
            tangent[i] = (p - m) / 2 if p.shape == m.shape else None  # type: ignore[assignment]
        return tangent[i]

    graph = _nodes(eng, root)
    # the nodes their own backward gives a gradient: a node it passes by (a closure rebound to
    # the node made after it, as `c += eps` does) is none of the gradient's business
    try:
        for v in graph:
            if v is not root:  # the root's is as their op made it (their backward seeds it)
                eng.zero(v)
        run_backward(eng, root)
        reached = {id(v) for v in graph if np.any(eng.as_array(v))}
    except (sandbox.UserCallError, ValueError, TypeError):
        return []
    checks: dict[Any, NodeCheck] = {}
    for node in graph:
        if id(node) not in reached:
            continue
        f = eng.closure(node)
        children = list({id(c): c for c in eng.children(node)}.values())
        if f is None or not children or f.__code__ in skip or id(node) not in index:
            continue
        check = checks.setdefault(f.__code__, NodeCheck(f.__code__, f.__qualname__))
        if check.nodes >= PER_CLOSURE or check.failed > PER_CLOSURE // 2:
            continue
        if any(id(c) not in index for c in children):
            continue
        dn = moved(index[id(node)])
        if dn is None or any(moved(index[id(c)]) is None for c in children):
            continue
        if not np.any(dn) and not any(np.any(moved(index[id(c)])) for c in children):
            continue  # nothing moves here: the test says nothing
        # a closure may write below its children (a node it rebound): the values two levels
        # under them are watched too
        below = _below(eng, node, 3)
        moves = [moved(index[id(v)]) if id(v) in index else None for v in below]
        verdict = _node_test(eng, node, f, below, dn, moves, rng, rtol)
        if verdict is None:
            continue
        check.nodes += 1
        if not verdict:
            check.failed += 1
            if check.line is None:
                _locate_node(eng, check, node, f, below, moves, rng)
    return list(checks.values())


def _below(eng: Engine, node: Any, depth: int) -> list[Any]:
    """The values under a node, `depth` levels down, each once, its children first."""
    out: dict[int, Any] = {}
    level = [node]
    for _ in range(depth):
        level = [c for v in level for c in eng.children(v) if id(c) not in out and c is not node]
        for c in level:
            out.setdefault(id(c), c)
    return list(out.values())


def _node_test(
    eng: Engine,
    node: Any,
    f: Callable,
    below: list[Any],
    dn: Array,
    moves: list[Array | None],
    rng: np.random.Generator,
    rtol: float,
) -> bool | None:
    """The dot-product test at one node: None where it says nothing (the closure raises, or
    writes to a value whose move is not known)."""
    u = rng.standard_normal(np.shape(dn))
    before = []
    terms = []
    try:
        for v in below:
            eng.set_grad(v, rng.standard_normal(np.shape(eng.value(v))))
            before.append(eng.as_array(v))
        eng.set_grad(node, u)
        sandbox.call("backward", f)
        for v, g0, dv in zip(below, before, moves, strict=True):
            g = eng.as_array(v) - g0
            if not np.any(g):
                continue
            if dv is None:
                return None
            terms.append(float(np.sum(g * dv)))
    except (sandbox.UserCallError, ValueError, TypeError):
        return None
    lhs = float(np.sum(u * dn))
    scale = abs(lhs) + sum(abs(t) for t in terms)
    norms = sum(float(np.linalg.norm(d)) for d in moves if d is not None)
    floor = 1e-9 * float(np.linalg.norm(u)) * (float(np.linalg.norm(dn)) + norms)
    if scale <= floor:
        return None
    return abs(lhs - sum(terms)) <= rtol * scale + floor


def _locate_node(
    eng: Engine,
    check: NodeCheck,
    node: Any,
    f: Callable,
    below: list[Any],
    moves: list[Array | None],
    rng: np.random.Generator,
) -> None:
    """The line of the closure that last wrote a gradient of a value that moves (else any)."""
    writes: dict[int, int] = {}
    before = {id(v): _grad_copy(eng, v) for v in below}
    last: dict[str, int] = {}

    def local(frame, event, arg):
        if event in ("line", "return"):
            if "line" in last:
                for v in below:
                    now = _grad_copy(eng, v)
                    if not _equal(now, before[id(v)]):
                        before[id(v)] = now
                        writes[id(v)] = last["line"]
            last["line"] = frame.f_lineno
        return local

    def tracer(frame, event, arg):
        return local if event == "call" and frame.f_code is f.__code__ else None

    eng.set_grad(node, rng.standard_normal(np.shape(eng.value(node))))
    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        sandbox.call("backward", f)
    except sandbox.UserCallError:
        pass
    finally:
        sys.settrace(old)
    moving = [
        writes[id(v)]
        for v, d in zip(below, moves, strict=True)
        if id(v) in writes and d is not None and np.any(d)
    ]
    line = (moving or list(writes.values()) or [f.__code__.co_firstlineno])[-1]
    check.file, check.line = f.__code__.co_filename, line
    check.text = _line_text(check.file, line)


class _recording:
    """Their class's __init__ noting every instance it makes, in order, while in effect."""

    def __init__(self, cls: type, made: list[Any]):
        self.cls, self.made = cls, made

    def __enter__(self) -> None:
        cls, made = self.cls, self.made
        self.own = "__init__" in vars(cls)
        original = cls.__init__  # type: ignore[misc]

        def init(this: Any, *args: Any, **kwargs: Any) -> None:
            made.append(this)
            original(this, *args, **kwargs)

        self.original = original
        cls.__init__ = init  # type: ignore[misc]

    def __exit__(self, *exc: Any) -> None:
        if self.own:
            self.cls.__init__ = self.original  # type: ignore[misc]
        else:
            del self.cls.__init__  # type: ignore[misc]
