"""What is measured of an activation the spec writes as an expression or a `file.py:function`:
the built-in it equals (by its values, not its text: `maximum(z, 0.01*z)` is leaky ReLU with
α = 0.01), where it has kinks (its one-sided slopes disagree) and what values it can output.

The built-ins declare these facts (`Activation`); for anything else they are measured here, so
every pass can treat `1/(1+exp(-z))` as the sigmoid it is."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnfix.engine import activations
from nnfix.engine.activations.activation import Activation

Array = np.ndarray
Forward = Callable[[Array], Array]

# z where a function's values are compared with each built-in's: a fine grid over the range a
# layer's pre-activations usually take, and a few far points where saturating built-ins part
# from look-alikes (clip(z, -1, 1) is not tanh; z is not softplus).
_EXTRA = [-1.0, 1.0, -10.0, 10.0, -15.0, 15.0, -20.0, 20.0, -30.0, 30.0]
_GRID = np.concatenate([np.linspace(-8.0, 8.0, 321), _EXTRA])
GRID = np.resize(_GRID, -(-len(_GRID) // 4) * 4)  # filled to rows of 4: softmax works on rows
# Equal to a built-in: |f − g| ≤ MATCH_ATOL + MATCH_RTOL·|g| at every grid point. Loose enough
# for a function computed in float32 (relative rounding ~1e-7), far tighter than any two
# different activations come (GELU and swish differ by 0.02; hard tanh and tanh by 0.24).
MATCH_RTOL, MATCH_ATOL = 1e-5, 1e-6
SLOPE_AT = -1.0  # z where the slope α of leaky ReLU or ELU is read off a function

KINK_STEP = 1e-5  # one-sided differences step KINK_STEP·max(1, |z|), as central differences do

# z where an output's range is measured: from -RANGE_REACH to RANGE_REACH, densest near 0
RANGE_REACH = 1000.0
_HALF = np.concatenate([np.linspace(0.0, 10.0, 201), np.geomspace(10.0, RANGE_REACH, 61)[1:]])
RANGE_GRID = np.concatenate([-_HALF[::-1], _HALF[1:]])
GROWING = 1.0  # unbounded: its value at ±RANGE_REACH still moves by this from ±RANGE_REACH/10


def _values(forward: Forward, z: Array) -> Array | None:
    """forward(z) as float64 of z's shape, or None when the function raises or returns
    something else (its own problem, reported where the net calls it)."""
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(forward(z), dtype=np.float64)
        return np.broadcast_to(out, z.shape) if out.shape != z.shape else out
    except Exception:
        return None


def _matches(values: Array, expected: Array) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(values - expected) <= MATCH_ATOL + MATCH_RTOL * np.abs(expected)))


def _candidates(z: Array, values: Array, output: bool) -> list[Activation]:
    """The built-ins to compare with: those without a slope first (so a leaky ReLU of slope 0
    is ReLU, of slope 1 linear), then those with theirs read off the function at SLOPE_AT."""
    plain = [
        activations.get(name)
        for name in activations.NAMES
        if not activations.takes_alpha(name) and (output or activations.get(name).elementwise)
    ]
    at = values[z == SLOPE_AT]
    sloped = []
    if at.size:
        fa = float(at.flat[0])
        for name in activations.NAMES:
            if not activations.takes_alpha(name):
                continue
            unit = activations.get(name, 1.0).fn(np.array([SLOPE_AT]))[0]  # f(SLOPE_AT) at α = 1
            alpha = fa / unit
            if math.isfinite(alpha) and alpha != 0:
                sloped.append(activations.get(name, float(alpha)))
    return plain + sloped


def recognise(forward: Forward, output: bool = True) -> Activation | None:
    """The built-in activation `forward` computes, with its slope where it takes one, or None.
    `output`: the layer is the output layer, where softmax (over each row) may be the answer."""
    z = GRID.reshape(-1, 4)
    values = _values(forward, z)
    if values is None or not np.all(np.isfinite(values)):
        return None
    for candidate in _candidates(z, values, output):
        with np.errstate(all="ignore"):
            expected = np.asarray(candidate.fn(z), dtype=np.float64)
        if _matches(values, expected):
            return candidate
    return None


def one_sided(forward: Forward, z: Array) -> tuple[Array, Array]:
    """The slopes of `forward` just left and just right of each z (step KINK_STEP·max(1, |z|))."""
    h = KINK_STEP * np.maximum(1.0, np.abs(z))
    with np.errstate(all="ignore"):
        f0 = forward(z)
        return (f0 - forward(z - h)) / h, (forward(z + h) - f0) / h


def kinked(forward: Forward, z: Array, atol: float, rtol: float) -> Array:
    """A mask of the z within one difference step of a kink of `forward`: where its left and
    right slopes differ by more than atol + rtol·|slope|. A smooth function's differ only by
    its curvature times the step; at a kink, by a share of the jump in slope. So a central
    difference at a z this mask leaves is off the true slope by less than half that bound."""
    left, right = one_sided(forward, z)
    with np.errstate(all="ignore"):
        jump = np.abs(right - left)
        bound = atol + rtol * np.abs(right + left) / 2
        return ~(jump <= bound)  # NaN slopes (a pole, an overflow) count as kinks too


def _nearest(z: float) -> int:
    return int(np.argmin(np.abs(RANGE_GRID - z)))


def output_range(forward: Forward) -> tuple[float, float] | None:
    """The least and greatest values `forward` gives over z in ±RANGE_REACH (−∞/∞ where it is
    still growing there), or None when it cannot be evaluated."""
    z = RANGE_GRID.reshape(-1, 1)
    values = _values(forward, z)
    if values is None:
        return None
    v = values.ravel()
    finite = v[np.isfinite(v)]
    if not finite.size:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    lo = -math.inf if np.any(v == -math.inf) else lo
    hi = math.inf if np.any(v == math.inf) else hi
    for side in (-1.0, 1.0):  # still moving at the far end: it goes on without bound
        far, near = v[_nearest(side * RANGE_REACH)], v[_nearest(side * RANGE_REACH / 10)]
        if not (np.isfinite(far) and np.isfinite(near)):
            continue
        if far >= hi and far - near > GROWING:
            hi = math.inf
        if far <= lo and near - far > GROWING:
            lo = -math.inf
    return lo, hi


def is_distribution(forward: Forward, units: int, rng: np.random.Generator | None = None) -> bool:
    """Whether `forward` turns each row of `units` pre-activations into probabilities (entries
    in [0, 1] summing to 1), as softmax does: measured on random rows."""
    rng = rng or np.random.default_rng(0)
    z = rng.normal(0.0, 3.0, size=(64, max(units, 1)))
    values = _values(forward, z)
    if values is None or not np.all(np.isfinite(values)):
        return False
    return bool(
        np.all(values >= -MATCH_ATOL)
        and np.all(values <= 1 + MATCH_ATOL)
        and np.allclose(values.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    )
