"""Writes bars.npz: 8x8 grey images (pixels 0-255) of a horizontal (0) or vertical (1) bar.

A stand-in for MNIST in the failure-story configs: raw pixel values, as users feed them.
Run `python configs/data/make_bars.py` to regenerate (seeded, so the file is reproducible)."""

from pathlib import Path

import numpy as np


def make(samples: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, samples)
    where = rng.integers(1, 7, samples)
    images = rng.normal(30, 20, (samples, 8, 8))
    rows = np.arange(samples)
    images[rows[y == 0], where[y == 0], :] += 180  # a horizontal bar in row `where`
    images[rows[y == 1], :, where[y == 1]] += 180  # a vertical bar in column `where`
    return np.clip(images, 0, 255).astype(np.uint8).reshape(samples, 64), y.astype(np.int64)


if __name__ == "__main__":
    x, y = make()
    np.savez_compressed(Path(__file__).with_name("bars.npz"), x=x, y=y)
