"""Each part of a layer chain judged alone, with right inputs (SPEC §3.6): the loss's gradient
against the derivative of their own loss, and each layer's backward against the derivative of
its own forward — dL/d(input) and its parameters' gradients, for a random gradient from above,
along random directions. The part nearest a wrong tensor (from it towards the output) that is
wrong is where that tensor goes wrong, and its line of their code the one a finding names."""

from __future__ import annotations

import ast
import contextlib
import inspect
import linecache
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nnfix.usercode import sandbox
from nnfix.usercode.chain import (
    LR,
    _args,
    _layer_of,
    _put_back,
    split_returned,
    state,
    stored_ref,
)
from nnfix.usercode.grads import Param, stem
from nnfix.usercode.loader import Place, place_of
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.objects import is_float_array

if TYPE_CHECKING:
    from nnfix.usercode.chain import LayerChain

Array = np.ndarray
DIRECTIONS = 4  # random directions each part is judged along
TOLERANCE = 1e-4  # relative, in float64 (their code in float32: FLOAT32)
FLOAT32 = 3e-2


@dataclass
class Part:
    """A part of the chain judged alone — the loss's gradient, a layer's dL/d(input), a layer's
    gradient of one parameter — and the line of theirs that makes it."""

    part: tuple  # ("loss",) | (i, "input") | (i, parameter name)
    verdict: str | None  # None: right (or c × right); "-1": a constant (its factor); WRONG
    says: str
    place: Place | None = None
    code: str = ""


def judge(chain: LayerChain, tensors: list[Param], c: float = 1.0) -> dict[tuple, Part]:
    """Every part of the chain judged alone, on the batch (or its first sample): right where it
    is the true gradient or `c` × it (the constant the whole check read as a convention)."""
    net = chain.net
    kept = [(p.ref, p.ref.get(), p.ref.get().copy()) for p in tensors]
    for p in tensors:  # float64 while judged, their arrays put back after
        p.ref.set(np.array(p.ref.get(), dtype=np.float64))
    parts: dict[tuple, Part] = {}
    rng = np.random.default_rng(11)
    try:
        if net.sample_form is None:
            out, _ = net.forward()
            y = net.y_given(out)
        else:
            net.forward()
            values = net._sample_values(0)
            out = chain.forward(values["X"])
            y = values["Y"]
        inputs = list(chain.inputs)
        working = [(p.ref, p.ref.get(), p.ref.get().copy()) for p in tensors]
        chain._backward(out, y, tensors, working)  # the gradient each layer is given, in scale
        given = dict(chain.given)
        out = chain.forward(inputs[0])
        found = _loss(chain, out, y, rng, c)
        parts[found.part] = found
        for i in range(len(chain.objects)):
            for found in _layer(chain, i, inputs[i], given.get(i), tensors, rng, c):
                parts[found.part] = found
    except (
        sandbox.UserCallError,
        sandbox.Broken,
        SetupError,
        TypeError,
        ValueError,
        AttributeError,
    ):
        return {}  # what the chain could not do alone is the global check's to say: no line
    finally:
        _put_back(kept)
    return parts


def _path(p: Param, depth: int) -> list[tuple]:
    """The parts `p`'s gradient goes through, nearest first: its own layer's gradient of it,
    each layer above passing dL/d(input) down, the loss's gradient."""
    layer = _layer_of(p)
    return [(layer, p.slot.name), *((k, "input") for k in range(layer + 1, depth)), ("loss",)]


def culprit(parts: dict[tuple, Part], p: Param, depth: int, right: list[Param]) -> Part | None:
    """Where `p`'s gradient goes wrong: the nearest part on its path wrong in its pattern; else
    — only constants on it — the nearest one no right tensor goes through that carries a
    constant; else, where a constant on its way is one the right tensors' own parts undo, its
    own gradient (a `/ m` left off dW where db has it); else none is named."""
    path = [part for part in _path(p, depth) if part in parts]
    pattern = [part for part in path if parts[part].verdict == WRONG]
    if pattern:
        return parts[pattern[0]]
    shared = {part for q in right for part in _path(q, depth)}
    alone = [part for part in path if part not in shared]
    scaled = [part for part in alone if parts[part].verdict is not None]
    if scaled:
        return parts[scaled[0]]
    compensated = [part for part in path if part in shared and parts[part].verdict is not None]
    if alone and compensated:  # a constant on its way the right tensors' own parts undo
        return parts[alone[0]]
    return None


