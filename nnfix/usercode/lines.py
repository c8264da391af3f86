"""The line where the user's backward first goes wrong when their code is the network (SPEC §3.6
on §3.1's measured truth): no engine of nnfix's knows their intermediates, so the gradient of
every value their forward computes is measured, and every array their backward computes is
compared with it.

How values are tapped: by tracing with in-place perturbation, not by rewriting the forward's
syntax tree. The statement tracer (usercode.trace) already records every array each statement of
their files binds, stores in an attribute, dict or list, or returns — a loop's `hs[t]` once per
iteration — and numbers statements the same way on every run of the same code on the same
batch (nnfix seeds their randomness before every call). So a value is named by (the statement's
serial, the name it was set under) and is perturbed by changing the live array in place at the
moment that statement ends: everything downstream reads it as it would read a rewritten tap's
value, with no rewritten module to import, no line or traceback of theirs moved, and helpers,
methods and closures covered alike. A sub-expression that is never bound (`sigmoid(w @ a + b)`)
is tapped where a function of theirs receives it: an argument array not seen before is perturbed
before the callee's first statement. One passed to NumPy (`np.tanh(U @ x + b)`), or a NumPy
result that is an operand (`np.tanh(c)` in `np.tanh(c) * o`), is tapped through the statement's
value: the tracer reads the expression as the statement starts (trace.Pure: NumPy and arithmetic
only), and moving the sub-expression by δ moves the value by what the expression computes again
with it moved. What this cannot tap — a value that never lives in an array (Python floats, a
sub-expression of a statement that calls their own code) — has no gradient candidate, and a
backward array shaped like no tapped value is not judged.

The truth of dL/dv for a tapped v is a few directional derivatives, (L(v + εd) − L(v − εd)) / 2ε =
<dL/dv, d>, along random directions d; an array g of their backward is the gradient of v when
<g, d> = r · <dL/dv, d> for every d, with r a convention a correct backward uses (the constant of
their loss read from their right parameter gradients, times 1, m or 1/m: the mean's 1/m applied
early or late). Only arrays on the gradient's path are judged: computed by their backward from the
targets or from such arrays, or equal to a true gradient where the targets are read as integers
(`dy[targets[t]] -= 1`) — a forward value or a derivative factor such as `A1 * (1 - A1)` is
never a gradient candidate.

The culprit of a wrong parameter gradient (G101) is found from the array their backward returned
for it, upstream through the wrong arrays it was computed from, to the first statement that made a
wrong array from arrays that were right. Two refinements, both decided by values: a statement that
multiplies a right gradient by a derivative factor it reads (`d = (W.T @ d) * sp`) is wrong only by
that factor when its output divided by the factor is a true gradient — the factor's line is named;
a helper that is right in its other calls hands the blame to the line that called it, and there to
the literal argument (or the name bound to a literal) that chose its behaviour. A partial sum
(`dW += ...` over a loop's steps, `self.dW += 2 * lam * W` after `self.dW = x.T @ g`) is no
gradient until every term is in: the walk follows the terms added, not the partial sums; a
gradient left as the zero buffer it was allocated is made where a statement adds to it in place
(`dc += dc`); and a statement is never taken for the gradient of a value it reads the gradient of
(dL/dc and dL/dtanh(c) agree to 1e-5 where c is small). Each culprit whose value is replaced gets
its line rewritten to give the true value where a usual mistake undone does (usercode.correct).

Every independent bug in one run: the earliest culprit's value is replaced by the true one — the
full gradient of the forward value it should be the gradient of, measured element by element
(MAX_FULL elements at most), times the convention factor; where several values or factors could
be meant, the replacement that leaves the most parameter gradients right, then the most arrays,
then the value nearest upstream of the gradients the statement reads (a loop over layers of one
shape runs one statement per layer: its own layer's value, not the first layer's; a value a
helper returns is named as its caller binds it) — and their backward is traced again, so the next line that goes wrong from right inputs is found
too (MAX_ROUNDS times). The values tried first are those the value it reads the gradient of was
made from (`dz` reads dL/dhs[t]: zs[t], hs[t-1] or hcs[t] of that time step, never another step's
value of the same shape); where none of those was measured (a gate on a zero first state moves
nothing), nothing is put in its place and no more bugs are looked for behind it, and a line that
reads what an unreplaced run of a culprit's line made (its other time steps) is no new bug: a
right line named as another bug is as wrong as a false error. Only a statement judged on its own values counts as a bug found behind a
replaced value: a replacement is exact up to the measurement, so a helper's "right elsewhere"
there is no evidence. The simpler alternative — each wrong tensor's own first wrong line — finds
only the first of several bugs on one path (seed 000's precedence error hides the two below it).

Cost: two runs of their forward and loss per value and direction (perturbed runs stop tracing once
the value is changed); MAX_EVALUATIONS runs for the values, the values of a call the loss does not
read skipped after IDLE of them, and SECONDS of process time as a safety net. The header says how
many values were measured and what was left unmeasured."""

from __future__ import annotations

import ast
import dataclasses
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import numpy as np

from nnfix.usercode.correct import corrected
from nnfix.usercode.grads import Gradients
from nnfix.usercode.loader import Place
from nnfix.usercode.own import OwnNet
from nnfix.usercode.trace import (
    MAX_STEPS,
    Output,
    Pure,
    Step,
    Tracer,
    _arrays,
    _Frame,
    _Line,
    _returned,
    fingerprint,
)

Array = np.ndarray
MAX_TAPS = 128  # forward values whose gradient is measured
IDLE = 3  # values of one call that move nothing: the loss does not read that call's values
IDLE_READ = 8  # ... in a row, after one that moved it: the rest is a backward in the same call
DIRECTIONS = 2  # random directions per value (a wrong array agrees along both by chance never)
MAX_EVALUATIONS = 800  # forward-and-loss runs to measure the values' directional derivatives
MAX_FULL = 256  # elements of a value whose full true gradient is measured, to replace a culprit's
MAX_ROUNDS = 4  # culprits replaced by the true value, to find the bugs behind them
SECONDS = 60.0  # of this process's time, whatever the evaluations' count: a safety net
WALK_DEPTH = (
    4 * MAX_STEPS + 1_000
)  # Python calls the walk may nest (3.11 keeps them off the C stack)
TOL = 1e-4  # relative agreement of <g, d> with the directional derivatives


@dataclass(frozen=True)
class Tap:
    """A value their forward computes, as the tracer numbers it."""

    kind: str  # "out": set by statement `serial`; "given": an argument of call `serial`
    serial: int
    name: str
    shape: tuple[int, ...]
    where: Place | None = None
    top: int = -1  # the call nnfix made that computed it (a frame's serial)
    clock: int = -1  # when their forward computed it (the tracer's clock; -1: a parameter)
    alias: tuple[str, Place] | None = None  # a returned value: the name its caller binds it to
    reads: frozenset[str] = frozenset()  # the parameters the statement that computed it read
    text: str = ""  # "inner": the sub-expression as written, `name` the value made of it
    mark: tuple | None = None  # its fingerprint, as their forward made it
    operands: frozenset[tuple] = frozenset()  # the fingerprints of the arrays it was made from

    def shown(self) -> str:
        """As the report names it: `A3 (net.py:21)`, or `the value net.py:14 returns`."""
        if self.where is None:
            return self.name
        at = f"{self.where.file.name}:{self.where.line}"
        if self.kind == "inner":
            return f"{self.text} ({at})"
        if self.name.startswith("return"):
            if self.alias is not None:
                name, place = self.alias
                return f"{name} ({place.file.name}:{place.line})"
            return f"the value {at} returns"
        return f"{self.name} ({at})"


