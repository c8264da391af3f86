"""The init rules on the values the user's own code trains from (SPEC §3.3, §3.5), where their code
is the network: Y101, a hidden parameter whose units start identical and stay tied — found from
values: the axis along which its slices are equal, and the measured loss unchanged to first order
when two of those slices move apart (the loss is then symmetric in them: they get the same
gradient and take the same step for ever); Y104, a weight whose initial values all share a sign —
each named at the line of their code that makes it."""

from __future__ import annotations

import ast
import json
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace

import numpy as np

from nnfix.diagnose.findings import Finding, Fix
from nnfix.diagnose.rules.init import Y101, Y104
from nnfix.diagnose.rules.usercode import source
from nnfix.usercode import sandbox
from nnfix.usercode.grads import Param, Slot
from nnfix.usercode.loader import LoadedModule, Place
from nnfix.usercode.model import SetupError
from nnfix.usercode.objects import ListRef, Ref
from nnfix.usercode.own import OwnNet
from nnfix.usercode.own_find import number_refs, order_of_use, refs_of, shown_name
from nnfix.usercode.trace import Step, Tracer, fingerprint

EPS = 1e-4  # the step of the central differences, times the tensor's largest |value| (at least 1)
TIED = 1e-6  # the loss's slope apart two slices, against its slope along a random direction
ROUNDING = 1e-13  # float64 rounding of the loss, relative: slopes below it over EPS are noise
SIGNED = 12  # Y104: values of one sign judged from this many (a zero-centred draw gives one sign
# to all of them with probability 2^(1 - n): 1/8 for four, 1/2048 for twelve)


@dataclass
class Tie:
    """A parameter whose units (slices along `axis`) start identical and stay tied."""

    param: Param
    axis: int
    value: float  # the value they all hold where it is one constant, else their first entry
    slope: float  # the loss's slope along a random direction (0: no gradient reaches it)


def ties(net: OwnNet) -> list[Tie]:
    """The weights of their hidden layers (the output layer's units differ by their targets)
    whose units start identical and that the loss cannot tell apart, at their current values:
    among their parameters, and among the constant arrays of their model that get no gradient
    at all (no one of them moves the loss alone — zeros before zeros — yet together they do)."""
    if not net.tensors:
        return []
    silent = _silent(net)
    params = _numbered(net, silent) if silent else list(net.tensors)
    last = max(p.slot.layer for p in params)
    matrices = [
        p
        for p in params
        if p.slot.role == "weight" and p.slot.layer != last and _matrix(np.asarray(p.ref.get()))
    ]
    found = []
    for p in matrices:
        value = np.asarray(p.ref.get(), dtype=np.float64)
        if not np.all(np.isfinite(value)):
            continue
        biases = [
            np.asarray(q.ref.get(), dtype=np.float64)
            for q in params
            if q.slot.layer == p.slot.layer and q.slot.role == "bias"
        ]
        axes = [  # a bias that differs per unit breaks the tie
            a
            for a in _equal_axes(value)
            if not any(b.size == value.shape[a] and np.any(b != b.flat[0]) for b in biases)
        ]
        axes.sort(key=lambda a: all(b.size != value.shape[a] for b in biases))  # its bias's length
        if not axes:
            continue
        if p.ref.path in {q.ref.path for q in silent}:
            tied: tuple[int, float] | None = axes[0], 0.0
        else:
            tied = _tied_axes(net, p, value, axes, net.loss())  # the unit axis first
        if tied is not None:
            axis, slope = tied
            constant = bool(np.all(value == value.flat[0]))
            found.append(Tie(p, axis, float(value.flat[0]) if constant else np.nan, slope))
    return found


