"""An autograd engine of the user's own (SPEC §3.2 F): a micrograd-style class whose instances
hold `.data` (a float, or a NumPy array for a Tensor-style engine) and `.grad`, whose operations
build a graph with `_backward` closures and whose `backward()` runs them. The network is their
model built of those values; its parameters are the instances it holds (`model.parameters()`),
grouped per neuron or layer as their model holds them; the loss is built with their own
operations on their output, so that `loss.backward()` runs their graph; the gradient is `.grad`.
Each operation and each backward closure is checked on its own in engine_check.py (SPEC §3.6)."""

from __future__ import annotations

import ast
import copy
import inspect
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnfix.engine.layers.layer import Slot
from nnfix.usercode import own_bind, sandbox
from nnfix.usercode.grads import Gradients, Param
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.objects import Ref
from nnfix.usercode.own import OwnNet

Array = np.ndarray
DEPTH = 8  # how deep the walk for their values goes from the model
NODES = 20000  # and how many objects it visits at most
DATA_NAMES = ("data", "_data", "value", "val", "_value")
GRAD_NAMES = ("grad", "_grad", "gradient", "_gradient")


@dataclass
class Engine:
    """Their class, and where its instances keep their value and their gradient."""

    cls: type
    data: str  # the attribute of the value: "data", "_data"
    grad: str  # of the gradient: "grad", "_grad"
    seed_root: bool = False  # their backward() leaves the root's gradient to the caller
    parameters: list[Any] = field(default_factory=list)  # their model's, once it is built

    def of(self, value: Any) -> bool:
        return isinstance(value, self.cls)

    def value(self, v: Any) -> Any:
        return getattr(v, self.data)

    def gradient(self, v: Any) -> Any:
        return getattr(v, self.grad)

    def plain_grad(self, v: Any) -> Any:
        """Their gradient as a number or an array (a gradient held as a value of their class
        too, as some engines hold it, is read through its value)."""
        g = getattr(v, self.grad)
        return getattr(g, self.data) if isinstance(g, self.cls) else g

    def as_array(self, v: Any) -> Array:
        g = self.plain_grad(v)
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
        self.set_grad(v, 0.0)

    def set_grad(self, v: Any, value: Array | float) -> None:
        data = getattr(v, self.data)
        if isinstance(data, np.ndarray):
            new: Any = np.array(value, dtype=np.float64) * np.ones_like(data, float)
        else:
            new = float(np.asarray(value).reshape(-1)[0])
        held = getattr(v, self.grad)
        if isinstance(held, self.cls):  # their gradient is a value of their class: its value
            setattr(held, self.data, new)
        else:
            setattr(v, self.grad, new)

    def make(self, value: Any) -> Any:
        return self.cls(value)

    def operand(self, value: Any) -> Any:
        """A fresh leaf holding `value`, made like one of their parameters (a shallow copy of
        one, so flags such as requires_grad are theirs), else by their constructor."""
        like = next(
            (
                p
                for p in self.parameters
                if isinstance(getattr(p, self.data), np.ndarray) == isinstance(value, np.ndarray)
            ),
            None,
        )
        if like is None:
            return self.make(value)
        v = copy.copy(like)
        setattr(
            v,
            self.data,
            np.array(value, dtype=np.float64) if isinstance(value, np.ndarray) else float(value),
        )
        held = getattr(like, self.grad)
        if isinstance(held, self.cls):
            setattr(v, self.grad, copy.copy(held))
        self.zero(v)
        return v

    def children(self, v: Any) -> list[Any]:
        """The values an instance was computed from (its `_prev`, `_children`, … whichever
        attribute holds instances of the class)."""
        for name, held in fields(v).items():
            if name in (self.data, self.grad):
                continue
            if (
                isinstance(held, list | tuple | set | frozenset)
                and held
                and all(isinstance(h, self.cls) for h in held)
            ):
                return list(held)
        return []

    def grad_fns(self, v: Any) -> dict[int, types.FunctionType]:
        """Where an engine keeps, instead of one closure, a function per input (`depends_on`:
        (tensor, grad_fn) pairs): the function of each input, by the input's id."""
        found: dict[int, types.FunctionType] = {}
        for held in fields(v).values():
            if not isinstance(held, list | tuple):
                continue
            for pair in held:
                if isinstance(pair, tuple) and len(pair) >= 2:
                    values = [p for p in pair if isinstance(p, self.cls)]
                    fns = [p for p in pair if isinstance(p, types.FunctionType)]
                    if len(values) == 1 and len(fns) == 1:
                        found.setdefault(id(values[0]), fns[0])
        return found

    def closure(self, v: Any) -> types.FunctionType | None:
        """The instance's own backward closure: a function of no argument it holds."""
        found = [
            (name, f)
            for name, f in fields(v).items()
            if isinstance(f, types.FunctionType) and f.__code__.co_argcount == 0
        ]
        found.sort(key=lambda nf: "backward" not in nf[0])
        return found[0][1] if found else None