@dataclass
class Measured:
    """A tapped value's directions and the directional derivatives of the loss along them."""

    tap: Tap
    directions: list[Array]
    slopes: Array  # <dL/dv, d> per direction

    @property
    def informative(self) -> bool:
        return bool(np.max(np.abs(self.slopes)) > 1e-12)


@dataclass
class Culprit:
    """A statement that made a wrong gradient from right arrays."""

    step: Step
    value: str | None  # the output it set wrong, as named in its frame
    should: list[Measured]  # the forward values it could be the gradient of
    gradient_of: str | None = None  # the parameter, where it made that parameter's gradient
    inner: Place | None = None  # the helper line it calls, right for what it is given
    called_from: Place | None = None
    chosen: Measured | None = None  # the value whose true gradient replaced it
    line: int | None = None  # the line within a statement of several lines, where known
    factor: tuple[str, str, str, str] | None = None
    # (the factor, the line multiplying it in, its output, whose true gradient it multiplies)
    replace: tuple[Step, str] | None = None  # the statement and output whose value is replaced
    fixed: str | None = None  # the line rewritten to give the true value (usercode.correct)

    @property
    def place(self) -> Place:
        return self.step.place

    @property
    def says(self) -> str:
        if self.factor is not None:
            name, line, out, meant = self.factor
            return (
                f"{name} is the wrong derivative: line {line} multiplies it into the true "
                f"gradient of {meant} and makes {out}, which is wrong"
            )
        if self.gradient_of is not None and self.value is None:
            says = (
                f"the gradient of {self.gradient_of} is made here from right values, and is wrong"
            )
        elif self.should:
            named = [self.chosen] if self.chosen is not None else self.should[:2]
            of = " or of ".join(m.tap.shown() for m in named)
            says = f"{self.value or 'this line'} should be the gradient of {of}, and is not"
        else:
            says = "this line makes a wrong value from right ones"
        if self.inner is not None:
            chose = f": line {self.line} chose it" if self.line is not None else ""
            says += (
                f" (the helper it calls, line {self.inner.line}, is right for what it is given"
                f"{chose})"
            )
        return says


@dataclass
class Lines:
    """The culprits found: per wrong tensor its first wrong line, and the lines found after
    replacing earlier culprits by their true values (the independent bugs)."""

    by_tensor: dict[str, Culprit] = field(default_factory=dict)
    more: list[tuple[Culprit, list[str]]] = field(default_factory=list)  # (culprit, still wrong)
    unmeasured: list[str] = field(default_factory=list)
    measured: int = 0  # forward values whose gradient was measured
    runs: int = 0  # forward-and-loss runs it took


# --- the tracers ---------------------------------------------------------------------------------


def _live(frame: FrameType, state: _Frame, name: str, returned: Any) -> Array | None:
    """The array a frame holds (or returns) under `name`, as the tracer names it."""
    if name.startswith("return"):
        for n, value, _ in _returned(returned, state.serial):
            if n == name:
                return value
        return None
    entry = _arrays(frame, state.serial).get(name)
    return entry[3] if entry is not None else None


class _Hooked(Tracer):
    """A traced call that changes values in place as statements end (`at`: (serial, name) ->
    change) or as calls start (`given`: (frame serial, name) -> change). `light`: no statement is
    recorded beyond its number (a perturbed forward needs only where to act)."""

    def __init__(
        self,
        at: dict[tuple[int, str], Callable[[Array], None]] | None = None,
        given: dict[tuple[int, str], Callable[[Array], None]] | None = None,
        light: bool = False,
        params: Callable[[], list[Any]] | None = None,
    ):
        super().__init__()
        self.at, self.given_at, self.light = at or {}, given or {}, light
        self.params = params  # the parameters' live arrays, where their updates are told apart
        self.updates: set[tuple] = set()  # what a parameter held after a statement changed it
        self.applied = 0
        self.count = 0  # statements started (light)
        self.done = False
        self.named: dict[int, list[tuple[str, tuple, Array]]] = {}  # frame -> its argument arrays
        self.capture: int | None = None  # a statement whose names to keep as it starts
        self.names: dict[str, Any] = {}  # ... they (its frame's globals and locals, copied)

    def _apply(self, change: Callable[[Array], None], live: Any) -> None:
        try:
            if type(live) is list:  # a list of floats: changed as an array, written back in place
                array = np.asarray(live, dtype=np.float64)
                change(array)
                _write_back(live, array)
            else:
                change(live)
        except (TypeError, ValueError):  # read-only, or not of the value's shape: not tapped
            return
        self.applied += 1
        if self.light and self.applied == len(self.at) + len(self.given_at):
            self.done = True  # nothing left to do: the rest runs untraced
            sys.settrace(None)

    def _global(self, frame: FrameType, event: str, arg: Any):
        return None if self.done else super()._global(frame, event, arg)

    def _local(self, frame: FrameType, event: str, arg: Any):
        return None if self.done else super()._local(frame, event, arg)

    def _start(self, frame: FrameType, state: _Frame, line: _Line | None) -> None:
        for (serial, name), change in self.given_at.items():
            if serial == state.serial and not getattr(state, "nudged", False):
                state.nudged = True  # type: ignore[attr-defined]
                live = _arrays(frame, state.serial).get(name)
                if live is not None:
                    self._apply(change, live[3])
        if not self.light:
            first = state.serial not in self.named
            super()._start(frame, state, line)
            if state.step is not None and state.step.serial == self.capture:
                self.names = {
                    k: np.array(v) if isinstance(v, np.ndarray) else v
                    for k, v in {**frame.f_globals, **frame.f_locals}.items()
                }
                if self.applied == len(self.at) + len(self.given_at):
                    self.done = True  # kept, every change made: the rest runs untraced (a
                    sys.settrace(None)  # conv's backward, traced whole, took seconds)
            if first and state.step is not None:
                code = frame.f_code
                args = set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]) - {"self"}
                self.named[state.serial] = [
                    (name, fingerprint(np.asarray(e[3])), np.array(e[3]))
                    for name, e in state.seen.items()
                    if name.split("[")[0] in args
                ]
            return
        state.step, state.line = None, line
        if self.count >= MAX_STEPS:
            self.full = True
            return
        statement = line.statement if line is not None else None
        state.step = _Counted(self.count, isinstance(statement, ast.Return))  # type: ignore[assignment]
        self.count += 1  # as Tracer numbers its steps: its frames are the user's files' too

    def _finish(self, frame: FrameType, state: _Frame, returned: Any = None) -> None:
        step = state.step
        if step is not None:
            for (serial, name), change in self.at.items():
                if serial == step.serial:
                    live = _live(frame, state, name, returned if step.returns else None)
                    if live is not None:
                        self._apply(change, live)
        if not self.light:
            super()._finish(frame, state, returned)
            return
        state.step = None

    def _output(self, name: str, value: Any, holder: Any, passed: bool) -> Output:
        out = super()._output(name, value, holder, passed)
        if self.params is not None and any(value is p for p in self.params()):
            self.updates.add(out.mark)  # a parameter their step updated: never a gradient
        return out


def _write_back(target: list, values: Array) -> None:
    """`values` into the nested list `target`, element by element (its lists stay the same)."""
    for i, v in enumerate(values):
        if isinstance(target[i], list):
            _write_back(target[i], v)
        else:
            target[i] = float(v)


@dataclass(slots=True)
class _Counted:
    """A statement of a perturbed run: its number, and whether it returns."""

    serial: int
    returns: bool
    raised: bool = False


