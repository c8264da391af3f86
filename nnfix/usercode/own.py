"""The user's code as the network (SPEC §3.1): with no `model:` in the spec, nnfix learns the
network by running the code on a small batch — which float arrays are the parameters (the ones
that move the loss), what the forward returns, the loss (theirs, or the spec's of their output),
and the gradients the backward returns or stores — with no layer type known to it. The truth
the checks compare with is the derivative of that loss of their forward.

Every call into their code goes through `sandbox.call` (a UserCallError, U101, with their
traceback); what nnfix cannot work out is a SetupError naming the key that settles it.

OwnNet here is the facade; the work is in own_find (the model, the forms, the parameters),
own_bind (the arguments of each call), own_run (the forward and the loss) and own_grads (the
gradients). forward, loss, gradients, targets_held, _labels and _candidates are called through
the object, never the module, as ScriptNet and EngineNet answer them their own way."""

from __future__ import annotations

import ast
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnfix.spec.model import ImplementationSpec, LossSpec
from nnfix.usercode import own_bind, own_find, own_grads, own_run, sandbox
from nnfix.usercode.calls import CallSyntaxError, NameRef, parse_call
from nnfix.usercode.chain import LayerChain
from nnfix.usercode.grads import Gradients, Param
from nnfix.usercode.model import SetupError, seed_numpy
from nnfix.usercode.objects import ListRef, Ref, walk
from nnfix.usercode.sequences import return_names
from nnfix.usercode.statements import run_statements

Array = np.ndarray
SAMPLES = 8  # samples their code is checked on


@dataclass
class Found:
    """What was found of their code, for the report's header."""

    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


def _expression(text: str) -> bool:
    """Is `model:` an expression other than a call (a list of layer calls)?"""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return False
    return not isinstance(node, ast.Call | ast.Name | ast.Attribute)


