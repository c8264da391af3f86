"""An autograd engine of the user's own (SPEC §3.2 F): a micrograd-style class whose instances
hold `.data` (a float, or a NumPy array for a Tensor-style engine) and `.grad`, whose operations
build a graph with `_backward` closures and whose `backward()` runs them. The network is their
model built of those values; its parameters are the instances it holds (`model.parameters()`),
grouped per neuron or layer as their model holds them; the loss is built with their own
operations on their output, so that `loss.backward()` runs their graph; the gradient is `.grad`.
Each operation of the class is also checked on its own (`check_ops`, SPEC §3.6)."""

from __future__ import annotations

import ast
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnfix.engine.layers.layer import Slot
from nnfix.usercode import sandbox
from nnfix.usercode.grads import Gradients, Param
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.objects import Ref
from nnfix.usercode.own import OwnNet

Array = np.ndarray
DEPTH = 8  # how deep the walk for their values goes from the model
NODES = 20000  # and how many objects it visits at most
DATA_NAMES = ("data", "_data", "value", "val", "_value")
GRAD_NAMES = ("grad", "_grad", "gradient", "_gradient")
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


@dataclass
class Engine:
    """Their class, and where its instances keep their value and their gradient."""

    cls: type
    data: str  # the attribute of the value: "data", "_data"
    grad: str  # of the gradient: "grad", "_grad"

    def of(self, value: Any) -> bool:
        return isinstance(value, self.cls)

    def value(self, v: Any) -> Any:
        return getattr(v, self.data)

    def gradient(self, v: Any) -> Any:
        return getattr(v, self.grad)

    def as_array(self, v: Any) -> Array:
        g = getattr(v, self.grad)
        data = np.asarray(getattr(v, self.data), dtype=np.float64)
        if g is None:
            return np.zeros_like(data)
        return np.asarray(g, dtype=np.float64).reshape(data.shape) * np.ones_like(data)

    def set_value(self, v: Any, value: Array) -> None:
        old = getattr(v, self.data)
        if isinstance(old, np.ndarray) and old.shape == value.shape and old.dtype.kind == "f":
            old[...] = value
        elif isinstance(old, np.ndarray):
            setattr(v, self.data, np.array(value, dtype=np.float64))
        else:
            setattr(v, self.data, float(value.reshape(-1)[0]))

    def zero(self, v: Any) -> None:
        old = getattr(v, self.grad)
        data = getattr(v, self.data)
        if isinstance(old, np.ndarray) or isinstance(data, np.ndarray):
            setattr(v, self.grad, np.zeros_like(np.asarray(data, dtype=np.float64)))
        else:
            setattr(v, self.grad, 0.0)

    def set_grad(self, v: Any, value: Array | float) -> None:
        data = getattr(v, self.data)
        if isinstance(data, np.ndarray):
            setattr(v, self.grad, np.array(value, dtype=np.float64) * np.ones_like(data, float))
        else:
            setattr(v, self.grad, float(np.asarray(value).reshape(-1)[0]))

    def make(self, value: Any) -> Any:
        return self.cls(value)

    def children(self, v: Any) -> list[Any]:
        """The values an instance was computed from (its `_prev`, `_children`, … whichever
        attribute holds instances of the class)."""
        for name, held in vars(v).items():
            if name in (self.data, self.grad):
                continue
            if (
                isinstance(held, list | tuple | set | frozenset)
                and held
                and all(isinstance(h, self.cls) for h in held)
            ):
                return list(held)
        return []

    def closure(self, v: Any) -> types.FunctionType | None:
        """The instance's own backward closure: a function of no argument it holds."""
        found = [
            (name, f)
            for name, f in vars(v).items()
            if isinstance(f, types.FunctionType) and f.__code__.co_argcount == 0
        ]
        found.sort(key=lambda nf: "backward" not in nf[0])
        return found[0][1] if found else None


