"""A script as the network (SPEC §3.2 E, `script: true`): a module whose training loop is top-level
code. nnfix runs the statements before the loop, finds the loop that changes the parameters (by
running one pass of it), puts its batch in place of the data the loop reads, and runs one pass of
the loop's body (one sample, one mini-batch or the batch: found by the targets a pass holds); the
gradient is read from the update as −Δ / step size.

The truth is the spec's loss of the output the body computes. The output is the value the body
reads together with the targets first (`o - l`, `compute_cost(A2, Y)`, `np.log(A2) * y`) among
those that move with the parameters (found by running a pass at nudged parameters); its loss is
measured by running the body's statements *up to the one that binds the output* — the
statements as written, in their order — with the parameters perturbed. We run that prefix rather
than slicing out the statements the output depends on: the prefix keeps every in-place statement
the forward relies on (`img.shape += (1,)`, `x /= 255`, a cache filled item by item) that a slice
by names read and written can miss, and it holds no backward or update, which come after the
output is bound and read with the targets."""

from __future__ import annotations

import ast
import copy
import itertools
import os
import re
import types
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnfix.engine.losses import total
from nnfix.spec.model import ImplementationSpec, LossSpec
from nnfix.usercode import own_find, sandbox
from nnfix.usercode.grads import Gradients, Param
from nnfix.usercode.loader import LoadedModule, Place, _is_main_guard, place_of
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.objects import Ref, walk
from nnfix.usercode.own import OwnNet
from nnfix.usercode.own_find import RANKS

Array = np.ndarray
ITEM = "__nnfix_item__"  # what the loop's target is bound from
ONCE = "__nnfix_once__"  # the one-iteration loop a pass runs in (a break or continue ends it)
STEP = "__nnfix_step__"  # what an in-place update of the body adds, shape noted (_fit_step)
Misshaped = tuple[Array, tuple[int, ...], int, int | None]
# an update's target, its step's shape, the update's line, the line that made the step's array
# calls that plot, save or ask: not run before the loop (SPEC §3.4)
_QUIET = re.compile(
    r"(^|_)(plot\w*|show|imshow|scatter|savefig|save\w*|dump|input|figure|subplots?|hist|"
    r"legend|title|xlabel|ylabel|draw|pause|animate)$"
)
_DEFS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class _Stmt:
    """A top-level statement and the filename its code is compiled under (tracebacks)."""

    node: ast.stmt
    filename: str
    cell: int | None = None

    def at(self, line: int | None = None) -> str:
        """Where a line of it is, as the report says it: `line 12`, `cell 4, line 2`."""
        where = f"line {self.node.lineno if line is None else line}"
        return where if self.cell is None else f"cell {self.cell}, {where}"


@dataclass
class _Form:
    """How the batch is given to their loop: X as rows or columns, the targets as labels,
    one-hot or as they are, in the orientation of X."""

    columns: bool
    targets: str  # labels | onehot | asis