# --- the search ----------------------------------------------------------------------------------


class Runs:
    """Their code run for the search: their backward traced, their forward and loss perturbed
    at one value (counted in `evaluations`), the directions drawn from one seeded generator."""

    def __init__(self, net: OwnNet, seed: int = 0):
        self.net = net
        self.rng = np.random.default_rng(seed)
        self.m = net.m
        self.unmeasured: list[str] = []
        self.evaluations = 0
        self.forward_marks: set[tuple] = set()  # every array their forward and loss set
        self.moves: dict[tuple[int, str, str], tuple[Pure, ast.expr]] = {}  # "inner" taps

    # --- running their code ----------------------------------------------------------------

    def _loss(self, tracer: _Hooked) -> float:
        self.evaluations += 1
        return float(tracer.run(self.net.loss))

    def backward(self, at: dict | None = None) -> tuple[_Hooked, Gradients | None]:
        tracer = _Hooked(at=at, params=lambda: [p.ref.get() for p in self.net.tensors])
        try:
            grads = tracer.run(self.net.gradients)
        except Exception:
            return tracer, None
        return tracer, grads

    # --- the forward's values and their gradients ----------------------------------------------

    def taps(self, shapes: set[tuple[int, ...]]) -> list[list[Tap]]:
        """The values their forward computes whose shape a gradient of their backward has, in
        the order computed; each a list of its occurrences (the same value set again: a cache
        passing it on, a loss that runs the forward again)."""
        tracer = _Hooked()
        tracer.inner = True
        tracer.run(self.net.loss)
        self.forward_marks = {o.mark for step in tracer.steps for o in step.outputs}
        by_mark = {fingerprint(np.asarray(p.ref.get())): p.slot.name for p in self.net.tensors}
        params = set(by_mark)
        seen: set[tuple] = set(params)
        groups: dict[tuple, list[Tap]] = {}
        events: list[tuple[int, int, Any]] = []  # (clock, order, what): values seen, calls begun
        first_step: dict[int, Step] = {}
        top: dict[int, int] = {}  # a step's serial -> the frame of the call nnfix made
        for step in tracer.steps:
            parent = top.get(step.parent) if step.parent is not None else None
            top[step.serial] = step.frame if step.depth == 0 or parent is None else parent
            first_step.setdefault(step.frame, step)
            for value in step.inputs.values():
                events.append((step.start, 0, ("seen", fingerprint(value), step.place)))
            for out in step.outputs:
                events.append((max(step.end, step.start), 1, ("out", step, out)))
        for serial, step in first_step.items():
            if step.depth > 0:
                events.append((step.start, -1, ("given", step, serial)))
        # an array filled piece by piece in a loop (`cols[:, col] = ...`, a naive conv's
        # `out[n, f, i, j] = ...`) is one value, tapped at its last fill: (place, holder) -> the
        # mark its group is under now, while no other statement has read it between fills
        filling: dict[tuple, tuple] = {}
        for clock, _, what in sorted(events, key=lambda e: (e[0], e[1])):
            if what[0] == "seen":
                seen.add(what[1])
                for key, mark in list(filling.items()):
                    if mark == what[1] and key[0] != what[2]:
                        del filling[key]  # read whole between fills: each fill is a value
            elif what[0] == "out":
                _, step, out = what
                key = (step.place, out.holder)
                if out.inplace and step.loops and _fills(step.code, out.name):
                    earlier = filling.get(key)
                    if earlier is not None and earlier != out.mark:
                        groups.pop(earlier, None)
                    filling[key] = out.mark
                group = groups.get(out.mark)
                named = group and group[0].name.startswith("return") and group[0].alias is None
                if group and named and out.name.isidentifier():  # `AL = sigmoid(ZL)`: AL
                    group[0] = dataclasses.replace(group[0], alias=(out.name, step.place))
                if step.pure is not None and not out.passed and out is step.outputs[0]:
                    reads = {by_mark.get(fingerprint(v)) for v in step.inputs.values()}
                    given = frozenset(n for n in reads if n is not None)
                    when = (top[step.serial], step.start)  # e is made before v is bound
                    inner = self._inner(step, out, when, given, shapes, groups)
                else:
                    inner = set()
                if not out.passed and _usable(out.value) and _shaped(out.value.shape, shapes):
                    reads = {by_mark.get(fingerprint(v)) for v in step.inputs.values()}
                    tap = Tap(
                        "out",
                        step.serial,
                        out.name,
                        out.value.shape,
                        step.place,
                        top[step.serial],
                        clock,
                        reads=frozenset(n for n in reads if n is not None),
                        mark=out.mark,
                        operands=frozenset(fingerprint(v) for v in step.inputs.values()) | inner,
                    )
                    groups.setdefault(out.mark, []).append(tap)
                seen.add(out.mark)
            else:
                _, step, serial = what
                for name, mark, value in tracer.named.get(serial, []):
                    if mark in seen or not _usable(value) or not _shaped(value.shape, shapes):
                        continue
                    tap = Tap(
                        "given",
                        serial,
                        name,
                        value.shape,
                        step.place,
                        top[step.serial],
                        clock,
                        mark=mark,
                    )
                    groups.setdefault(mark, []).append(tap)
                    seen.add(mark)
        return list(groups.values())

    def _inner(
        self,
        step: Step,
        out: Any,
        when: tuple[int, int],
        reads: frozenset[str],
        shapes: set,
        groups: dict,
    ) -> set[tuple]:
        """The sub-expressions nothing binds of `v = E` (`U @ x + b` in `np.tanh(U @ x + b)`,
        `np.tanh(c)` in `np.tanh(c) * o`) as values of their own: moving one by δ moves v by
        what E computes again with it moved, so each is perturbed through v. Their marks (v
        is made from them)."""
        pure = step.pure
        assert pure is not None
        marks: set[tuple] = set()
        if np.shape(pure.value) != out.value.shape:
            return marks
        top, clock = when
        for sub in pure.subs():
            value = pure.values[id(sub)]
            if not _computed(value) or not _shaped(value.shape, shapes):
                continue
            text = ast.unparse(sub)
            if (step.serial, out.name, text) in self.moves:
                continue
            self.moves[(step.serial, out.name, text)] = (pure, sub)
            mark: tuple = ("inner", fingerprint(value))
            if not _usable(value):  # all one number (`r * h` on a zero first state): a value
                mark += (step.serial, text)  # of its own, not the same as another such
            tap = Tap(
                "inner", step.serial, out.name, value.shape, step.place, top, clock, reads=reads
            )
            parts = [sub.left, sub.right] if isinstance(sub, ast.BinOp) else []
            parts += sub.args if isinstance(sub, ast.Call) else []
            parts += [sub.operand] if isinstance(sub, ast.UnaryOp) else []
            made_of = frozenset(
                fingerprint(v)
                for p in parts
                if isinstance(v := pure.values.get(id(p), pure.leaves.get(id(p))), np.ndarray)
            )
            tap = dataclasses.replace(tap, text=text, mark=mark, operands=made_of)
            groups.setdefault(mark, []).append(tap)
            marks.add(mark)
        return marks

    def measure(self, tap: Tap) -> Measured | None:
        """<dL/dv, d> along DIRECTIONS random directions, by central differences."""
        directions, slopes = [], []
        for _ in range(DIRECTIONS):
            d = self.rng.standard_normal(tap.shape)
            sides = []
            for sign in (1.0, -1.0):
                scale: list[float] = []

                def nudge(live: Array, sign: float = sign, d: Array = d, scale=scale) -> None:
                    eps = 1e-6 * max(1.0, float(np.max(np.abs(live))))
                    live += sign * eps * d.reshape(live.shape)
                    scale.append(eps)

                try:
                    value = self._loss(self._hook(tap, nudge))
                except Exception:
                    return None
                if not scale or not np.isfinite(value):
                    return None
                sides.append(value)
            directions.append(d)
            slopes.append((sides[0] - sides[1]) / (2 * scale[0]))
        return Measured(tap, directions, np.array(slopes))

    def full(self, tap: Tap) -> Array | None:
        """dL/dv element by element (2 evaluations per element)."""
        size = int(np.prod(tap.shape))
        if size > MAX_FULL:
            return None
        out = np.zeros(size)
        param = next((p for p in self.net.tensors if p.slot.name == tap.name), None)
        for i in range(size):
            sides = []
            eps = [0.0]
            for sign in (1.0, -1.0):

                def nudge(live: Array, sign: float = sign, i: int = i, eps=eps) -> None:
                    eps[0] = 1e-6 * max(1.0, float(np.max(np.abs(live))))
                    live[np.unravel_index(i, live.shape)] += sign * eps[0]  # a view too

                try:
                    if tap.kind == "param" and param is not None:
                        array = param.ref.get()
                        nudge(array)
                        self.evaluations += 1
                        try:
                            sides.append(self.net.loss())
                        finally:
                            array[np.unravel_index(i, array.shape)] -= sign * eps[0]
                    else:
                        sides.append(self._loss(self._hook(tap, nudge)))
                except Exception:
                    return None
            if eps[0] == 0:
                return None
            out[i] = (sides[0] - sides[1]) / (2 * eps[0])
        return out.reshape(tap.shape)

    def _hook(self, tap: Tap, change: Callable[[Array], None]) -> _Hooked:
        key = (tap.serial, tap.name)
        if tap.kind == "inner":
            pure, sub = self.moves[(tap.serial, tap.name, tap.text)]

            def through(live: Array) -> None:  # the sub-expression moved by δ: v by E's move
                delta = np.zeros(tap.shape)
                change(delta)
                live += pure.moved(sub, delta).reshape(live.shape)

            return _Hooked(at={key: through}, light=True)
        if tap.kind == "out":
            return _Hooked(at={key: change}, light=True)
        return _Hooked(given={key: change}, light=True)

    def params_measured(self) -> dict[str, Measured]:
        """Each parameter's directional derivatives (perturbed where their model holds it)."""
        out = {}
        for p in self.net.tensors:
            array = p.ref.get()
            directions, slopes = [], []
            for _ in range(DIRECTIONS):
                d = self.rng.standard_normal(array.shape)
                eps = 1e-6 * max(1.0, float(np.max(np.abs(array))))
                values = []
                for sign in (1.0, -1.0):
                    array += sign * eps * d
                    self.evaluations += 1
                    try:
                        values.append(self.net.loss())
                    finally:
                        array -= sign * eps * d
                directions.append(d)
                slopes.append((values[0] - values[1]) / (2 * eps))
            out[p.slot.name] = Measured(
                Tap("param", -1, p.slot.name, array.shape), directions, np.array(slopes)
            )
        return out