def gradient_line(chain: LayerChain, path: str) -> tuple[Place, str] | None:
    """The line of a layer's backward that writes the gradient found at `path`
    (`layers[0].dbiases`, or the parameter itself where the backward updates it)."""
    i = _layer_index(path)
    if i is None or chain.backwards[i] is None:
        return None
    method = chain.backwards[i]
    assert method is not None
    fn = getattr(chain.objects[i], method.name)
    return _line(fn, _target(path, method.name))


def _target(path: str, method: str) -> str | None:
    """Where on the layer object a gradient found at `path` is written (`.dweights`), or None
    where the backward returned it (`layers[0].backward(…)[2]`: its return statement)."""
    rest = path.split("]", 1)[1] if path.startswith("layers[") else path
    return None if rest.startswith(f".{method}(…)") else rest


def _layer_index(path: str) -> int | None:
    if not path.startswith("layers["):
        return None
    try:
        return int(path[len("layers[") : path.index("]")])
    except ValueError:
        return None


def _loss(chain: LayerChain, out: Array, y: Any, rng, c: float) -> Part:
    theirs = chain._prime(out, y)  # finds the method, once
    if chain.prime_fn is not None:
        fn: Callable = chain.prime_fn
        target: str | None = None
        name = getattr(fn, "__name__", "loss_prime")
    else:
        obj = chain.loss_obj
        assert chain.prime_method is not None
        fn = getattr(obj, chain.prime_method)
        before = state(obj)
        given = chain._own_output(out, y)
        value = chain._call_loss(f"loss.{chain.prime_method}", fn, given, y)
        ref = None if _returned(value, out) else stored_ref(obj, before, out, np.shape(out))
        target = None if ref is None else ref.path
        name = f"{type(obj).__name__}.{chain.prime_method}"
    base = np.asarray(out, dtype=np.float64)

    def loss(o: Array) -> float:
        value = chain.value(o, y)
        return float("nan") if value is None else value

    verdict = _compare(loss, base, np.asarray(theirs, dtype=np.float64), rng, _tol(out), c)
    says = _phrase(verdict, "the derivative of your loss", "gives", "is not")
    return _at(("loss",), verdict, fn, target, f"{name} {says}")


