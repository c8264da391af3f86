"""What the user's network is, read off their arrays rather than declared (`nnfix init --from`):
the layer sizes a list of their arrays chains into, and the built-in activations that make a
network of known parameters compute what their forward computed — read layer by layer off
the arrays their forward left behind (a cache, attributes it set), and searched among the
built-ins from the output alone where it left nothing to read."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from nnfix.engine import activations
from nnfix.engine.activations import Activation

Array = np.ndarray
PLAIN = ("sigmoid", "tanh", "relu", "softplus", "swish", "linear")  # no slope to read
SLOPES = {"leaky_relu": (0.01, 0.1, 0.2, 0.05, 0.02, 0.3), "elu": (1.0,)}  # tried unread
FEW_SLOPES = {"leaky_relu": (0.01, 0.1, 0.2), "elu": (1.0,)}  # in a wider search
SEARCH = 20_000  # assignments of the unread hidden layers tried at most from the output alone
NEGATIVE = -1e-2  # pre-activations below this show a slope (leaky ReLU's, ELU's)


def close(a: Array, b: Array, rtol: float) -> bool:
    """Equal as the same function computed in another order (or precision) would be."""
    if a.shape != b.shape:
        return False
    with np.errstate(all="ignore"):
        scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1.0)
        return bool(np.max(np.abs(a - b), initial=0.0) <= rtol * scale)


def _nice(x: float) -> float:
    return float(f"{x:.6g}")


def _plain() -> list[Activation]:
    return [activations.get(name) for name in PLAIN]


def _output_pool(k: int) -> list[Activation]:
    """Output activations, the usual first: where the output's pre-activations happen to be
    all positive, linear and the ReLU family agree, and linear is the one people write."""
    order = ["sigmoid", "softmax", "linear", "tanh", "relu", "softplus", "swish"]
    pool = [activations.get(n) for n in order if n != "softmax" or k > 1]
    return pool + _sloped(SLOPES)


def _sloped(slopes: dict[str, tuple[float, ...]]) -> list[Activation]:
    return [activations.get(name, s) for name, values in slopes.items() for s in values]


def read_slopes(z: Array, a: Array) -> list[Activation]:
    """Leaky ReLU and ELU with the slope that would give `a` from `z` where z is negative."""
    neg = z < NEGATIVE
    out: list[Activation] = []
    if not neg.any():
        return out
    for name in SLOPES:
        unit = activations.get(name, 1.0).fn(z[neg])
        with np.errstate(all="ignore"):
            alpha = float(np.median(a[neg] / unit))
        if not math.isfinite(alpha) or not 1e-6 < alpha < (1.0 if name == "leaky_relu" else 1e3):
            continue
        out.append(activations.get(name, _nice(alpha)))
    return out


def which(z: Array, a: Array, output: bool, rtol: float) -> list[Activation]:
    """The built-ins that give `a` from `z` (softmax too in the output layer)."""
    pool = _plain() + read_slopes(z, a)
    if output and z.shape[1] > 1:
        pool.append(activations.get("softmax"))
    return [f for f in pool if close(np.asarray(f.fn(z), dtype=np.float64), a, rtol)]


def views(arrays: list[Array], shape: tuple[int, int]) -> Iterator[Array]:
    """The arrays that can hold a (m, n) layer's values, as (m, n): as they are, transposed
    (the columns layout), or one sample as a vector or a column."""
    m, n = shape
    for array in arrays:
        if array.shape == (m, n):
            yield array
        elif array.shape == (n, m):
            yield array.T
        elif m == 1 and array.shape == (n,):
            yield array[None, :]


@dataclass
class Fitted:
    """The activations found, and for each layer how: read off an array, or from the output."""

    activations: list[Activation]
    read: list[bool]
    others: list[list[str]] = field(default_factory=list)  # other activations that also fit


def _read_hidden(
    x: Array, weights: list[Array], biases: list[Array | None], arrays: list[Array], rtol: float
) -> tuple[list[Activation], Array]:
    """The hidden layers' activations read off `arrays` (what the forward left behind) from the
    first layer up, while they show there, and the activations of the last layer read."""
    arrays = [np.asarray(v, dtype=np.float64) for v in arrays if v.ndim in (1, 2) and v.size]
    a = x.astype(np.float64)
    read: list[Activation] = []
    for W, b in zip(weights[:-1], biases[:-1], strict=True):
        z = a @ W + (b if b is not None else 0.0)
        hits = [f for v in views(arrays, z.shape) for f in which(z, v, False, rtol)]
        # the cache holds z too: an array equal to z says "linear" only where nothing else fits
        hit = next((f for f in hits if f.name != "linear"), hits[0] if hits else None)
        if hit is None:
            break
        read.append(hit)
        a = np.asarray(hit.fn(z), dtype=np.float64)
    return read, a


def fit(
    out: Array,
    x: Array,
    weights: list[Array],
    biases: list[Array | None],
    arrays: list[Array],
    rtol: float = 1e-5,
) -> Fitted | None:
    """The activations that make the layers (rows layout: W (n_in, n_out), b (1, n_out)) give
    `out` for `x`, or None. Hidden layers are read off `arrays` (what the forward left behind)
    while they show there; the others are searched among the built-ins from the output."""
    read, a = _read_hidden(x, weights, biases, arrays, rtol)
    rest = search(out, a, weights[len(read) :], biases[len(read) :], rtol)
    if rest is None and read:  # an array that happened to fit a layer misled the reading
        read, rest = [], search(out, x.astype(np.float64), weights, biases, rtol)
    if rest is None:
        return None
    return Fitted(read + rest, [True] * len(read) + [False] * len(rest))


def search(
    out: Array, a: Array, weights: list[Array], biases: list[Array | None], rtol: float
) -> list[Activation] | None:
    """Activations for these layers that turn `a` into `out`: the same one in every hidden
    layer first (the usual net), then every assignment while there are few enough."""
    hidden_count = len(weights) - 1
    last = _output_pool(out.shape[1])
    pool = _plain() + _sloped(SLOPES if hidden_count <= 2 else FEW_SLOPES)
    for f in pool:
        found = _through(out, a, weights, biases, [f] * hidden_count, last, rtol)
        if found is not None:
            return found
    if hidden_count < 2 or len(pool) ** hidden_count > SEARCH:
        return None
    return _depth_first(out, a, weights, biases, pool, last, rtol, [])


def _layer(a: Array, W: Array, b: Array | None, f: Activation) -> Array:
    with np.errstate(all="ignore"):
        return np.asarray(f.fn(a @ W + (b if b is not None else 0.0)), dtype=np.float64)


def _depth_first(
    out: Array,
    a: Array,
    weights: list[Array],
    biases: list[Array | None],
    pool: list[Activation],
    last: list[Activation],
    rtol: float,
    chosen: list[Activation],
) -> list[Activation] | None:
    if len(weights) == 1:
        found = _through(out, a, weights, biases, [], last, rtol)
        return [*chosen, *found] if found is not None else None
    for f in pool:
        found = _depth_first(
            out,
            _layer(a, weights[0], biases[0], f),
            weights[1:],
            biases[1:],
            pool,
            last,
            rtol,
            [*chosen, f],
        )
        if found is not None:
            return found
    return None


def _through(
    out: Array,
    a: Array,
    weights: list[Array],
    biases: list[Array | None],
    hidden: list[Activation],
    last: list[Activation],
    rtol: float,
) -> list[Activation] | None:
    for W, b, f in zip(weights[:-1], biases[:-1], hidden, strict=True):
        a = _layer(a, W, b, f)
    z = a @ weights[-1] + (biases[-1] if biases[-1] is not None else 0.0)
    with np.errstate(all="ignore"):
        for f in last:
            if close(np.asarray(f.fn(z), dtype=np.float64), out, rtol):
                return [*hidden, f]
    return None


def closest(
    out: Array,
    x: Array,
    weights: list[Array],
    biases: list[Array | None],
    arrays: list[Array],
    rtol: float = 1e-5,
) -> Fitted | None:
    """Where no built-in network gives `out`: the one that comes nearest (hidden layers read
    off `arrays` where they show, else one activation for them all), so that a forward with a
    mistake of its own is checked against the network it was meant to be (U102 says where it
    parts)."""
    read, a = _read_hidden(x, weights, biases, arrays, rtol)
    rest_count = len(weights) - len(read)
    best: tuple[float, list[Activation]] | None = None
    pools = _plain() + _sloped(FEW_SLOPES) if rest_count > 1 else [None]
    for f in pools:
        h = a
        for W, b in zip(weights[len(read) : -1], biases[len(read) : -1], strict=True):
            assert f is not None
            h = _layer(h, W, b, f)
        z = h @ weights[-1] + (biases[-1] if biases[-1] is not None else 0.0)
        for g in _output_pool(out.shape[1]):
            with np.errstate(all="ignore"):
                error = float(np.max(np.abs(np.asarray(g.fn(z), dtype=np.float64) - out)))
            if np.isfinite(error) and (best is None or error < best[0]):
                hidden = [f] * (rest_count - 1) if f is not None else []
                best = (error, [*hidden, g])
    if best is None:
        return None
    return Fitted(read + best[1], [True] * len(read) + [False] * len(best[1]))


# --- layer sizes from arrays -------------------------------------------------------------------


@dataclass
class Chain:
    """Arrays that chain into dense layers: their indices, the sizes, and the layout."""

    weights: list[int]  # index of each layer's weight in the list given
    biases: list[int | None]  # index of each layer's bias, or None (a layer without one)
    sizes: list[int]  # n_in, then each layer's width
    columns: bool  # W as (n_out, n_in)


def _numbered(path: str) -> int | None:
    found = re.findall(r"\d+", path)
    return int(found[-1]) if found else None


def chain(shapes: list[tuple[int, ...]], paths: list[str] | None = None) -> Chain | None:
    """The longest run of 2-D arrays, in the order given, where each one's outputs are the
    next one's inputs (W (n_in, n_out) in rows, (n_out, n_in) in columns); an input width of
    1 (a bias column mistaken for a weight) only where nothing else chains as far, and no hidden
    layer of one unit. Biases are
    the vectors (or columns) of a layer's width: the one numbered like the layer in its path
    (`b3`), else the next of that width."""
    paths = paths or [str(i) for i in range(len(shapes))]
    best: tuple[tuple[int, int, int], Chain] | None = None
    for columns in (False, True):
        dims = [
            (s[::-1] if columns else s) if len(s) == 2 and min(s) >= 1 else None for s in shapes
        ]
        # the best chain ending at each array: the longest, then one not starting from a
        # single input (a bias column read as a weight)
        score: list[tuple[int, int]] = [(1, int(d[0] > 1)) if d else (0, 0) for d in dims]
        before: list[int | None] = [None] * len(dims)
        for j, dj in enumerate(dims):
            if dj is None:
                continue
            for i in range(j):
                di = dims[i]
                # a hidden layer of one unit is no network anyone writes: a bias (1, n) after
                # an output of one unit does not extend the chain
                if di is None or not di[1] == dj[0] > 1:
                    continue
                longer = (score[i][0] + 1, score[i][1])
                if longer > score[j]:
                    score[j], before[j] = longer, i
        for end, (count, starts_wide) in enumerate(score):
            if not count:
                continue
            indices: list[int] = []
            k: int | None = end
            while k is not None:
                indices.append(k)
                k = before[k]
            indices.reverse()
            first = dims[indices[0]]
            assert first is not None
            sizes = [first[0], *(dims[i][1] for i in indices)]  # type: ignore[index]
            rank = (count, starts_wide, -indices[0])
            if best is None or rank > best[0]:
                best = (rank, Chain(indices, [], sizes, columns))
    if best is None or len(best[1].weights) < 1:
        return None
    found = best[1]
    found.biases = _biases(shapes, paths, found)
    return found


def _biases(shapes: list[tuple[int, ...]], paths: list[str], found: Chain) -> list[int | None]:
    depth = len(found.weights)
    taken = set(found.weights)
    vectors = [
        i
        for i, s in enumerate(shapes)
        if i not in taken and (len(s) == 1 or (len(s) == 2 and 1 in s)) and int(np.prod(s)) >= 1
    ]
    out: list[int | None] = [None] * depth
    numbers = {i: _numbered(paths[i]) for i in vectors}
    weight_numbers = [_numbered(paths[i]) for i in found.weights]
    base = 0 if 0 in weight_numbers else 1
    if all(n is not None for n in weight_numbers) and weight_numbers == list(
        range(base, base + depth)
    ):
        for i in vectors:  # b3 belongs to layer 3 where the weights are numbered W1, W2, W3
            n = numbers[i]
            fits = n is not None and 0 <= n - base < depth and out[n - base] is None
            if fits and int(np.prod(shapes[i])) == found.sizes[n - base + 1]:  # type: ignore[operator]
                out[n - base] = i  # type: ignore[operator]
        return out
    used: set[int] = set()
    for layer in range(depth):
        width = found.sizes[layer + 1]
        after = found.weights[layer]
        pool = [i for i in vectors if i not in used and int(np.prod(shapes[i])) == width]
        # the bias read with its weight (after it, in walk order), else one listed apart
        pick = next((i for i in pool if i > after), pool[0] if pool else None)
        if pick is not None and (len(shapes[pick]) == 1 or width != 1 or pick > after):
            out[layer] = pick
            used.add(pick)
    return out