def fields(v: Any) -> dict[str, Any]:
    """An instance's attributes: its __dict__, and its __slots__ where its class has them."""
    found = dict(getattr(v, "__dict__", {}))
    for k in type(v).__mro__:
        slots = vars(k).get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in found and name != "__dict__" and hasattr(v, name):
                found[name] = getattr(v, name)
    return found


def find_engine(cls: Any, key: str = "engine") -> Engine:
    """Where their class keeps the value and the gradient, read off one instance of it."""
    if not isinstance(cls, type):
        raise SetupError(f"implementation.engine names {type(cls).__name__}, not a class", key)
    for probe in (1.5, np.array([1.5, -0.5])):
        try:
            v = sandbox.call("engine", cls, probe)
        except sandbox.UserCallError:
            continue
        held = fields(v)
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

    _seen_seed = False  # whether their backward() seeds the root was found out
    held_arrays = False  # their parameters hold arrays (a Tensor engine), not floats
    engine: Engine  # their class, once built
    groups: list[Group]  # their values, grouped as their model holds them
    arrays: dict[str, Array]  # the float64 arrays the check perturbs, by tensor name
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
        self.arrays = {}
        self.groups = self._find_groups()
        self.engine.parameters = [v for g in self.groups for v in g.values]
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
        if listed is None:  # no parameters(): the values it made (a cached output) are none
            groups = [g for g in groups if not any(eng.children(v) for v in g.values)]
        if not groups:
            raise SetupError(
                f"nnfix found no {eng.cls.__name__} held by your model: nothing to check",
                "model",
            )
        layers: dict[str, int] = {}
        weighted: set[str] = set()  # the layers that have their weight
        previous = ""
        for g, key in zip(groups, _layer_keys([g.path for g in groups]), strict=True):
            vector = sum(n > 1 for n in g.shape) <= 1
            if key == g.path:  # held by the model itself (W1, b1): a bias joins its weight's
                role = "bias" if vector and previous == "weight" else "weight"
                key = f"#{len(layers) + 1}" if role == "weight" else f"#{len(layers)}"
            else:
                role = "bias" if vector and key in weighted else "weight"
            layers.setdefault(key, len(layers) + 1)
            weighted.add(key)
            previous = role
            array = np.array(
                [np.asarray(eng.value(v), dtype=np.float64) for v in g.values], dtype=np.float64
            ).reshape(g.shape)
            self.arrays[g.path] = array
            ref = Ref(g.path, self.arrays, g.path, "item")
            self.tensors.append(Param(Slot(g.path, layers[key], role), ref, g.shape))
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

    def sync(self) -> None:
        """Their values take the arrays nnfix holds (the check perturbs those in place)."""
        eng = self.engine
        for g in self.groups:
            array = self.arrays[g.path]
            if len(g.values) == 1 and isinstance(eng.value(g.values[0]), np.ndarray):
                eng.set_value(g.values[0], array)
                continue
            for v, x in zip(g.values, array.reshape(-1), strict=True):
                eng.set_value(v, np.asarray(x))

    # --- forward and loss --------------------------------------------------------------------

    def _find_engine_forms(self) -> None:
        """One sample at a time (a list of floats or of their values; for a Tensor engine the
        sample's array or their value of it) where the parameters are scalars or `per_sample:`
        says so; else the batch (an array, or their value of it), then one sample at a time."""
        self.held_arrays = isinstance(self.engine.value(self.groups[0].values[0]), np.ndarray)
        cls = self.engine.cls.__name__
        per = bool(self.impl.per_sample) or not self.held_arrays
        first: sandbox.UserCallError | None = None
        for sample in (True,) if per else (False, True):
            self.sample_form = "vector" if sample else None
            for wrap in (False, True):
                self._wrap = wrap
                try:
                    outs = self._outputs()
                except sandbox.UserCallError as exc:
                    first = first or exc
                    continue
                if outs is None:
                    continue
                if single(self.engine.value(outs[0][0])):
                    self.precision = float(np.finfo(np.float32).eps)
                    self.found.say("your engine computes in float32: checked at its precision")
                if not sample:
                    what = f"the batch, as {cls}(X)" if wrap else "the batch, as the array X"
                elif self.held_arrays:
                    what = (
                        f"one sample at a time, as {cls}(x)"
                        if wrap
                        else "one sample at a time, as an array"
                    )
                else:
                    what = (
                        f"one sample at a time, as a list of {cls}"
                        if wrap
                        else "one sample at a time, as a list of floats"
                    )
                size = (
                    len(outs[0])
                    if sample and not self.held_arrays
                    else tuple(np.shape(self.engine.value(outs[0][0])))
                )
                self.found.say(f"{what}; output {size}")
                return
        if first is not None:
            raise SetupError(
                f"your forward raised whenever nnfix called it: {first}",
                "forward",
                hint="per_sample: or arguments: say how your forward takes the data",
                trace=first.trace,
            )
        raise SetupError(f"your forward returned no {cls} (nor a list of them)", "forward")

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
            x_i = np.array(self.x[i], dtype=np.float64)
            if self.held_arrays:  # a Tensor engine one sample at a time: the sample's array
                xs: Any = eng.make(x_i) if self._wrap else x_i
            else:  # a scalar engine: a list of floats, or of their values
                row = [float(v) for v in x_i.reshape(-1)]
                xs = [eng.make(v) for v in row] if self._wrap else row
            out = _flat(self._call("forward", fn, {"X": xs}, ("X",)), eng)
            if not out or (self.held_arrays and len(out) != 1):
                return None
            outs.append(out)
        return outs

    def root_value(self) -> Any:
        """The loss as one of their values, built with their operations on their output."""
        self.sync()
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
                if self.held_arrays:
                    k = int(np.size(self.engine.value(out[0])))
                    one = self._batch_loss(out[0], spec.name, own_bind.target_row(self, i, k))
                else:
                    one = self._spec_sample_loss(
                        out, own_bind.target_row(self, i, len(out)), spec.name
                    )
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
                for r in (own_bind.target_row(self, i, k) for i in range(self.m))
            ]
        value = self._call("loss", fn, {"output": out, "Y": y, "X": self.x}, ("Y", "output"))
        if not self.engine.of(value):
            raise SetupError(
                f"your loss returned {type(value).__name__}, not a {self.engine.cls.__name__} "
                "whose backward() nnfix can call",
                "loss",
            )
        return value

    def _spec_sample_loss(self, out: list[Any], y: Array, name: str) -> Any:
        data = [float(np.asarray(self.engine.value(o))) for o in out]
        ys = [float(t) for t in y]
        if len(ys) != len(out):
            raise SetupError(
                f"your forward returns {len(out)} values for one sample; its target has {len(ys)}",
                "data",
                hint="data: targets of your output's width (or the model: call that fits them)",
            )
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

    def _batch_loss(self, out: Any, name: str, target: Array | None = None) -> Any:
        """The loss of an array-valued output (the batch's, or one sample's `target`)."""
        a = np.asarray(self.engine.value(out), dtype=np.float64)
        y = np.asarray(self.y_given(a) if target is None else target, dtype=np.float64)
        if y.size != a.size:
            raise SetupError(
                f"your forward's output has shape {a.shape}; the targets have {y.shape}",
                "data",
                hint="data: targets of your output's width (or the model: call that fits them)",
            )
        y = y.reshape(a.shape)
        if name == "mse":
            return _square(_minus(out, y)).sum()
        if name == "cce":
            rows = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
            if a.min() >= 0 and a.max() <= 1 and np.allclose(rows.sum(axis=-1), 1, atol=1e-6):
                return -((out.log() * y).sum())  # probabilities
            if callable(getattr(out, "softmax", None)):  # scores, through their softmax
                return -((out.softmax().log() * y).sum())
            # Σ log Σ e^z − Σ y z (one-hot rows), with no broadcasting their engine might lack
            lse = out.exp().sum(axis=-1, keepdims=True).log()
            return _minus(lse.sum(), (out * y).sum())
        if name == "bce":
            if a.min() > 0 and a.max() < 1:  # probabilities
                return -((out.log() * y + (out * -1.0 + 1.0).log() * (1.0 - y)).sum())
            return _minus((out.exp() + 1.0).log(), out * y).sum()  # scores: log(1 + e^z) − y z
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
        except Exception as exc:  # their operation raised (a log of 0): a U101 at their line
            if _raised_in_nnfix(exc):
                raise
            seed_numpy(self.seed)
            return sandbox.call("loss", fn)

    def gradients(self) -> Gradients:
        """.grad of every parameter after their backward() of the loss (grads zeroed first,
        the root's set to 1)."""
        eng = self.engine
        root = self._engine_call(self.root_value)
        fn = getattr(root, "backward", None)
        if not callable(fn):
            raise SetupError(f"{eng.cls.__name__} has no backward()", "engine")
        values = [v for g in self.groups for v in g.values]
        for v in values:
            eng.zero(v)
        run_backward(eng, root)
        if not self._seen_seed:  # does their backward() set the root's gradient itself?
            self._seen_seed = True
            if not any(np.any(eng.as_array(v)) for v in values):
                eng.seed_root = True
                self.found.say(
                    "your backward() leaves the loss's gradient to be set: nnfix sets it to 1"
                )
                root = self._engine_call(self.root_value)
                for v in values:
                    eng.zero(v)
                run_backward(eng, root)
        found = Gradients(where=f".{eng.grad} after loss.backward()")
        for g, p in zip(self.groups, self.tensors, strict=True):
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
    """Their root.backward(), given the root's gradient (ones) where it takes one; the root's
    gradient set to 1 first where their backward() leaves that to the caller."""
    if eng.seed_root:
        eng.set_grad(root, 1.0)
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