class ScriptNet(OwnNet):
    """Their top-level training loop on a batch: `tensors` (the arrays one pass of the loop
    changes and that move the loss), `loss()` (the spec's loss of the output the body computes),
    `gradients()` (−Δ / step size of one pass)."""

    def __init__(
        self,
        impl: ImplementationSpec,
        loaded: LoadedModule,
        x: Array | None,
        y: Array | None,
        loss: LossSpec | None,
        seed: int = 0,
        classes: int | None = None,
    ):
        empty = np.zeros((0, 1))
        super().__init__(
            impl, loaded.module, empty if x is None else x, empty if y is None else y, loss, seed
        )
        self.loaded, self.ns = loaded, vars(loaded.module)
        self.given = x is not None  # data: in the spec: its batch replaces theirs
        self.classes = classes
        self.stmts = _statements(loaded)
        self.loops: list[ast.For | ast.While] = []  # the training loop, down to the pass's loop
        self.filename = ""
        self.stmt = _Stmt(ast.Pass(), "")  # the training loop's
        self.body: list[ast.stmt] = []  # the body one pass runs
        self.data: dict[str, Array] = {}  # name -> the array their loop reads, as given to it
        self.per_sample = False
        self.passes = 1  # samples one at a time (or a mini-batch at a time): one pass each
        self.chunk = 1  # the samples one pass takes, where it takes part of the batch
        self.out_name = self.target_name = ""
        self.upto = 0  # the body's statements the forward is (up to the output's binding)
        self.step = 0.0
        self._changed: list[Ref] = []
        self._codes: dict[int | None, types.CodeType] = {}  # a pass (or its first statements)
        self._misshaped: list[Misshaped] = []
        # a parameter's index -> its update of another shape, and the line that made its step
        self.reshaped: dict[int, tuple[Place, Place | None]] = {}

    # --- building ------------------------------------------------------------------------------

    def build(self) -> None:
        if self.loss_spec is None:
            raise SetupError(
                "a script's gradients are checked against the spec's loss of its output",
                "script",
                hint="loss: bce | cce | mse | mae (the loss your loop differentiates)",
            )
        seed_numpy(self.seed)
        for k, st in enumerate(self.stmts):
            node = st.node
            if isinstance(node, ast.For | ast.While):
                if self._stores_parameters(node) and self._is_training(k):
                    break
                self.found.say(f"not run: the loop at {st.at()} (it trains nothing)")
                continue
            self._run_before(st)
        else:
            raise SetupError(
                "nnfix found no top-level loop whose one pass changes a float array of your "
                "module: no training loop to check",
                "script",
                hint="script: false, and forward: / backward: for code with functions",
            )
        own_find.find_tensors(self)
        self._find_step()

    def _run_before(self, st: _Stmt) -> None:
        """A statement before the loop: run unless it defines (the import ran it) or plots,
        saves or asks; one that fails (a data file that is not there) is skipped."""
        node = st.node
        if isinstance(node, _DEFS) or (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):
            return
        if _quiet(node):
            return
        try:
            self._exec([node], st.filename, "script")
        except sandbox.UserCallError as exc:
            # their paths as they wrote them: beside the module, not from the root of the disk
            why = str(exc).replace(f"{self.loaded.path.parent}{os.sep}", "")
            self.found.say(f"not run: {st.at()} ({why if len(why) <= 90 else why[:89] + '…'})")

    def _stores_parameters(self, loop: ast.For | ast.While) -> bool:
        """Does the loop store into a name that holds float arrays now (a candidate for the
        training loop, confirmed by running a pass)?"""
        return any(self._holds_floats(name) for name in _stored(loop))

    def _holds_floats(self, name: str) -> bool:
        value = self.ns.get(name)
        if isinstance(value, np.ndarray):
            return value.dtype.kind == "f"
        if value is None or isinstance(value, types.ModuleType | types.FunctionType | type):
            return False
        return bool(walk({name: value}, "", ranks=RANKS))

    def _is_training(self, k: int) -> bool:
        loop = self.stmts[k].node
        assert isinstance(loop, ast.For | ast.While)
        self.stmt = self.stmts[k]
        self.filename = self.stmt.filename
        names = self._data_names(loop)
        self._descend(loop, names)
        forms = self._forms(names) if self.given else [None]
        first: sandbox.UserCallError | None = None
        unfit: SetupError | None = None
        there = set(self.ns)
        for form in forms:
            for name in _stored_names(loop) - there:  # what a pass in another form left
                self.ns.pop(name, None)
            if form is not None:
                self._substitute(names, form, k)
            else:
                self.data = {n: np.array(self.ns[n]) for n in names.values() if n}
            self._sample_count(names)
            try:
                changed = self._first_pass()
            except sandbox.UserCallError as exc:
                if "did not return within" in str(exc):
                    raise  # a pass that hangs hangs in every form: their code's (U101)
                first = first or exc
                continue
            if not changed:
                return False
            self._changed = changed
            try:
                self._find_output(names)
            except SetupError as exc:  # no value fits the targets in this form: the next one
                if len(forms) == 1 or form is forms[-1]:
                    raise
                unfit = unfit or exc
                continue
            if form is not None:
                shapes = ", ".join(f"{n} {tuple(v.shape)}" for n, v in self.data.items())
                self.found.say(f"data: {shapes} (nnfix's batch in place of yours)")
            return True
        if first is None and unfit is not None:
            raise unfit
        assert first is not None
        if len(forms) == 1:
            raise first  # their data as their own: the error is their code's (U101)
        raise SetupError(
            f"your training loop raised whenever nnfix gave it the batch: {first}",
            "arguments",
            hint="arguments: {<your inputs' name>: X, <your targets' name>: Y}; layout: and "
            "per_sample: say how the loop holds them",
            trace=first.trace,
        )

    # --- the data ----------------------------------------------------------------------------

    def _data_names(self, loop: ast.For | ast.While) -> dict[str, str]:
        """{"X": name, "Y": name}: from `arguments:`, else the two arrays of their own the loop
        reads but never stores into, that share a sample count (the inputs: more values per
        sample)."""
        named = {str(v): k for k, v in self.impl.arguments.items() if v in ("X", "Y")}
        if named:
            return {"X": named.get("X", ""), "Y": named.get("Y", "")}
        stored = _stored(loop)
        read = [
            n
            for n in dict.fromkeys(_read(loop))
            if n not in stored and isinstance(self.ns.get(n), np.ndarray) and self.ns[n].size
        ]
        for a, b in itertools.combinations(read, 2):
            x, y = self.ns[a], self.ns[b]
            if _samples_of(x, y, self.impl.layout) is not None:
                big = x.size >= y.size
                return {"X": a if big else b, "Y": b if big else a}
        raise SetupError(
            "nnfix could not tell which arrays your training loop reads as its inputs and targets",
            "arguments",
            hint="arguments: {<your inputs' name>: X, <your targets' name>: Y}",
        )

    def _forms(self, names: dict[str, str]) -> list[_Form]:
        """The forms of the batch to try: their own data's where it is there, else rows then
        columns (`layout:` settles it) and one-hot targets before labels."""
        own_x, own_y = self.ns.get(names["X"]), self.ns.get(names["Y"])
        layout = self.impl.layout
        if isinstance(own_x, np.ndarray) and isinstance(own_y, np.ndarray):
            samples = _samples_of(own_x, own_y, layout)
            if samples is not None:
                columns = samples[0] == "columns"
                if own_y.ndim == 1:
                    targets = "labels"
                else:
                    k = own_y.shape[0] if columns else own_y.shape[-1]
                    targets = "onehot" if k > 1 and self._labels() else "asis"
                return [_Form(columns, targets)]
        columns_first = [layout == "columns"] if layout in ("columns", "rows") else [False, True]
        kinds = ["onehot", "asis", "labels"] if self._labels() else ["asis"]
        return [_Form(c, t) for c in columns_first for t in kinds]

    def _labels(self) -> bool:
        flat = self.y.reshape(-1)
        return self.y.ndim == 1 and bool(np.all(flat == np.round(flat))) and flat.min() >= 0

    def _substitute(self, names: dict[str, str], form: _Form, k: int) -> None:
        """Their data names hold the batch; the statements before the loop that read them (and
        bind no data: `m = X.shape[1]`, `W1 = randn(n_h, X.shape[0])`) run again with it."""
        x = np.asarray(self.x, dtype=np.float64)
        if form.columns:
            x = np.ascontiguousarray(x.reshape(len(x), -1).T)
        y = self.y
        if form.targets == "onehot":
            k_out = self.classes or int(y.max()) + 1
            y = np.eye(k_out)[y.astype(int)]
        elif form.targets == "asis" and y.ndim == 1:
            y = y[:, None].astype(np.float64)
        if form.columns and y.ndim == 2:
            y = np.ascontiguousarray(y.T)
        self.data = {}
        if names["X"]:
            self.data[names["X"]] = x
        if names["Y"]:
            self.data[names["Y"]] = y
        self.columns = form.columns
        self._put_data()
        data = set(self.data)
        seed_numpy(self.seed)
        for st in self.stmts[:k]:
            node = st.node
            if isinstance(node, (*_DEFS, ast.For, ast.While)) or _quiet(node):
                continue
            if set(_read(node)) & data and not _stored(node) & data:
                try:
                    self._exec([node], st.filename, "script")
                except sandbox.UserCallError as exc:
                    self.found.say(f"not run again with nnfix's batch: {st.at()} ({exc})")

    def _put_data(self) -> None:
        """Fresh copies of the data in their names (a loop that scales x in place scales a copy)."""
        for name, value in self.data.items():
            self.ns[name] = value.copy()

    def _sample_count(self, names: dict[str, str]) -> None:
        x, y = self.data.get(names["X"]), self.data.get(names["Y"])
        if x is None or y is None:
            self.m = len(self.x) if self.given else 1
            return
        found = _samples_of(x, y, self.impl.layout)
        self.m = found[1] if found is not None else len(x)
        self.columns = found is not None and found[0] == "columns"

    # --- the loop ----------------------------------------------------------------------------

    def _descend(self, loop: ast.For | ast.While, names: dict[str, str]) -> None:
        """The loops from the training loop down to the one that reads the data and holds every
        store into the parameters (`for epoch …: for img, l in zip(images, labels): … w -= …`,
        not the `for k in params: params[k] -= …` of a full-batch update): a pass is one
        iteration of that innermost one; the outer ones' targets take their first item."""
        data = {n for n in names.values() if n}
        self.loops = [loop]
        while True:
            body = self.loops[-1].body
            inner = [s for s in body if isinstance(s, ast.For | ast.While)]
            stores = {
                i for i, s in enumerate(body) if any(self._holds_floats(n) for n in _stored(s))
            }
            nested = [s for s in inner if body.index(s) in stores]
            if (
                len(nested) == 1
                and stores == {body.index(nested[0])}
                and set(_read(nested[0])) & data
            ):
                self.loops.append(nested[0])
                continue
            break
        self.body = [_Steps().visit(copy.deepcopy(stmt)) for stmt in self.loops[-1].body]
        self._codes = {}
        self.ns[STEP] = self._fit_step
        last = self.loops[-1]
        self.per_sample = bool(self.impl.per_sample) or (
            isinstance(last, ast.For) and bool(set(_read(last.iter)) & self._derived(data))
        )

    def _derived(self, data: set[str]) -> set[str]:
        """The data's names and those the statements before the loop bind from them (`m =
        X.shape[1]`): a loop over `zip(images, labels)` or `range(m)` takes one sample a turn."""
        derived = set(data)
        before = [st.node for st in self.stmts[: self.stmts.index(self.stmt)]]
        for loop, inner in zip(self.loops, self.loops[1:], strict=False):  # `order = arange(n)`
            before += loop.body[: loop.body.index(inner)]
        for node in before:
            if not isinstance(node, _DEFS) and set(_read(node)) & derived:
                derived |= _stored_names(node)
        return derived

    def _bind_outer(self) -> None:
        """The outer loops' targets take their first item, and the statements before the inner
        loop in each outer body run once (`nr_correct = 0`, a shuffle)."""
        self._put_data()
        for loop, inner in zip(self.loops, self.loops[1:], strict=False):
            if isinstance(loop, ast.For):
                item = self._item(loop, 0)
                self._bind(loop.target, item)
            for s in loop.body[: loop.body.index(inner)]:
                if not isinstance(s, _DEFS) and not _quiet(s):
                    self._exec([s], self.filename, "script")

    def _item(self, loop: ast.For, j: int) -> Any:
        def take() -> Any:
            items = iter(eval(self._compiled(loop.iter), self.ns))  # their loop's own iterable
            return next(itertools.islice(items, j, None))

        try:
            return sandbox.call("script", take)
        except sandbox.UserCallError as exc:
            if "StopIteration" in str(exc):
                raise SetupError(
                    f"the loop at line {loop.lineno} gave fewer than {j + 1} items", "per_sample"
                ) from None
            raise

    def _compiled(self, expr: ast.expr) -> types.CodeType:
        load = ast.parse(ast.unparse(expr), mode="eval")  # a target read back (Store -> Load)
        ast.increment_lineno(load, expr.lineno - 1)
        return compile(load, self.filename, "eval")

    def _bind(self, target: ast.expr, item: Any) -> None:
        self.ns[ITEM] = item
        assign = ast.Assign(targets=[target], value=ast.Name(ITEM, ast.Load()))
        ast.copy_location(assign, target)
        ast.fix_missing_locations(assign)
        try:
            self._exec([assign], self.filename, "script")
        finally:
            self.ns.pop(ITEM, None)

    def _exec(self, nodes: list[ast.stmt], filename: str, role: str) -> None:
        code = compile(ast.Module(body=nodes, type_ignores=[]), filename, "exec")
        sandbox.call(role, exec, code, self.ns)

    def _pass(self, j: int, upto: int | None = None) -> None:
        """One pass of the body on sample j (or the batch): their data fresh, the loop's target
        bound, the body (or its first `upto` statements) run inside a one-iteration loop, so a
        break or continue ends the pass."""
        self._put_data()
        last = self.loops[-1]
        if isinstance(last, ast.For):
            self._bind(last.target, self._item(last, j if self.per_sample else 0))
        code = self._codes.get(upto)
        if code is None:
            body = self.body if upto is None else self.body[:upto]
            once = ast.For(
                target=ast.Name(ONCE, ast.Store()),
                iter=ast.Tuple([ast.Constant(0)], ast.Load()),
                body=list(body) or [ast.Pass()],
                orelse=[],
            )
            ast.copy_location(once, body[0] if body else last)
            ast.fix_missing_locations(once)
            tree = ast.Module(body=[once], type_ignores=[])
            code = self._codes[upto] = compile(tree, self.filename, "exec")
        seed_numpy(self.seed)
        sandbox.call("script", exec, code, self.ns)

    def _first_pass(self) -> list[Ref]:
        """One pass on the first sample (or the batch): the float arrays of their module it
        changed (set anew or in place), put back."""
        self._bind_outer()
        data = {id(v) for v in self.data.values()} | {id(self.ns.get(n)) for n in self.data}
        refs = [r for r in walk(self.module, "", ranks=RANKS) if id(r.get()) not in data]
        kept = [(r, r.get(), r.get().copy()) for r in refs]
        self.passes = 1
        self._misshaped = []
        self._watched = {id(a) for _, a, _ in kept}
        try:
            self._pass(0)
        finally:
            stepped = {id(m[0]) for m in self._misshaped}  # updated by a step of another shape
            out = [
                r
                for r, a, v in kept
                if (_differs(r.get(), a, v) or id(a) in stepped) and r.path not in self.data
            ]
            _restore(kept)
        if self.per_sample:
            self.passes = self.m // self.chunk
        return out

    def _find_output(self, names: dict[str, str]) -> None:
        """The output: the value the body first reads together with the targets (`o - l`),
        and the targets as the body holds them then; the forward is the body up to its binding.
        The output moves with the parameters (the inputs' and targets' slices `xb, yb` do not)."""
        moving = self._moving()
        targets = {names["Y"]} | self._loop_targets()
        bound: dict[str, int] = {}
        for i, stmt in enumerate(self.body):
            read = set(_read(stmt)) | _places_read(stmt)
            here = [t for t in targets if t in read]
            outs = [n for n in read if n in bound and n in moving and n not in targets]
            if self.impl.output:
                outs = [n for n in outs if n == self.impl.output]
            for t in here:
                fit = [o for o in outs if _fits(self._value(o), self.ns.get(t))]
                if fit:
                    self.out_name, self.target_name = max(fit, key=bound.__getitem__), t
                    self.upto = bound[self.out_name] + 1
                    self._per_sample_by_value(names)
                    self.found.say(
                        f"script: the loop at {self.stmt.at()}; one pass "
                        + (
                            "on the batch"
                            if not self.per_sample
                            else "per sample"
                            if self.chunk == 1
                            else f"per {self.chunk} samples"
                        )
                        + f"; output {self.out_name} ({self.stmt.at(self.body[self.upto - 1].lineno)}),"
                        f" read with the targets {t} at line {stmt.lineno}"
                    )
                    return
            targets |= self._still_targets(stmt, targets)
            for name in _stored_names(stmt) | _places_stored(stmt):
                bound[name] = i
        raise SetupError(
            "nnfix found no value in your loop's body that it reads together with the targets "
            f"({names['Y'] or 'Y'}) as its output",
            "output",
            hint="output: <the name your loop binds the network's output to>",
        )

    def _moving(self) -> set[str]:
        """The float arrays the body binds that change when the parameters do: the body's
        values at the parameters and at nudged ones (one pass each), compared."""
        seen: list[dict[str, Array]] = []
        kept = [(r, r.get(), r.get().copy()) for r in self._changed]
        rng = np.random.default_rng(0)
        try:
            for nudge in (False, True):
                for r, a, v in kept:
                    r.set(v + 1e-3 * (1 + np.abs(v)) * rng.standard_normal(v.shape) if nudge else a)
                    if not nudge:
                        a[...] = v
                self._watched, self._misshaped = {id(r.get()) for r, _, _ in kept}, []
                self._pass(0)
                stored = _stored_names_of(self.body) | {
                    p for stmt in self.body for p in _places_stored(stmt)
                }
                seen.append({n: np.array(self._value(n)) for n in stored if self._float(n)})
        finally:
            _restore(kept)
        at, nudged = seen
        return {
            n
            for n in at
            if n in nudged
            and (at[n].shape != nudged[n].shape or not np.array_equal(at[n], nudged[n]))
        }

    def _per_sample_by_value(self, names: dict[str, str]) -> None:
        """A pass whose targets hold a part of the batch's takes that part a turn, however its
        loop picks it (`x = X[i]`, `xb = X[s:s + 4]`): one sample, or a mini-batch that divides
        the batch; each pass is checked from the same parameters. Values settle what the loop's
        text suggested."""
        full = self.data.get(names["Y"])
        if full is None:
            return
        part = np.asarray(self.ns.get(self.target_name))
        if part.size == full.size:
            self.per_sample, self.chunk, self.passes = False, 1, 1
            return
        chunk, left = divmod(part.size * self.m, full.size)
        if left or not chunk or self.m % chunk:
            raise SetupError(
                f"one pass of your loop took {part.size} of the batch's {full.size} target "
                "values, not a part that divides the batch",
                "per_sample",
                hint="per_sample: true, where the loop takes one sample a turn",
            )
        self.per_sample, self.chunk, self.passes = True, chunk, self.m // chunk

    def _still_targets(self, stmt: ast.stmt, targets: set[str]) -> set[str]:
        """Names bound from the targets alone (`yb = Y[i:i + b]`, `t = l.reshape(-1, 1)`):
        what they read besides the targets holds no float array (a parameter, the inputs)."""
        if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
            return set()
        target, value = stmt.targets[0], stmt.value
        pairs = (
            list(zip(target.elts, value.elts, strict=True))
            if isinstance(target, ast.Tuple)
            and isinstance(value, ast.Tuple)
            and len(target.elts) == len(value.elts)
            else [(target, value)]
        )
        out = set()
        for t, v in pairs:
            read = set(_read(v))
            others = [n for n in read - targets if self._float(n) or n in self.data]
            if isinstance(t, ast.Name) and read & targets and not others:
                out.add(t.id)
        return out

    def _loop_targets(self) -> set[str]:
        return {
            n.id
            for loop in self.loops
            if isinstance(loop, ast.For)
            for n in ast.walk(loop.target)
            if isinstance(n, ast.Name)
        }

    def _float(self, name: str) -> bool:
        value = self._value(name)
        return isinstance(value, np.ndarray) and value.dtype.kind == "f"

    def _value(self, place: str) -> Any:
        """What a name, or an entry or attribute of one (`cache["a2"]`, `net.out`), holds now."""
        if place.isidentifier():
            return self.ns.get(place)
        try:
            return eval(compile(place, "<place>", "eval"), self.ns)  # a place: no call in it
        except Exception:
            return None

    def _find_step(self) -> None:
        """The step size: `update_lr:`, else the one number their updates of the parameters
        multiply by, in the loop's body or the functions of their module."""
        if self.impl.update_lr:
            self.step = self.step_size = float(self.impl.update_lr)
            return
        trees: list[ast.AST] = [*self.loops[-1].body]  # as written
        trees += [s.node for s in self.stmts if isinstance(s.node, ast.FunctionDef)]
        self.step = step_size(trees, {_base(p.ref.path) for p in self.tensors}, self.ns)
        self.step_size = self.step
        self.found.say(
            f"step size: {self.step:g}, read from your update; gradient = −Δ / {self.step:g}"
        )

    # --- OwnNet's hooks ----------------------------------------------------------------------

    def _candidates(self) -> list[Ref]:
        return list(self._changed)

    def forward(self) -> tuple[Array, Any]:
        outs = [self._forward(j)[0] for j in range(self.passes)]
        if len(outs) == 1:
            return outs[0], None
        return np.stack([o.reshape(-1) for o in outs]), None

    def _forward(self, j: int) -> tuple[Array, Any]:
        kept = [(r, r.get(), np.array(r.get(), copy=True)) for r in self._params()]
        try:
            self._pass(j, self.upto)
            out, target = self._value(self.out_name), self.ns.get(self.target_name)
        finally:
            _restore(kept)
        return np.asarray(out, dtype=np.float64), np.asarray(target)

    def targets_held(self) -> list[Array]:
        """The targets as each pass holds them where the body reads them with the output."""
        return [self._forward(j)[1] for j in range(self.passes)]

    def _params(self) -> list[Ref]:
        return [p.ref for p in self.tensors] if self.tensors else list(self._changed)

    def loss(self) -> float:
        """The spec's loss of their output, the mean of the samples' where a pass is one."""
        values = [
            self._loss_of(*self._forward(j), self.chunk if self.per_sample else self.m)
            for j in range(self.passes)
        ]
        return float(np.mean(values))

    def _loss_of(self, out: Array, target: Array, m: int) -> float:
        spec = self.loss_spec
        assert spec is not None
        a = out
        if target.size != a.size:  # integer labels against scores
            k = a.size // max(1, target.size)
            target = np.eye(k)[target.reshape(-1).astype(int)]
            a = a.T if self.columns and a.ndim == 2 else a
        else:
            target = target.reshape(a.shape).astype(np.float64)
            if self.columns and a.ndim == 2:
                a, target = a.T, target.T
        a, y = a.reshape(m, -1), np.asarray(target, dtype=np.float64).reshape(m, -1)
        if spec.name == "cce" and (a.min() < 0 or a.max() > 1):
            value = total("cce", a, a, y, "softmax")
        elif spec.name == "bce" and (a.min() < 0 or a.max() > 1):
            value = total("bce", a, 1 / (1 + np.exp(-a)), y, "sigmoid")
        else:
            value = total(spec.name, a, a, y, None)
        return value * spec.scale * (1.0 / m if spec.reduction == "mean" else 1.0)

    def gradients(self) -> Gradients:
        """−Δparameter / step size of one pass (per sample: the mean over the samples, each
        pass from the same parameters); the parameters are put back."""
        passes = []
        for j in range(self.passes):
            kept = [(p.ref, p.ref.get(), np.array(p.ref.get(), copy=True)) for p in self.tensors]
            self._misshaped = []
            self._watched = {id(a) for _, a, _ in kept}
            try:
                self._pass(j)
                after = [np.array(p.ref.get(), dtype=np.float64) for p in self.tensors]  # copies
                passes.append(([(a, v) for _, a, v in kept], after, list(self._misshaped)))
            finally:
                _restore(kept)
        arrays = [id(a) for a, _ in passes[0][0]] if passes else []
        self.reshaped = {}
        for target, _, line, made in passes[0][2] if passes else []:
            update = place_of(self.filename, line)
            if id(target) in arrays and update is not None:
                at = place_of(self.filename, made) if made is not None else None
                self.reshaped.setdefault(arrays.index(id(target)), (update, at))
        return update_gradients(self.tensors, passes, self.step)

    def _fit_step(self, target: Any, step: Any, line: int) -> Any:
        """What an in-place update of their body adds to its target (`w -= lr * dw` runs as
        `w -= __nnfix_step__(w, lr * dw, line)`): the step as it is, but for a float array a step
        of another shape, into a parameter (an array it watches), that NumPy would broadcast into
        it or fail on (`b -= lr * db` with db
        (n, m), or a scalar) — noted with its shape, the gradient's, and added as nothing, so the
        pass goes on to the other parameters."""
        if id(target) in self._watched:
            shape = tuple(np.shape(step))
            try:
                fits = np.broadcast_shapes(shape, target.shape) == target.shape
            except ValueError:
                fits = False
            if not fits or (np.size(step) == 1 and target.size > 1 and shape != target.shape):
                self._misshaped.append((target, shape, line, self._made_at(line, shape)))
                return 0.0
        return step

    def _made_at(self, line: int, shape: tuple[int, ...]) -> int | None:
        """The line of the pass's body before the update at `line` that last bound a name the
        update's step reads holding an array of the step's shape (`db2 = dz2 / n` before `b2 -=
        lr * db2`): where the gradient of the wrong shape was made (SPEC §3.6, G103)."""
        nodes = [n for stmt in self.body for n in ast.walk(stmt)]
        update = next((n for n in nodes if isinstance(n, ast.AugAssign) and n.lineno == line), None)
        if update is None:
            return None
        read = {
            n.id
            for n in ast.walk(update.value)
            if isinstance(n, ast.Name)
            and isinstance(self.ns.get(n.id), np.ndarray)
            and np.shape(self.ns[n.id]) == shape
        }
        loads = [
            n
            for n in nodes
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.lineno != line
        ]
        read = {r for r in read if not any(n.id == r for n in loads)}  # a delta used right too
        made = [
            n.lineno
            for n in nodes
            if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign)
            and n.lineno < line
            and _stored_names(n) & read
        ]
        return max(made, default=None)