def find_engine(cls: Any, key: str = "engine") -> Engine:
    """Where their class keeps the value and the gradient, read off one instance of it."""
    if not isinstance(cls, type):
        raise SetupError(f"implementation.engine names {type(cls).__name__}, not a class", key)
    for probe in (1.5, np.array([1.5, -0.5])):
        try:
            v = sandbox.call("engine", cls, probe)
        except sandbox.UserCallError:
            continue
        held = vars(v) if hasattr(v, "__dict__") else {}
        data = next(
            (n for n in DATA_NAMES if n in held and _same(held[n], probe)),
            next((n for n, h in held.items() if _same(h, probe)), None),
        )
        grad = next(
            (n for n in GRAD_NAMES if n in held),
            next((n for n in held if "grad" in n.lower()), None),
        )
        if data is not None and grad is not None:
            return Engine(cls, data, grad)
    raise SetupError(
        f"nnfix could not tell where {cls.__name__} keeps its value and its gradient "
        "(an instance made of one number holds no `.data` and `.grad` nnfix recognises)",
        key,
    )


def _same(held: Any, probe: Any) -> bool:
    try:
        return bool(np.array_equal(np.asarray(held, dtype=np.float64), probe))
    except (TypeError, ValueError):
        return False


# --- the network -------------------------------------------------------------------------------


@dataclass
class Group:
    """A parameter tensor as their model holds it: a list of scalar values (a neuron's
    weights), one value (its bias), or one array-valued instance."""

    path: str
    values: list[Any]
    shape: tuple[int, ...]
    first: int = 0  # where its first value comes in their parameters()


