"""Where the user's backward first goes wrong: one traced call of their code, every array it
computed compared with the true intermediates of the same network and batch (usercode.truth),
and the statement found that made a wrong array from right ones — with what it should have
computed and, where a usual mistake reproduces the wrong value, which mistake.

Everything is decided by values: an array is right when it equals a true one (up to the
conventions a correct backward may use: the 1/m applied early or late, the loss's constant,
a descent direction carried throughout), never by what the user named it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnfix.usercode.grads import Gradients
from nnfix.usercode.loader import Place
from nnfix.usercode.model import Batch, UserModel
from nnfix.usercode.sandbox import Broken, UserCallError
from nnfix.usercode.trace import Step, Tracer, fingerprint
from nnfix.usercode.truth import Alternative, Known, Truth

Array = np.ndarray
PARTLY = 0.2  # a value equal to a true one in at least this share of its elements (not all) is
# that value with a mistake in it


@dataclass
class Culprit:
    """The statement where a wrong value is made, and what is known about the mistake."""

    place: Place
    col: int
    code: str  # the statement's first line, as written
    says: str  # "dZ3 should be dA3 · (1 − A3²): tanh's derivative is written in A3 and given Z3"
    expected: str | None = None  # the true array it should have computed: "dZ3"
    mistake: str | None = None  # the usual mistake that reproduces the wrong value
    called_from: Place | None = None  # for a line inside a helper: the line that called it
    raised_at: Place | None = None  # for a wrong value that made a later line raise

    @classmethod
    def at(cls, step: Step, says: str, **more: Any) -> Culprit:
        return cls(step.place, step.col, step.code, says, **more)

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {"line": f"{self.place.file.name}:{self.place.line}"}
        if self.expected:
            out["expected"] = self.expected
        if self.mistake:
            out["mistake"] = self.mistake
        if self.called_from is not None:
            out["called_from"] = f"{self.called_from.file.name}:{self.called_from.line}"
        if self.raised_at is not None:
            out["raised_at"] = f"{self.raised_at.file.name}:{self.raised_at.line}"
        return out


def _flat(value: Array) -> Array:
    out = np.squeeze(np.asarray(value))
    return out.astype(np.float64) if out.dtype.kind in "biu" else out


def _usable(value: Any) -> bool:
    """An array worth judging: numbers, and not a buffer as np.zeros or np.ones make it (all
    one value, or a single 0 or 1), which is no computed value."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub" or value.size == 0:
        return False
    flat = value.reshape(-1)
    if value.size == 1:
        return flat[0] not in (0, 1)
    return not np.all(flat == flat[0])


