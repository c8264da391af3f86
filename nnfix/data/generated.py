"""Seeded generated data: the 2-D toy sets xor, moons, circles, spirals, blobs (classification)
and linear here; images and token sequences (images.py, tokens.py) drawn through `generate`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nnfix.data import images, limits, tokens
from nnfix.errors import Problem, SpecPath

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


@dataclass
class Drawn:
    """A generated source's inputs and targets, as `source:` shapes them."""

    x: np.ndarray  # (m, 2 or features); images (m, *shape); token ids (m, length)
    y: np.ndarray  # labels (m,), regression targets (m, 1), or a token per step (m, length)
    alphabet: str | None = None  # text: character id i is alphabet[i]


def generate(data: DataSpec, rng: np.random.Generator) -> Drawn:
    """The samples of the generated source `data` names, drawn from `rng` (the data's seed)."""
    if data.source == "images":
        return Drawn(*images.images(data.samples, data.noise, rng, data.classes, data.image_shape))
    if data.source == "sequences":
        x, y = tokens.sequences(
            data.samples,
            data.noise,
            rng,
            data.tokens,
            data.sequence_length,
            data.target_mode,
            data.classes,
        )
        return Drawn(x, y)
    if data.source == "text":
        return Drawn(*tokens.text(data.samples, rng, data.sequence_length, data.target_mode))
    gen = GENERATORS[data.source]
    return Drawn(*gen(data.samples, data.noise, rng, data.classes, data.features))


Array = tuple[str, int, SpecPath]  # what an array holds, how many numbers, the key sizing it


def _arrays(data: DataSpec) -> list[Array]:
    """The largest arrays generating `data` allocates: what they hold, how many numbers (of
    8 bytes each), and the key that makes them large."""
    m, key = data.samples, ("data", "samples")
    found: list[Array]
    if data.source == "images":
        pixels = limits.elements(data.image_shape)
        shape = "×".join(map(str, data.image_shape))
        at = ("data", "shape") if pixels > m else key
        what = f"{data.classes} class templates of {shape} of float64"
        return [
            (f"{m} images of {shape} of float64", m * pixels, at),
            (what, data.classes * pixels, ("data", "classes")),
        ]
    if data.source in ("sequences", "text"):
        steps = data.sequence_length + 1
        at = ("data", "length") if steps > m else key
        found = [(f"{m} sequences of {steps} tokens of int64", m * steps, at)]
        if data.source == "sequences":
            chains = data.classes if data.target_mode == "label" else 1
            what = f"{chains} transition matrices of {data.tokens}×{data.tokens} of float64"
            by = ("data", "classes") if chains > data.tokens else ("data", "vocab")
            found.append((what, chains * data.tokens**2, by))
        return found
    features = data.features if data.source in ("blobs", "linear") else 2
    at = ("data", "features") if data.source in ("blobs", "linear") and features > m else key
    found = [(f"{m} samples × {features} features of float64", m * features, at)]
    if data.source in ("spirals", "blobs"):
        what = f"{data.classes} classes × {features} features of float64"
        found.append((what, data.classes * features, ("data", "classes")))
    return found


def problems(data: DataSpec) -> list[Problem]:
    """What makes a generated source impossible to generate, found before anything is
    allocated: a noise that is not a finite number (or, for sequences, not a share), more
    samples than the text has windows, arrays larger than fit."""
    if data.source not in (*GENERATORS, "images", "sequences", "text"):
        return []
    found: list[Problem] = []
    if not math.isfinite(data.noise):
        message = f"expected a finite number, the noise's standard deviation (got {data.noise})"
        found.append(Problem(message, path=("data", "noise")))
    elif data.source == "sequences" and data.noise > 1:
        message = (
            f"expected a share from 0 to 1 (got {data.noise:g}): for sequences the noise is the "
            "share of tokens drawn uniformly rather than from the chain"
        )
        found.append(Problem(message, path=("data", "noise")))
    if data.source == "text":
        found += _text_problems(data)
    # the largest array that does not fit, and any other whose size the spec wrote itself
    oversized: list[Problem] = []
    for what, count, key in sorted(_arrays(data), key=lambda array: -array[1]):
        nbytes = count * limits.FLOAT_BYTES
        too_big = limits.over(nbytes)
        if too_big and (not oversized or key[-1] in data.model_fields_set):
            message = f"{what} are {limits.size(nbytes)}, {too_big}"
            oversized.append(Problem(message, path=key))
    return found + oversized


def _text_problems(data: DataSpec) -> list[Problem]:
    """More windows than the bundled text has, or windows longer than it."""
    length, size = data.sequence_length, len(tokens.bundled())
    available = tokens.windows_in_text(length)
    if available == 0:
        message = (
            f"the bundled text has {size:,} characters: a window of {length} and the character "
            f"after it need {length + 1}; expected a length of at most {size - 1}"
        )
        return [Problem(message, path=("data", "length"))]
    if data.samples > available:
        message = (
            f"the bundled text has {size:,} characters, so {available:,} windows of {length} "
            f"(each followed by the character to predict): expected samples ≤ {available:,}, "
            f"got {data.samples:,}"
        )
        return [Problem(message, path=("data", "samples"))]
    return []
