"""What every check shares: the prepared spec (data, the initialised net in float64, the loss),
and what is computed once, on first use, for the checks that need it — one forward/backward at
init, the training probe, the user's implementation — so no check repeats another's work."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from nnfix.engine.losses import best_constant
from nnfix.engine.network import Cache, Network
from nnfix.run.prepare import prepare
from nnfix.spec.load import LoadedSpec

if TYPE_CHECKING:
    from nnfix.diagnose.gradcheck import GradcheckResult
    from nnfix.diagnose.probe import ProbeRecord
    from nnfix.usercode.loader import LoadedModule
    from nnfix.usercode.model import Batch, UserModel

INIT_BATCH = 1024  # samples of the one forward/backward pass at init
PROBE_BATCH = 1024  # samples the trained net is looked into after the probe
USER_BATCH = 32  # samples the user's code is checked on
PROBE_SHARE = 0.7  # of what is left of --budget when the training probe starts


@dataclass
class Options:
    quick: bool = False
    budget: float = 10.0  # seconds for the whole diagnosis of a spec (every pass)
    gradcheck: dict = field(default_factory=dict)
    deadline: float | None = None  # time.perf_counter() by which it ends; set when it starts

    def remaining(self) -> float:
        """Seconds left of the budget (all of it before the diagnosis has started)."""
        if self.deadline is None:
            return self.budget
        return self.deadline - time.perf_counter()

    def worked(self) -> float:
        """Seconds left of the budget counted as the work this process did (its CPU time; a
        forked worker's counts from the fork), where that leaves more than the wall clock: the
        time a machine loaded by others takes must not leave a check undone."""
        return max(self.remaining(), self.budget - time.process_time())

    def work_deadline(self) -> float | None:
        """A time.perf_counter() deadline `worked()` seconds from now (None without a budget)."""
        return None if self.deadline is None else time.perf_counter() + self.worked()


@dataclass
class InitPass:
    """One forward and backward pass at init, on up to INIT_BATCH training samples."""

    x: np.ndarray
    y: np.ndarray
    loss: float
    grads: list[np.ndarray]  # aligned with network.params
    cache: Cache


class Context:
    def __init__(self, loaded: LoadedSpec, options: Options | None = None):
        self.loaded = loaded
        self.spec = loaded.spec
        self.options = options or Options()
        self.prepared = prepare(loaded, "float64")
        self.data = self.prepared.data
        self.network: Network = self.prepared.network
        self.loss = self.prepared.loss
        self.batch_rng = self.prepared.batch_rng
        self.y_train = self.prepared.y_train
        error = self.prepared.target_error
        self.target_problem = error.problems[0].message if error is not None else None
        self.units = self.network.shapes[-1][-1]  # the output's: one per class or target
        self.user_module: LoadedModule | None = None  # the user's module, once loaded
        self.trained_dtype: str | None = None  # what the probes train the user's code in
        self.gradchecked: GradcheckResult | None = None  # the gradient check's, for the plots
        impl = self.spec.implementation
        if impl is not None and impl.init == "yours" and self.y_train is not None:
            self._user  # noqa: B018 - their values are the net's: every check must see them

    @property
    def finite_rows(self) -> np.ndarray:
        return self.prepared.finite_rows

    @cached_property
    def init(self) -> InitPass | None:
        """The cached forward/backward at init (None when the targets do not fit the output or
        no training sample is finite: D101 says so)."""
        rows = np.flatnonzero(self.finite_rows)[:INIT_BATCH]
        if self.y_train is None or not len(rows):
            return None
        x, y = self.data.x_train[rows], self.y_train[rows]
        with np.errstate(all="ignore"):
            value, grads, cache = self.network.loss_and_grads(x, y, self.loss, self.spec.train.l2)
        return InitPass(x, y, value, grads, cache)

    @cached_property
    def probe(self) -> ProbeRecord | None:
        """The time-bounded training probe (None when the targets do not fit the output or no
        training sample is finite)."""
        from nnfix.diagnose.probe import run_probe

        rows = self.finite_rows
        if self.y_train is None or not rows.any():
            return None
        dtype = self.spec.train.dtype
        x, y = self.data.x_train[rows].astype(dtype), self.y_train[rows].astype(dtype)
        return run_probe(
            self.trainable(dtype),
            self.loss,
            self.spec.train,
            x,
            y,
            self.batch_rng,
            PROBE_SHARE * min(self.options.budget, self.options.remaining()),
        )

    @cached_property
    def prior_loss(self) -> float | None:
        """The loss of the best prediction that ignores the input (the label prior) on the
        finite training samples, as the probe's steps report it (times the loss's scale, and
        a summed loss over a batch); None when the targets do not fit the output."""
        if self.y_train is None or not self.finite_rows.any():
            return None
        y = self.y_train[self.finite_rows]
        batch = self.spec.train.batch_size
        size = min(len(y), batch if batch != "full" else len(y))
        return self.loss.per_batch(best_constant(self.spec.net_loss.name, y), size)

    def probe_network(self) -> Network:
        """The net as the probe left it, as nnfix's network (the user's code: their weights)."""
        assert self.probe is not None and self.probe.network is not None
        net = self.probe.network
        return net.as_network() if hasattr(net, "as_network") else net

    @cached_property
    def _probe_forward(self) -> Cache:
        net = self.probe_network()
        x = self.data.x_train[self.finite_rows][:PROBE_BATCH].astype(net.weights[0].dtype)
        with np.errstate(all="ignore"):
            return net.forward(x)

    def probe_forward(self) -> Cache:
        """A forward pass of the trained net on up to PROBE_BATCH training samples."""
        return self._probe_forward

    def trainable(self, dtype: str):
        """What the probes train, in `dtype`: the user's own code where the spec has an
        implementation (their forward/backward with their parameters as `dtype` arrays,
        nnfix's optimiser loop), else nnfix's network."""
        if self.spec.implementation is None:
            return self.network.astype(dtype)
        from nnfix.usercode.network import UserNetwork

        self._user_dtype(dtype)
        return UserNetwork(self.user, self.network, self.user_values)

    def _user_dtype(self, dtype: str) -> None:
        """Put the user's parameters in `dtype` for the probes, once; where their code then
        still computes in another type (or holds a parameter where it cannot be replaced),
        put them back and say why in the report's header."""
        if self.trained_dtype is not None:
            return
        model = self.user
        self.trained_dtype = dtype
        try:
            replaced = model.cast(dtype)
        except TypeError as exc:
            self.trained_dtype = "float64"
            model.found.notes.append(
                f"train.dtype {dtype}: the probes train your parameters as your code holds "
                f"them, not as {dtype}: {exc}"
            )
            return
        if not replaced:
            return
        x = self.user_batch.x.astype(dtype)
        model.out_dtype = None
        model.forward(x)
        got = model.out_dtype
        if got is None or got == np.dtype(dtype):
            return
        model.uncast(replaced)
        self.trained_dtype = str(got)
        model.found.notes.append(
            f"train.dtype {dtype}: the probes train your parameters in {got}, as your code "
            f"computes: given {dtype} inputs and parameters, its forward returned {got} "
            "(an array it creates in another type, or a copy of the parameters it keeps)"
        )

    @cached_property
    def user_batch(self) -> Batch:
        """The samples the user's code is checked on (finite rows), with integer labels."""
        from nnfix.usercode.network import batch

        assert self.y_train is not None
        rows = np.flatnonzero(self.finite_rows)[:USER_BATCH]
        return batch(self.data.x_train[rows], self.y_train[rows])

    @cached_property
    def _user(self) -> tuple[UserModel | None, BaseException | None]:
        from nnfix.usercode.build import build
        from nnfix.usercode.sandbox import UserCallError

        try:
            model, self.user_module = build(self.loaded, self.network, self.user_batch)
        except UserCallError as exc:  # their code raised while nnfix was finding its way round
            return None, exc
        if self.spec.implementation is not None and self.spec.implementation.init == "yours":
            values = model.get_params()
            self.network = self.network.with_params(
                [
                    values.get(n, p)
                    for n, p in zip(self.network.names, self.network.params, strict=True)
                ]
            )
        return model, None

    @property
    def user(self) -> UserModel:
        """The user's code, found on `user_batch` and holding the initial values; raises the
        UserCallError (a U101) that stopped nnfix from finding its way round it."""
        model, error = self._user
        if error is not None:
            raise error
        assert model is not None
        return model

    @property
    def user_values(self) -> dict[str, np.ndarray]:
        """The initial parameter values the user's code is checked from (rows layout)."""
        self._user  # noqa: B018 - with init: yours, finding their code sets the network's values
        return dict(zip(self.network.names, self.network.params, strict=True))

    def layer_path(self, layer: int, *rest) -> tuple:
        """The spec path of layer `layer` (1-based), e.g. ("model", "layers", 0, "activation")."""
        return ("model", "layers", layer - 1, *rest)

    def init_path(self, layer: int, bias: bool = False) -> tuple:
        """Where the init of layer `layer` is set: its own init key, else the model's."""
        key = "bias_init" if bias else "init"
        if getattr(self.spec.net_model.layers[layer - 1], key, None) is not None:
            return self.layer_path(layer, key)
        return ("model", key)

    def init_name(self, layer: int) -> str:
        spec = self.spec.net_model
        return (getattr(spec.layers[layer - 1], "init", None) or spec.init).name

    def bias_init_name(self, layer: int) -> str:
        spec = self.spec.net_model
        return (getattr(spec.layers[layer - 1], "bias_init", None) or spec.bias_init).name

    def suited_init(self, layer: int) -> str:
        """The init that keeps a stack of layer `layer`'s activation steady."""
        builtin = self.network.activations[layer - 1].builtin
        return builtin.init if builtin is not None else "xavier_normal"