class EngineNet(OwnNet):
    """Their engine's network on nnfix's batch, with OwnNet's face for the check (`tensors`,
    `loss()`, `gradients()`)."""

    check_order: list[int] | None = None
    precision: float = float(np.finfo(np.float64).eps)  # of what their engine computes in

    def build(self) -> None:
        impl = self.impl
        self.engine = find_engine(self._engine_class(), "engine")
        self.found.say(
            f"engine: {self.engine.cls.__name__} (value in .{self.engine.data}, gradient in "
            f".{self.engine.grad})"
        )
        if not impl.model:
            raise SetupError(
                "nnfix needs the call that builds your network of engine values",
                "model",
                hint="model: MLP(3, [4, 1])",
            )
        if isinstance(impl.model, list):
            self.root = self._run_statements(impl.model)
        else:
            self.root = self._construct(impl.model, "model")
        self.found.say(f"model: {_said(impl.model)} → {type(self.root).__name__}")
        self._arrays: dict[str, Array] = {}
        self._groups = self._find_groups()
        self._find_engine_forms()
        self.found.say(
            f"loss: {'yours' if impl.loss else 'the spec’s'}, built with your engine's "
            f"operations; gradients: .{self.engine.grad} after loss.backward()"
        )

    def _engine_class(self) -> Any:
        try:
            return self._get(self.module, self.impl.engine or "")
        except AttributeError:
            raise SetupError(f"your module has no '{self.impl.engine}'", "engine") from None

    def _run_statements(self, statements: list[str]) -> Any:
        """`["model = MLP_Model()", "model.train()"]`: run in order in their module's names with
        X and Y; the model is the name the first statement binds."""
        names: dict[str, Any] = dict(vars(self.module))
        names.update({"X": self.x, "Y": self.y})
        target = None
        for k, text in enumerate(statements):
            try:
                tree = ast.parse(text)
            except SyntaxError as exc:
                raise SetupError(f"model[{k}] is no Python statement: {exc.msg}", "model") from None
            if target is None and tree.body and isinstance(tree.body[0], ast.Assign):
                first = tree.body[0].targets[0]
                target = first.id if isinstance(first, ast.Name) else None
            seed_numpy(self.seed)
            sandbox.call("model", exec, compile(tree, f"<model[{k}]>", "exec"), names)
        if target is None:
            raise SetupError("the first statement of model: binds no name (model = …)", "model")
        return names[target]

    # --- their values ----------------------------------------------------------------------

    def _find_groups(self) -> list[Group]:
        eng = self.engine
        listed = self._listed()
        groups = list(_walk(self.root, "", eng, set(), [0]))
        if listed is not None:
            index = {id(v): k for k, v in enumerate(listed)}
            kept: list[Group] = []
            for g in groups:
                if all(id(v) in index for v in g.values):
                    kept.append(g)
                else:  # part of it: the listed values each on its own
                    kept += [
                        Group(f"{g.path}[{k}]", [v], _shape_of(eng, v))
                        for k, v in enumerate(g.values)
                        if id(v) in index
                    ]
            seen = {id(v) for g in kept for v in g.values}
            kept += [
                Group(f"parameters()[{k}]", [v], _shape_of(eng, v))
                for k, v in enumerate(listed)
                if id(v) not in seen
            ]
            for g in kept:
                g.first = min(index[id(v)] for v in g.values)
            groups = sorted(kept, key=lambda g: g.first)
        if not groups:
            raise SetupError(
                f"nnfix found no {eng.cls.__name__} held by your model: nothing to check",
                "model",
            )
        layers: dict[str, int] = {}
        previous = ""
        for g in groups:
            vector = sum(n > 1 for n in g.shape) <= 1
            role = "bias" if vector and previous == "weight" else "weight"
            key = _layer_key(g.path)
            if key == g.path:  # held by the model itself (W1, b1): a bias joins its weight's
                key = f"#{len(layers) + 1}" if role == "weight" else f"#{len(layers)}"
            layers.setdefault(key, len(layers) + 1)
            previous = role
            array = np.array(
                [np.asarray(eng.value(v), dtype=np.float64) for v in g.values], dtype=np.float64
            ).reshape(g.shape)
            self._arrays[g.path] = array
            ref = Ref(g.path, self._arrays, g.path, "item")
            self.tensors.append(Param(Slot(g.path, layers[key], role), ref, g.shape))
        # output side first; within a layer, in their parameters() order
        self.check_order = sorted(
            range(len(self.tensors)), key=lambda i: (-self.tensors[i].slot.layer, i)
        )
        names = ", ".join(p.slot.name for p in self.tensors[:6])
        more = ", …" if len(self.tensors) > 6 else ""
        count = sum(len(g.values) for g in groups)
        self.found.say(
            f"parameters: {count} {eng.cls.__name__} values in {len(groups)} tensors "
            f"({names}{more})"
        )
        return groups

    def _listed(self) -> list[Any] | None:
        fn = getattr(self.root, "parameters", None)
        if not callable(fn):
            return None
        try:
            values = list(sandbox.call("model.parameters", fn))
        except (sandbox.UserCallError, TypeError):
            return None
        values = [v for v in values if self.engine.of(v)]
        return values or None

    def _sync(self) -> None:
        """Their values take the arrays nnfix holds (the check perturbs those in place)."""
        eng = self.engine
        for g in self._groups:
            array = self._arrays[g.path]
            if len(g.values) == 1 and isinstance(eng.value(g.values[0]), np.ndarray):
                eng.set_value(g.values[0], array)
                continue
            for v, x in zip(g.values, array.reshape(-1), strict=True):
                eng.set_value(v, np.asarray(x))

    # --- forward and loss --------------------------------------------------------------------

    def _find_engine_forms(self) -> None:
        """One sample at a time (a list of floats, or of their values) where the parameters are
        scalars or `per_sample:` says so; else the batch (an array, or their value of it)."""
        scalar = not isinstance(self.engine.value(self._groups[0].values[0]), np.ndarray)
        per = bool(self.impl.per_sample) or scalar
        self.sample_form = "vector" if per else None
        first: sandbox.UserCallError | None = None
        for wrap in (False, True):
            self._wrap = wrap
            try:
                outs = self._outputs()
            except sandbox.UserCallError as exc:
                first = first or exc
                continue
            if outs is not None:
                if single(self.engine.value(outs[0][0])):
                    self.precision = float(np.finfo(np.float32).eps)
                    self.found.say("your engine computes in float32: checked at its precision")
                what = f"a list of {self.engine.cls.__name__}" if wrap else "a list of floats"
                if not per:
                    what = f"{self.engine.cls.__name__}(X)" if wrap else "the array X"
                size = len(outs[0]) if per else tuple(np.shape(self.engine.value(outs[0][0])))
                self.found.say(
                    ("one sample at a time, as " if per else "the batch, as ")
                    + f"{what}; output {size}"
                )
                return
        if first is not None:
            raise SetupError(
                f"your forward raised whenever nnfix called it: {first}",
                "forward",
                hint="per_sample: or arguments: say how your forward takes the data",
                trace=first.trace,
            )
        raise SetupError(
            f"your forward returned no {self.engine.cls.__name__} (nor a list of them)",
            "forward",
        )

    def _forward_fn(self) -> Callable:
        name = self.impl.forward or "__call__"
        return self.function(name, "forward")

    def _outputs(self) -> list[list[Any]] | None:
        """Their forward's output values: per sample a list of their values, or for the batch
        one list holding the output instance."""
        fn = self._forward_fn()
        eng = self.engine
        if self.sample_form is None:
            x = eng.make(np.array(self.x, dtype=np.float64)) if self._wrap else self.x
            out = _flat(self._call("forward", fn, {"X": x}, ("X",)), eng)
            return [out] if out and len(out) == 1 else None
        outs = []
        for i in range(self.m):
            row = [float(v) for v in np.asarray(self.x[i], dtype=np.float64).reshape(-1)]
            xs = [eng.make(v) for v in row] if self._wrap else row
            out = _flat(self._call("forward", fn, {"X": xs}, ("X",)), eng)
            if not out:
                return None
            outs.append(out)
        return outs

    def root_value(self) -> Any:
        """The loss as one of their values, built with their operations on their output."""
        self._sync()
        outs = self._outputs()
        if outs is None:
            raise SetupError("your forward stopped returning your engine's values", "forward")
        if self.impl.loss:
            return self._their_engine_loss(outs)
        if self.loss_spec is None:
            raise SetupError(
                "nnfix needs the loss to build on your output",
                "loss",
                hint="the spec's `loss:` (mse, cce, bce), or loss: <your loss function>",
            )
        spec = self.loss_spec
        if self.sample_form is None:
            value = self._batch_loss(outs[0][0], spec.name)
        else:
            value = None
            for i, out in enumerate(outs):
                one = self._sample_loss(out, self._target_row(i, len(out)), spec.name)
                value = one if value is None else value + one
        factor = spec.scale * (1.0 / self.m if spec.reduction == "mean" else 1.0)
        return value if factor == 1.0 else value * factor

    def _their_engine_loss(self, outs: list[list[Any]]) -> Any:
        fn = self.function(self.impl.loss_call or "", "loss")
        if self.sample_form is None:
            out: Any = outs[0][0]
            y: Any = self.y_given(np.asarray(self.engine.value(out)))
        else:
            out = [o[0] if len(o) == 1 else o for o in outs]
            k = len(outs[0])
            y = [
                float(r[0]) if k == 1 else [float(t) for t in r]
                for r in (self._target_row(i, k) for i in range(self.m))
            ]
        value = self._call("loss", fn, {"output": out, "Y": y, "X": self.x}, ("Y", "output"))
        if not self.engine.of(value):
            raise SetupError(
                f"your loss returned {type(value).__name__}, not a {self.engine.cls.__name__} "
                "whose backward() nnfix can call",
                "loss",
            )
        return value

    def _sample_loss(self, out: list[Any], y: Array, name: str) -> Any:
        data = [float(np.asarray(self.engine.value(o))) for o in out]
        ys = [float(t) for t in y]
        if name == "mse":
            return _total([_square(_minus(o, t)) for o, t in zip(out, ys, strict=True)])
        if name == "cce":
            if min(data) >= 0 and max(data) <= 1 and abs(sum(data) - 1) < 1e-6:
                return -_total([o.log() * t for o, t in zip(out, ys, strict=True) if t])
            exps = _total([o.exp() for o in out])  # log Σ e^z − Σ y z
            return exps.log() - _total([o * t for o, t in zip(out, ys, strict=True) if t])
        if name == "bce":
            terms = []
            for o, t, d in zip(out, ys, data, strict=True):
                if 0 < d < 1:  # probabilities
                    terms.append(-(o.log() * t + (o * -1.0 + 1.0).log() * (1.0 - t)))
                else:  # scores: log(1 + e^z) − y z
                    terms.append((o.exp() + 1.0).log() - o * t)
            return _total(terms)
        raise SetupError(f"the loss '{name}' is not built on engine values yet", "loss")

    def _batch_loss(self, out: Any, name: str) -> Any:
        a = np.asarray(self.engine.value(out), dtype=np.float64)
        y = np.asarray(self.y_given(a), dtype=np.float64).reshape(a.shape)
        if name == "mse":
            return _square(_minus(out, y)).sum()
        if name == "cce":
            probs = bool(a.min() >= 0 and a.max() <= 1)
            p = out if probs else out.softmax()
            return -((p.log() * y).sum())
        raise SetupError(f"the loss '{name}' is not built on engine values yet", "loss")

    def loss(self) -> float:
        value = self._engine_call(self.root_value)
        return float(np.asarray(self.engine.value(value), dtype=np.float64).reshape(-1)[0])

    def _engine_call(self, fn: Callable) -> Any:
        """nnfix's own composition of their operations (the loss): a method it needs that their
        class lacks is a question of the loss (exit 2), their code raising a U101."""
        seed_numpy(self.seed)
        try:
            return fn()
        except (SetupError, sandbox.UserCallError):
            raise
        except (AttributeError, TypeError) as exc:
            raise SetupError(
                f"nnfix could not build the loss with your {self.engine.cls.__name__}'s "
                f"operations ({exc})",
                "loss",
                hint="loss: <your loss function of the output values>",
            ) from None
        except Exception:  # their operation raised (a log of 0): a U101 at their line
            seed_numpy(self.seed)
            return sandbox.call("loss", fn)

    def gradients(self) -> Gradients:
        """.grad of every parameter after their backward() of the loss (grads zeroed first,
        the root's set to 1)."""
        eng = self.engine
        root = self._engine_call(self.root_value)
        for g in self._groups:
            for v in g.values:
                eng.zero(v)
        eng.set_grad(root, 1.0)
        fn = getattr(root, "backward", None)
        if not callable(fn):
            raise SetupError(f"{eng.cls.__name__} has no backward()", "engine")
        run_backward(eng, root)
        found = Gradients(where=f".{eng.grad} after loss.backward()")
        for g, p in zip(self._groups, self.tensors, strict=True):
            if len(g.values) == 1 and isinstance(eng.value(g.values[0]), np.ndarray):
                grad = eng.as_array(g.values[0])
            else:
                grad = np.array([eng.as_array(v).reshape(-1)[0] for v in g.values])
            found.arrays[p.slot.name] = grad.reshape(g.shape)
            found.paths[p.slot.name] = f"{g.path}.{eng.grad}"
        return found

    def graph_codes(self) -> dict[Any, int]:
        """The backward closures of their network's graph (code object -> how many nodes)."""
        eng = self.engine
        try:
            root = self._engine_call(self.root_value)
        except (SetupError, sandbox.UserCallError):
            return {}
        counts: dict[Any, int] = {}
        seen: set[int] = set()
        stack = [root]
        while stack and len(seen) < 200000:
            v = stack.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            f = eng.closure(v)
            if f is not None:
                counts[f.__code__] = counts.get(f.__code__, 0) + 1
            stack += eng.children(v)
        return counts


