"""Weight and bias initialisers, by the names of SPEC §2."""

from __future__ import annotations

import math

import numpy as np

from nnfix.engine.specs import InitSpec


def initialize(
    init: InitSpec, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator
) -> np.ndarray:
    """A float64 array of `shape` drawn as `init` says (fans as for a dense layer's weights)."""
    name = init.name
    if name == "zeros":
        return np.zeros(shape)
    if name == "constant":
        return np.full(shape, float(init.value))
    if name == "uniform":
        return rng.uniform(init.low, init.high, size=shape)
    if name == "normal":
        return rng.normal(init.mean, init.std, size=shape)
    if name == "xavier_uniform":
        limit = math.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    if name == "xavier_normal":
        return rng.normal(0, math.sqrt(2 / (fan_in + fan_out)), size=shape)
    if name == "he_uniform":
        limit = math.sqrt(6 / fan_in)
        return rng.uniform(-limit, limit, size=shape)
    if name == "he_normal":
        return rng.normal(0, math.sqrt(2 / fan_in), size=shape)
    if name == "lecun_normal":
        return rng.normal(0, math.sqrt(1 / fan_in), size=shape)
    raise KeyError(name)