def _raised_in_nnfix(exc: BaseException) -> bool:
    """Was `exc` raised by nnfix's own code (not by their operation it called)?"""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    here = Path(__file__).resolve().parent.parent
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(here)


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


def _layer_keys(paths: list[str]) -> list[str]:
    """The layer each tensor belongs to: its path up to its first index (`layers[2]` for
    `layers[2].neurons[0].w`), or that index alone where parallel lists hold the layers
    (`W[1]` and `B[1]`: layer [1]); else its first attribute (`fc1` for `fc1._w`)."""
    found = [re.match(r"^([^\[]*?)(\[[^\]]*\])", p) for p in paths]
    indices: dict[str, set[str]] = {}
    for m in found:
        if m:
            indices.setdefault(m.group(1), set()).add(m.group(2))
    parallel = len(indices) > 1 and len(set.intersection(*indices.values())) > 1
    return [
        (m.group(2) if parallel else m.group(0)) if m else p.split(".")[0]
        for p, m in zip(paths, found, strict=True)
    ]


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
    if isinstance(obj, types.ModuleType | types.FunctionType | type | str | bytes | float | int):
        return
    for name, v in fields(obj).items():
        yield from _walk(v, f"{path}.{name}" if path else name, eng, seen, count)


def single(value: Any) -> bool:
    """Does one of their values compute in single precision (or less)?"""
    data = np.asarray(value)
    return data.dtype.kind == "f" and data.dtype.itemsize < 8