def run_backward(eng: Engine, root: Any) -> None:
    """Their root.backward(), given the root's gradient (ones) where it takes one."""
    fn = root.backward
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    takes = [
        p
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if takes:
        data = eng.value(root)
        sandbox.call("backward", fn, np.ones_like(data) if isinstance(data, np.ndarray) else 1.0)
    else:
        sandbox.call("backward", fn)


def _said(model: str | list[str]) -> str:
    return model if isinstance(model, str) else "; ".join(model)


def _flat(value: Any, eng: Engine) -> list[Any]:
    """Their output as a list of their values (one value, or a list or tuple of them)."""
    if eng.of(value):
        return [value]
    if isinstance(value, list | tuple) and value:
        out = []
        for v in value:
            if eng.of(v):
                out.append(v)
            elif isinstance(v, list | tuple):
                out += _flat(v, eng)
            else:
                return []
        return out
    return []


def _minus(o: Any, t: Any) -> Any:
    try:
        return o - t
    except TypeError:
        return o + (-t)


def _square(d: Any) -> Any:
    """d², with their ** where they have it (each output used once, as a learner's loss uses
    it), else d * d."""
    try:
        return d**2
    except TypeError:
        return d * d


def _total(values: list[Any]) -> Any:
    out = values[0]
    for v in values[1:]:
        out = out + v
    return out


def _shape_of(eng: Engine, v: Any) -> tuple[int, ...]:
    data = eng.value(v)
    return tuple(data.shape) if isinstance(data, np.ndarray) else (1,)


def _layer_key(path: str) -> str:
    """The layer a tensor belongs to: its path up to its first index (`layers[2]` for
    `layers[2].neurons[0].w`), else its first attribute (`fc1` for `fc1._w`)."""
    m = re.match(r"^[^\[]*?\[[^\]]*\]", path)
    if m:
        return m.group(0)
    return path.split(".")[0]


def _walk(obj: Any, path: str, eng: Engine, seen: set[int], count: list[int]) -> Iterator[Group]:
    """Every group of their values an object holds, by path, depth first in attribute order."""
    if id(obj) in seen or count[0] > NODES or path.count(".") + path.count("[") > DEPTH:
        return
    seen.add(id(obj))
    count[0] += 1
    if eng.of(obj):
        yield Group(path, [obj], _shape_of(eng, obj))
        return
    if isinstance(obj, list | tuple):
        if obj and all(eng.of(v) and not isinstance(eng.value(v), np.ndarray) for v in obj):
            yield Group(path, list(obj), (len(obj),))
            return
        rows = [r for r in obj if isinstance(r, list | tuple)]
        if obj and len(rows) == len(obj) and all(r and all(eng.of(v) for v in r) for r in rows):
            widths = {len(r) for r in rows}
            if len(widths) == 1 and all(
                not isinstance(eng.value(v), np.ndarray) for r in rows for v in r
            ):
                yield Group(path, [v for r in rows for v in r], (len(rows), widths.pop()))
                return
        for k, v in enumerate(obj):
            yield from _walk(v, f"{path}[{k}]", eng, seen, count)
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}[{k!r}]", eng, seen, count)
        return
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        yield from _walk(list(obj.reshape(-1)), path, eng, seen, count)
        return
    if isinstance(obj, types.ModuleType | types.FunctionType | type) or not hasattr(
        obj, "__dict__"
    ):
        return
    for name, v in vars(obj).items():
        yield from _walk(v, f"{path}.{name}" if path else name, eng, seen, count)