class OwnNet:
    """Their code on a batch: `tensors` (the parameters, in the order their model holds them),
    `loss()` at the values those arrays hold, `gradients()` as their code gives them."""

    def __init__(
        self,
        impl: ImplementationSpec,
        module: types.ModuleType,
        x: Array,
        y: Array,
        loss: LossSpec | None,
        seed: int = 0,
    ):
        self.impl, self.module, self.loss_spec, self.seed = impl, module, loss, seed
        self.x, self.y = x, y  # rows: (m, …) inputs; (m,) labels or (m, k) targets
        self.m = len(x)
        self.found = Found()
        self.root: Any = None  # what `model:` made (a container of arrays or an object)
        self.columns = False  # X given as (features, m)
        self.y_form = "rows"  # the targets as their output holds them: rows | columns | labels
        self.tensors: list[Param] = []
        self._cache: Any = None  # what their forward returned beside the output
        self.sample_form: str | None = None  # per sample: one x as a column (n, 1) or a vector
        self._outs: list[tuple[Array, Any]] = []  # per sample: each one's output and cache
        self.loss_by_backward = False  # their backward returns (loss, grads): that loss is L
        self.chain: LayerChain | None = None  # `layers:`: their layer objects, chained
        self.names: dict[str, Any] = {}  # what `model:`'s statements bound, by name
        self.root_name = ""  # the name the root is bound to, where known (`network`)
        self.step_size: float | None = None  # the step size of `step:`'s update, once read
        self.sample_labels = False  # per sample: Y as the integer class label
        self._pairs: str | None = None  # their loss's parameter that takes [[x, y], …]
        self.as_lists = False  # per sample: X and Y given as Python lists (their weights are)
        self.loss_in_forward = False  # their forward returns (loss, grads…): that loss is L
        self.y_oriented = False  # a forward that takes Y takes it as X is laid out: (1, m)
        self.zeros: Array | None = None  # the `zeros` placeholder: an initial state
        self._item_names: list[
            str | None
        ] = []  # a returned tuple's items, as its return names them
        self._named: dict[int, dict[str, Any]] = {}  # per sample: what the forward returned
        self._losses: list[float] = []  # per sample: the loss each forward returned
        self._returned: dict[str, Any] = {}  # the batch: what the forward returned, by name
        self._out_name: str | None = None  # the name its return statement gives the output
        self.out_form = "rows"  # how their output holds the samples: rows | columns
        self._bound: set[str] = set()  # the functions whose arguments the header has said
        self._carried: dict[str, str] = {}  # a parameter name an earlier call gave their
        # parameters to (`p` of forward(X, p)): the same in every later call (backward(X, y, p))
        self._slopes: dict[tuple, tuple[Array, float] | None] = {}  # per tensor and values
        self._probabilities_given = False  # their backward takes the probabilities of scores
        self._settled: dict[str, dict[str, str]] = {}  # per function: arguments settled by values

    # --- their names ---------------------------------------------------------------------------

    def _get(self, base: Any, name: str) -> Any:
        value = base
        for part in name.split("."):
            value = getattr(value, part)
        return value

    def function(self, name: str, key: str) -> Callable:
        """A method (or an attribute's method: `cost.fn`) of their model, else a function of
        their module."""
        bases = [self.root] if self.root is not None else []
        bases += [types.SimpleNamespace(**self.names)] if self.names else []
        for base in [*bases, self.module]:
            try:
                value = self._get(base, name)
            except AttributeError:
                continue
            if callable(value):
                return value
        where = "your model or your module" if self.root is not None else "your module"
        raise SetupError(f"{where} has no function '{name}'", key)

    def _construct(self, text: str, key: str) -> Any:
        """What a `model:` call makes: names of their module and calls of them may be nested in
        its arguments, X and Y stand for the batch; or a dict, list or tuple of those
        (`{'W': np.random.randn(3, 3, 3, 2), 'b': np.zeros((1, 1, 1, 2))}`), made as it says."""
        container = text.strip()[:1] in ("{", "[", "(")
        try:  # a container is read as the one argument of a call, its items made alike
            call = parse_call(f"_({text})" if container else text, names=True)
        except CallSyntaxError as exc:
            raise SetupError(str(exc), key) from None
        seed_numpy(self.seed)
        if container:
            args, _ = call.arguments({"X": self.x, "Y": self.y}, lambda p: self._made(p, key))
            return args[0]
        return self._made(call, key)

    def _returned_names(self, text: str, count: int) -> list[str | None]:
        """The names the `model:` function's return statement gives the arrays it returns."""
        try:
            fn = self._get(self.module, parse_call(text, names=True).name)
        except (AttributeError, CallSyntaxError):
            return []
        names = return_names(fn) if callable(fn) else None
        return names if names is not None and len(names) == count else []

    def _made(self, part: Any, key: str) -> Any:
        name = part.name
        try:
            value = self._get(self.module, name)
        except AttributeError:
            raise SetupError(f"your module has no '{name}'", key) from None
        if isinstance(part, NameRef):
            return value
        args, kwargs = part.arguments({"X": self.x, "Y": self.y}, lambda p: self._made(p, key))
        return sandbox.call(key, value, *args, **kwargs)

    # --- building ------------------------------------------------------------------------------

    def build(self) -> None:
        """The model their code makes, how its forward takes the batch, and its parameters."""
        if isinstance(self.impl.loss, list) and not self.impl.layers:
            raise SetupError("implementation.loss as a list is not read yet", "loss")
        if not (self.impl.model or self.impl.layers or walk(self.module, "", ranks=own_find.RANKS)):
            made = own_find.found_model(
                self
            )  # no parameters among their globals: the function that
            if made is not None:  # makes them, where it needs no argument (`init_params()`)
                self.impl = self.impl.model_copy(update={"model": made})
                self.found.say(f"model: {made}, the function of your module that makes them")
        statements = self.impl.model if isinstance(self.impl.model, list) else None
        if self.impl.model_call and _expression(self.impl.model_call):  # `[Conv(3), Pool(2)]`
            statements = [f"model = {self.impl.model_call}"]
        if self.impl.layers:  # shape C: layer objects, chained (chain.py)
            self.chain = LayerChain(self)
            self.chain.build()
            self.root, self.root_name = self.chain.objects, "layers"
        elif statements:
            built = run_statements(
                statements, self.module, {"X": self.x, "Y": self.y}, self.seed, self.impl.forward
            )
            self.root, self.root_name, self.names = built.root, built.name, built.names
            self.found.say(
                f"model: {len(statements)} statement{'s' if len(statements) > 1 else ''} → "
                f"{built.name} ({type(self.root).__name__})"
            )
        elif self.impl.model_call:
            self.root = self._construct(self.impl.model_call, "model")
            if isinstance(self.root, tuple | list) and self.impl.forward:
                own_find.name_parameters(self)  # taken one by one: a dict by the forward's names
            if isinstance(self.root, tuple):  # a tuple of arrays, held as a list so that nnfix
                self.root = list(self.root)  # can put its own arrays in their places
                self._item_names = self._returned_names(self.impl.model_call, len(self.root))
            self.found.say(f"model: {self.impl.model} → {type(self.root).__name__}")
        else:
            self.found.say("parameters: looked for among your module's globals")
        self.as_lists = any(isinstance(r, ListRef) for r in own_find.refs_of(self))
        if self.impl.step and not self.impl.forward:  # the loss is the one their step returns
            per = self.impl.per_sample
            self.sample_form = (per if isinstance(per, str) else "vector") if per else None
            self.sample_labels = bool(per) and self._labels()
            self.found.say(
                "no forward: the loss is the one your step returns, at the values it starts from"
            )
            if not per:
                own_find.find_step_targets(self)
        else:
            own_find.find_forms(self)
            if not self.impl.loss and self.loss_spec is None and not self.loss_in_forward:
                own_find.probe_backward_loss(self)
        own_find.find_tensors(self)

    # --- what the checks, the other parts and the subclasses call --------------------------------

    def _candidates(self) -> list[Ref]:
        return own_find.candidates(self)

    def x_given(self) -> Array:
        return own_bind.x_given(self)

    def targets_held(self) -> list[Array]:
        return own_bind.targets_held(self)

    def y_given(self, out: Array | None = None) -> Array:
        return own_bind.y_given(self, out)

    def _values(self, out: Array | None = None, cache: Any = None) -> dict[str, Any]:
        return own_bind.values_of(self, out, cache)

    def _sample_values(self, i: int, out: Any = None, cache: Any = None) -> dict[str, Any]:
        return own_bind.sample_values(self, i, out, cache)

    def _labels(self) -> bool:
        return own_bind.labels(self)

    def _call(
        self,
        role: str,
        fn: Callable,
        values: dict[str, Any],
        fallback: tuple,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        return own_bind.call(self, role, fn, values, fallback, extra)

    def forward(self) -> tuple[Array, Any]:
        return own_run.forward(self)

    def loss(self) -> float:
        return own_run.loss_of(self)

    def gradients(self) -> Gradients:
        return own_grads.gradients(self)