def _numbered(net: OwnNet, silent: list[Param]) -> list[Param]:
    """Their parameters and the silent arrays together, numbered into layers by their order of
    use as their parameters are (a layer per weight, a vector after it its bias)."""
    kept = net.tensors
    refs = [p.ref for p in [*kept, *silent]]
    order = order_of_use(net, refs)
    try:
        number_refs(net, sorted(refs, key=lambda r: order.get(id(r), len(order))))
        return net.tensors
    finally:
        net.tensors = kept


def _matrix(value: np.ndarray) -> bool:
    """A weight: two axes or more of length ≥ 2 (a vector is a bias's, judged with it)."""
    return sum(n > 1 for n in value.shape) >= 2


def _silent(net: OwnNet) -> list[Param]:
    """The constant float arrays of their model that do not move the loss alone but do with
    the rest of the net nudged too: the weights of a net initialised with zeros, before zeros."""
    known = {p.ref.path for p in net.tensors}
    refs = [
        r
        for r in refs_of(net)  # a script's too, not only the arrays its loop changes
        if r.path not in known
        and isinstance(r.get(), np.ndarray)
        and r.get().dtype.kind == "f"
        and r.get().size > 1
        and np.all(r.get() == r.get().flat[0])
    ]
    if not any(_matrix(r.get()) for r in refs) or len(refs) > 16:
        return []  # no weight among them: nothing to call tied
    every = [*(p.ref for p in net.tensors), *refs]
    full = _nudged(net, every)
    if _same(_nudged(net, every[: len(net.tensors)]), full):
        return []  # none of them reaches the loss (an optimiser's zeroed moments): two losses
    return [  # those without which the nudged net gives another loss
        Param(Slot(shown_name(r), 0, "weight"), r, tuple(r.get().shape))
        for r in refs
        if not _same(_nudged(net, [q for q in every if q is not r]), full)
    ]


def _nudged(net: OwnNet, refs: list) -> float:
    """The loss with the arrays of `refs` nudged together, each by its own seeded nudge."""
    with ExitStack() as held:
        for r in refs:
            v = np.asarray(r.get(), dtype=np.float64)
            rng = np.random.default_rng(zlib.crc32(r.path.encode()))  # the same nudge each time
            held.enter_context(_at(r, v + 1e-2 * (1 + np.abs(v)) * rng.standard_normal(v.shape)))
        return net.loss()


def _same(a: float, b: float) -> bool:
    return bool(np.isfinite(a) and np.isfinite(b) and abs(a - b) <= 1e-9 * max(1.0, abs(b)))


def _equal_axes(value: np.ndarray) -> list[int]:
    """The axes of length ≥ 2 along which every slice equals the first."""
    return [
        a
        for a in range(value.ndim)
        if value.shape[a] > 1 and np.all(np.take(value, [0], axis=a) == value)
    ]


def _tied_axes(
    net: OwnNet, p: Param, value: np.ndarray, axes: list[int], base: float
) -> tuple[int, float] | None:
    """The first of `axes` along which two slices moved apart leave the loss unchanged to first
    order, and the loss's slope along a random direction."""
    rng = np.random.default_rng(0)
    eps = EPS * max(1.0, float(np.max(np.abs(value))))
    noise = ROUNDING * max(1.0, abs(base)) / eps
    random = rng.standard_normal(value.shape)
    random /= np.max(np.abs(random))
    slope = _slope(net, p, value, random, eps)
    for axis in axes:
        n = value.shape[axis]
        apart = np.zeros(value.shape)
        part = rng.standard_normal(np.take(value, [0], axis=axis).shape)
        part /= np.max(np.abs(part))
        for i, j in {(0, 1), (0, n - 1)}:  # two pairs: units i and j pulled apart
            apart[...] = 0.0
            _put(apart, axis, i, part)
            _put(apart, axis, j, -part)
            if abs(_slope(net, p, value, apart, eps)) > TIED * abs(slope) + noise:
                break
        else:
            return axis, slope
    return None


def _put(array: np.ndarray, axis: int, i: int, part: np.ndarray) -> None:
    index = [slice(None)] * array.ndim
    index[axis] = slice(i, i + 1)
    array[tuple(index)] = part