# --- judging -------------------------------------------------------------------------------------


def _fills(code: str, name: str) -> bool:
    """Is `code` a store into a piece of the array `name` whose value does not read `name`
    (`cols[:, col] = x[n, :, i:i + k].ravel()`, `dx[n, :, i, j] += g`): a fill, where an RNN's
    `s[t] = np.tanh(U @ x[t] + W @ s[t - 1])` computes each piece from the last."""
    try:
        (statement,) = ast.parse(code).body
    except (SyntaxError, ValueError):
        return False
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target, value = statement.targets[0], statement.value
    elif isinstance(statement, ast.AugAssign):
        target, value = statement.target, statement.value
    else:
        return False
    if not isinstance(target, ast.Subscript) or ast.unparse(target.value) != name:
        return False
    return not any(
        isinstance(n, ast.Name | ast.Attribute) and ast.unparse(n) == name for n in ast.walk(value)
    )


def _usable(value: Any) -> bool:
    """A float array that is a computed value: not a buffer np.zeros or np.ones made."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size == 0:
        return False
    flat = value.reshape(-1)
    if value.size == 1:
        return False
    return not np.all(flat == flat[0])


def _computed(value: Any) -> bool:
    """A float array a sub-expression computed: all one number too (`r * h` on a zero state),
    as no buffer is made inside an expression."""
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 1


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def _shaped(shape: tuple[int, ...], shapes: set[tuple[int, ...]]) -> bool:
    s = _squeezed(shape)
    return s in shapes or (len(s) == 2 and s[::-1] in shapes)


def _as(g: Array, shape: tuple[int, ...]) -> Iterator[Array]:
    """`g` in the layout of a value of `shape`: as it is, and transposed."""
    s, t = _squeezed(g.shape), _squeezed(shape)
    if s == t:
        yield g.reshape(shape)
    if len(s) == 2 and s[::-1] == t:
        yield np.ascontiguousarray(np.squeeze(g).T).reshape(shape)


def _ratio(g: Array, measured: Measured) -> float | None:
    """r where <g, d> = r · <dL/dv, d> along every direction measured, else None."""
    t = measured.slopes
    for h in _as(np.asarray(g, dtype=np.float64), measured.tap.shape):
        s = np.array([float(np.sum(h * d)) for d in measured.directions])
        norm = float(t @ t)
        if norm <= 0:
            continue
        r = float(s @ t) / norm
        if np.linalg.norm(s - r * t) <= TOL * max(float(np.linalg.norm(s)), abs(r) * np.sqrt(norm)):
            return r
    return None


class Judge:
    """Which arrays of a traced backward are on the gradient's path, and which of those are
    the gradient of a forward value (right), like none (wrong) or shaped like none (unjudged)."""

    def __init__(
        self,
        measured: list[Measured],
        c: float,
        m: int,
        seeds: set[tuple],
        forward: frozenset[tuple] = frozenset(),
    ):
        self.forward = forward  # the arrays their forward sets: never a derivative factor
        self.by_shape: dict[tuple[int, ...], list[Measured]] = defaultdict(list)
        for meas in measured:
            if meas.informative:
                self.by_shape[_squeezed(meas.tap.shape)].append(meas)
        self.c, self.m, self.seeds = c, m, seeds
        self.factors = (1.0, float(m), 1.0 / m) if m > 1 else (1.0,)

    def candidates(self, g: Array) -> list[Measured]:
        s = _squeezed(g.shape)
        out = list(self.by_shape.get(s, []))
        if len(s) == 2 and s[0] != s[1]:
            out += self.by_shape.get(s[::-1], [])
        return out

    def match(
        self, g: Array, besides: frozenset[Tap] = frozenset()
    ) -> tuple[str, Measured | None, float | None]:
        """("right", the value it is the gradient of, r) / ("wrong", None, None) / ("unjudged", …).
        `besides`: values it is not to be taken for the gradient of."""
        cands = [m for m in self.candidates(g) if m.tap not in besides]
        if not cands:
            return "unjudged", None, None
        for meas in cands:
            r = _ratio(g, meas)
            if r is not None and self.convention(r):
                return "right", meas, r
        return "wrong", None, None

    def convention(self, r: float) -> bool:
        return any(abs(r / (self.c * f) - 1) < 1e-3 for f in self.factors)


class Backward:
    """One traced call of their backward, judged: which statements made which arrays, which
    arrays are on the gradient's path and whether each is right."""

    def __init__(
        self,
        tracer: _Hooked,
        grads: Gradients,
        judge: Judge,
        replaced: frozenset[int] = frozenset(),
    ):
        self.tracer, self.grads, self.judge = tracer, grads, judge
        self.replaced = replaced  # statements whose value nnfix replaced by the true one
        self.steps = [s for s in tracer.steps if s.end >= 0]
        self.made: dict[tuple, list[Step]] = defaultdict(list)
        for step in sorted(self.steps, key=lambda s: s.end):
            for out in step.outputs:
                self.made[out.mark].append(step)
        self.flow: set[tuple] = set()
        self.status: dict[tuple, tuple[str, Measured | None, float | None]] = {}
        self._flow()

    def _flow(self) -> None:
        """The arrays computed from the targets (or from such arrays), in the order made."""
        for step in sorted(self.steps, key=lambda s: s.end):
            marks = {fingerprint(v) for v in step.inputs.values()}
            if not marks & (self.flow | self.judge.seeds):
                self._seed(step, marks)
                continue
            besides = frozenset() if step.adds_to is not None else self._read(marks)
            for out in step.outputs:
                if out.passed or out.mark in marks or out.mark in self.tracer.updates:
                    continue
                self.flow.add(out.mark)
                if _usable(out.value) and out.mark not in self.status:
                    self.status[out.mark] = self.judge.match(out.value, besides)

    def _read(self, marks: set[tuple]) -> frozenset[Tap]:
        """The values a statement reads the true gradients of: what it computes from them is the
        gradient of another value (`dc = dtanh_c * (1 - tanh(c)**2)` is dL/dc, not dL/dtanh(c),
        though the two agree to 1e-5 where c is small), unless it adds to an array in place."""
        return frozenset(
            entry[1].tap
            for mark in marks
            if (entry := self.status.get(mark)) is not None
            and entry[0] == "right"
            and entry[1] is not None
        )

    def _seed(self, step: Step, marks: set[tuple]) -> None:
        """An array made from no array of the targets (read as integers: `dy[targets[t]] -= 1`)
        that is the true gradient of a forward value starts the gradient's path too."""
        for out in step.outputs:
            if out.passed or out.mark in marks:  # (a forward that runs the backward too sets
                continue  # its arrays: whether one is a gradient is decided by its value)
            if _usable(out.value) and out.mark not in self.status:
                found = self.judge.match(out.value)
                if found[0] == "right":
                    self.flow.add(out.mark)
                    self.status[out.mark] = found

    def state(self, mark: tuple) -> str:
        entry = self.status.get(mark)
        return entry[0] if entry is not None else "other"

    def computes(self, step: Step, mark: tuple) -> bool:
        made = step.output(mark)
        if made is None or made.passed:
            return False
        if mark in {fingerprint(v) for v in step.inputs.values()}:
            return False
        return not any(
            o.start > step.start and 0 <= o.end < step.end and o.output(mark)
            for o in self.made.get(mark, [])
        )

    def origin(self, mark: tuple, before: int | None = None) -> Step | None:
        made = [s for s in self.made.get(mark, []) if before is None or s.end < before]
        computed = [s for s in made if self.computes(s, mark)]
        chosen = computed or made
        return chosen[-1] if chosen else None

    def walk(self, step: Step, seen: set[int]) -> Step:
        """The first statement upstream of `step` that made a wrong array from right ones."""
        seen.add(step.serial)
        found = self._upstream(step, seen)
        if found:
            return min(found, key=lambda s: s.start)
        for callee in reversed([s for s in self.steps if s.parent == step.serial and s.returns]):
            if callee.serial in seen:
                continue
            if any(
                o.name.startswith("return") and self.state(o.mark) == "wrong"
                for o in callee.outputs
            ):
                return self.walk(callee, seen)
        return self.behind_unjudged(step, seen)

    def _upstream(self, step: Step, seen: set[int]) -> list[Step]:
        """The first wrong statements upstream of each wrong array `step` reads. A partial sum it
        adds to in place is no evidence (its being unlike any true gradient is what a partial sum
        is): the terms added to it before are followed instead, and the statement that began it
        only where its line is right nowhere else (`self.dW = x.T @ g` before `+= 2 * lam * W`
        is right in the layer without a penalty)."""
        found = []
        for value in step.inputs.values():
            mark = fingerprint(value)
            if self.state(mark) != "wrong":
                continue
            source = self.origin(mark, before=step.start)
            if source is None or source.serial in seen:
                continue
            if not self.accumulates(step, source, mark):
                found.append(self.walk(source, seen))
                continue
            seen.add(source.serial)
            terms = self._upstream(source, seen)
            if terms:
                found += terms
            elif source.adds_to is None and not self.right_elsewhere(source):
                found.append(source)
        return found

    def accumulates(self, step: Step, source: Step, mark: tuple) -> bool:
        """Does `step` add in place to the array `source` made (`self.dW += reg * W`, `dx[n, :,
        i:i+k] += ...`)? That array is then a partial sum, a gradient only once every term is in:
        its being unlike any true gradient is no evidence against the line that began it."""
        made = source.output(mark)
        return made is not None and any(o.inplace and o.holder == made.holder for o in step.outputs)

    def behind_unjudged(self, step: Step, seen: set[int]) -> Step:
        """A statement that made a wrong array from arrays nothing measured (shaped like no
        tapped value) has no evidence its inputs were right: where a wrong array was made
        upstream of those, that statement is the culprit."""
        if self.wrong_output(step) is None:
            return step
        found = []
        for value in step.inputs.values():
            mark = fingerprint(value)
            if mark not in self.flow or self.state(mark) != "unjudged":
                continue
            source = self.origin(mark, before=step.start)
            if source is None or source.serial in seen or len(seen) > 4 * MAX_STEPS:
                continue
            seen.add(source.serial)
            upstream = self.walk(source, seen)
            if upstream is not source or self.wrong_output(source) is not None:
                found.append(upstream)
        wrong = [s for s in found if self.wrong_output(s) is not None]
        return min(wrong, key=lambda s: s.start) if wrong else step

    def right_elsewhere(self, step: Step) -> bool:
        """Does the same line make a right gradient in another of its runs?"""
        return any(
            other.serial != step.serial
            and other.serial not in self.replaced
            and other.place == step.place
            and any(self.state(o.mark) == "right" for o in other.outputs)
            for other in self.steps
        )

    def settle(self, step: Step) -> tuple[Step, Step | None]:
        """A line of a helper that is right in its other calls: the call is the culprit."""
        inner = None
        while step.parent is not None and self.right_elsewhere(step):
            parent = self.tracer.by_serial(step.parent)
            if parent is None:
                break
            inner = inner or step
            step = parent
        return step, inner

    def wrong_output(self, step: Step):
        for out in reversed(step.outputs):
            if self.state(out.mark) == "wrong":
                return out
        return None

    def binding(self, mark: tuple, computed: Step) -> Step:
        """The statement that made `mark` a gradient: where it was computed, unless other
        statements compute from it too (it is a delta their backward carries on: `dz1`), then
        the first that bound it under a name of its own (`self.db1 = dz1`)."""
        used = any(
            mark in {fingerprint(v) for v in s.inputs.values()}
            and any(not o.passed and o.mark != mark for o in s.outputs)
            for s in self.steps
            if s.start > computed.start
        )
        if not used:
            return computed
        for step in self.made.get(mark, []):
            if step.start > computed.start and not step.returns and step.output(mark):
                return step
        return computed

    def anchor(self, name: str) -> Step | None:
        """The statement that computed the gradient of `name` their backward gave."""
        raw = self.grads.raw.get(name)
        if raw is None:
            return None
        mark = fingerprint(np.asarray(raw))
        found = self.origin(mark)
        if found is not None and not _usable(np.asarray(raw)):
            found = self.added_nothing(mark) or found
        if found is not None or not self.grads.from_update:
            return found
        # −Δ / step size equals the array their update scaled to rounding, not bit for bit
        g = np.asarray(raw, dtype=np.float64)
        scale = float(np.max(np.abs(g))) if g.size else 0.0
        for step in sorted(self.steps, key=lambda s: s.end, reverse=True):
            for out in step.outputs:
                v = out.value
                if (
                    not out.passed
                    and isinstance(v, np.ndarray)
                    and v.shape == g.shape
                    and v.dtype.kind == "f"
                    and scale > 0
                    and any(  # or the descent direction it added (`W += lr * G`)
                        np.allclose(sign * v, g, rtol=1e-6, atol=1e-9 * scale) for sign in (1, -1)
                    )
                ):
                    return self.origin(out.mark)
        return self.updating(name)  # stepped by an expression no statement bound (`lr * a.T @ d`)

    def updating(self, name: str) -> Step | None:
        """The statement of their step that left a new value where parameter `name` is held:
        its update (in the call whose arrays were judged, else the last)."""
        holder = self.grads.holders.get(name)
        updates = [
            step
            for step in self.steps
            if any(o.holder == holder and o.mark in self.tracer.updates for o in step.outputs)
        ]
        if holder is None or not updates:
            return None
        judged = [  # the call whose arrays were judged (the batch's, not a single sample's)
            step
            for step in updates
            if any(self.state(fingerprint(v)) != "other" for v in step.inputs.values())
        ]
        return judged[0] if judged else updates[-1]

    def added_nothing(self, mark: tuple) -> Step | None:
        """A gradient returned as the buffer it was allocated (zeros) although statements add to
        it in place (`dc += dc`): the last of those, which was to fill it, is where it was made."""
        adds = [s for s in self.steps if s.adds_to is not None]
        for step in reversed(adds):
            value = step.inputs.get(step.adds_to or "")
            if value is not None and fingerprint(value) == mark:
                return step
        return None

    def culprit(self, name: str) -> Culprit | None:
        """Where the wrong gradient of parameter `name` is first made wrong from right arrays."""
        start = self.anchor(name)
        if start is None:
            return None
        update = self.update_of(name, start)
        if update is not None:
            return Culprit(update, value=None, should=[], gradient_of=name)
        depth = sys.getrecursionlimit()  # a gradient accumulated in place in a loop of
        sys.setrecursionlimit(max(depth, WALK_DEPTH))  # loops (`dw[f] += ...`, once per window
        try:  # and sample) is walked back one run at a time: thousands of runs deep
            step = self.walk(start, set())
        finally:
            sys.setrecursionlimit(depth)
        factor = self.factor(step)
        if factor is not None:
            return factor
        if step is start and self.elsewhere(step, name):
            return None
        step, inner = self.settle(step)
        out = self.wrong_output(step)
        if out is None and inner is not None:
            out = self.wrong_output(inner)
        caller = self.tracer.by_serial(step.parent) if inner is None else None
        return Culprit(
            step,
            value=out.name if out is not None else None,
            should=self.meant(step, out.value) if out is not None else [],
            gradient_of=name if step is start else None,
            inner=inner.place if inner is not None else None,
            called_from=caller.place if caller is not None else None,
            line=self.argument_line(step) if inner is not None else None,
            replace=(step, out.name) if out is not None else None,
        )

    def update_of(self, name: str, start: Step) -> Step | None:
        """Where the gradient of `name` is read off their update and the array the update
        steps by is right (`hidden_gradient`, the descent direction) while the tensor is wrong:
        the statement that updates `name` (`self.bias_h -= lr * hidden_gradient`, a step up the
        loss) — the last that left a new value where the parameter is held."""
        raw = self.grads.raw.get(name)
        if not self.grads.from_update or raw is None:
            return None
        made = start.output(fingerprint(np.asarray(raw)))
        marks = [made.mark] if made is not None else [o.mark for o in start.outputs]
        if not marks or any(self.state(m) != "right" for m in marks):
            return None
        return self.updating(name)

    def elsewhere(self, step: Step, name: str) -> bool:
        """Does the statement that makes the gradient of parameter `name` from right arrays read
        the true gradient of a value their forward computed from other values only — not from
        `name`, while some value is computed from `name`? Then the array it reads is meant to be
        the gradient of another value (a derivative factor missed above it: `g[h_relu < 0] = 0`
        that masks nothing; another layer's value of the same shape), and this line is right
        for what it is given: no line is named rather than a wrong one."""
        if not any(name in m.tap.reads for ms in self.judge.by_shape.values() for m in ms):
            return False  # no value of their forward is known to read it: nothing to tell
        meant = [
            entry[1].tap
            for value in step.inputs.values()
            if (entry := self.status.get(fingerprint(value))) is not None
            and entry[0] == "right"
            and entry[1] is not None
        ]
        direct = [t for t in meant if t.kind in ("out", "inner") and name in t.reads]
        other = [t for t in meant if t.kind in ("out", "inner") and name not in t.reads]
        return bool(other) and not direct

    def meant(self, step: Step, g: Array) -> list[Measured]:
        """The forward values an array `step` made could be the gradient of, nearest first.
        A backward runs their forward in reverse: a statement that reads the true gradient of a
        value v makes the gradient of a value computed before v — the latest such value first
        (in a loop over layers of one shape, its own layer's, not the first layer's). A statement
        that reads no gradient starts the backward: the latest value (the output) first. Their
        parameters come last: a parameter of the array's shape is chance."""
        before = [
            meas.tap
            for value in step.inputs.values()
            if (entry := self.status.get(fingerprint(value))) is not None
            and entry[0] == "right"
            and (meas := entry[1]) is not None
            and meas.tap.clock >= 0
        ]
        limit = min((t.clock for t in before), default=None)
        tops = {t.top for t in before}

        def rank(meas: Measured) -> tuple[int, int]:
            tap = meas.tap
            if tap.kind == "param" or tap.clock < 0:
                return (3, 0)
            if limit is None:
                return (0, -tap.clock)
            if tap.clock < limit and tap.top in tops:
                return (0, -tap.clock)
            return (1 if tap.clock < limit else 2, -tap.clock)

        return sorted(self.judge.candidates(g), key=rank)

    def behind(self, step: Step, known: set[Place]) -> bool:
        """Does `step` read an array that a run of a line already named as a culprit made, with
        its value not replaced? That line is wrong in its other runs too (a loop's other time
        steps), whatever its array is judged: where it returns its input unchanged (`dh * (1 -
        hs[0] ** 2)` on a zero first state is dh) its wrong array is the right one it read. What
        is computed from it is no evidence of another bug."""
        return any(
            made.serial != step.serial and made.place in known and made.serial not in self.replaced
            for value in step.inputs.values()
            for made in self.made.get(fingerprint(value), [])
        )

    def operands(self, step: Step) -> set[tuple]:
        """The arrays that the forward values `step` reads the true gradient of were made from:
        a backward statement makes the gradient of one of them (`dz = dh * (hcs[t] - hs[t-1])`
        reads dL/dhs[t]; hs[t] was made from zs[t], hs[t-1], hcs[t] — of that time step, not
        another's value of the same shape)."""
        out: set[tuple] = set()
        for value in step.inputs.values():
            entry = self.status.get(fingerprint(value))
            if entry is not None and entry[0] == "right" and entry[1] is not None:
                out |= entry[1].tap.operands
        return out

    def factor(self, step: Step) -> Culprit | None:
        """A statement that multiplies right gradients by a derivative factor it reads (`d =
        (W.T @ d) * sp`): where its output divided by the factor is a true gradient, the factor
        is what is wrong, and the culprit is the statement of this function that made it."""
        out = self.wrong_output(step)
        if out is None:
            return None
        for text, value in step.inputs.items():
            mark = fingerprint(value)
            if mark in self.flow or mark in self.judge.forward or not _usable(value):
                continue
            f = np.asarray(value, dtype=np.float64)
            if _squeezed(f.shape) != _squeezed(out.value.shape) or np.any(np.abs(f) < 1e-12):
                continue
            quotient = np.asarray(out.value, dtype=np.float64) / f.reshape(out.value.shape)
            state, meant, _ = self.judge.match(quotient)
            if state != "right" or meant is None:
                continue
            made = [s for s in self.made.get(mark, []) if s.end < step.start]
            here = [s for s in made if s.frame == step.frame]
            if not made:
                continue
            return Culprit(
                (here or made)[-1],
                value=text,
                should=[],
                factor=(
                    text,
                    str(step.place.line),
                    out.name,
                    meant.tap.shown(),
                ),
                replace=(step, out.name),
            )
        return None

    def argument_line(self, step: Step) -> int | None:
        """A call whose helper is right for the arrays it was given chose the wrong behaviour by
        its other arguments: the line of its first literal argument (in a call written over
        several lines), or of the statement that bound a name it passes to a literal choice
        (`activation = "sigmoid"`)."""
        line = self.tracer._sources.at(str(step.place.file), step.place.line)
        if line is None:
            return None
        for node in ast.walk(line.statement):
            if not isinstance(node, ast.Call):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if _choice(arg):
                    return arg.lineno
                if isinstance(arg, ast.Name) and arg.id not in step.inputs:
                    bound = self._bound(step, arg.id)
                    if bound is not None:
                        return bound
        return None

    def _bound(self, step: Step, name: str) -> int | None:
        """The line of the last statement of `step`'s call before it that bound `name` to a
        literal choice."""
        for other in reversed([s for s in self.steps if s.frame == step.frame]):
            if other.start >= step.start:
                continue
            line = self.tracer._sources.at(str(other.place.file), other.place.line)
            statement = line.statement if line is not None else None
            if (
                isinstance(statement, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in statement.targets)
                and _choice(statement.value)
            ):
                return other.place.line
        return None


