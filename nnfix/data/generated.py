"""Seeded toy data sets: xor, moons, circles, spirals, blobs (classification) and linear."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from nnfix.data import limits
from nnfix.errors import Problem

if TYPE_CHECKING:
    from nnfix.spec.model import DataSpec

Generator = Callable[[int, float, np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]


def _split(samples: int, parts: int) -> np.ndarray:
    """Sizes of `parts` groups adding up to `samples`, the remainder going to the first ones."""
    sizes = np.full(parts, samples // parts)
    sizes[: samples % parts] += 1
    return sizes


def _shuffled(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(x))
    return x[order], y[order]


def xor(
    samples: int, noise: float, rng: np.random.Generator, classes: int = 2, features: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-1, 1]^2; label 1 in the quadrants where x1·x2 < 0."""
    x = rng.uniform(-1.0, 1.0, size=(samples, 2))
    y = (x[:, 0] * x[:, 1] < 0).astype(np.int64)
    return x + noise * rng.standard_normal(x.shape), y


def moons(
    samples: int, noise: float, rng: np.random.Generator, classes: int = 2, features: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as sklearn's make_moons): the upper one 0, the lower 1."""
    n_out, n_in = samples // 2, samples - samples // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    upper = np.column_stack([np.cos(t_out), np.sin(t_out)])
    lower = np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)])
    x = np.concatenate([upper, lower]) + noise * rng.standard_normal((samples, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_out, n_in])
    return _shuffled(x, y, rng)


def circles(
    samples: int, noise: float, rng: np.random.Generator, classes: int = 2, features: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """A unit circle (label 0) around one of radius 0.5 (label 1), as sklearn's make_circles."""
    n_out, n_in = samples // 2, samples - samples // 2
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    outer = np.column_stack([np.cos(t_out), np.sin(t_out)])
    inner = 0.5 * np.column_stack([np.cos(t_in), np.sin(t_in)])
    x = np.concatenate([outer, inner]) + noise * rng.standard_normal((samples, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_out, n_in])
    return _shuffled(x, y, rng)


def spirals(
    samples: int, noise: float, rng: np.random.Generator, classes: int = 2, features: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """CS231n's spirals: one arm per class, radius 0 to 1, each arm turning 4 radians."""
    sizes = _split(samples, classes)
    y = np.repeat(np.arange(classes, dtype=np.int64), sizes)
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    span = np.repeat(np.maximum(sizes - 1, 1), sizes)
    r = (np.arange(samples) - start) / span
    # angle jitter std 2·noise, so the default noise 0.1 gives CS231n's 0.2
    t = 4.0 * (y + r) + 2.0 * noise * rng.standard_normal(samples)
    x = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return _shuffled(x, y, rng)


def blobs(
    samples: int, noise: float, rng: np.random.Generator, classes: int = 2, features: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """`classes` gaussian clusters in `features` dimensions, centres uniform in [-5, 5]."""
    centres = rng.uniform(-5.0, 5.0, size=(classes, features))
    y = np.repeat(np.arange(classes, dtype=np.int64), _split(samples, classes))
    std = 1.0 + noise  # noise widens the clusters beyond a unit std, so 0 still gives real blobs
    x = centres[y] + std * rng.standard_normal((samples, features))
    return _shuffled(x, y, rng)


def linear(
    samples: int, noise: float, rng: np.random.Generator, classes: int = 2, features: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Regression: y = x·w + b + noise·N(0, 1), with x, w and b all drawn from N(0, 1)."""
    x = rng.standard_normal((samples, features))
    w = rng.standard_normal((features, 1))
    b = rng.standard_normal()
    y = x @ w + b + noise * rng.standard_normal((samples, 1))
    return x, y


GENERATORS: dict[str, Generator] = {
    "xor": xor,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
    "blobs": blobs,
    "linear": linear,
}


def problems(data: DataSpec) -> list[Problem]:
    """What makes a generated source impossible to generate, found before anything is
    allocated: a noise that is not a finite number, more samples × features than fit."""
    if data.source not in GENERATORS:
        return []
    found = []
    if not math.isfinite(data.noise):
        message = f"expected a finite number, the noise's standard deviation (got {data.noise})"
        found.append(Problem(message, path=("data", "noise")))
    features = data.features if data.source in ("blobs", "linear") else 2
    nbytes = data.samples * features * limits.FLOAT_BYTES
    too_big = limits.over(nbytes)
    if too_big:
        key = (
            "features"
            if data.source in ("blobs", "linear") and features > data.samples
            else "samples"
        )
        message = (
            f"{data.samples} samples × {features} features of float64 are "
            f"{limits.size(nbytes)}, {too_big}"
        )
        found.append(Problem(message, path=("data", key)))
    if data.source in ("spirals", "blobs"):
        nbytes = data.classes * features * limits.FLOAT_BYTES
        too_big = limits.over(nbytes)
        if too_big:
            message = (
                f"{data.classes} classes × {features} features of float64 are "
                f"{limits.size(nbytes)}, {too_big}"
            )
            found.append(Problem(message, path=("data", "classes")))
    return found