def _slope(net: OwnNet, p: Param, value: np.ndarray, direction: np.ndarray, eps: float) -> float:
    """The loss's central difference along `direction` at `value`."""
    with _at(p.ref, value + eps * direction):
        up = net.loss()
    with _at(p.ref, value - eps * direction):
        down = net.loss()
    return (up - down) / (2 * eps)


@contextmanager
def _at(ref: Ref, value: np.ndarray) -> Iterator[None]:
    """Their array holding `value` (in place where it can be: arrays their layers share move
    too), put back after."""
    held = ref.get()
    in_place = (
        not isinstance(ref, ListRef)
        and isinstance(held, np.ndarray)
        and held.flags.writeable
        and held.dtype.kind == "f"
    )
    kept = held.copy() if in_place else held
    if in_place:
        held[...] = value
    else:
        ref.set(value.astype(held.dtype) if isinstance(held, np.ndarray) else value)
    try:
        yield
    finally:
        if in_place:
            held[...] = kept
        else:
            ref.set(held)


def findings(net: OwnNet, loaded: LoadedModule | None, path: tuple) -> list[Finding]:
    """A Y101 for each tied parameter and a Y104 for each one-signed one, at the line of their
    code that makes it where it is found; their code failing here is said by the gradient check,
    not twice."""
    try:
        tied = ties(net)
    except (sandbox.UserCallError, SetupError, sandbox.Broken):
        tied = []
    made = Makers(net, loaded)
    found = []
    for tie in tied:
        p, units = tie.param, tie.param.shape[tie.axis]
        what = f"({tie.value:g})" if np.isfinite(tie.value) else "(each the same slice)"
        reaches = "get the same gradient" if abs(tie.slope) > 0 else "get no gradient at all"
        finding = Y101.finding(
            f"all {units} units of {p.slot.name} (axis {tie.axis} of {p.shape}) start with "
            f"identical weights {what} and {reaches}: they compute the same output, take the "
            "same step and stay one unit",
            layer=p.slot.layer,
            parameter=p.slot.name,
            path=path,
            evidence={
                "units": units,
                "axis": tie.axis,
                "weight": tie.value if np.isfinite(tie.value) else None,
                "slope": tie.slope,
            },
            fix=Fix(
                f"initialise {p.slot.name} at random in your code, scaled to its fan-in "
                "(e.g. np.random.randn(...) * np.sqrt(1 / n_in)); biases can stay zeros"
            ),
        )
        _at_line(finding, made.line(p))
        found.append(finding)
    return found + one_signed(net, made, path)


def one_signed(net: OwnNet, made: Makers, path: tuple) -> list[Finding]:
    """A Y104 for each weight of theirs (SIGNED values or more, so that chance does not give
    them one sign) whose initial values all share a sign and are not one constant (Y101's)."""
    found = []
    for p in net.tensors:
        value = np.asarray(p.ref.get(), dtype=np.float64)
        if p.slot.role != "weight" or value.size < SIGNED:
            continue
        if not np.all(np.isfinite(value)) or np.all(value == value.flat[0]):
            continue
        positive, negative = bool(np.all(value >= 0)), bool(np.all(value <= 0))
        if not (positive or negative):
            continue
        sign = "positive" if positive else "negative"
        finding = Y104.finding(
            f"all {value.size} initial weights of {p.slot.name} are {sign} (from "
            f"{value.min():.3g} to {value.max():.3g}, mean {value.mean():.3g}): every unit sums "
            "its inputs with the same sign, so pre-activations grow with the layer's width and "
            "the units start out alike",
            layer=p.slot.layer,
            parameter=p.slot.name,
            path=path,
            evidence={
                "min": float(value.min()),
                "max": float(value.max()),
                "mean": float(value.mean()),
            },
            fix=Fix(
                f"initialise {p.slot.name} centred on zero in your code "
                "(e.g. np.random.randn(...) * np.sqrt(1 / n_in), or np.random.rand(...) - 0.5)"
            ),
        )
        _at_line(finding, made.line(p))
        found.append(finding)
    return found