class Judge:
    """Compares arrays with the true ones, up to the conventions a correct backward may use."""

    def __init__(self, truth: Truth, c: float, precision: float):
        self.truth = truth
        self.m = truth.m
        self.c = c  # the factor between their loss and the spec's (from their right gradients)
        self.sign = 1.0  # −1 for a backward that carries the descent direction throughout
        self.tol = max(1e-6, 1e3 * precision)
        self.share = 1.0 if precision < 1e-10 else 0.99  # float32: a rare element across a kink
        self.shapes: dict[tuple, list[Known]] = defaultdict(list)
        for known in truth.knowns:
            self.shapes[_flat(known.value).shape].append(known)
        self._statuses: dict[tuple, str] = {}  # a value's status, once per value and convention

    def factors(self, known: Known, final: bool = False) -> tuple[float, ...]:
        """What a correct backward may hold in place of `known`: the true value times these
        (`final`: a gradient as nnfix read it, where only their loss's constant is left)."""
        if final:
            return (self.c,)
        if known.gradient:
            unit = self.c * self.sign
            return (unit, unit * self.m, unit / self.m) if self.m > 1 else (unit,)
        if known.kind == "error":
            return (self.sign,)
        return (1.0,)

    def close(self, value: Array, target: Array, scale: float = 0.0) -> bool:
        """Equal within the rounding of their code, relative to the larger of the target's
        size and `scale` (the size of the true value a mistaken one stands for)."""
        scale = max(float(np.max(np.abs(target))) if target.size else 0.0, scale, 1e-12)
        near = np.abs(value - target) <= self.tol * scale
        return bool(near.all()) or (self.share < 1 and near.mean() >= self.share)

    def candidates(self, value: Array) -> list[Known]:
        return self.shapes.get(_flat(value).shape, [])

    def exact(
        self, value: Array, final: bool = False, kinds: tuple[str, ...] | None = None
    ) -> Known | None:
        """The true array `value` is, if any (`final`: a parameter's gradient only as
        returned, with the 1/m in it; `kinds`: only knowns of these kinds)."""
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            return None
        flat = _flat(value)
        for known in self.shapes.get(flat.shape, []):
            if kinds is not None and known.kind not in kinds:
                continue
            target = _flat(known.value)
            strict = final and known.kind in ("dW", "db")
            if any(self.close(flat, f * target) for f in self.factors(known, strict)):
                return known
        return None

    def same(self, value: Array, target: Array) -> bool:
        """Are two arrays the same values (squeezed)?"""
        a, b = _flat(value), _flat(target)
        return a.shape == b.shape and self.close(a, b)

    def status(self, value: Array) -> str:
        """ "exact" (a true array), "like" (a true array with a mistake in it), "unknown" (of a
        true array's shape, and like none) or "other" (not judged). Judged once per value: a
        net of many same-shaped layers gives every value as many candidates as it has layers,
        and every search walks the same values again."""
        if not _usable(value):
            return "other"
        if not self.candidates(value):
            return "other"
        key = (fingerprint(value), self.c, self.sign)
        if key not in self._statuses:
            self._statuses[key] = self._judged(value)
        return self._statuses[key]

    def _judged(self, value: Array) -> str:
        if self.exact(value) is not None:
            return "exact"
        return "like" if self.like(value) else "unknown"

    def proportional(self, value: Array, known: Known, final: bool = False) -> float | None:
        """r where value = r × the true value (in units of the convention), else None."""
        flat, target = _flat(value), _flat(known.value) * self.factors(known, final)[0]
        norm = float(np.sum(target * target))
        if flat.shape != target.shape or norm == 0:
            return None
        r = float(np.sum(flat * target)) / norm
        return r if r != 0 and self.close(flat, r * target) else None

    def like(self, value: Array) -> bool:
        """Is `value` a true array with a mistake in it (a factor, a usual mistake, or equal to
        it in a good share of its elements)?"""
        flat = _flat(value)
        for known in self.candidates(value):
            if not known.gradient and known.kind not in ("slope", "error"):
                continue
            if self.proportional(value, known) is not None:
                return True
            for f in self.factors(known):
                target = f * _flat(known.value)
                scale = max(float(np.max(np.abs(target))), 1e-12)
                share = float(np.mean(np.abs(flat - target) <= self.tol * scale))
                if PARTLY <= share < 1:
                    return True
            if self.mistake(value, known) is not None:
                return True
        return False

    def mistake(self, value: Array, known: Known, final: bool = False) -> Alternative | None:
        """The usual mistake that gives `value` in place of `known`, if one does."""
        value = np.asarray(value, dtype=np.float64)
        true = known.value
        if (
            final
            and value.ndim == 2
            and value.shape != true.shape
            and value.T.shape == true.shape
            and self.close(value.T, self.c * true)
        ):
            return Alternative(value, f"it is {known.name} transposed")
        flat = _flat(value)
        size = float(np.max(np.abs(true))) if true.size else 0.0
        for alternative in self.truth.alternatives(known):
            target = _flat(alternative.value)
            if target.shape == flat.shape and any(
                self.close(flat, f * target, abs(f) * size) for f in self.factors(known, final)
            ):
                return alternative
        return None

    def explain(
        self, value: Array, layer: int | None, kinds: tuple[str, ...] | None = None
    ) -> tuple[Known, str | None, str | None] | None:
        """The true array `value` should have been, and the mistake that made it what it is.
        `final`: value is a gradient as returned, where no convention of the 1/m is left."""
        candidates = [
            k
            for k in self.candidates(value)
            if (k.kind in kinds if kinds else k.gradient or k.kind in ("slope", "error"))
        ]
        if not candidates:
            return None
        candidates.sort(key=lambda k: (k.layer != layer, not k.gradient))
        for known in candidates:
            alternative = self.mistake(value, known)
            if alternative is not None:
                return known, alternative.says, alternative.needs
            r = self.proportional(value, known)
            if r is not None:
                return known, describe(r, self.m, final=False), None
        best = max(candidates, key=lambda k: (k.layer == layer, _cosine(value, k.value)))
        return best, None, None


