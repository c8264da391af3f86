"""Seeded token data: `source: sequences` from fixed random Markov chains, and `source: text`,
windows of a short bundled text as character ids."""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np

PEAKED = 0.1  # Dirichlet concentration of a chain's rows: most of a token's successors are
#   one or two tokens, so what follows is learnable (1.0 would be any distribution alike)


def chains(count: int, vocab: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """(count, vocab, vocab) transition matrices, row i the distribution of the token after
    token i, mixed with the uniform one in the proportion `noise`."""
    peaked = rng.dirichlet(np.full(vocab, PEAKED), size=(count, vocab))
    return (1.0 - noise) * peaked + noise / vocab


def _walk(
    transitions: np.ndarray, chain: np.ndarray, steps: int, rng: np.random.Generator
) -> np.ndarray:
    """(m, steps) token ids, sample i a walk of `chain[i]` from a uniformly drawn first token."""
    count, vocab, _ = transitions.shape
    m = len(chain)
    # every row's cumulative distribution, offset by the row's number, in one sorted array:
    # the token after t in chain c is where (c·vocab + t) + u falls in it
    cumulative = np.cumsum(transitions, axis=2)
    cumulative /= cumulative[:, :, -1:]
    rows = np.arange(count * vocab, dtype=np.float64).reshape(count, vocab, 1)
    flat = (cumulative + rows).reshape(-1)
    flat[vocab - 1 :: vocab] = np.arange(1, count * vocab + 1)  # each row ends exactly at 1
    tokens = np.empty((m, steps), dtype=np.int64)
    tokens[:, 0] = rng.integers(vocab, size=m)
    for t in range(1, steps):
        row = chain * vocab + tokens[:, t - 1]
        at = np.searchsorted(flat, row + rng.random(m), side="right")
        tokens[:, t] = np.minimum(at - row * vocab, vocab - 1)
    return tokens


def sequences(
    samples: int,
    noise: float,
    rng: np.random.Generator,
    vocab: int,
    length: int,
    target: str,
    classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(samples, length) token ids and their targets: with `next` the token that follows
    (samples,); with `shifted` the sequence one token on (samples, length); with `label` the
    class (samples,) whose own chain wrote the sequence, the classes balanced."""
    if target == "label":
        label = rng.permutation(np.arange(samples) % classes).astype(np.int64)
        walks = _walk(chains(classes, vocab, noise, rng), label, length, rng)
        return walks, label
    walks = _walk(chains(1, vocab, noise, rng), np.zeros(samples, np.int64), length + 1, rng)
    return windows(walks, length, target)


def windows(walks: np.ndarray, length: int, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Inputs the first `length` tokens of each row of `walks` (length + 1 long), targets the
    token after them (`next`) or the row one token on (`shifted`)."""
    x = walks[:, :length]
    return x, (walks[:, length] if target == "next" else walks[:, 1 : length + 1])


@cache
def bundled() -> str:
    """The bundled text, each paragraph on one line."""
    raw = resources.files("nnfix.data").joinpath("bundled/text.txt").read_text("utf-8")
    return "\n".join(" ".join(p.split()) for p in raw.split("\n\n") if p.strip())


def alphabet(text: str) -> str:
    """The text's characters, each once, in code point order: character id i is alphabet[i]."""
    return "".join(sorted(set(text)))


def text(
    samples: int, rng: np.random.Generator, length: int, target: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """`samples` distinct windows of `length` characters of the bundled text, drawn at random,
    as (samples, length) character ids; their targets as in `windows`; and the alphabet."""
    body = bundled()
    chars = alphabet(body)
    ids = np.searchsorted(np.array(list(chars)), np.array(list(body)))
    starts = rng.choice(len(ids) - length, size=samples, replace=False)
    x, y = windows(ids[starts[:, None] + np.arange(length + 1)], length, target)
    return x.astype(np.int64), y.astype(np.int64), chars


def windows_in_text(length: int) -> int:
    """How many windows of `length` characters, each with the character after it, there are."""
    return max(len(bundled()) - length, 0)