def _layer(
    chain: LayerChain, i: int, x: Any, above: Any, tensors: list[Param], rng, c: float
) -> list[Part]:
    """Layer i's backward given `above` (the gradient their chain gives it: a gradient of the
    size it meets, so a penalty's share shows), against its own forward."""
    obj = chain.objects[i]
    forward = chain.forwards[i]
    if forward is None:
        return []
    run = chain._run_forward

    def f(a: Any) -> Array:
        seed_numpy(chain.net.seed)  # a dropout mask is the same mask at every evaluation
        out = run(i, obj, forward, a)
        if out is None:
            raise SetupError(f"{chain.texts[i]} gave no output", "layers")
        return np.asarray(out, dtype=np.float64)

    out = f(x)
    usable = above is not None and np.shape(above) == out.shape and np.all(np.isfinite(above))
    g = np.array(above, dtype=np.float64) if usable else rng.standard_normal(out.shape)
    method = chain._backward_method(i, obj)
    fn = getattr(obj, method.name)
    mine = [p for p in tensors if _layer_of(p) == i]
    kept = [(p.ref, p.ref.get(), p.ref.get().copy()) for p in mine]
    with _recording(obj, (method.name, forward.name)) as forward_calls:
        f(x)  # its caches, as the backward reads them
    before = [state(o) if k == i else {} for k, o in enumerate(chain.objects)]
    snap = before[i]
    with _recording(obj, (method.name, forward.name)) as calls:
        value = sandbox.call(
            f"layers[{i}].{method.name}", fn, *_args(fn, g, chain.impl.arguments, (method.lr, LR))
        )
    rates = {i: LR if method.lr else chain.impl.update_lr}
    value, rest = split_returned(value, x)
    ref = None if _returned(value, x) else stored_ref(obj, snap, x, np.shape(x), ("d", "grad"))
    dx = value if _returned(value, x) else (None if ref is None else ref.get())
    dx = None if dx is None else np.array(dx, dtype=np.float64)
    grads = chain._read(mine, kept, before, rates, {i: rest})  # puts their parameters back
    found: list[Part] = []
    name = f"{type(obj).__name__}.{method.name}"
    tol = _tol(out)
    if dx is not None and is_float_array(np.asarray(x)) and i > 0:
        base = np.asarray(x, dtype=np.float64)
        verdict = _compare(lambda a: float(np.sum(g * f(a))), base, dx, rng, tol, c)
        target = None if ref is None else ref.path
        says = _phrase(verdict, "dL/d(its input)", "returns", "returns a wrong")
        helper = _helper(calls, base, f, g, dx) if verdict is not None and not mine else None
        if helper is not None:  # the derivative it multiplies by is its helper's, and wrong
            says = f"{name} multiplies by {helper.name}, which is not the derivative of its forward"
            found.append(_at((i, "input"), verdict, helper.fn, None, says, helper.line))
        else:
            found.append(_at((i, "input"), verdict, fn, target, f"{name} {says}"))
    for p in mine:
        theirs = grads.arrays.get(p.slot.name)
        if theirs is None:
            continue
        array = p.ref.get()
        base = np.array(array, dtype=np.float64)

        def moved(w: Array, array: Array = array) -> float:
            saved = array.copy()
            array[...] = w
            try:  # the loss's penalty for this layer is part of what its gradient differentiates
                return float(np.sum(g * f(x))) + chain.penalty(obj)
            finally:
                array[...] = saved

        theirs = np.asarray(theirs, dtype=np.float64)
        if theirs.size == base.size:  # read in rows layout: a bias (n,) as (1, n)
            theirs = theirs.reshape(base.shape)
        verdict = _compare(moved, base, theirs, rng, tol, c)
        rel = grads.paths.get(p.slot.name, "")
        if rel == p.ref.path:  # read off the update of it
            what = _phrase(verdict, "−lr × its gradient", f"moves {p.slot.name} by", "")
            if verdict == WRONG:
                what = f"moves {p.slot.name} by other than −lr × its gradient"
            elif verdict is not None and float(verdict) < 0:
                what = f"moves {p.slot.name} along +its gradient: the sign of its step is flipped"
        else:
            what = _phrase(verdict, f"the gradient of {p.slot.name}", "gives", "gives a wrong")
            what = what.replace("a wrong the gradient", "a wrong gradient")
        target = _target(rel, method.name)
        found.append(_at((i, p.slot.name), verdict, fn, target, f"{name} {what}"))
    pair = _derivative_helper(forward_calls, calls)
    if pair is not None:  # every wrong part of this layer goes through that helper
        helper, of = pair
        for k, part in enumerate(found):
            if part.verdict is not None:
                says = f"{name} uses {helper.name}, which is not the derivative of {of}"
                found[k] = _at(part.part, part.verdict, helper.fn, None, says, helper.line)
    return found


def _derivative_helper(forward: list, backward: list) -> tuple[Call, str] | None:
    """A helper the backward calls (`_act_grad(z, a)`) that is given what a helper of the forward
    was (`_act(z)`) but does not give that helper's derivative there: judged by its call with
    right inputs. The call, and the forward helper's name; None where there is none."""
    for call in backward:
        if not is_float_array(call.result):
            continue
        for made in forward:
            z = made.args[0] if made.args else None
            if (
                not isinstance(z, np.ndarray)
                or z.dtype.kind != "f"
                or not is_float_array(made.result)
            ):
                continue
            if made.result.shape != z.shape or np.shape(call.result) != z.shape:
                continue
            if not any(a is z or _same_array(a, z) for a in call.args):
                continue
            h = 1e-6 * max(1.0, float(np.max(np.abs(z))))
            try:
                up = sandbox.call(f"layers.{made.name}", made.fn, z + h, *made.args[1:])
                down = sandbox.call(f"layers.{made.name}", made.fn, z - h, *made.args[1:])
            except sandbox.UserCallError:  # their helper off its inputs: no judgement
                continue
            derivative = (np.asarray(up, dtype=np.float64) - np.asarray(down)) / (2 * h)
            given = np.asarray(call.result, dtype=np.float64)
            if not np.allclose(given, derivative, rtol=1e-4, atol=1e-6):
                return call, made.name
    return None


def _same_array(a: Any, b: Array) -> bool:
    return is_float_array(a) and a.shape == b.shape and bool(np.array_equal(a, b))


@dataclass
class Call:
    """One call of a layer's helper: its name, function, arguments, result, and the line it
    returned from (a helper with a return per activation returns from one of them)."""

    name: str
    fn: Callable
    args: tuple
    result: Any
    line: int | None


