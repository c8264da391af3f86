"""`step:` (SPEC §3.2 D): the call that trains in place — `train(X, y)`, a `fit(X, y, epochs)`
loop given one epoch, a per-sample `train(inputs_list, targets_list)`, or a list of calls run in
order (`["backward_propagate_error(network, Y)", "update_weights(network, X, 0.5)"]`) — run on
nnfix's batch from the same values each time, its gradient read off the update (update.py),
and everything their objects hold put back after every call (state.py).

How the samples are stepped on, so that the gradient compared is exact:
- per_sample: the step is called on each sample alone, from the same starting values; the
  per-sample gradients combine as the loss combines the samples (mean, or sum).
- otherwise the step is called on the whole batch and on each sample alone: where the whole
  batch's update is exactly the sum or the mean of the single-sample ones, it is a full-batch
  update and is read as it is (a missing 1/m stays visible, G105); where it is not, the call
  updates once per sample as it goes (an SGD loop), and the single-sample updates are combined
  as the loss combines the samples — each is the gradient of that sample's loss.
A list of calls continues from the forward: nnfix runs the forward on the same batch (or sample)
first, as a training loop's body does; one training call runs its own."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nnfix.usercode import sandbox, state, update
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

if TYPE_CHECKING:
    from nnfix.usercode.own import OwnNet

Array = np.ndarray


@dataclass
class StepCall:
    """One call of `step:`: a name bound by its parameters' names, or a call as written."""

    text: str
    fn: Callable
    call: CallSpec | None  # None: a bare name


def _calls(net: OwnNet) -> list[StepCall]:
    texts = net.impl.step if isinstance(net.impl.step, list) else [net.impl.step or ""]
    out = []
    for i, text in enumerate(texts):
        key = "step"
        try:
            call = parse_call(text, names=True)
        except CallSyntaxError as exc:
            raise SetupError(f"step[{i}]: {exc}" if len(texts) > 1 else str(exc), key) from None
        fn = net.function(call.name, key)
        bare = "(" not in text
        out.append(StepCall(text.strip(), fn, None if bare else call))
    return out


def _slice(value: Any, i: int, last: bool) -> Any:
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return value
    return value[..., i : i + 1] if last else value[i : i + 1]


class Stepper:
    """Their step on a batch or a sample, from the values their objects hold now."""

    def __init__(self, net: OwnNet):
        self.net = net
        self.calls = _calls(net)
        self.size: update.StepSize | None = None
        self.wrong: dict[str, tuple] = {}

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
                raise SetupError(f"step: no name '{name}' in your module", "step") from None
        assert isinstance(part, CallSpec)
        fn = self.net.function(part.name, "step")
        args, kwargs = part.arguments({}, self._resolve)
        return sandbox.call("step", fn, *args, **kwargs)

    def _bound(self, c: StepCall, values: dict[str, Any]) -> tuple[list, dict]:
        net = self.net
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
        try:
            return bind(
                c.fn,
                "step",
                values,
                depth=max(1, len(net.tensors) // 2),
                arguments=arguments,
                fallback=("X", "Y") if method else ("params", "X", "Y"),
            )
        except BindingError as exc:
            raise SetupError(
                str(exc), "step", hint=f"arguments: {{{exc.parameter}: <X, Y, params or a value>}}"
            ) from None

    def _step_size(self, bound: list[tuple[StepCall, list, dict]]) -> update.StepSize:
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
        if size is None:
            raise SetupError(
                "nnfix reads the gradient from your step's update (−Δparameter / step size) and "
                "found no step size in your code (a learning-rate argument, default or attribute)",
                "update_lr",
                hint="update_lr: <the learning rate your step uses>",
            )
        return size

    def run(self, values: dict[str, Any], before: dict[str, Array]) -> dict[str, Array]:
        """Their step on `values`; the change of each parameter (their objects put back by
        the caller)."""
        net = self.net
        bound = [(c, *self._bound(c, values)) for c in self.calls]
        if self.size is None:
            self.size = self._step_size(bound)
        if any(c.call is not None for c in self.calls) and net.impl.forward:
            forward = net.function(net.impl.forward, "forward")
            fallback = ("X",) if inspect.ismethod(forward) or net.root is None else ("X", "params")
            net._call("forward", forward, values, fallback)
        seed_numpy(net.seed)  # a dropout mask is the same mask at every step
        for c, args, kwargs in bound:
            sandbox.call("step", c.fn, *args, **kwargs)
        after = {p.slot.name: np.array(p.ref.get(), dtype=np.float64) for p in net.tensors}
        self.wrong.update(update.reshaped(before, after))
        return update.deltas(before, after)


def step_gradients(net: OwnNet) -> Gradients:
    """The gradient their step's update implies (−Δ / step size), with their objects as they
    were after."""
    stepper = Stepper(net)
    roots = [net.module, *([net.root] if net.root is not None else []), *net.names.values()]
    kept = state.keep(*roots)
    before = {p.slot.name: np.array(p.ref.get(), dtype=np.float64) for p in net.tensors}
    spec = net.loss_spec
    reduction = spec.reduction if spec is not None and not net.impl.loss else "mean"
    name = net.impl.step if isinstance(net.impl.step, str) else "your step calls"

    def once(values: dict[str, Any]) -> dict[str, Array]:
        kept.restore()
        try:
            return stepper.run(values, before)
        finally:
            kept.restore()

    try:
        if net.sample_form is not None and net.impl.per_sample:
            net.forward()  # each sample's output: its target's form
            singles = [once(net._sample_values(i)) for i in range(net.m)]
            moved = update.combine(singles, reduction)
            how = f"{name} on each sample alone from the same values, their {reduction}"
        else:
            out, cache = net.forward()
            values = net._values(out, cache)
            full = once(values)
            moved, how = full, f"{name} on the batch"
            last_x, last_y = net.columns, net.y_form == "columns"
            try:
                singles = [
                    once(
                        {
                            **values,
                            "X": _slice(values["X"], i, last_x),
                            "Y": _slice(values["Y"], i, last_y),
                        }
                    )
                    for i in range(net.m)
                ]
            except (sandbox.UserCallError, SetupError):
                singles = []
            relation = update.full_batch(full, singles) if len(singles) > 1 else "full"
            if relation is None:
                moved = update.combine(singles, reduction)
                how = (
                    f"{name} updates once per sample as it goes (an SGD loop): read on each "
                    f"sample alone from the same values, their {reduction}"
                )
    finally:
        kept.restore()
    assert stepper.size is not None
    net.step_size = stepper.size.value
    net.found.say(f"step size: {stepper.size.value:g} ({stepper.size.where})")
    grads = update.gradients(net.tensors, moved, stepper.size, f"the update of {how}")
    for param, (shape, want) in stepper.wrong.items():
        grads.wrong[param] = (shape, want, f"{param} after {name}")
        if param in grads.missing:
            grads.missing.remove(param)
    net.found.say(f"gradients: −Δparameter / step size, the update of {how}")
    return grads
