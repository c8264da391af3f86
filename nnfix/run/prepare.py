"""A loaded spec made ready to run: its data, targets, initialised network and loss.

One seed drives everything: it is split into independent streams for the data, the
initial weights and the minibatch order, so changing one never shifts another."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnfix.data import Dataset, encode_targets, load_dataset
from nnfix.engine.build import build_loss, build_network
from nnfix.engine.losses import Loss
from nnfix.engine.network import Network
from nnfix.errors import InputError
from nnfix.spec.load import LoadedSpec


@dataclass
class Prepared:
    loaded: LoadedSpec
    data: Dataset
    y_train: np.ndarray  # targets shaped like the output layer (one-hot where it has several units)
    y_val: np.ndarray
    network: Network
    loss: Loss
    batch_rng: np.random.Generator

    @property
    def dtype(self) -> str:
        return self.loaded.spec.train.dtype


def seeds(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for data, init and batching."""
    data, init, batch = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(data), np.random.default_rng(init), np.random.default_rng(batch)


def prepare(loaded: LoadedSpec) -> Prepared:
    """Load the data and build the network; data problems are InputErrors located in the spec."""
    spec = loaded.spec
    data_rng, init_rng, batch_rng = seeds(spec.seed)
    dtype = spec.train.dtype
    try:
        data = load_dataset(spec.data, base_dir=loaded.base_dir, rng=data_rng, dtype=dtype)
        units = spec.model.layers[-1].units
        y_train = encode_targets(data.y_train, units).astype(dtype)
        y_val = (
            encode_targets(data.y_val, units).astype(dtype)
            if len(data.y_val)
            else np.zeros((0, units), dtype)
        )
    except InputError as exc:
        exc.source = exc.source or loaded.source
        raise
    network = build_network(loaded, data.n_features, init_rng, dtype)
    return Prepared(loaded, data, y_train, y_val, network, build_loss(loaded), batch_rng)