# --- each operation on its own (SPEC §3.6) -------------------------------------------------------

SCALARS = ((0.7, 1.3), (-0.45, 0.8), (1.9, -0.6))  # a, b: away from 0 and every usual kink
NUMBER = 2.0  # the number a binary operation is given where it takes no value of the class
H = 1e-6
RTOL = 1e-4
H32, RTOL32 = 1e-3, 1e-2  # for an engine that computes in float32


def single(value: Any) -> bool:
    """Does one of their values compute in single precision (or less)?"""
    data = np.asarray(value)
    return data.dtype.kind == "f" and data.dtype.itemsize < 8


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
    notes: list[str] = field(default_factory=list)


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
    if add.wrong:  # a + b cannot take a result twice
        for check in done:
            check.notes.append("not checked with a value used twice: your + is wrong")
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
                if not check.wrong:  # the first failure is the one reported
                    _take(check, one)
                    check.wrong = True
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
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    if arity == 0:
        return not required
    return len(required) <= 1 and (bool(positional) or varargs) and (len(required) == 1)


def _shown(name: str, arity: int) -> str:
    text = SHOWN.get(name, f"a.{name}()" if arity == 0 else f"a.{name}(b)")
    return text.replace("b", str(NUMBER)) if arity == 2 else text


def _take(check: OpCheck, one: OpCheck) -> None:
    check.argument, check.got, check.want, check.set = one.argument, one.got, one.want, one.set
    check.top, check.file, check.line, check.text = one.top, one.file, one.line, one.text