# --- reading their statements ----------------------------------------------------------------


class _Steps(ast.NodeTransformer):
    """`t -= v` (or `+=`) becomes `t -= __nnfix_step__(t, v, line)`: see ScriptNet._fit_step."""

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AugAssign:
        if isinstance(node.op, ast.Sub | ast.Add) and isinstance(
            node.target, ast.Name | ast.Subscript | ast.Attribute
        ):
            read = ast.parse(ast.unparse(node.target), mode="eval").body
            call = ast.Call(
                ast.Name(STEP, ast.Load()), [read, node.value, ast.Constant(node.lineno)], []
            )
            for part in ast.walk(call):
                ast.copy_location(part, node.value)
            node.value = call
        return node


def _statements(loaded: LoadedModule) -> list[_Stmt]:
    """Their top-level statements in order; those of an `if __name__ == "__main__":` block
    count as top-level (a script's loop often sits there)."""
    out = []
    for tree, cell in loaded.trees:
        filename = str(loaded.path) if cell is None else f"<notebook {loaded.path} cell {cell}>"
        for node in tree.body:
            inside = node.body if isinstance(node, ast.If) and _is_main_guard(node.test) else [node]
            out += [_Stmt(n, filename, cell) for n in inside]
    return out


def _quiet(node: ast.stmt) -> bool:
    """Does the statement plot, save or ask for input?"""
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            name = (
                call.func.attr
                if isinstance(call.func, ast.Attribute)
                else getattr(call.func, "id", "")
            )
            if _QUIET.search(name) or _root(call.func) in ("plt", "matplotlib", "pylab", "sns"):
                return True
    return False


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _read(node: ast.AST) -> list[str]:
    """The names a statement or expression reads, in order (AugAssign's target too)."""
    out = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    for n in ast.walk(node):
        if isinstance(n, ast.AugAssign):
            out.append(_root(n.target))
    return out


