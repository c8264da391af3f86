"""Layer objects chained in order (SPEC §3.2 shape C) where the user's code is the network: the
calls of `layers:` make the objects, their forward methods are chained from the first to the
last, and the loss — an object, or the pair [loss, loss_prime] — starts their backward chain
from the last to the first. Each method is found by what it does when called (a forward takes
one array and returns or stores one; a backward takes the gradient above and returns or stores
the one below), names only ordering the candidates; the parameters' gradients are what the
backward stores beside them, or −Δparameter / the step size where it updates them in place."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nnfix.usercode import sandbox
from nnfix.usercode.calls import CallSyntaxError, NameRef, parameters, parse_call, role_of
from nnfix.usercode.grads import Gradients, Param, from_changes, from_value
from nnfix.usercode.layout import Layout
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.objects import Ref, first_number, is_float_array, walk

if TYPE_CHECKING:
    from nnfix.usercode.own import OwnNet

Array = np.ndarray
RANKS = (1, 8)
AS_IS = Layout(columns=False, bias="row")
LR = 0.01  # the step size nnfix gives a backward that updates its layer in place

# names only order the candidates (what a call does decides); a method whose name says it
# saves, trains or resets is never called
FORWARD: tuple[str, ...] = ("forward", "forward_propagation", "forward_prop", "forward_pass")
FORWARD += ("feedforward", "feed_forward", "fprop", "__call__", "call", "predict", "propagate")
BACKWARD: tuple[str, ...] = ("backward", "backward_propagation", "backward_prop", "backprop")
BACKWARD += ("backward_pass", "back_propagation", "backpropagate", "bprop", "gradient", "grad")
VALUE = ("calculate", "loss", "__call__", "forward", "compute", "cost", "value", "evaluate")
PRIME = ("backward", "derivative", "prime", "gradient", "grad", "backprop", "deriv", "dloss")
NEVER = re.compile(
    r"save|load|plot|show|print|train|fit|update|step|reset|init|zero|clear|summary|download|"
    r"write|read|copy|clone|set_|add|remove|regulari"
)
LEARNING_RATE = re.compile(r"^(lr|eta|alpha|learning_?rate|learningrate|rate|step_?size|lrate)$")
RATE_WORDS = re.compile(r"lr|rate|eta|alpha|step|learn")  # a second required argument's name
OUTPUT_WORDS = re.compile(r"pred|hat|out|prob|score|activation")
OWN_OUTPUT = ("output", "out", "prob", "pred", "activation")  # a loss object's own output
PENALTY = re.compile(r"regulari[sz]|penalt|decay")  # what a loss adds for a layer's weights
TARGET_WORDS = re.compile(r"true|target|label|actual|expect|real|gold|desired|^y")


@dataclass
class Method:
    """One of their methods as nnfix calls it: its name and the names it takes its arguments
    by (the one array it is given, and the learning rate where it takes one)."""

    name: str
    lr: str | None = None  # the parameter a learning rate is given as


class LayerChain:
    """Their layer objects and loss, as one forward (the batch in, the last layer's output out),
    one loss and one backward (the gradients of the parameters)."""

    def __init__(self, net: OwnNet):
        self.net = net
        self.impl = net.impl
        self.objects: list[Any] = []
        self.texts: list[str] = []
        self.forwards: list[Method | None] = []
        self.backwards: list[Method | None] = []
        self.loss_obj: Any = None
        self.value_fn: Callable | None = None  # the loss of (output, Y)
        self.prime_fn: Callable | None = None  # its gradient dL/d(output)
        self.inputs: list[Any] = []  # what each layer was given in the last forward
        self.given: dict[int, Any] = {}  # and the gradient it was given in the last backward
        self.value_method: str | None = None  # the loss object's methods, once found
        self.prime_method: str | None = None
        self.penalty_method: str | None = None  # "" where it has none

    # --- building ------------------------------------------------------------------------------

    def build(self) -> None:
        """Each layer object made by its call (seeded, as their script would), and the loss."""
        seed_numpy(self.net.seed)
        for i, text in enumerate(self.impl.layers or []):
            key = f"layers[{i}]"
            self.objects.append(self._made(text, key))
            self.texts.append(text.strip())
        self.forwards = [None] * len(self.objects)
        self.backwards = [None] * len(self.objects)
        loss = self.impl.loss
        if loss is None:
            raise SetupError(
                "layer objects need the loss that starts their backward chain",
                "loss",
                hint="loss: Loss_CategoricalCrossentropy(), or [mse, mse_prime]",
            )
        if isinstance(loss, list):
            if len(loss) != 2:
                raise SetupError(
                    f"loss: as a list is the pair [loss, loss_prime], not {len(loss)} names",
                    "loss",
                )
            self.value_fn = self._function(loss[0])
            self.prime_fn = self._function(loss[1])
            self.net.found.say(f"loss: {loss[0]}, its gradient {loss[1]} (your functions)")
        else:
            self.loss_obj = self._made(loss, "loss")
            if callable(self.loss_obj) and not _instance(self.loss_obj):  # `loss: mse` alone
                raise SetupError(
                    f"{loss} is a function: with layer objects, give it with its gradient as "
                    f"[{loss}, {loss}_prime]",
                    "loss",
                )
        what = ", ".join(self.texts[:4]) + (", …" if len(self.texts) > 4 else "")
        self.net.found.say(f"layers: {len(self.objects)} objects chained in order ({what})")

    def _made(self, text: str, key: str) -> Any:
        """What a call makes (a bare name of a class is called with no arguments)."""
        spec_key = key.split("[")[0]
        try:
            call = parse_call(text, names=True)
        except CallSyntaxError as exc:
            raise SetupError(f"{text.strip()!r}: {exc}", spec_key) from None
        if "(" not in text:
            thing = self.net._made(NameRef(call.name), spec_key)
            if not inspect.isclass(thing):
                return thing
        try:
            return self.net._made(call, spec_key)
        except sandbox.UserCallError as exc:  # the spec's call may be the one that is wrong
            raise SetupError(f"{text.strip()} raised: {exc}", spec_key, trace=exc.trace) from None

    def _function(self, name: str) -> Callable:
        return self.net.function(name.strip(), "loss")

    # --- forward -------------------------------------------------------------------------------

    def forward(self, x: Any) -> Array:
        """The batch (or one sample) through every layer's forward, in order: the last output."""
        seed_numpy(self.net.seed)  # a dropout mask is the same mask at every evaluation
        a = np.array(x) if isinstance(x, np.ndarray) else x  # what a layer keeps of it (its
        self.inputs = []  # self.input) is no view of nnfix's batch, which moving it would move
        for i, obj in enumerate(self.objects):
            self.inputs.append(a)
            a = self._forward_one(i, obj, a)
        return a

    def _forward_one(self, i: int, obj: Any, a: Any) -> Any:
        found = self.forwards[i]
        if found is not None:
            out = self._run_forward(i, obj, found, a)
            if out is None:
                raise SetupError(
                    f"{self.texts[i]}.{found.name} stopped giving an output", f"layers[{i}]"
                )
            return out
        first: sandbox.UserCallError | None = None
        tried: list[str] = []
        for method in _candidates(obj, FORWARD, ("forward", "feed", "prop", "call")):
            if _excluded(method, ("back", "grad", "deriv", "prime")):
                continue
            how = _how(getattr(obj, method), self.impl.arguments, lr=False)
            if how is None:
                continue
            tried.append(method)
            try:
                out = self._run_forward(i, obj, Method(method, None), a)
            except sandbox.UserCallError as exc:
                first = first or exc
                continue
            if out is not None:
                self.forwards[i] = Method(method, None)
                return out
        if first is not None:  # how they take the batch may be the question: the caller asks
            raise first
        raise SetupError(
            f"{self.texts[i]} has no method that takes an array and returns or keeps its output"
            + (f" (tried {', '.join(tried)})" if tried else ""),
            "layers",
            hint="output: <the attribute a forward that returns None leaves its result in>",
        )

    def _run_forward(self, i: int, obj: Any, method: Method, a: Any) -> Any:
        fn = getattr(obj, method.name)
        before = state(obj)
        value = sandbox.call(f"layers[{i}].{method.name}", fn, *_args(fn, a, self.impl.arguments))
        if isinstance(value, tuple | list) and value and is_float_array(value[0]):
            return value[0]  # (output, cache)
        if is_float_array(value):
            return value
        if self.impl.output is not None:  # `output:` names where it is left
            kept = getattr(obj, self.impl.output, None)
            if is_float_array(kept):
                return kept
        return kept_output(obj, None, before, a)

    # --- the loss ------------------------------------------------------------------------------

    def value(self, output: Array, y: Any) -> float | None:
        """Their loss of this output and these targets: the pair's first function, or the loss
        object's method that returns a number (with the penalty it adds for each layer)."""
        if self.value_fn is not None:
            return first_number(self._call_loss("loss", self.value_fn, output, y))
        number = self._data_loss(output, y)
        return None if number is None else number + sum(self.penalty(o) for o in self.objects)

    def penalty(self, layer: Any) -> float:
        """What the loss object adds for one layer (nnfs's `regularization_loss(layer)`: its
        L1/L2 terms, whose gradient the layer's backward adds), 0 where it adds nothing."""
        if self.penalty_method is None:
            self.penalty_method = self._find_penalty()
        if not self.penalty_method:
            return 0.0
        fn = getattr(self.loss_obj, self.penalty_method)
        try:
            value = first_number(sandbox.call(f"loss.{self.penalty_method}", fn, layer))
        except sandbox.UserCallError:  # a layer it does not apply to (ReLU has no weights)
            return 0.0
        return value if value is not None and np.isfinite(value) else 0.0

    def _find_penalty(self) -> str:
        """The loss object's method that takes one layer and returns a number for some layer,
        among those whose names say penalty (never one that sets or trains); "" for none."""
        for name in dir(type(self.loss_obj)):
            if name.startswith("_") or not PENALTY.search(name.lower()):
                continue
            fn = getattr(self.loss_obj, name, None)
            if not callable(fn):
                continue
            params = parameters(fn)
            if not params or len([p for p in params if p.default is p.empty]) != 1:
                continue
            for layer in self.objects:
                try:
                    value = first_number(sandbox.call(f"loss.{name}", fn, layer))
                except sandbox.UserCallError:
                    continue
                if value is not None and np.isfinite(value):
                    self.net.found.say(
                        f"loss: with {type(self.loss_obj).__name__}.{name} of each layer it "
                        "applies to added, as your training adds it"
                    )
                    return name
        return ""

    def _data_loss(self, output: Array, y: Any) -> float | None:
        obj = self.loss_obj
        if self.value_method is not None:
            fn = getattr(obj, self.value_method)
            return first_number(self._call_loss(f"loss.{self.value_method}", fn, output, y))
        first: sandbox.UserCallError | None = None
        for method in _candidates(obj, VALUE, ("loss", "cost", "calc")):
            if _excluded(method, ("back", "grad", "deriv", "prime")):
                continue
            fn = getattr(obj, method)
            if _how(fn, self.impl.arguments, lr=False, count=2) is None:
                continue
            try:
                number = first_number(self._call_loss(f"loss.{method}", fn, output, y))
            except sandbox.UserCallError as exc:
                first = first or exc
                continue
            if number is not None:
                self.value_method = method
                return number
        if first is not None:  # none gave a number: what the likeliest one raised
            raise first
        return None

    def _call_loss(self, role: str, fn: Callable, output: Array, y: Any) -> Any:
        args, kwargs = _loss_args(fn, output, y, self.impl.arguments)
        seed_numpy(self.net.seed)
        return sandbox.call(role, fn, *args, **kwargs)

    def _prime(self, output: Array, y: Any) -> Array:
        """dL/d(output) as their code computes it: the pair's second function, or the loss
        object's backward (returned, or kept on the object)."""
        if self.prime_fn is not None:
            value = self._call_loss("loss_prime", self.prime_fn, output, y)
            if is_float_array(value):
                return value
            raise SetupError(
                f"{self.impl.loss[1] if isinstance(self.impl.loss, list) else 'loss'} returned "
                f"{type(value).__name__}, not the gradient of the output",
                "loss",
            )
        obj = self.loss_obj
        output = self._own_output(output, y)
        first: sandbox.UserCallError | None = None
        found = [self.prime_method] if self.prime_method else []
        for method in found or _candidates(obj, PRIME, ("back", "deriv", "prime", "grad")):
            fn = getattr(obj, method)
            if _how(fn, self.impl.arguments, lr=False, count=2) is None:
                continue
            before = state(obj)
            try:
                value = self._call_loss(f"loss.{method}", fn, output, y)
            except sandbox.UserCallError as exc:
                first = first or exc
                continue
            if is_float_array(value) and np.shape(value) == np.shape(output):
                self.prime_method = method
                return value
            kept = _stored(obj, before, avoid=output, shape=np.shape(output))
            if kept is not None:
                self.prime_method = method
                return kept
        if first is not None:
            raise first
        raise SetupError(
            f"{type(obj).__name__} has no method that returns or keeps the gradient of the output",
            "loss",
            hint="loss: [<your loss>, <its gradient>]",
        )

    def _own_output(self, output: Array, y: Any) -> Array:
        """What the loss object's gradient is given: the network's output — or, where its own
        forward turns that into an output of its own it keeps (a softmax and cross-entropy in
        one class, whose backward takes its probabilities), that output, as their training
        loop passes it."""
        obj = self.loss_obj
        before = state(obj)
        if self.value(output, y) is None:
            return output
        ref = stored_ref(obj, before, avoid=output, shape=np.shape(output), words=OWN_OUTPUT)
        if ref is None or not any(_says(ref.leaf.lower(), w) for w in OWN_OUTPUT):
            return output
        kept = ref.get()
        if np.array_equal(kept, output):
            return output
        self.net.found.say(
            f"loss: {type(obj).__name__}'s gradient is given the output its forward keeps "
            f"({ref.path.lstrip('.')}), as your training loop gives it"
        )
        return kept

    # --- backward ------------------------------------------------------------------------------

    def gradients(self, tensors: list[Param]) -> Gradients:
        """Their backward chain on the batch (or each sample, their mean): the parameters'
        gradients, their parameters put back as they were."""
        net = self.net
        kept = [(p.ref, p.ref.get(), p.ref.get().copy()) for p in tensors]
        try:
            if net.sample_form is None:
                out, _ = net.forward()
                return self._backward(out, net.y_given(out), tensors, kept)
            net.forward()  # each sample's output, and the width of its target
            total: dict[str, Array] = {}
            last = Gradients()
            for i in range(net.m):
                values = net._sample_values(i)
                out = self.forward(values["X"])
                last = self._backward(out, values["Y"], tensors, kept)
                if last.wrong or last.missing:
                    return last
                for name, g in last.arrays.items():
                    total[name] = total.get(name, 0) + g
            last.arrays = {name: g / net.m for name, g in total.items()}
            net.found.say("gradients: the mean of your backward chain's, sample by sample")
            return last
        finally:
            _put_back(kept)

    def _backward(self, out: Array, y: Any, tensors: list[Param], kept: list) -> Gradients:
        d: Any = self._prime(out, y)
        before = [state(obj) for obj in self.objects]
        rates: dict[int, float | None] = {}
        returned: dict[int, list] = {}  # what a backward returned beside dL/d(input), placed
        for i in range(len(self.objects) - 1, -1, -1):
            obj = self.objects[i]
            method = self._backward_method(i, obj)
            fn = getattr(obj, method.name)
            snap = state(obj)
            self.given[i] = d
            args = _args(fn, d, self.impl.arguments, lr=(method.lr, LR))
            seed_numpy(self.net.seed)
            value = sandbox.call(f"layers[{i}].{method.name}", fn, *args)
            rates[i] = LR if method.lr else self.impl.update_lr or self._own_rate(i, obj)
            given = self.inputs[i]
            value, returned[i] = split_returned(value, given)
            if i == 0:
                break
            d = kept_input_gradient(obj, value, snap, given)
            if d is None:
                raise SetupError(
                    f"{self.texts[i]}.{method.name} returned no array of its input's shape "
                    f"{np.shape(given)} and kept none: nnfix has no gradient to give the layer "
                    "below",
                    "layers",
                )
        return self._read(tensors, kept, before, rates, returned)

    def _own_rate(self, i: int, obj: Any) -> float | None:
        """The step size a layer that updates itself keeps on itself (`self.lr = 0.1`), where it
        keeps exactly one number under such a name; None where it keeps none."""
        rates = [
            (name, float(value))
            for name, value in (vars(obj).items() if hasattr(obj, "__dict__") else [])
            if LEARNING_RATE.match(name.lower())
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and value > 0
        ]
        if len(rates) != 1:
            return None
        name, rate = rates[0]
        self.net.found.say(f"step size: {self.texts[i]}'s own {name} = {rate:g}")
        return rate

    def _backward_method(self, i: int, obj: Any) -> Method:
        if self.backwards[i] is not None:
            return self.backwards[i]  # type: ignore[return-value]
        for method in _candidates(obj, BACKWARD, ("back", "bprop", "grad")):
            if _excluded(method, ("forward",)):
                continue
            how = _how(getattr(obj, method), self.impl.arguments, lr=True)
            if how is not None:
                self.backwards[i] = Method(method, how)
                return self.backwards[i]  # type: ignore[return-value]
        named = next(iter(_candidates(obj, BACKWARD, ("back", "bprop", "grad"))), None)
        extra = [p.name for p in (parameters(getattr(obj, named)) or [])[1:]] if named else []
        raise SetupError(
            f"{self.texts[i]} has no backward method nnfix can call with the gradient above it"
            + (f" ({named} also takes {', '.join(extra)})" if extra else ""),
            "layers",
            hint=f"arguments: {{{extra[0]}: <a value>}}" if extra else None,
        )

    def _read(
        self,
        tensors: list[Param],
        kept: list,
        before: list[State],
        rates: dict[int, float | None],
        returned: dict[int, list] | None = None,
    ) -> Gradients:
        """The gradients: −Δ / the step size of each parameter their backward moved, the arrays
        it stored beside the others (layer by layer); the parameters are put back."""
        out = Gradients()
        updated: list[str] = []
        rate = LR
        for p, (_, array, values) in zip(tensors, kept, strict=True):
            now = p.ref.get()
            if now is array and np.array_equal(now, values):
                continue
            layer = _layer_of(p)
            lr = rates.get(layer)
            if lr is None:
                raise SetupError(
                    f"the backward of {self.texts[layer]} updates {p.slot.name} in place without "
                    "taking a learning rate: nnfix reads the gradient from the update, given its "
                    "step size",
                    "update_lr",
                    hint="update_lr: <the learning rate that update uses>",
                )
            if np.shape(now) != values.shape:  # `b = b - lr * dZ`: b became a matrix
                out.wrong[p.slot.name] = (tuple(np.shape(now)), p.shape, p.ref.path)
            else:
                delta = np.asarray(now, dtype=np.float64) - np.asarray(values, dtype=np.float64)
                out.arrays[p.slot.name] = -delta / lr
                rate = lr
            out.paths[p.slot.name] = p.ref.path
            out.raw[p.slot.name] = np.array(now)
            out.holders[p.slot.name] = (id(p.ref.owner), p.ref.key)
            updated.append(p.slot.name)
        _put_back(kept)
        for i, obj in enumerate(self.objects):
            mine = [p for p in tensors if _layer_of(p) == i and p.slot.name not in updated]
            if not mine:
                continue
            found = None
            if returned and returned.get(i):  # in the order of the layer's parameters
                method = self.backwards[i]
                call = f"layers[{i}].{method.name if method else 'backward'}(…)"
                places = [k for k, _ in returned[i]]
                found = from_value([v for _, v in returned[i]], mine, AS_IS, what=call)

                def placed(path: str, call: str = call, places: list = places) -> str:
                    k = re.fullmatch(r"\[(\d+)\]", path)  # its place in their return value
                    return call + (f"[{places[int(k[1])]}]" if k else path)

                if found is not None:  # `layers[0].backward(…)[2]`
                    found.paths = {n: placed(path) for n, path in found.paths.items()}
                    found.wrong = {n: (a, b, placed(w)) for n, (a, b, w) in found.wrong.items()}
            if found is None:
                found = from_changes(_changed(obj, before[i], f"layers[{i}]"), mine, AS_IS)
            if found is None:
                continue
            for name in ("arrays", "wrong", "paths", "raw", "holders"):
                getattr(out, name).update(getattr(found, name))
        out.missing = [
            p.slot.name
            for p in tensors
            if p.slot.name not in out.arrays and p.slot.name not in out.wrong
        ]
        out.from_update = bool(updated) and len(updated) == len(tensors)
        if updated:
            out.where = f"the update your layers' backward makes with learning rate {rate:g}"
            self.net.step_size = rate  # what an update that climbs is said to move by
        else:
            where = ", ".join(list(out.paths.values())[:4])
            out.where = f"what your layers' backward gives: {where}"
        return out


# --- finding and calling methods ---------------------------------------------------------------


def forward_name(obj: Any) -> str | None:
    """The method of a layer object most likely its forward, by name (calling it decides)."""
    names = _candidates(obj, FORWARD, ("forward", "feed", "prop", "call"))
    return next((n for n in names if not _excluded(n, ("back", "grad", "deriv", "prime"))), None)


def backward_name(obj: Any) -> str | None:
    """The method of a layer object most likely its backward, by name."""
    names = _candidates(obj, BACKWARD, ("back", "bprop", "grad"))
    return next((n for n in names if not _excluded(n, ("forward",))), None)


def prime_name(obj: Any) -> str | None:
    """The method of a loss object most likely the gradient of its output, by name."""
    return next(iter(_candidates(obj, PRIME, ("back", "deriv", "prime", "grad"))), None)


def split_returned(value: Any, given: Any) -> tuple[Any, list]:
    """What a layer's backward returned as (dL/d(input), the rest with their places in it):
    cs231n's (dx, dw, db) is dx and [(1, dw), (2, db)]; a single array is itself and nothing."""
    if not isinstance(value, tuple | list):
        return value, []
    first = next((v for v in value if is_float_array(v) and v.shape == np.shape(given)), None)
    return first, [(k, v) for k, v in enumerate(value) if v is not first]


def kept_output(obj: Any, value: Any, before: State, given: Any) -> Array | None:
    """What a layer's forward gave: the array it returned, else the one it left on itself
    (`self.output`) — set or changed by the call, not the input it was given; of an
    (output, cache) pair, the output."""
    if isinstance(value, tuple | list) and value and is_float_array(value[0]):
        value = value[0]
    if is_float_array(value):
        return value
    return _stored(obj, before, avoid=given, words=("out", "output", "a", "y", "activation"))


def kept_input_gradient(obj: Any, value: Any, before: State, given: Any) -> Array | None:
    """What a layer's backward passes down: the array of its input's shape it returned, else
    the one it left on itself (`self.dinputs`)."""
    if is_float_array(value) and np.shape(value) == np.shape(given):
        return value
    return _stored(obj, before, avoid=given, shape=np.shape(given), words=("d", "grad", "delta"))


def _instance(value: Any) -> bool:
    return not inspect.isroutine(value) and not inspect.isclass(value)


def _candidates(obj: Any, names: tuple[str, ...], words: tuple[str, ...]) -> list[str]:
    """The methods of `obj` that may be the one wanted: the usual names first, then the other
    methods whose names hold one of `words`; never one that saves, trains or resets."""
    out = [n for n in names if callable(getattr(obj, n, None))]
    if "__call__" in out and type(obj).__call__ is object.__call__:
        out.remove("__call__")
    for name in dir(type(obj)):
        if name.startswith("_") or name in out:
            continue
        if any(w in name.lower() for w in words) and callable(getattr(obj, name, None)):
            out.append(name)
    return [n for n in out if not NEVER.search(n.lower()) or n in names]


def _excluded(name: str, words: tuple[str, ...]) -> bool:
    return any(w in name.lower() for w in words)


def _how(fn: Callable, arguments: dict, lr: bool, count: int = 1) -> str | None:
    """Can nnfix call `fn` with `count` arrays (and a learning rate where `lr`)? The name of its
    learning-rate parameter ("" where it takes none); None where it needs what nnfix lacks."""
    params = parameters(fn)
    if params is None:
        return ""
    required = [p for p in params if p.default is p.empty and p.name not in arguments]
    rate = next((p.name for p in params[count:] if LEARNING_RATE.match(p.name.lower())), None)
    if lr and rate is None and len(required) == count + 1:
        second = required[count].name  # backward(grad, learningRate): the step size by its name
        rate = second if RATE_WORDS.search(second.lower()) else None
    rest = [p for p in required[count:] if p.name != rate]
    if len(required) < count and len([p for p in params if p.name not in arguments]) < count:
        return None
    if rest:
        return None
    return rate or ""


def _args(fn: Callable, a: Any, arguments: dict, lr: tuple[str | None, float] = (None, 0.0)):
    """Positional arguments: the array first, then each parameter `arguments:` settles or the
    learning rate, in order (the rest keep their defaults)."""
    params = parameters(fn) or []
    out = [a]
    for p in params[1:]:
        if p.name in arguments:
            out.append(arguments[p.name])
        elif lr[0] and p.name == lr[0]:
            out.append(lr[1])
        else:
            break
    return out


def _loss_args(fn: Callable, output: Array, y: Any, arguments: dict):
    """The output and the targets, each to the parameter its name (or `arguments:`) says; where
    no name says, the output first only when one of the two is named."""
    params = parameters(fn) or []
    roles: list[str | None] = []
    for p in params:
        given = arguments.get(p.name)
        if given in ("output", "Y"):
            roles.append(given)
            continue
        if given is not None:
            roles.append("literal")
            continue
        low = p.name.lower()
        named = role_of(low, "loss", 1)
        if named not in ("output", "Y"):
            named = (
                "Y"
                if TARGET_WORDS.search(low)
                else "output"
                if OUTPUT_WORDS.search(low) or low.startswith("d")
                else None
            )
        roles.append(named)
    required = [i for i, p in enumerate(params) if p.default is p.empty or roles[i] is not None]
    picked = [roles[i] for i in required[:2]]
    if len(required) >= 2 and picked.count(None) == 1:  # one named: the other is the other
        other = "Y" if "output" in picked else "output"
        roles[required[picked.index(None)]] = other
    elif len(required) >= 2 and picked.count(None) == 2:
        names = ", ".join(params[i].name for i in required[:2])
        raise SetupError(
            f"{getattr(fn, '__qualname__', fn)}({names}): nnfix cannot tell which is the output "
            "and which the targets (a swap would flip the sign of a gradient)",
            "arguments",
            hint=f"arguments: {{{params[required[0]].name}: output, {params[required[1]].name}: Y}}",
        )
    args: list = []
    kwargs: dict = {}
    values = {"output": output, "Y": y}
    for p, r in zip(params, roles, strict=True):
        if r is None and p.default is p.empty:  # a third argument no name settles
            raise SetupError(
                f"{getattr(fn, '__qualname__', fn)}: cannot tell what to pass as '{p.name}'",
                "arguments",
                hint=f"arguments: {{{p.name}: <a value>}}",
            )
        if r in values:
            kwargs[p.name] = values[r]
        elif r == "literal":
            kwargs[p.name] = arguments[p.name]
    if any(p.kind == p.POSITIONAL_ONLY for p in params):
        args = [kwargs.pop(p.name) for p in params if p.name in kwargs]
    return args, kwargs


# --- what a call kept on its object -------------------------------------------------------


State = dict[str, tuple[int, Array, Array]]


def state(obj: Any) -> State:
    """Each float array on `obj` by path: its identity, a copy of its values, and the array
    itself, held so that no new array takes its identity while the state lives (a call that
    sets an equal array in a freed one's place would otherwise look unchanged)."""
    return {r.path: (id(r.get()), r.get().copy(), r.get()) for r in walk(obj, "", ranks=RANKS)}


def _changed(obj: Any, before: State, name: str) -> list[Ref]:
    """The arrays on `obj` a call set or changed (named from `name`)."""
    out = []
    for r in walk(obj, name, ranks=RANKS):
        old = before.get(r.path[len(name) :])
        value = r.get()
        if old is None or old[0] != id(value) or old[1].shape != value.shape:
            out.append(r)
        elif not np.array_equal(old[1], value, equal_nan=True):
            out.append(r)
    return out


def _stored(
    obj: Any,
    before: State,
    avoid: Any,
    shape: tuple[int, ...] | None = None,
    words: tuple[str, ...] = (),
) -> Array | None:
    """The array a call left on `obj` as its result (a forward's `self.output`, a backward's
    `self.dinputs`): set or changed by it, not the array it was given, of `shape` where given;
    one whose name holds one of `words` first, else the last one set."""
    ref = stored_ref(obj, before, avoid, shape, words)
    return None if ref is None else ref.get()


def stored_ref(
    obj: Any,
    before: State,
    avoid: Any,
    shape: tuple[int, ...] | None = None,
    words: tuple[str, ...] = (),
) -> Ref | None:
    """Where `_stored` finds it: its path on `obj` (`.dinputs`)."""
    found = [
        r
        for r in _changed(obj, before, "")
        if r.get() is not avoid
        and (shape is None or np.shape(r.get()) == shape)
        and role_of(r.leaf, "forward", 1) != "X"
    ]
    if not found:
        return None
    named = [r for r in found if any(_says(r.leaf.lower(), w) for w in words)]
    return (named or found)[-1]


def _says(leaf: str, word: str) -> bool:
    if len(word) == 1:
        return leaf == word or (leaf.startswith(word) and not leaf.startswith(("data", "dim")))
    return word in leaf


def _layer_of(p: Param) -> int:
    match = re.match(r"layers\[(\d+)\]", p.ref.path)
    return int(match[1]) if match else -1


def _put_back(kept: list) -> None:
    for ref, array, values in kept:
        ref.set(array)
        if array.shape == values.shape:
            array[...] = values
