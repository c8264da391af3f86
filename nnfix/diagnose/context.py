"""What every pass shares: the spec, its data, the initialised net and one cached
forward/backward at init — computed once, on first use, so no pass repeats another's work."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from nnfix.data import Dataset, encode_targets, load_dataset
from nnfix.engine.build import build_loss, build_network
from nnfix.engine.losses import Loss
from nnfix.engine.network import Cache, Network
from nnfix.errors import InputError
from nnfix.run.prepare import seeds
from nnfix.spec.load import LoadedSpec

INIT_BATCH = 1024  # samples of the one forward/backward pass at init


@dataclass
class Options:
    quick: bool = False
    budget: float = 10.0  # seconds for the training probes
    gradcheck: dict = field(default_factory=dict)


@dataclass
class InitPass:
    """One forward and backward pass at init, on up to INIT_BATCH training samples."""

    x: np.ndarray
    y: np.ndarray
    loss: float
    grads: list[np.ndarray]
    cache: Cache


class Context:
    def __init__(self, loaded: LoadedSpec, options: Options | None = None):
        self.loaded = loaded
        self.spec = loaded.spec
        self.options = options or Options()
        self.findings: list = []  # everything found so far, for later passes to link to
        self.cache: dict = {}  # what one pass computed for another (the user's forward output)
        data_rng, self.init_rng, self.batch_rng = seeds(self.spec.seed)
        try:
            self.data: Dataset = load_dataset(
                self.spec.data, base_dir=loaded.base_dir, rng=data_rng, dtype="float64"
            )
        except InputError as exc:
            exc.source = exc.source or loaded.source
            raise
        self.units = self.spec.model.layers[-1].units
        self.target_problem: str | None = None  # why targets could not be shaped to the output
        try:
            self.y_train: np.ndarray | None = encode_targets(self.data.y_train, self.units).astype(
                np.float64
            )
        except InputError as exc:
            self.y_train, self.target_problem = None, exc.problems[0].message

    @cached_property
    def network(self) -> Network:
        """The spec's net as initialised by its seed, in float64."""
        return build_network(
            self.loaded,
            self.data.n_features,
            np.random.default_rng(self.init_rng.bit_generator.seed_seq),
            "float64",
        )

    @cached_property
    def loss(self) -> Loss:
        return build_loss(self.loaded)

    @property
    def finite_rows(self) -> np.ndarray:
        """Training rows whose inputs and targets are all finite."""
        ok = np.all(np.isfinite(self.data.x_train), axis=1)
        if self.y_train is not None:
            ok &= np.all(np.isfinite(self.y_train), axis=1)
        return ok

    @cached_property
    def init(self) -> InitPass | None:
        """The cached forward/backward at init (None when the targets do not fit the output)."""
        if self.y_train is None:
            return None
        rows = np.flatnonzero(self.finite_rows)[:INIT_BATCH]
        x, y = self.data.x_train[rows], self.y_train[rows]
        with np.errstate(all="ignore"):
            value, grads, cache = self.network.loss_and_grads(x, y, self.loss, self.spec.train.l2)
        return InitPass(x, y, value, grads, cache)

    @cached_property
    def probe(self):
        """The time-bounded training probe (None when the targets do not fit the output)."""
        from nnfix.diagnose.probe import run_probe

        if self.y_train is None:
            return None
        rows = self.finite_rows
        dtype = self.spec.train.dtype
        x, y = self.data.x_train[rows].astype(dtype), self.y_train[rows].astype(dtype)
        return run_probe(
            self.trainable(dtype),
            self.loss,
            self.spec.train,
            x,
            y,
            self.batch_rng,
            0.7 * self.options.budget,
        )

    def trainable(self, dtype: str):
        """What the probes train: the user's own code where the spec has an implementation
        (their forward/backward, nnfix's optimiser loop), else nnfix's network."""
        network = self.network.astype(dtype)
        if self.spec.implementation is None:
            return network
        from nnfix.implementation.adapter import Implementation
        from nnfix.implementation.network import UserNetwork

        return UserNetwork(Implementation(self.loaded, network), network)

    def layer_path(self, layer: int, *rest) -> tuple:
        """The spec path of layer `layer` (1-based), e.g. ("model", "layers", 0, "activation")."""
        return ("model", "layers", layer - 1, *rest)

    def init_path(self, layer: int, bias: bool = False) -> tuple:
        """Where the init of layer `layer` is set: its own init key, else the model's."""
        key = "bias_init" if bias else "init"
        spec_layer = self.spec.model.layers[layer - 1]
        if getattr(spec_layer, key) is not None:
            return self.layer_path(layer, key)
        return ("model", key)

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)