def _stored_names(node: ast.AST) -> set[str]:
    """Names a statement binds (`a = …`, `a, b = …`, `a += …`)."""
    return {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def _place(node: ast.AST) -> bool:
    """A name, or a constant entry or an attribute of a place (`cache["a2"]`, `net.out`): where
    a value can be kept and read back with no call."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _place(node.value)
    if isinstance(node, ast.Subscript):
        key = node.slice
        return (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str | int)
            and not isinstance(key.value, bool)
            and _place(node.value)
        )
    return False


def _places_read(node: ast.AST) -> set[str]:
    """The entries and attributes a statement reads (`cache["a2"]` in `(cache["a2"] - Y) ** 2`)."""
    return {
        ast.unparse(n)
        for n in ast.walk(node)
        if isinstance(n, ast.Subscript | ast.Attribute)
        and isinstance(n.ctx, ast.Load)
        and _place(n)
    }


def _places_stored(node: ast.AST) -> set[str]:
    """The entries and attributes a statement stores into (`cache["a2"] = …`)."""
    return {
        ast.unparse(n)
        for n in ast.walk(node)
        if isinstance(n, ast.Subscript | ast.Attribute)
        and isinstance(n.ctx, ast.Store)
        and _place(n)
    }


def _stored_names_of(body: list[ast.stmt]) -> set[str]:
    return {n for stmt in body for n in _stored_names(stmt)}


def _stored(node: ast.AST) -> set[str]:
    """Names a statement binds or stores into (`w -= …`, `params['W1'] = …`, `w[0] -= …`)."""
    out = _stored_names(node)
    for n in ast.walk(node):
        targets = (
            n.targets
            if isinstance(n, ast.Assign)
            else [n.target]
            if isinstance(n, ast.AugAssign)
            else []
        )
        for t in targets:
            for e in t.elts if isinstance(t, ast.Tuple | ast.List) else [t]:
                if isinstance(e, ast.Subscript | ast.Attribute):
                    out.add(_root(e))
    out.discard("")
    return out


def _samples_of(x: Array, y: Array, layout: str = "auto") -> tuple[str, int] | None:
    """(rows | columns, the sample count) two arrays share: their first axis, else their last
    (`layout:` says which where both fit)."""
    rows = x.ndim >= 1 and y.ndim >= 1 and x.shape[0] == y.shape[0]
    columns = x.ndim == 2 and y.ndim == 2 and x.shape[-1] == y.shape[-1]
    if columns and (layout == "columns" or not rows):
        return "columns", x.shape[-1]
    return ("rows", x.shape[0]) if rows else None


def _fits(out: Array, target: Any) -> bool:
    """Could `out` be compared with `target`: the same number of values, or scores for labels."""
    if not isinstance(target, np.ndarray | np.number | int | float):
        return False
    t = np.asarray(target)
    if t.size == out.size:
        return True
    return t.dtype.kind in "iu" and t.size > 0 and out.size % t.size == 0


def _differs(value: Any, array: Array, values: Array) -> bool:
    if value is not array:
        return True
    return value.shape != values.shape or not np.array_equal(value, values, equal_nan=True)


def _restore(kept: list[tuple[Ref, Any, Array]]) -> None:
    for ref, array, values in kept:
        ref.set(array)
        if array.shape == values.shape:
            array[...] = values


def _base(path: str) -> str:
    match = re.match(r"[A-Za-z_]\w*", path.lstrip("."))
    return match.group(0) if match else path


# --- the gradient an update implies (kept apart: a `step:` call reads it the same way) ---------


def update_gradients(
    params: list[Param],
    passes: list[tuple[list[tuple[Array, Array]], list[Array], list[Misshaped]]],
    step: float,
) -> Gradients:
    """The gradients an in-place update implies: −(after − before) / step per parameter, the
    mean over the passes (one per sample, each from the same values). Each pass gives, per
    parameter, (the array, its values before), its values after, and the steps of another shape
    an update added to it (`b -= lr * db` with db (n, m)). A step of another shape, or an array
    rebound to another shape (`b = b - lr * db`), is the gradient's shape (G103)."""
    out = Gradients(
        where=f"the update of one pass of your loop, divided by its step size {step:g}",
        from_update=True,
    )
    sums: dict[str, Array] = {}
    for kept, after, misshaped in passes:
        for p, (array, before), now in zip(params, kept, after, strict=True):
            name = p.slot.name
            odd = next((m for m in misshaped if m[0] is array), None)  # (its step's shape, line)
            if odd is not None:
                out.wrong[name] = (odd[1], p.shape, f"the step of your update at line {odd[2]}")
            elif now.shape != before.shape:
                out.wrong[name] = (tuple(now.shape), p.shape, p.ref.path)
            if name not in out.wrong:
                sums[name] = sums.get(name, 0) - (now - before) / step
    for p in params:
        name = p.slot.name
        out.paths[name] = p.ref.path
        out.holders[name] = (id(p.ref.owner), p.ref.key)
        if name in sums and name not in out.wrong:
            out.arrays[name] = out.raw[name] = sums[name] / max(1, len(passes))
    out.missing = [p.slot.name for p in params if p.slot.name not in out.arrays | out.wrong]
    return out


def step_size(trees: list[ast.AST], bases: set[str], ns: dict[str, Any]) -> float:
    """The one number the updates of the parameters (names in `bases`) multiply their step by,
    in these statements: a literal, or a name bound to one in `ns` (`learn_rate = 0.01` … `w -=
    learn_rate * dw`; `w = w - 0.5 * lr * dw` multiplies by 0.5·lr). None or several: a question
    naming update_lr."""
    steps: set[float] = set()
    for tree in trees:
        for node in ast.walk(tree):
            factor = _update_step(node, bases, ns)
            if factor is not None:
                steps.add(factor)
    if len(steps) != 1:
        seen = ", ".join(f"{s:g}" for s in sorted(steps)) or "none"
        raise SetupError(
            f"nnfix reads the gradient from your update, given its step size: it found "
            f"{'several' if steps else 'no'} step size in your updates ({seen})",
            "update_lr",
            hint="update_lr: <the learning rate your update uses>",
        )
    return steps.pop()


def _update_step(node: ast.AST, bases: set[str], ns: dict[str, Any]) -> float | None:
    """The step size of an update of a parameter (`w -= lr * dw`, `w += -lr * dw`, `w = w - lr
    * dw`): the product of the numbers its step multiplies by; None for any other statement."""
    target: ast.expr
    if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Sub | ast.Add):
        target, step = node.target, node.value
    elif (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.value, ast.BinOp)
        and isinstance(node.value.op, ast.Sub | ast.Add)
        and ast.dump(node.value.left) == ast.dump(node.targets[0]).replace("Store()", "Load()")
    ):
        target, step = node.targets[0], node.value.right
    else:
        return None
    if _root(target) not in bases:
        return None
    numbers = [v for v in _factors(step, ns) if v is not None]
    return float(abs(np.prod(numbers))) if numbers else None


def _factors(node: ast.expr, ns: dict[str, Any]) -> list[float | None]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.MatMult):
        return _factors(node.left, ns) + _factors(node.right, ns)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _factors(node.left, ns)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _factors(node.operand, ns)
    value: Any = None
    if isinstance(node, ast.Constant):
        value = node.value
    elif isinstance(node, ast.Name):
        value = ns.get(node.id)
    if isinstance(value, int | float | np.floating) and not isinstance(value, bool) and value:
        return [float(value)]
    return []