@contextlib.contextmanager
def _recording(obj: Any, skip: tuple[str, ...]) -> Iterator[list[Call]]:
    """The calls a layer's method makes to the functions it holds (`self.activation_prime`)
    and to its other methods (`self._act_grad`), each recorded."""
    calls: list[Call] = []
    own = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
    names = [n for n, v in own.items() if inspect.isfunction(v) or inspect.ismethod(v)]
    names += [
        n
        for n in dir(type(obj))
        if n not in own
        and n not in skip
        and not n.startswith("__")
        and inspect.isfunction(getattr(type(obj), n, None))
    ]

    def recorder(name: str, fn: Callable) -> Callable:
        code = getattr(inspect.unwrap(getattr(fn, "__func__", fn)), "__code__", None)

        def record(*args: Any, **kwargs: Any) -> Any:
            returned: list[int] = []

            def profile(frame, event, arg):  # the line its own frame returns from
                if event == "return" and frame.f_code is code:
                    returned.append(frame.f_lineno)

            previous = sys.getprofile()
            sys.setprofile(profile)
            try:
                result = fn(*args, **kwargs)
            finally:
                sys.setprofile(previous)
            calls.append(Call(name, fn, args, result, returned[-1] if returned else None))
            return result

        return record

    wrapped = []
    try:
        for n in names:
            with contextlib.suppress(AttributeError, TypeError):  # __slots__, a frozen object
                setattr(obj, n, recorder(n, getattr(obj, n)))
                wrapped.append(n)
        yield calls
    finally:
        for n in wrapped:
            if n in own:
                setattr(obj, n, own[n])
            else:
                with contextlib.suppress(AttributeError):
                    delattr(obj, n)


def _helper(calls: list[Call], x: Array, f: Callable, g: Array, dx: Array) -> Call | None:
    """The helper an elementwise layer's backward multiplies the gradient by, where it is not
    the derivative of the layer's own forward (`tanh_prime` given the output): its name and
    function; None where the layer is not elementwise or no helper explains dx."""
    try:
        out = f(x)
    except (sandbox.UserCallError, SetupError):
        return None
    if out.shape != x.shape or not x.size:
        return None
    h = 1e-6 * max(1.0, float(np.max(np.abs(x))))
    k = 0  # one element moved: the others stay
    e = np.zeros(x.size)
    e[k] = h
    moved = f(x + e.reshape(x.shape)) - out
    if np.count_nonzero(np.abs(moved.reshape(-1)) > 1e-12) > 1:
        return None  # not elementwise
    derivative = (f(x + h) - f(x - h)) / (2 * h)
    for call in calls:
        if not is_float_array(call.result) or np.shape(call.result) != x.shape:
            continue
        r = np.asarray(call.result, dtype=np.float64)
        if not np.allclose(dx, g * r, rtol=1e-6, atol=1e-12):
            continue  # not the factor dx is made of
        if not np.allclose(r, derivative, rtol=1e-4, atol=1e-7):
            return call
    return None


WRONG = "wrong"


def _phrase(verdict: str | None, what: str, verb: str, wrong: str) -> str:
    """`gives -1 × the derivative of your loss`, `is not the derivative of your loss`, or (a
    part right alone, where a constant the others carry is missing) `gives … without it`."""
    if verdict is None:
        return f"{verb} {what} without the constant the gradients beside it carry"
    if verdict == WRONG:
        return f"{wrong} {what}"
    if float(verdict) < 0:  # the size is where the code puts its constants; the sign is the bug
        return f"{verb} {what} with its sign flipped"
    return f"{verb} {float(verdict):.3g} × {what}"


def _returned(value: Any, like: Any) -> bool:
    return is_float_array(value) and np.shape(value) == np.shape(like)


def _tol(out: Any) -> float:
    return FLOAT32 if getattr(out, "dtype", None) == np.float32 else TOLERANCE


def _compare(
    phi: Callable[[Array], float], at: Array, theirs: Array, rng, tol: float, c: float = 1.0
) -> str | None:
    """None where `theirs` is the gradient of `phi` at `at`, or `c` × it (the convention the
    check read); else how it differs ("-1 ×", "wrong")."""
    if theirs.shape != at.shape or not at.size or not np.all(np.isfinite(theirs)):
        return None  # a shape or a non-finite value is the global check's to report
    h = 1e-6 * max(1.0, float(np.max(np.abs(at))) if at.size else 1.0)
    numeric, given = [], []
    for _ in range(DIRECTIONS):
        v = rng.standard_normal(at.shape)
        numeric.append((phi(at + h * v) - phi(at - h * v)) / (2 * h))
        given.append(float(np.sum(v * theirs)))
    n, t = np.array(numeric), np.array(given)
    if not np.all(np.isfinite(n)):
        return None
    floor = 1e-8 * (1.0 + abs(phi(at)))
    scale = float(max(np.max(np.abs(n)), np.max(np.abs(t)))) + floor / tol
    if any(float(np.max(np.abs(t - k * n))) <= tol * scale * max(1.0, abs(k)) for k in (1.0, c)):
        return None
    fit = float(n @ t / (n @ n)) if float(n @ n) > 0 else 0.0
    if float(np.max(np.abs(t - fit * n))) <= tol * scale:
        return repr(fit)
    return WRONG