def _choice(node: ast.expr) -> bool:
    """A literal (a string, a number, a bool), or a conditional choice between literals."""
    if isinstance(node, ast.IfExp):
        return _choice(node.body) and _choice(node.orelse)
    return isinstance(node, ast.Constant) and node.value is not None


# --- the whole search ----------------------------------------------------------------------------


def search(
    net: OwnNet, grads: Gradients, wrong: list[str], seed: int = 0, seconds: float = SECONDS
) -> Lines:
    """The culprits of the wrong tensors, and of the bugs behind the first ones, within about
    `seconds` of this process's time (what was left unmeasured is said in `unmeasured`)."""
    deadline = time.process_time() + seconds
    lines = Lines()
    finder = Runs(net, seed)
    params = finder.params_measured()
    right = [n for n in grads.raw if n not in wrong and n in params]
    constant = _calibrate(grads, params, right)
    seeds = _seeds(net)
    tracer, traced = finder.backward()
    if traced is None:
        return lines
    first = Backward(tracer, traced, Judge([], constant, net.m, seeds))
    shapes = {
        _squeezed(np.asarray(o.value).shape)
        for s in first.steps
        for o in s.outputs
        if o.mark in first.flow
    }
    if not shapes:  # no array is made from the targets' arrays (they are read as integers):
        shapes = {  # the path starts where an array equals a true gradient (Backward._seed)
            _squeezed(np.asarray(o.value).shape)
            for s in first.steps
            for o in s.outputs
            if not o.passed and _usable(o.value)
        }
    groups = finder.taps(shapes)
    measured: list[Measured] = list(params.values())
    idle: dict[int, int] = defaultdict(int)  # a call nnfix made -> its values that moved nothing
    for k, group in enumerate(groups[:MAX_TAPS]):
        if time.process_time() > deadline or finder.evaluations >= MAX_EVALUATIONS:
            lines.unmeasured.append(
                f"{len(groups[k:MAX_TAPS])} forward values (after {finder.evaluations} runs)"
            )
            break
        for tap in group[:3]:
            if idle[tap.top] >= IDLE:  # a call whose values the loss does not read (a forward
                continue  # whose output a later call computes again)
            meas = finder.measure(tap)
            if meas is not None and meas.informative:
                measured.append(meas)
                idle[tap.top] = IDLE - IDLE_READ  # the loss reads this call: a few values of it
                break  # that move nothing (a reset gate on a zero state) leave the rest measured
            idle[tap.top] += 1
    if len(groups) > MAX_TAPS:
        lines.unmeasured.append(
            f"{len(groups) - MAX_TAPS} forward values beyond the first {MAX_TAPS}"
        )
    judge = Judge(measured, constant, net.m, seeds, frozenset(finder.forward_marks))
    at: dict[tuple[int, str], Callable[[Array], None]] = {}
    backward = Backward(tracer, traced, judge)
    if traced.from_update:  # `W += lr * G`: their arrays may be the descent direction, −gradient
        down = Judge(measured, -constant, net.m, seeds, frozenset(finder.forward_marks))
        other = Backward(tracer, traced, down)
        if _rights(other) > _rights(backward):
            judge, backward = down, other
    still = list(wrong)
    known: set[Place] = set()
    progress = True  # the last replacement made some wrong tensor right
    for round_ in range(MAX_ROUNDS + 1):
        found = {n: c for n in still if (c := backward.culprit(n)) is not None}
        if not found:
            break
        if round_ > 0:  # a helper right elsewhere is no evidence behind a replaced value:
            found = {n: c for n, c in found.items() if c.inner is None}  # its replacement may
            found = {n: c for n, c in found.items() if not backward.behind(c.step, known)}
            if not progress:  # be exact only up to the measurement; and a replacement that made
                # nothing right may be the gradient of another value than the one meant (of
                # `h` where `d1` is dL/dz of an unbound `X @ W1 + b1`): a parameter's gradient
                # made from it is then no evidence of a bug of its own
                found = {n: c for n, c in found.items() if c.gradient_of is None}
            if not found:
                break
        for culprit in found.values():
            if round_ > 0 and culprit.place not in known:
                lines.more.append(
                    (culprit, [n for n in still if found.get(n, culprit).place == culprit.place])
                )
            known.add(culprit.place)
        if round_ == 0:
            lines.by_tensor = dict(found)
        earliest = min(found.values(), key=lambda c: (c.replace or (c.step, ""))[0].start)
        if round_ == MAX_ROUNDS or earliest.replace is None:
            break
        if time.process_time() > deadline:
            lines.unmeasured.append("the bugs behind the first culprits (time ran out)")
            break
        names = _names(finder, earliest, at)
        replaced = _replace(finder, backward, earliest, at, params)
        if replaced is None:
            break
        backward, chosen, truth = replaced
        fixed = _fixed(earliest, names, truth, judge)
        for culprit in [*lines.by_tensor.values(), *(c for c, _ in lines.more)]:
            if _key(culprit) == _key(earliest) and chosen is not None:
                culprit.chosen = chosen
                culprit.fixed = fixed
        before = len(still)
        still = [n for n in still if not _right(backward, params, n, judge.c)]
        progress = len(still) < before
        if not still:
            break
    for name, culprit in lines.by_tensor.items():
        if culprit.fixed is None and culprit.gradient_of == name and culprit.replace is None:
            culprit.fixed = _fixed_gradient(finder, culprit, grads, params[name], judge.c)
    lines.unmeasured += finder.unmeasured
    lines.measured, lines.runs = len(measured) - len(params), finder.evaluations
    return lines


