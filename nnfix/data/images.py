"""Seeded images for `source: images`: one pattern of blobs per class, each sample its class's
pattern moved by up to a pixel, with noise, pixels in [0, 1]."""

from __future__ import annotations

import numpy as np

BLUR = 8  # a template's blobs are about 1/BLUR of the image's larger side across
JITTER = 1  # pixels a sample's template is moved by, along each side ...
JITTER_FROM = 6  # ... of at least this many pixels (smaller images are not moved)


def axes(shape: tuple[int, ...]) -> tuple[int, int, int, bool]:
    """Channels, height, width and whether channels come first, of an image shape: (H, W) has
    one channel and none first; of (C, H, W) and (H, W, C) the shorter end is the channels."""
    if len(shape) == 2:
        return 1, shape[0], shape[1], False
    first = shape[0] <= shape[-1]
    channels, height, width = shape if first else (shape[2], shape[0], shape[1])
    return channels, height, width, first


def _blur(n: int, sigma: float) -> np.ndarray:
    """(n, n) rows of a gaussian kernel of width `sigma`, each summing to 1."""
    i = np.arange(n)
    k = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return k / k.sum(axis=1, keepdims=True)


def templates(classes: int, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """(classes, C, H, W) bright blobs on a dark ground: the positive half of a smooth random
    field, scaled so that each pattern's brightest pixel is 1."""
    channels, height, width, _ = axes(shape)
    sigma = max(height, width) / BLUR
    field = rng.standard_normal((classes, channels, height, width))
    smooth = np.maximum(_blur(height, sigma) @ field @ _blur(width, sigma).T, 0.0)
    peak = np.max(smooth, axis=(1, 2, 3), keepdims=True)
    return smooth / np.where(peak > 0, peak, 1.0)


def images(
    samples: int, noise: float, rng: np.random.Generator, classes: int, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(samples, *shape) images in [0, 1] and their (samples,) labels, the classes balanced."""
    channels, height, width, first = axes(shape)
    patterns = templates(classes, shape, rng)
    y = rng.permutation(np.arange(samples) % classes).astype(np.int64)
    dy = rng.integers(-JITTER, JITTER + 1, samples) if height >= JITTER_FROM else np.zeros(samples)
    dx = rng.integers(-JITTER, JITTER + 1, samples) if width >= JITTER_FROM else np.zeros(samples)
    rows = (np.arange(height) - dy[:, None].astype(np.int64)) % height  # (m, H)
    cols = (np.arange(width) - dx[:, None].astype(np.int64)) % width  # (m, W)
    c = np.arange(channels)
    x = patterns[
        y[:, None, None, None], c[:, None, None], rows[:, None, :, None], cols[:, None, None, :]
    ]
    x = np.clip(x + noise * rng.standard_normal(x.shape), 0.0, 1.0)
    if len(shape) == 2:
        return x[:, 0], y
    return (x if first else np.moveaxis(x, 1, -1)), y
