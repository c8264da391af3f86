"""`step:` (SPEC §3.2 D): the call that trains in place — `train(X, y)`, a `fit(X, y, epochs)`
loop given one epoch, a per-sample `train(inputs_list, targets_list)`, or a list of calls run in
order (`["backward_propagate_error(network, Y)", "update_weights(network, X, 0.5)"]`) — run on
nnfix's batch from the same values each time, its gradient read off the update (update.py),
and everything their objects hold put back after every call (state.py).

How the samples are stepped on, so that the gradient compared is exact:
- per_sample: the step is called on each sample alone, from the same starting values; the
  per-sample gradients combine as the loss combines the samples (mean, or sum).
- otherwise the step is called on the whole batch and on each sample alone. Where the whole
  batch's update is exactly the sum or the mean of the single-sample ones, it is a full-batch
  update and is read as it is (a missing 1/m stays visible, G105). Where its update on two
  samples is exactly its update on one followed by its update on the other, it updates once per
  sample as it goes (an SGD loop): the single-sample updates are combined as the loss combines
  the samples — each is the gradient of that sample's loss. Otherwise (the samples interact: a
  batch mean, a batchnorm) the whole batch's update is read as it is.
A list of calls continues from the forward: nnfix runs the forward on the same batch (or sample)
first, as a training loop's body does; one training call runs its own."""

from __future__ import annotations

import ast
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nnfix.usercode import sandbox, state, update
from nnfix.usercode.binding import said
from nnfix.usercode.calls import (
    BindingError,
    CallSpec,
    CallSyntaxError,
    NameRef,
    bind,
    parameters,
    parse_call,
)
from nnfix.usercode.grads import Gradients
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.stepsize import misfit_steps, step_size_of_run

if TYPE_CHECKING:
    from nnfix.usercode.own import OwnNet

Array = np.ndarray


@dataclass
class StepCall:
    """One call of `step:`: a name bound by its parameters' names, or a call as written."""

    text: str
    fn: Callable
    call: CallSpec | None  # None: a bare name
    node: ast.Call | None = None  # a call whose arguments are expressions (`X[0]`)


def _calls(net: OwnNet) -> list[StepCall]:
    texts = net.impl.step if isinstance(net.impl.step, list) else [net.impl.step or ""]
    out = []
    for i, text in enumerate(texts):
        key = "step"
        try:
            call = parse_call(text, names=True)
        except CallSyntaxError as exc:
            node = _expression_call(text)
            if node is None:
                where = f"step[{i}]: " if len(texts) > 1 else ""
                raise SetupError(f"{where}{exc}", key) from None
            name = ast.unparse(node.func)
            out.append(StepCall(text.strip(), net.function(name, key), None, node))
            continue
        fn = net.function(call.name, key)
        bare = "(" not in text
        out.append(StepCall(text.strip(), fn, None if bare else call))
    return out