def made_at(net: OwnNet, names: list[str]) -> dict[str, Step]:
    """The statement of their backward that computed the gradient it gives for each of `names`
    (one traced call, nothing measured)."""
    tracer = _Hooked()
    grads = tracer.run(net.gradients)
    backward = Backward(tracer, grads, Judge([], 1.0, net.m, set()))
    out = {}
    for name in names:
        step = backward.anchor(name)
        if step is not None:
            out[name] = backward.binding(fingerprint(np.asarray(grads.raw[name])), step)
    return out


def _names(finder: Runs, culprit: Culprit, at: dict) -> dict[str, Any]:
    """What the culprit's line read as it ran (its frame's names), where the line itself made
    the wrong value (not a factor made elsewhere, nor a helper's call)."""
    if culprit.replace is None or culprit.factor is not None or culprit.inner is not None:
        return {}
    if culprit.replace[0] is not culprit.step:
        return {}
    tracer = _Hooked(at=dict(at))
    tracer.capture = culprit.step.serial
    try:
        tracer.run(finder.net.gradients)
    except Exception:
        return {}
    return tracer.names


def _fixed(
    culprit: Culprit, names: dict[str, Any], truth: Array | None, judge: Judge
) -> str | None:
    """The culprit's line rewritten so that it gives the true value (under any convention of
    the 1/m), where a usual mistake undone does (usercode.correct)."""
    if not names or truth is None or culprit.replace is None:
        return None
    out = next((o for o in culprit.step.outputs if o.name == culprit.replace[1]), None)
    if out is None or out.name != culprit.value:
        return None
    base = truth.reshape(out.value.shape)
    return corrected(culprit.step.code, names, [base * f for f in judge.factors], judge.m)