def _cosine(a: Array, b: Array) -> float:
    """|cos| of the angle between two arrays: how alike they are, whatever their scale."""
    x, y = _flat(a).reshape(-1), _flat(b).reshape(-1)
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return abs(float(x @ y)) / norm if norm > 0 else 0.0


def describe(r: float, m: int, final: bool) -> str | None:
    """A factor r between a value and the true one, in words: −1, 2, ½ and, for a gradient as
    returned (`final`), m and 1/m (before that, the 1/m may be applied early or late)."""
    words = {2.0: "twice the true value", 0.5: "half the true value"}
    if final and m > 1:
        words[float(m)] = f"m = {m} times the true value: the 1/m is missing"
        words[1.0 / m] = f"1/m of the true value: it is divided by m = {m} once too often"
    units = (1.0,) if final or m == 1 else (1.0, float(m), 1.0 / m)
    for unit in units:
        size = abs(r) / unit
        if abs(size - 1) < 1e-6:
            return "the sign is flipped" if r < 0 else None
        for factor, text in words.items():
            if abs(size / factor - 1) < 1e-6:
                return ("the sign is flipped and it is " if r < 0 else "it is ") + text
    return f"it is {r:.4g} × the true value"


# --- the search --------------------------------------------------------------------------------


@dataclass
class Trace:
    """One traced call of the user's backward, and what it gave."""

    tracer: Tracer
    grads: Gradients | None
    error: UserCallError | None
    batch: Batch


def trace_gradients(model: UserModel, batch: Batch) -> Trace | None:
    """Their gradients for `batch` once more, with every line of their code recorded; a
    per-sample backward on its first sample alone. None when their code cannot be called."""
    if model.per_sample:
        batch = Batch(
            batch.x[:1], batch.y[:1], batch.labels[:1] if batch.labels is not None else None
        )
    tracer = Tracer()
    before = model.get_params()
    try:
        grads = tracer.run(model.gradients, batch)
        return Trace(tracer, grads, None, batch)
    except UserCallError as exc:
        return Trace(tracer, None, exc, batch)
    except Broken:
        return None
    finally:
        model.set_params(before)


def trace_forward(model: UserModel, batch: Batch) -> Trace | None:
    """Their forward on `batch` once more, with every line of their code recorded."""
    tracer = Tracer()
    try:
        tracer.run(model.forward, batch.x)
        return Trace(tracer, None, None, batch)
    except UserCallError as exc:
        return Trace(tracer, None, exc, batch)
    except Broken:
        return None