def _at(
    part: tuple,
    verdict: str | None,
    fn: Callable,
    target: str | None,
    says: str,
    line: int | None = None,
) -> Part:
    """The part with the line of `fn` that makes it: the assignment to `target` (`.dinputs`,
    `.bias`, `.grads['b']` on the object), or its last `return`."""
    found = Part(part, verdict, says)
    where = _line(fn, target) if line is None else _numbered(fn, line)
    if where is not None:
        found.place, found.code = where
    return found


def _line(fn: Callable, target: str | None) -> tuple[Place, str] | None:
    raw = inspect.unwrap(getattr(fn, "__func__", fn))
    code = getattr(raw, "__code__", None)
    if code is None:
        return None
    try:
        lines, start = inspect.getsourcelines(raw)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError):
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    first = node.args.args[0].arg if node.args.args else "self"
    last: ast.stmt | None
    if target is None:
        returns = [s for s in ast.walk(node) if isinstance(s, ast.Return) and s.value is not None]
        if not returns:
            return None
        ret = max(returns, key=lambda s: s.lineno)
        last, value = ret, ret.value
    else:
        last, value = _writes(node, first + target)
        if last is None:
            return None
    if isinstance(value, ast.Name) and (target is None or _same(value.id, target)):
        computed, _ = _writes(node, value.id, before=last.lineno)  # `return dX`, `self.dW = dW`:
        last = computed or last  # where it was computed (not `self.dW = db`: the swap is here)
    number = start + last.lineno - 1
    place = place_of(code.co_filename, number)
    if place is None:
        return None
    text = lines[last.lineno - 1]
    col = len(text) - len(text.lstrip()) + 1
    return Place(place.file, place.line, place.cell, col), text.strip()


def _numbered(fn: Callable, number: int) -> tuple[Place, str] | None:
    """Line `number` of the file `fn` is defined in, as a place of theirs."""
    code = getattr(inspect.unwrap(getattr(fn, "__func__", fn)), "__code__", None)
    if code is None:
        return None
    place = place_of(code.co_filename, number)
    text = linecache.getline(code.co_filename, number)
    if place is None or not text.strip():
        return None
    col = len(text) - len(text.lstrip()) + 1
    return Place(place.file, place.line, place.cell, col), text.strip()


def _writes(
    fn: ast.AST, path: str, before: int | None = None
) -> tuple[ast.stmt | None, ast.expr | None]:
    """The last assignment in `fn` (before line `before`) that writes `path` or an item of it,
    and the expression it writes there (`dW` of `self.dW, self.db = dW, db`; None for `+=`)."""
    hits: list[tuple[ast.stmt, ast.expr | None]] = []
    for stmt in ast.walk(fn):
        if not isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign):
            continue
        if before is not None and stmt.lineno >= before:
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        value = stmt.value if isinstance(stmt, ast.Assign) else None
        for t in targets:
            if _names(t, path):
                hits.append((stmt, value))
            elif isinstance(t, ast.Tuple | ast.List):
                for k, element in enumerate(t.elts):
                    if _names(element, path):
                        same = isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(
                            t.elts
                        )
                        hits.append((stmt, value.elts[k] if same else None))  # type: ignore[union-attr]
    if not hits:
        return None, None
    return max(hits, key=lambda hit: hit[0].lineno)


def _same(name: str, target: str) -> bool:
    """Does a local name hold what `target` names (`dW` for `.grads['W']`, `dinputs` for
    `.dinputs`)?"""
    leaf = re.findall(r"[A-Za-z_]\w*", target)
    return bool(leaf) and stem(name) == stem(leaf[-1])


def _names(node: ast.expr, path: str) -> bool:
    """Does an assignment's target write `path` (`self.dinputs`), or an item of it?"""
    written = ast.unparse(node).replace('"', "'")
    return written == path or written.startswith((path + "[", path + "."))