def _at_line(finding: Finding, made: tuple[Place, str] | None) -> None:
    """The finding located at the line of their code that makes its parameter."""
    if made is not None:
        place, code = made
        finding.location.source = source(place, place.col or 1, code)
        finding.message += f"; it is made at {place.file.name}:{place.line}: {code}"


class Makers:
    """The line of their code that makes each parameter: the statement of their `model:` call
    that first sets an array of its initial value (the call traced again, seeded alike, once),
    else the top-level assignment of the global that holds it."""

    def __init__(self, net: OwnNet, loaded: LoadedModule | None):
        self.net, self.loaded = net, loaded
        self._steps: list[Step] | None = None

    def _traced(self) -> list[Step]:
        if self._steps is None:
            tracer = Tracer()
            with suppress(sandbox.UserCallError, SetupError, sandbox.Broken):
                tracer.run(self.net._construct, self.net.impl.model_call, "model")
            self._steps = tracer.steps
        return self._steps

    def line(self, p: Param) -> tuple[Place, str] | None:
        net, impl = self.net, self.net.impl
        if impl.model_call and not isinstance(impl.model, list) and not impl.layers:
            mark = fingerprint(np.asarray(p.ref.get()))
            for step in self._traced():
                out = step.output(mark)
                if out is not None and not out.passed:
                    entry = _entry(step, p.ref.key)  # `'W1': np.zeros(…),` of a `return {`
                    return entry or (replace(step.place, col=step.col), step.code)
        owner, key = p.ref.owner, p.ref.key
        if self.loaded is not None and (owner is net.module or owner is vars(net.module)):
            return _assigned(self.loaded, str(key))  # a global of theirs
        return None


def _entry(step: Step, key: object) -> tuple[Place, str] | None:
    """The line of a statement written over several lines that holds the one dict entry keyed
    `key` (`'W1': np.zeros((n_h, n_x)),` inside `return {…}`), where there is exactly one."""
    if not isinstance(key, str):
        return None
    place = step.place
    lines = _source(place).splitlines()
    try:
        tree = ast.parse(_statement_text(lines, place.line))
    except SyntaxError:
        return None
    values = [
        value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for k, value in zip(node.keys, node.values, strict=True)
        if isinstance(k, ast.Constant) and k.value == key
    ]
    if len(values) != 1 or values[0].lineno == 1:
        return None
    number = place.line + values[0].lineno - 1
    code = lines[number - 1]
    col = len(code) - len(code.lstrip()) + 1
    return replace(place, line=number, col=col), code.strip()


def _statement_text(lines: list[str], first: int) -> str:
    """The statement that starts at line `first`, dedented: as many lines as parse together."""
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    for last in range(first, min(len(lines), first + 200) + 1):
        text = "\n".join(line[indent:] for line in lines[first - 1 : last])
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        return text
    return ""


def _source(place: Place) -> str:
    """The text of the file (or notebook cell) a place is in."""
    if place.cell is None:
        return place.file.read_text(encoding="utf-8")
    cells = json.loads(place.file.read_text(encoding="utf-8"))["cells"]
    return "".join(cells[place.cell]["source"])


def _assigned(loaded: LoadedModule, name: str) -> tuple[Place, str] | None:
    """The first top-level `name = …` of their module (or notebook)."""
    for tree, cell in loaded.trees:
        for stmt in tree.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            if name in names:
                text = ast.get_source_segment(_source(Place(loaded.path, 1, cell)), stmt) or ""
                line = text.splitlines()[0].strip() if text else name
                return Place(loaded.path, stmt.lineno, cell, stmt.col_offset + 1), line
    return None