@dataclass
class Search:
    """The culprit of each wrong gradient in one trace."""

    trace: Trace
    truth: Truth
    judge: Judge
    slots: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (layer, role)

    def __post_init__(self) -> None:
        self.tracer = self.trace.tracer
        self.steps = self.tracer.steps
        self.made: dict[tuple, list[Step]] = defaultdict(list)  # fingerprint -> steps, by end
        for step in sorted((s for s in self.steps if s.end >= 0), key=lambda s: s.end):
            for out in step.outputs:
                self.made[out.mark].append(step)
        self._read: dict[int, set[tuple]] = {}
        self.judge.sign = self._sign()

    def _sign(self) -> float:
        """+1, or −1 when their backward carries minus the gradient (to add it) throughout: the
        sign of the first array they compute that is a true gradient up to a sign."""
        judge = self.judge
        for step in self.steps:
            for out in step.outputs:
                if not _usable(out.value):
                    continue
                for known in judge.candidates(out.value):
                    if known.gradient:
                        r = judge.proportional(out.value, known)  # in units of c
                        if r is not None and _convention(abs(r), judge.m):
                            return float(np.sign(r))
        return 1.0

    # --- following values -----------------------------------------------------------------

    def reads(self, step: Step) -> set[tuple]:
        if step.serial not in self._read:
            self._read[step.serial] = {fingerprint(v) for v in step.inputs.values()}
        return self._read[step.serial]

    def computes(self, step: Step, mark: tuple) -> bool:
        """Did `step` compute the value `mark` (rather than pass on what it read, or what a
        function it called returned)?"""
        made = step.output(mark)
        if made is None or made.passed or mark in self.reads(step):
            return False
        return not any(
            other.start > step.start and 0 <= other.end < step.end and other.output(mark)
            for other in self.made.get(mark, [])
        )

    def origin(self, mark: tuple, before: int | None = None) -> Step | None:
        """The statement that computed the value `mark`: the last before `before` that did
        (not one that only passed it on)."""
        made = [s for s in self.made.get(mark, []) if before is None or s.end < before]
        computed = [s for s in made if self.computes(s, mark)]
        chosen = computed or made
        return chosen[-1] if chosen else None

    def placer(self, name: str) -> Step | None:
        """The first statement that put the gradient of `name` where nnfix found it."""
        grads = self.trace.grads
        if grads is None or name not in grads.raw:
            return None
        mark, holder = fingerprint(np.asarray(grads.raw[name])), grads.holders.get(name)
        for step in self.made.get(mark, []):
            if any(o.mark == mark and o.holder == holder for o in step.outputs):
                return step
        return self.origin(mark)

    def callees(self, step: Step) -> list[Step]:
        return [s for s in self.steps if s.parent == step.serial and s.returns and s.end >= 0]

    def walk(self, step: Step, seen: set[int], any_shape: bool = False) -> Step:
        """From a statement that made a wrong value: the first statement upstream that made a
        wrong value from right ones. Inputs like a true value with a mistake in it are
        followed first, then inputs of a true value's shape that are like none."""
        seen.add(step.serial)
        statuses = [(self.judge.status(v), v) for v in step.inputs.values()]
        for wanted in ("like", "unknown", "other" if any_shape else None):
            found = []
            for status, value in statuses:
                if status != wanted or (wanted == "other" and not _usable(value)):
                    continue
                source = self.origin(fingerprint(value), before=step.start)
                if source is not None and source.serial not in seen:
                    found.append(self.walk(source, seen))
            if found:
                return min(found, key=lambda s: s.start)
        for callee in reversed(self.callees(step)):  # a helper of theirs that returned it wrong
            if callee.serial in seen:
                continue
            if any(
                o.name.startswith("return") and self.judge.status(o.value) in ("like", "unknown")
                for o in callee.outputs
            ):
                return self.walk(callee, seen)
        return step

    def settle(self, step: Step, needs: str | None) -> tuple[Step, Step | None]:
        """A line inside a helper may be right and its call wrong: when the helper gives right
        values in its other calls, or when the value its formula needs (`needs`) is not among
        its arguments but its caller has it. Returns (culprit, the helper line if moved)."""
        inner = None
        while step.parent is not None:
            parent = self.tracer.by_serial(step.parent)
            if parent is None:
                break
            moved = self._right_elsewhere(step)
            if not moved and needs is not None and needs in self.truth.by_name:
                value = self.truth.by_name[needs].value
                given = self.tracer.given.get(step.frame, [])
                moved = not any(self.judge.same(a, value) for a in given) and self._visible(
                    parent, value
                )
            if not moved:
                break
            inner = inner or step
            step = parent
        return step, inner

    def _visible(self, step: Step, value: Array) -> bool:
        """Could `step` have read `value`: did its frame hold an array of that value?"""
        held = list(self.tracer.visible.get(step.frame, []))
        for other in self.steps:
            if other.frame == step.frame and other.start <= step.start:
                held += other.inputs.values()
        return any(self.judge.same(a, value) for a in held)

    def _right_elsewhere(self, step: Step) -> bool:
        """Does the same line give a right value in another of its runs? (A gradient of a
        parameter counts as right only as returned: the 1/m belongs in it.)"""
        return any(
            other.serial != step.serial
            and other.place == step.place
            and any(
                _usable(o.value) and self.judge.exact(o.value, final=True) is not None
                for o in other.outputs
            )
            for other in self.steps
        )

    def wrong_output(self, step: Step) -> Array | None:
        """The value a culprit made wrong: its last output shaped like a true array and none."""
        for out in reversed(step.outputs):
            if self.judge.status(out.value) in ("like", "unknown"):
                return out.value
        return None

    # --- the culprits -----------------------------------------------------------------------

    def gradient(self, name: str) -> Culprit | None:
        """G101: where the wrong gradient of parameter `name` comes from."""
        grads = self.trace.grads
        if grads is None or name not in grads.raw:
            return None
        raw = np.asarray(grads.raw[name])
        layer = self.slots[name][0]
        placed = self._misplaced(name, raw)
        if placed is not None:
            return placed
        if not _usable(raw):
            return self._never(name, f"the gradient of {name} stays at its initial value")
        start = self.origin(fingerprint(raw))
        if start is None:
            return None
        culprit = self.walk(start, set())
        truth = self.truth.by_name[f"d{name}"]
        if culprit is start:  # the gradient itself: no convention is left in it
            value = self.truth.in_user(truth, grads.arrays[name]) if name in grads.arrays else raw
            r = self.judge.proportional(value, truth, final=True)
            if r is not None:
                return self._say(start, truth, describe(r, self.judge.m, final=True), None)
            alternative = self.judge.mistake(value, truth, final=True)
            return self._say(start, truth, alternative.says if alternative else None, None)
        made = self.wrong_output(culprit)
        explained = self.judge.explain(made, layer) if made is not None else None
        needs = explained[2] if explained is not None else None
        step, inner = self.settle(culprit, needs)
        if inner is not None:  # the call: what it made, explained again
            made = self.wrong_output(step)
            explained = self.judge.explain(made, layer) if made is not None else explained
        if explained is None:
            return self._say(step, None, None, inner)
        return self._say(step, explained[0], explained[1], inner)

    def shape(self, name: str) -> Culprit | None:
        """G103: the statement that made the gradient of `name` in the wrong shape."""
        grads = self.trace.grads
        if grads is None or name not in grads.raw:
            return None
        raw = np.asarray(grads.raw[name])
        placed = self._misplaced(name, raw)
        if placed is not None:
            return placed
        start = self.origin(fingerprint(raw))
        if start is None:
            return None
        step = self.walk(start, set())
        truth = self.truth.by_name[f"d{name}"]
        alternative = self.judge.mistake(raw, truth, final=True) if step is start else None
        return self._say(step, truth, alternative.says if alternative else None, None)

    def forward(self) -> Culprit | None:
        """U102: the first statement of their forward that makes a layer's Z or A wrong from
        right values."""
        returns = [s for s in self.steps if s.depth == 0 and s.returns and s.end >= 0]
        if not returns:
            return None
        outputs = [o for o in returns[-1].outputs if self.judge.status(o.value) != "exact"]
        outputs = [o for o in outputs if self.judge.candidates(o.value)]
        if not outputs:
            return None
        start = self.origin(outputs[0].mark)
        if start is None:
            return None
        step = self.walk(start, set())
        made = self.wrong_output(step)
        explained = self.judge.explain(made, None, kinds=("Z", "A")) if made is not None else None
        if explained is None:
            return self._say(step, None, None, None)
        return self._say(step, explained[0], explained[1], None)

    def missing(self, name: str) -> Culprit | None:
        """G103: a parameter whose gradient their backward does not give: where its true value
        is computed and then not kept, or the loop that computes it for the other layers."""
        truth = self.truth.by_name.get(f"d{name}")
        if truth is not None:
            for step in self.steps:
                for out in step.outputs:
                    if _usable(out.value) and self.judge.exact(out.value, final=True) is truth:
                        return Culprit.at(
                            step,
                            f"d{name} is computed here (as {out.name}) but not kept where "
                            "nnfix reads the gradients",
                            expected=f"d{name}",
                            mistake=f"it is stored as {out.name}",
                        )
        return self._never(name, f"the gradient of {name} is never computed")

    def raised(self) -> Culprit | None:
        """U101: the statement that made the value a later line raised on (or that line)."""
        raising = self.tracer.raised
        if raising is None:
            return None
        step = self.walk(raising, set(), any_shape=True)
        if step is not raising:
            value = self.wrong_output(step)
            return Culprit.at(
                step,
                f"`{step.code}` makes the value that line {raising.place.line} then raises on"
                + (f" (shape {value.shape})" if value is not None else ""),
                raised_at=raising.place,
            )
        layers = self._layers(raising)
        if len(layers) > 1 and raising.loops:
            line, code, col = raising.loops[0]
            mixed = ", ".join(f"{text} is {name}" for text, name in layers.items())
            return Culprit(
                Place(raising.place.file, line, raising.place.cell),
                col,
                code,
                f"line {raising.place.line} raises on arrays of different layers ({mixed}): "
                "the loop's index is off by a layer",
                mistake="the loop's layer index is off by one",
                raised_at=raising.place,
            )
        return Culprit.at(raising, f"your code raises here: `{raising.code}`")

    def _layers(self, step: Step) -> dict[str, str]:
        """The true arrays a statement read, by its text, where they belong to layers > 0."""
        out = {}
        for text, value in step.inputs.items():
            known = self.judge.exact(value) if _usable(value) else None
            if known is not None and known.layer > 0 and known.kind in ("W", "b", "dZ", "dA"):
                out[text] = known.name
        layers = {self.truth.by_name[n].layer - (n[0] == "d" and n[1] == "A") for n in out.values()}
        return out if len(layers) > 1 else {}

    # --- helpers -------------------------------------------------------------------------------

    def _misplaced(self, name: str, raw: Array) -> Culprit | None:
        """A right value given as the gradient of `name` that is another true array: another
        parameter's gradient (put under the wrong name: where it is put), or an intermediate
        such as dZ (where it is taken as the gradient)."""
        if not _usable(raw):
            return None
        own = self.truth.by_name.get(f"d{name}")
        other = self.judge.exact(raw, final=True, kinds=("dW", "db"))
        if other is not None and other is not own:
            step = self.placer(name)
            if step is None:
                return None
            return Culprit.at(
                step,
                f"the gradient given for {name} is {other.name[1:]}'s ({other.name}): the two "
                "are swapped or mislabelled here",
                expected=f"d{name}",
                mistake=f"it holds {other.name}",
            )
        known = self.judge.exact(raw)
        if known is None or known is own or known.kind in ("dW", "db"):
            return None
        mark = fingerprint(raw)
        step = self.origin(mark)
        if step is None:
            return None
        kept = next((o for o in step.outputs if o.mark == mark), None)
        if kept is not None and kept.name in step.inputs:  # made in place: where it is taken
            later = [
                s
                for s in self.made.get(mark, [])
                if s.end > step.end and all(o.holder != kept.holder for o in s.outputs)
            ]
            step = later[0] if later else step
        says = f"the gradient of {name} is {known.name}"
        if own is not None and own.formula:
            says += f"; d{name} should be {own.formula}"
        return Culprit.at(step, says, expected=f"d{name}", mistake=f"it is {known.name}")

    def _never(self, name: str, what: str) -> Culprit | None:
        """A gradient nothing computes: the loop that computes it for the other layers."""
        layer, role = self.slots[name]
        siblings = sorted(
            (n for n, (l, r) in self.slots.items() if r == role and l != layer),
            key=lambda n: abs(self.slots[n][0] - layer),
        )
        for sibling in siblings:
            step = self.placer(sibling)
            while step is not None:
                if step.loops:
                    line, code, col = step.loops[0]
                    others = sorted(
                        self.slots[n][0] for n in siblings if self.placer(n) is not None
                    )
                    return Culprit(
                        Place(step.place.file, line, step.place.cell),
                        col,
                        code,
                        f"{what}: this loop computes the {role} gradients of layer"
                        f"{'s' if len(others) > 1 else ''} {_listing(others)} but never reaches "
                        f"layer {layer}",
                        expected=f"d{name}",
                        mistake=f"the loop skips layer {layer}",
                    )
                step = self.tracer.by_serial(step.parent)
        return None

    def _say(
        self, step: Step, known: Known | None, mistake: str | None, inner: Step | None
    ) -> Culprit:
        if known is None:
            says = "this line makes a value that matches none of the true intermediates"
        elif known.formula:
            says = f"{known.name} should be {known.formula}"
        else:
            says = f"this line should compute {known.name}"
        if mistake:
            says += f": {mistake}"
        called_from = None
        if inner is not None:
            says += (
                f" (the helper it calls, line {inner.place.line}, is right for what it is given)"
            )
        elif step.parent is not None:
            caller = self.tracer.by_serial(step.parent)
            called_from = caller.place if caller is not None else None
        return Culprit.at(
            step,
            says,
            expected=known.name if known is not None else None,
            mistake=mistake,
            called_from=called_from,
        )


def _convention(ratio: float, m: int) -> bool:
    return any(abs(ratio / f - 1) < 1e-6 for f in (1.0, float(m), 1.0 / m))


def _listing(numbers: list[int]) -> str:
    """[1, 2, 3] as "1–3", [1, 3] as "1 and 3"."""
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}–{numbers[-1]}"
    if len(numbers) < 2:
        return "".join(map(str, numbers))
    return ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def calibrate(grads: Gradients, truth: Truth, right: list[str]) -> float:
    """The factor between their gradients and the true ones, from the tensors that are right
    (their loss may be the spec's times a constant); 1 when none is."""
    num = den = 0.0
    for name in right:
        mine, true = grads.arrays.get(name), truth.rows(f"d{name}")
        if mine is None or true is None or mine.shape != true.shape:
            continue
        num += float(np.sum(mine * true))
        den += float(np.sum(true * true))
    return num / den if den > 0 and num != 0 else 1.0