def _fixed_gradient(
    finder: Runs, culprit: Culprit, grads: Gradients, param: Measured, c: float
) -> str | None:
    """The line that makes a parameter's gradient as returned (right but for a factor its
    statement could carry as a convention, which a gradient as returned cannot), rewritten so
    that it gives the true gradient times the loss's constant, where a usual mistake undone
    does."""
    raw = grads.raw.get(culprit.gradient_of or "")
    if raw is None or culprit.factor is not None or culprit.inner is not None:
        return None
    mark = fingerprint(np.asarray(raw))
    if culprit.step.output(mark) is None:
        return None
    true = finder.full(param.tap)
    if true is None:
        return None
    names = _names(finder, dataclasses.replace(culprit, replace=(culprit.step, "")), {})
    layouts = [c * t for t in _back(true, np.shape(raw))]
    return corrected(culprit.step.code, names, layouts, finder.m) if names and layouts else None


def _replace(
    finder: Runs,
    backward: Backward,
    culprit: Culprit,
    at: dict,
    params: dict[str, Measured],
) -> tuple[Backward, Measured | None, Array | None] | None:
    """Their backward traced again with the culprit's value replaced by the true one: of the
    forward values it could be the gradient of, with the convention factors, the replacement that
    leaves the most parameter gradients right, then the most arrays, then the nearest value
    (Backward.meant's order: in a loop over layers of one shape, its own layer's value)."""
    if culprit.replace is None:
        return None
    step, name = culprit.replace
    out = next((o for o in step.outputs if o.name == name), None)
    if out is None:
        return None
    best: tuple[tuple[int, int], Backward, Measured] | None = None
    judge = backward.judge
    candidates = backward.meant(step, out.value)
    values = [m for m in candidates if m.tap.kind != "param"]  # a parameter's shape is chance
    operands = backward.operands(step)
    made_from = [m for m in values if m.tap.mark in operands]
    if operands and not made_from:  # what it is the gradient of was not measured (`r` on a
        return None  # zero state moves nothing): no value is known to put in its place
    for meas in made_from[:4] or (values or candidates)[:2]:
        true = finder.full(meas.tap)
        if true is None:
            finder.unmeasured.append(f"the true value of {out.name} (too large to measure whole)")
            continue
        for f in judge.factors:
            for layout in _back(true, out.value.shape):
                value = judge.c * f * layout

                def put(live: Array, value: Array = value) -> None:
                    live[...] = value.reshape(live.shape)

                trial = dict(at)
                trial[(step.serial, out.name)] = put
                tracer, grads = finder.backward(trial)
                if grads is None:
                    continue
                again = Backward(tracer, grads, judge, frozenset(k[0] for k in trial))
                score = (
                    sum(_right(again, params, name, judge.c) for name in params),
                    sum(1 for s in again.status.values() if s[0] == "right"),
                )
                if best is None or score > best[0]:
                    best = (score, again, meas)
                    chosen, truth = trial, judge.c * layout  # the truth, before the 1/m
    if best is None:
        return None
    at.clear()
    at.update(chosen)
    return best[1], best[2], truth  # of values that do as well, the nearest (Backward.meant's)


