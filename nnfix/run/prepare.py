"""A loaded spec made ready to run — its data, targets, initialised network and loss — the one
way both `nnfix train` and `nnfix diagnose` prepare a spec.

One seed drives everything: it is split into independent streams for the data, the
initial weights and the minibatch order, so changing one never shifts another."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from nnfix.data import Dataset, encode_targets, limits, load_dataset
from nnfix.engine.losses import Loss
from nnfix.engine.network import Network
from nnfix.errors import DataError, Problem
from nnfix.run.build import build_loss, build_network
from nnfix.run.resources import check_network
from nnfix.spec.load import LoadedSpec
from nnfix.spec.model import DenseSpec


@dataclass
class Prepared:
    loaded: LoadedSpec
    data: Dataset
    y_train: np.ndarray | None  # shaped like the output layer (one-hot where it has several units)
    y_val: np.ndarray | None
    target_error: DataError | None  # why the targets could not be shaped so (y_* are then None)
    network: Network
    loss: Loss
    batch_rng: np.random.Generator

    @property
    def dtype(self) -> str:
        return str(self.network.params[0].dtype)

    @property
    def finite_rows(self) -> np.ndarray:
        """Training rows whose inputs and targets are all finite."""
        ok = np.all(np.isfinite(self.data.x_train), axis=1)
        if self.y_train is not None:
            ok &= np.all(np.isfinite(self.y_train), axis=1)
        return ok


def seeds(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for data, init and batching."""
    data, init, batch = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(data), np.random.default_rng(init), np.random.default_rng(batch)


def _one_hot_fits(samples: int, units: int, loaded: LoadedSpec) -> None:
    """Targets shaped like the output layer take samples × units floats: refused before they
    are allocated when that is beyond the data budget."""
    nbytes = samples * units * limits.FLOAT_BYTES
    too_big = limits.over(nbytes)
    if too_big:
        message = (
            f"targets for {samples} samples × {units} output units of float64 are "
            f"{limits.size(nbytes)}, {too_big}"
        )
        path = ("model", "layers", len(loaded.spec.net_model.layers) - 1, "units")
        raise DataError([Problem(message, path=path)], loaded.source)


def sample_shape(data: Dataset, first: object, dtype: str) -> tuple[Dataset, tuple[int, ...]]:
    """The data as the first layer takes it, and one sample's shape for the network: a dense
    layer takes rows of features; another type the sample's own shape — images (C, H, W) as
    read, token sequences one-hot as (T, vocab). The rows stay flat (a view reshapes them)."""
    if isinstance(first, DenseSpec) or not data.shape:
        return data, (data.n_features,)
    if data.tokens is None:
        return data, data.shape
    eye = np.eye(data.tokens, dtype=dtype)
    shape = (*data.shape, data.tokens)
    width = math.prod(shape)  # stated, not inferred: an empty split (validation: 0) has none

    def one_hot(x: np.ndarray) -> np.ndarray:
        return eye[x.astype(np.int64)].reshape(len(x), width)

    onehot = dataclasses.replace(
        data, x_train=one_hot(data.x_train), x_val=one_hot(data.x_val), shape=shape, tokens=None
    )
    return onehot, shape


def prepare(loaded: LoadedSpec, dtype: str | None = None) -> Prepared:
    """Load the data and build the network in `dtype` (default: the spec's train.dtype); data
    problems are DataErrors located in the spec. Targets that do not fit the output layer are
    kept as `target_error`: training cannot start, a diagnosis reports them (D103)."""
    spec = loaded.spec
    dtype = dtype or spec.train.dtype
    data_rng, init_rng, batch_rng = seeds(spec.seed)
    assert spec.data is not None  # required but for a script (spec/load.py), which has no model
    data = load_dataset(
        spec.data, base_dir=loaded.base_dir, rng=data_rng, dtype=dtype, source=loaded.source
    )
    check_network(loaded, data.n_features, len(data.x_train) + len(data.x_val))
    data, in_shape = sample_shape(data, spec.net_model.layers[0], dtype)
    network = build_network(loaded, in_shape, init_rng, dtype)
    units = network.shapes[-1][-1]  # the output's last axis: one value per class or target
    _one_hot_fits(len(data.y_train) + len(data.y_val), units, loaded)
    y_train = y_val = None
    target_error = None
    try:
        y_train = encode_targets(data.y_train, units, source=loaded.source).astype(dtype)
        y_val = encode_targets(data.y_val, units, source=loaded.source).astype(dtype)
    except DataError as exc:
        target_error = exc
    return Prepared(
        loaded, data, y_train, y_val, target_error, network, build_loss(loaded), batch_rng
    )