def _leaf(eng: Engine, value: Any) -> Any:
    """An operand: a value of their class that is itself the result of an operation (x + 0),
    as every value inside a network is, else a plain one."""
    zero = np.zeros_like(value) if isinstance(value, np.ndarray) else 0.0
    try:
        made = sandbox.call("engine", lambda: eng.make(value) + eng.make(zero))
        if eng.of(made) and np.array_equal(np.asarray(eng.value(made)), np.asarray(value)):
            return made
    except sandbox.UserCallError:
        pass
    return sandbox.call("engine", eng.make, value)


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
        eng.set_grad(root, 1.0)
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
        if one is not None and one.wrong:
            first = first or one
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
    g = eng.gradient(v)
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


def check_graph(net: EngineNet, skip: set[Any]) -> list[NodeCheck]:
    """Each node of their network's graph on its own, by the dot-product test: along a random
    direction d of every parameter, each node's value moves by δn (central differences of two
    forwards, nodes matched in the order they are made); its backward closure, given a random
    u as the node's gradient, must add to its children's gradients the g_c with
    Σ <g_c, δc> = <u, δn>. A closure that sets (=) rather than adds, writes to another value
    or computes another derivative fails it. Closures in `skip` were judged already."""
    eng = net.engine
    rng = np.random.default_rng(0)
    arrays = net._arrays
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
    for g in net._groups:  # the parameters move along the direction itself
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
            eng.zero(v)
        eng.set_grad(root, 1.0)
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
    return [c for c in checks.values() if c.wrong]


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