def _key(culprit: Culprit) -> tuple[int, str] | None:
    return (culprit.replace[0].serial, culprit.replace[1]) if culprit.replace else None


def _back(true: Array, shape: tuple[int, ...]) -> Iterator[Array]:
    """A value's true gradient in the layout of an array of `shape`."""
    s, t = _squeezed(shape), _squeezed(true.shape)
    if s == t:
        yield true.reshape(shape)
    if len(t) == 2 and t[::-1] == s:
        yield np.ascontiguousarray(np.squeeze(true).T).reshape(shape)


def _right(backward: Backward, params: dict[str, Measured], name: str, c: float) -> bool:
    raw = backward.grads.raw.get(name)
    if raw is None or name not in params:
        return False
    r = _ratio(np.asarray(raw, dtype=np.float64), params[name])
    return r is not None and abs(r / c - 1) < 1e-3


def _rights(backward: Backward) -> int:
    """How many arrays of their traced backward are the gradient of a forward value."""
    return sum(entry[0] == "right" for entry in backward.status.values())


def _calibrate(grads: Gradients, params: dict[str, Measured], right: list[str]) -> float:
    """Their loss's constant: the factor between their right gradients and the true ones."""
    ratios = []
    for name in right:
        raw = grads.raw.get(name)
        if raw is None:
            continue
        r = _ratio(np.asarray(raw, dtype=np.float64), params[name])
        if r is not None and r != 0:
            ratios.append(r)
    return float(np.median(ratios)) if ratios else 1.0


def _seeds(net: OwnNet) -> set[tuple]:
    """The targets in every form nnfix gives them to their code."""
    out, _ = net.forward()
    forms = [net.y, net.y_given(None), net.y_given(out)]
    if net.sample_form is not None:  # each sample's, as their code is given it
        forms += [net._sample_values(i, *o)["Y"] for i, o in enumerate(net._outs)]
    forms += net.targets_held()  # as a script's pass holds them (its own form)
    marks = set()
    for y in forms:
        given = np.asarray(y)
        for array in (given, given.reshape(-1), given.reshape(-1, 1), given.reshape(1, -1)):
            marks.add(fingerprint(array))  # as their code reshapes it (a column of one sample)
            if array.dtype.kind == "f":
                marks.add(fingerprint(array.astype(np.float64)))
    return marks