def _expression_call(text: str) -> ast.Call | None:
    """`lstm_net.x_list_add(X[0])`: a call of a dotted name whose arguments are Python
    expressions of the batch and the names the statements bound (evaluated at each call)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return node if isinstance(func, ast.Name) else None


def _part(value: Any, rows: list[int], last: bool) -> Any:
    """The samples `rows` of a batch given as an array (along its last axis for columns)."""
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return value
    return value[..., rows] if last else value[rows]


def _sequential(
    stepper: Stepper,
    kept: state.Kept,
    before: dict[str, Array],
    part: Callable[[list[int]], dict[str, Any]],
) -> bool:
    """Does the step update once per sample as it goes (an SGD loop)? Exactly when its update
    on two samples is its update on the first followed by its update on the second (in either
    order, for a loop that shuffles); a full-batch update whose samples interact (a batch's
    mean, a batchnorm) is not, and is read as it is."""
    try:
        kept.restore()
        pair = stepper.run(part([0, 1]), before)
        for order in ([0], [1]), ([1], [0]):
            kept.restore()
            stepper.run(part(order[0]), before)
            if update.same(pair, stepper.run(part(order[1]), before)):
                return True
        return False
    except (sandbox.UserCallError, SetupError):
        return False
    finally:
        kept.restore()


class Stepper:
    """Their step on a batch or a sample, from the values their objects hold now."""

    def __init__(self, net: OwnNet):
        self.net = net
        self.calls = _calls(net)
        self.size: update.StepSize | None = None
        self.wrong: dict[str, tuple] = {}
        self.said: set[str] = set()  # the calls whose binding the header has said

    # --- one run ---------------------------------------------------------------------------

    def _resolve(self, part: Any) -> Any:
        if isinstance(part, NameRef):
            name = part.name
            head, _, rest = name.partition(".")
            if head in self.net.names:
                value = self.net.names[head]
                for attr in rest.split(".") if rest else []:
                    value = getattr(value, attr)
                return value
            try:
                return self.net._get(self.net.module, name)
            except AttributeError:
                if name == "params" and self.net.root is not None:
                    return self.net.root  # the placeholder: what `model:` made
                raise SetupError(f"step: no name '{name}' in your module", "step") from None
        assert isinstance(part, CallSpec)
        fn = self.net.function(part.name, "step")
        args, kwargs = part.arguments({}, self._resolve)
        return sandbox.call("step", fn, *args, **kwargs)

    def _evaluated(self, c: StepCall, values: dict[str, Any]) -> tuple[list, dict]:
        assert c.node is not None
        scope = {**vars(self.net.module), **self.net.names, "X": values["X"]}
        if "Y" in values:
            scope["Y"] = values["Y"]

        def value(node: ast.expr) -> Any:
            code = compile(ast.Expression(node), f"<implementation.step: {c.text}>", "eval")
            return sandbox.call("step", eval, code, scope)

        args = [value(a) for a in c.node.args if not isinstance(a, ast.Starred)]
        kwargs = {k.arg: value(k.value) for k in c.node.keywords if k.arg}
        return args, kwargs

    def _bound(self, c: StepCall, values: dict[str, Any]) -> tuple[list, dict]:
        net = self.net
        if c.node is not None:
            return self._evaluated(c, values)
        if c.call is not None:
            return c.call.arguments(values, self._resolve)
        arguments: dict[str, Any] = {}
        for p in parameters(c.fn) or []:
            if p.name.lower() in update.EPOCH_NAMES:
                arguments[p.name] = 1  # one pass over nnfix's batch
            elif p.name in net.names and not isinstance(net.names[p.name], np.ndarray):
                arguments[p.name] = net.names[p.name]
        arguments.update(net.impl.arguments)
        method = inspect.ismethod(c.fn)
        record: dict[str, str] = {}
        try:
            bound = bind(
                c.fn,
                "step",
                values,
                depth=max(1, len(net.tensors) // 2),
                arguments=arguments,
                fallback=("X", "Y") if method else ("params", "X", "Y"),
                record=record,
            )
        except BindingError as exc:
            raise SetupError(
                str(exc), "step", hint=f"arguments: {{{exc.parameter}: <X, Y, params or a value>}}"
            ) from None
        if c.text not in self.said and record:  # how the call was bound, once, in the header
            self.said.add(c.text)
            for name in record:
                if name in arguments and name not in net.impl.arguments:
                    record[name] = repr(arguments[name])  # the epochs nnfix gives: one
            net.found.say(f"arguments of {said(c.fn, record, {})}")
        return bound

    def _step_size(
        self, bound: list[tuple[StepCall, list, dict]], values: dict[str, Any]
    ) -> update.StepSize:
        net = self.net
        if net.impl.update_lr:
            return update.StepSize(float(net.impl.update_lr), "update_lr: in the spec")
        for c, args, kwargs in bound:
            size = update.step_size_of_call(c.fn, args, kwargs, c.text)
            if size is not None:
                return size
        owners: list[tuple[str, Any]] = []
        for c, _, _ in bound:
            owner = getattr(c.fn, "__self__", None)
            if owner is not None and not isinstance(owner, types.ModuleType):
                owners.append((net.root_name or type(owner).__name__, owner))
        if net.root is not None:
            owners.append((net.root_name or type(net.root).__name__, net.root))
        owners += [(k, v) for k, v in net.names.items() if not isinstance(v, np.ndarray)]
        owners.append(("", net.module))
        size = update.step_size_of_objects(owners)
        if size is None:  # an expression (`lr = 1 / epoch`): its value when the update ran
            kept = state.keep(*_roots(net))
            try:
                size = step_size_of_run(
                    lambda: self.invoke(values, sized=False),
                    lambda: [p.ref.get() for p in net.tensors],
                )
            finally:
                kept.restore()
        if size is None:
            raise SetupError(
                "nnfix reads the gradient from your step's update (−Δparameter / step size) and "
                "found no step size in your code (a learning-rate argument, default or attribute)",
                "update_lr",
                hint="update_lr: <the learning rate your step uses>",
            )
        return size

    def invoke(self, values: dict[str, Any], sized: bool = True) -> float | None:
        """Their step calls on `values`, in order (a list after the forward); the first number
        they return (the loss a training call returns, at the values it started from)."""
        net = self.net
        bound = [(c, *self._bound(c, values)) for c in self.calls]
        if sized and self.size is None:
            self.size = self._step_size(bound, values)
        if any(c.call is not None or c.node is not None for c in self.calls) and net.impl.forward:
            forward = net.function(net.impl.forward, "forward")
            fallback = ("X",) if inspect.ismethod(forward) or net.root is None else ("X", "params")
            net._call("forward", forward, values, fallback)
        seed_numpy(net.seed)  # a dropout mask is the same mask at every step
        returned: float | None = None
        for c, args, kwargs in bound:
            value = sandbox.call("step", c.fn, *args, **kwargs)
            if returned is None:
                returned = _first_number(value)
        return returned

    def run(self, values: dict[str, Any], before: dict[str, Array]) -> dict[str, Array]:
        """Their step on `values`; the change of each parameter (their objects put back by
        the caller)."""
        net = self.net
        self.invoke(values)
        after = {p.slot.name: _numbers(p.slot.name, p.ref.get()) for p in net.tensors}
        for param, shapes in update.reshaped(before, after).items():
            self.wrong.setdefault(param, shapes)  # as the first (the whole batch's) left it
        return update.deltas(before, after)


def _numbers(name: str, value: Any) -> Array:
    """A parameter as their step left it, as float64; one it turned into something that is not
    numbers (`self.b1 = 'b1'`) is their code's error (U101), never nnfix's."""
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        shown = type(value).__name__
        raise sandbox.UserCallError(
            "step", f"your step left {name} as {shown} {str(value)[:40]!r}, not numbers"
        ) from None


def _first_number(value: Any) -> float | None:
    if isinstance(value, tuple | list) and value:
        value = value[0]
    if value is None or isinstance(value, bool):
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


def _misfits(
    net: OwnNet, stepper: Stepper, kept: state.Kept, values: dict[str, Any]
) -> Gradients | None:
    """Where their step raised on an in-place update of a parameter by a step of another shape
    (`b -= lr * db` with db per sample: the seed-003 bias), that step's shape is the gradient's:
    a G103 of their code, never a U101 (SPEC §3.4); the other parameters are not read (the step
    stopped there)."""
    kept.restore()
    try:
        found = misfit_steps(
            lambda: stepper.invoke(values), lambda: [p.ref.get() for p in net.tensors]
        )
    finally:
        kept.restore()
    if not found:
        return None
    name = net.impl.step if isinstance(net.impl.step, str) else "your step calls"
    grads = Gradients(where=f"the update of {name} on the batch", from_update=True)
    for i, shape in found.items():
        p = net.tensors[i]
        grads.wrong[p.slot.name] = (shape, p.shape, f"{name}'s update of {p.slot.name}")
        grads.paths[p.slot.name] = p.ref.path
    net.found.say(f"gradients: {name} stopped at an update by a step of another shape")
    return grads


def _roots(net: OwnNet) -> list[Any]:
    return [net.module, *([net.root] if net.root is not None else []), *net.names.values()]


def reduction(net: OwnNet) -> str:
    """How the loss combines the samples: the spec's reduction where its loss is the truth, else
    their mean."""
    spec = net.loss_spec
    return spec.reduction if spec is not None and not net.impl.loss and net.impl.forward else "mean"


def step_loss(net: OwnNet) -> float:
    """Where there is no forward: the loss their step returns, from the values their objects
    hold now (each sample from the same values), combined as the loss combines the samples;
    their objects put back after each call."""
    stepper = Stepper(net)
    losses = []
    samples = (
        [net._sample_values(i) for i in range(net.m)] if net.impl.per_sample else [net._values()]
    )
    for values in samples:
        kept = state.keep(*_roots(net))
        try:
            value = stepper.invoke(values, sized=False)
        finally:
            kept.restore()
        if value is None:
            raise SetupError(
                "with no forward, nnfix measures the loss your step returns, and it returned no "
                "number",
                "forward",
                hint="forward: <the function that computes your network's output>",
            )
        losses.append(value)
    return float(np.sum(losses) if reduction(net) == "sum" else np.mean(losses))


def step_gradients(net: OwnNet) -> Gradients:
    """The gradient their step's update implies (−Δ / step size), with their objects as they
    were after."""
    stepper = Stepper(net)
    kept = state.keep(*_roots(net))
    before = {p.slot.name: np.array(p.ref.get(), dtype=np.float64) for p in net.tensors}
    combined = reduction(net)
    name = net.impl.step if isinstance(net.impl.step, str) else "your step calls"

    def once(values: dict[str, Any]) -> dict[str, Array]:
        kept.restore()
        try:
            return stepper.run(values, before)
        finally:
            kept.restore()

    def singly() -> tuple[dict[str, Array], str]:
        if net.impl.forward:
            net.forward()  # each sample's output: its target's form
        singles = [once(net._sample_values(i)) for i in range(net.m)]
        return (
            update.combine(singles, combined),
            f"{name} on each sample alone from the same values, their {combined}",
        )

    try:
        if net.impl.per_sample:
            moved, how = singly()
        else:
            values = net._values(*net.forward()) if net.impl.forward else net._values()
            try:
                full = once(values)
            except sandbox.UserCallError:
                misfits = _misfits(net, stepper, kept, values)
                if misfits:
                    return misfits
                if net.sample_form is None:
                    raise
                full = None  # their forward takes one sample (found by calling it): so does
                moved, how = singly()  # their step, where the batch raises
        if not net.impl.per_sample and full is not None:
            moved, how = full, f"{name} on the batch"
            last_x, last_y = net.columns, net.y_form == "columns"

            def part(rows: list[int]) -> dict[str, Any]:
                pick = [_part(values[k], rows, last) for k, last in (("X", last_x), ("Y", last_y))]
                return {**values, "X": pick[0], "Y": pick[1]}

            try:
                singles = [once(part([i])) for i in range(net.m)]
            except (sandbox.UserCallError, SetupError):
                singles = []
            relation = update.full_batch(full, singles) if len(singles) > 1 else "full"
            if relation is None and _sequential(stepper, kept, before, part):
                if not net.impl.forward:
                    raise SetupError(
                        f"{name} updates once per sample as it goes (an SGD loop): the loss it "
                        "returns is not the loss at one set of values, and nnfix needs your "
                        "forward to measure it",
                        "forward",
                        hint="forward: <the function that computes your network's output>",
                    )
                moved = update.combine(singles, combined)
                how = (
                    f"{name} updates once per sample as it goes (an SGD loop): read on each "
                    f"sample alone from the same values, their {combined}"
                )
    finally:
        kept.restore()
    assert stepper.size is not None
    net.step_size = stepper.size.value
    net.found.say(f"step size: {stepper.size.value:g} ({stepper.size.where})")
    grads = update.gradients(net.tensors, moved, stepper.size, f"the update of {how}")
    for param, (shape, want) in stepper.wrong.items():
        grads.wrong[param] = (shape, want, f"{name}'s update of {param}")
        if param in grads.missing:
            grads.missing.remove(param)
    net.found.say(f"gradients: −Δparameter / step size, the update of {how}")
    return grads
