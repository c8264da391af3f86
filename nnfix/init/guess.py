"""What `nnfix init --from` reads off numbers: the init scheme the user's initial values were
drawn from, the loss their loss function (or their gradients) computes, and the data a spec
of their network can run on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnfix.engine import losses
from nnfix.engine.activations.softmax import softmax
from nnfix.engine.losses import Loss
from nnfix.engine.network import Network

Array = np.ndarray
ONE_SIGNED = 6  # this many weights all positive were drawn from [0, h), not from a bell
UNIFORM_ARRAY = 12  # an array's extremes tell uniform from normal from this many values on
UNIFORM_SAMPLES = 30  # values needed before uniform and normal can be told apart so
SPREAD_FLOOR = 0.12  # a layer's spread within 12 % of a scheme's fits it however many values
LOSS_RTOL = 1e-4  # their loss agrees with a built-in's to this (float32 code, clipped logs)
GRAD_RTOL = 1e-3  # their gradients with a loss's true ones (a plain mismatch is far larger)


def rounded(x: float, samples: int) -> float:
    """A measured spread as the round number (1, 2 or 5 times a power of ten) it was likely
    written as — 1.0 for 0.95 measured on 170 values, 0.01 for 0.0092 — where that is within
    the measurement's sampling error; else 2 digits."""
    if x <= 0 or not math.isfinite(x):
        return x
    tolerance = 2.5 / math.sqrt(2 * max(samples, 1))
    exponent = math.floor(math.log10(x))
    round_ones = [m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in (1, 2, 5)]
    best = min(round_ones, key=lambda r: abs(x - r) / r)
    if abs(x - best) / best <= tolerance:
        return nice(best, 1)
    return nice(x, 2)


def bound(largest: float, samples: int) -> float:
    """The upper end h of U(0, h) or U(−h, h) whose `samples` values reach `largest`: the
    largest of n uniform values falls short of h by h/(n + 1) on average; a round h (1, 2 or 5
    times a power of ten) within that shortfall's spread."""
    estimate = largest * (samples + 1) / max(samples, 1)
    exponent = math.floor(math.log10(estimate)) if estimate > 0 else 0
    round_ones = [m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in (1, 2, 5)]
    best = min(round_ones, key=lambda r: abs(estimate - r) / r)
    if largest <= best and (best - largest) / best <= 5 / (samples + 1):
        return nice(best, 1)
    return nice(estimate, 2)


def nice(x: float, digits: int = 2) -> float:
    """x to `digits` significant digits: 0.4987 -> 0.5."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


# --- init schemes -------------------------------------------------------------------------------

NORMAL = {
    "he_normal": lambda n_in, n_out: math.sqrt(2 / n_in),
    "lecun_normal": lambda n_in, n_out: math.sqrt(1 / n_in),
    "xavier_normal": lambda n_in, n_out: math.sqrt(2 / (n_in + n_out)),
}
UNIFORM = {  # the limit L of U(−L, L)
    "xavier_uniform": lambda n_in, n_out: math.sqrt(6 / (n_in + n_out)),
    "he_uniform": lambda n_in, n_out: math.sqrt(6 / n_in),
}


@dataclass
class Guess:
    value: Any  # what the spec says: a name, or a mapping
    how: str


def _constant(arrays: list[Array]) -> Guess | None:
    if not all(a.size and np.all(a == a.flat[0]) for a in arrays):
        return None
    values = {float(a.flat[0]) for a in arrays}
    if values == {0.0}:
        return Guess("zeros", "every value your code set is 0")
    if len(values) == 1:
        v = values.pop()
        return Guess({"name": "constant", "value": v}, f"every value your code set is {v:g}")
    return None


def _half_range_ratio(n: int, uniform: bool) -> float:
    """The std of n values over their half-range, expected: drawn from U(−h, h) or N(0, σ)
    (the normal's extremes by Blom's approximation)."""
    if uniform:
        return (n + 1) / ((n - 1) * math.sqrt(3))
    from statistics import NormalDist

    return 1 / NormalDist().inv_cdf((n - 0.375) / (n + 0.25))


def _uniform(arrays: list[Array]) -> bool:
    """Drawn evenly from a range rather than from a bell: each array's std over its own
    half-range is nearer what a uniform draw of that many values gives (0.58 and up) than a
    normal one (0.70 for 8 values, 0.44 for 50: its extremes lie further out the more there
    are), weighing the arrays by their size."""
    near_uniform = near_normal = 0.0
    count = 0
    for a in arrays:
        n = a.size
        half = (float(a.max()) - float(a.min())) / 2
        if half <= 0 or n < UNIFORM_ARRAY:
            continue
        ratio = float(a.std()) / half
        near_uniform += n * (ratio - _half_range_ratio(n, True)) ** 2
        near_normal += n * (ratio - _half_range_ratio(n, False)) ** 2
        count += n
    return count >= UNIFORM_SAMPLES and near_uniform < near_normal


def _fits(ratios: list[tuple[float, int]]) -> float | None:
    """How far from 1 the per-layer ratios of measured to expected spread are (a log,
    weighted by the values' count), or None when some layer is beyond its sampling noise."""
    total = sum(n for _, n in ratios)
    error = 0.0
    for r, n in ratios:
        # the spread of a few values is itself spread widely (8 normal values: 0.45 to 1.5
        # times the true one, one time in a thousand): a small layer may part far
        if r <= 0 or abs(math.log(r)) > max(SPREAD_FLOOR, 4 / math.sqrt(2 * n)):
            return None
        error += n * math.log(r) ** 2
    if math.sqrt(error / total) > max(SPREAD_FLOOR, 3.5 / math.sqrt(2 * total)):
        return None
    return math.sqrt(error / total)


def init_scheme(weights: list[Array]) -> Guess:
    """The weight init (as `model.init` writes it) that the user's values (rows layout:
    (n_in, n_out)) look drawn from."""
    weights = [np.asarray(w, dtype=np.float64) for w in weights if w.size]
    constant = _constant(weights)
    if constant is not None:
        return constant
    shapes = [(w.shape[0], w.shape[1] if w.ndim == 2 else 1) for w in weights]
    lo = min(float(w.min()) for w in weights)
    hi = max(float(w.max()) for w in weights)
    count = sum(w.size for w in weights)
    if lo >= 0 and count >= ONE_SIGNED:  # np.random.rand: no bell is all positive
        high = bound(hi, count)
        return Guess(
            {"name": "uniform", "low": 0, "high": high},
            f"every weight is in [0, {hi:.3g}]: uniform [0, {high:g}), as np.random.rand gives",
        )
    if _uniform(weights):
        limits = [float(np.max(np.abs(w - (w.max() + w.min()) / 2))) for w in weights]
        best = None
        for name, rule in UNIFORM.items():
            score = _fits(
                [(L / rule(*s), w.size) for L, s, w in zip(limits, shapes, weights, strict=True)]
            )
            if score is not None and (best is None or score < best[0]):
                best = (score, name)
        if best is not None:
            return Guess(best[1], f"uniform values whose range fits {best[1]}'s limit per layer")
        centre = nice((hi + lo) / 2, 1) if abs(hi + lo) > 0.1 * (hi - lo) else 0
        half = bound(max(hi - centre, centre - lo), sum(w.size for w in weights))
        low, high = nice(centre - half), nice(centre + half)
        return Guess(
            {"name": "uniform", "low": low, "high": high},
            f"uniform values in [{lo:.3g}, {hi:.3g}]",
        )
    stds = [float(w.std()) for w in weights]
    best = None
    for name, rule in NORMAL.items():
        score = _fits(
            [(s / rule(*shape), w.size) for s, shape, w in zip(stds, shapes, weights, strict=True)]
        )
        if score is not None and (best is None or score < best[0]):
            best = (score, name)
    pooled = float(
        np.sqrt(
            sum(w.size * s * s for w, s in zip(weights, stds, strict=True))
            / sum(w.size for w in weights)
        )
    )
    same = _fits([(s / pooled, w.size) for s, w in zip(stds, weights, strict=True)])
    if best is not None:  # a scheme someone writes, over a spread fitted to these values
        spread = ", ".join(f"{s:.2g}" for s in stds)
        return Guess(best[1], f"the weights' spread per layer ({spread}) is {best[1]}'s")
    std = rounded(pooled, sum(w.size for w in weights))
    how = f"the weights have one spread in every layer, std {pooled:.3g}"
    if same is None:
        how = "the weights' spread differs from layer to layer and fits no scheme: their mean std"
    return Guess({"name": "normal", "std": std}, how)


def bias_scheme(biases: list[Array]) -> Guess | None:
    """The bias init the user's biases look drawn from; None for zeros (the default)."""
    biases = [np.asarray(b, dtype=np.float64) for b in biases if b.size]
    if not biases:
        return None
    constant = _constant(biases)
    if constant is not None:
        return None if constant.value == "zeros" else constant
    if _uniform(biases):
        lo = min(float(b.min()) for b in biases)
        hi = max(float(b.max()) for b in biases)
        low, high = (0, nice(hi, 1)) if lo >= 0 else (nice(lo, 1), nice(hi, 1))
        return Guess(
            {"name": "uniform", "low": low, "high": high}, f"values in [{lo:.3g}, {hi:.3g}]"
        )
    values = np.concatenate([b.ravel() for b in biases])
    std = float(np.sqrt(np.mean(values**2)))
    return Guess(
        {"name": "normal", "std": rounded(std, values.size)}, f"random values, std {std:.3g}"
    )


# --- losses -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossGuess:
    name: str
    reduction: str = "mean"
    scale: float = 1.0
    output: str | None = None  # an output activation their loss applies itself (on logits)

    @property
    def spec(self) -> Any:
        """As the spec writes it: `bce`, or a mapping for a reduction or a scale."""
        if self.reduction == "mean" and self.scale == 1.0:
            return self.name
        out: dict[str, Any] = {"name": self.name}
        if self.reduction != "mean":
            out["reduction"] = self.reduction
        if self.scale != 1.0:
            out["scale"] = self.scale
        return out

    def text(self) -> str:
        words = {
            "bce": "binary cross-entropy",
            "cce": "cross-entropy",
            "mse": "squared error",
            "mae": "absolute error",
        }[self.name]
        how = "summed" if self.reduction == "sum" else "mean"
        factor = "" if self.scale == 1 else f"{self.scale:g} × "
        return f"{factor}the {how} {words}"


FITS = {"bce": ("sigmoid",), "cce": ("softmax",)}  # losses that need these outputs (D104)


def _losses(k: int, m: int) -> list[LossGuess]:
    scales = [1.0, 0.5] + ([1 / k, 0.5 / k] if k > 1 else [])
    return [
        LossGuess(name, reduction, scale)
        for name in ("bce", "cce", "mse", "mae")
        for reduction in ("mean", "sum")
        for scale in (scales if name in ("mse", "mae") else [1.0])
    ]


def _probabilities(a: Array, rows: bool) -> bool:
    inside = bool(np.all((a > 0) & (a < 1)))
    return inside and (not rows or bool(np.allclose(a.sum(axis=1), 1.0, atol=1e-6)))


def by_value(value: float, out: Array, y: Array, output: str) -> list[LossGuess]:
    """The built-in losses whose value on the output `out` (rows layout) and targets `y` is
    `value`, the natural one for the output activation first; on logits (a linear output), also
    the cross-entropies of their softmax or sigmoid, which such code computes itself."""
    m, k = out.shape
    found: list[LossGuess] = []
    outputs: list[tuple[str | None, Array]] = [(None, out)]
    if output == "linear":
        outputs.append(("softmax", softmax(out)) if k > 1 else ("sigmoid", 1 / (1 + np.exp(-out))))
    for applied, a in outputs:
        for guess in _losses(k, m):
            if guess.name == "bce" and not _probabilities(a, False):
                continue
            if guess.name == "cce" and not _probabilities(a, True):
                continue
            with np.errstate(all="ignore"):
                expected = guess.scale * losses.total(guess.name, a, a, y, None)
            expected /= m if guess.reduction == "mean" else 1
            if math.isfinite(expected) and math.isclose(
                value, expected, rel_tol=LOSS_RTOL, abs_tol=1e-9
            ):
                found.append(LossGuess(guess.name, guess.reduction, guess.scale, applied))
    return sorted(found, key=lambda g: _natural(g, output))


def _natural(guess: LossGuess, output: str) -> tuple:
    act = guess.output or output
    pairs = {"sigmoid": ("bce", "mse"), "softmax": ("cce",), "linear": ("mse", "mae")}
    preferred = pairs.get(act, ("mse",))
    rank = preferred.index(guess.name) if guess.name in preferred else len(preferred)
    return (rank, guess.reduction != "mean", guess.scale != 1.0, guess.output is not None)


def natural_rank(guess: LossGuess, output: str) -> int:
    """0 for the loss that goes with the output activation, more for the others."""
    return _natural(guess, output)[0]


def natural(output: str, k: int) -> LossGuess:
    """The loss that goes with an output activation (D104 in mind)."""
    if output == "softmax":
        return LossGuess("cce")
    if output == "sigmoid":
        return LossGuess("bce")
    return LossGuess("mse")


def true_gradients(network: Network, x: Array, y: Array, guess: LossGuess) -> dict[str, Array]:
    loss = Loss(guess.name, guess.reduction, None, "a", guess.scale)
    _, grads, _ = network.loss_and_grads(x.astype(np.float64), y.astype(np.float64), loss)
    return dict(zip(network.names, grads, strict=True))


def ratio(theirs: dict[str, Array], truth: dict[str, Array]) -> float | None:
    """The one constant c with theirs = c · truth for every tensor, or None."""
    common = [n for n in truth if n in theirs and theirs[n].shape == truth[n].shape]
    if not common or len(common) < len(truth):
        return None
    t = np.concatenate([truth[n].ravel() for n in common])
    g = np.concatenate([theirs[n].ravel() for n in common])
    norm = float(t @ t)
    if norm == 0 or not np.all(np.isfinite(g)):
        return None
    c = float(g @ t) / norm
    if c == 0 or not np.allclose(
        g, c * t, rtol=GRAD_RTOL, atol=GRAD_RTOL * abs(c) * np.abs(t).max()
    ):
        return None
    return c


def by_gradients(
    network: Network, x: Array, y: Array, theirs: dict[str, Array], output: str
) -> list[tuple[LossGuess, float]]:
    """The losses whose true gradients the user's are (times one constant c): (guess, c),
    exact ones (c = 1) first, the natural pairing for the output next."""
    m, k = len(x), network.sizes[-1]
    out: list[tuple[LossGuess, float]] = []
    a = network.forward(x.astype(np.float64)).a[-1]
    for guess in _losses(k, m):
        if guess.name == "bce" and not _probabilities(a, False):
            continue
        if guess.name == "cce" and not _probabilities(a, True):
            continue
        c = ratio(theirs, true_gradients(network, x, y, guess))
        if c is not None:
            out.append((guess, c))
    return sorted(
        out,
        key=lambda item: (not math.isclose(item[1], 1.0, rel_tol=1e-3), _natural(item[0], output)),
    )


def step(
    network: Network, x: Array, y: Array, theirs: dict[str, Array], known: float | None
) -> tuple[LossGuess, float] | None:
    """For an in-place update −lr·g whose tensors are not all right (a bug in some): the loss
    and lr that most of its tensors agree on, the learning rate their code was given first."""
    m, k = len(x), network.sizes[-1]
    votes: list[tuple[int, bool, LossGuess, float]] = []
    for guess in _losses(k, m):
        truth = true_gradients(network, x, y, guess)
        found: dict[float, int] = {}
        for name, t in truth.items():
            c = ratio({name: theirs[name]}, {name: t}) if name in theirs else None
            if c is not None and c > 0:
                key = nice(c, 4)
                found[key] = found.get(key, 0) + 1
        for c, count in found.items():
            given = known is not None and math.isclose(c, known, rel_tol=1e-3)
            votes.append((count, given, guess, c))
    if not votes:
        return None
    votes.sort(key=lambda v: (v[1], v[0], math.isclose(v[3], 1.0)), reverse=True)
    return votes[0][2], votes[0][3]


# --- data -------------------------------------------------------------------------------------


def generated(n_in: int, k: int, loss: str, output: str) -> Guess:
    """A generated source of width `n_in` whose targets fit `k` outputs and the loss."""
    if loss in ("mse", "mae") and output not in ("sigmoid", "softmax") and k == 1:
        return Guess(
            {"source": "linear", "samples": 200, "features": n_in, "noise": 0.1},
            f"your network has {n_in} input{'s' * (n_in != 1)} and one linear output: a regression",
        )
    classes = max(k, 2)
    if n_in == 2 and classes == 2:
        return Guess(
            {"source": "moons", "samples": 200, "noise": 0.1},
            "2 inputs, two classes: two moons",
        )
    if n_in == 2:
        return Guess(
            {"source": "spirals", "samples": 300, "classes": classes, "noise": 0.1},
            f"2 inputs, {classes} classes: {classes} spirals",
        )
    return Guess(
        {
            "source": "blobs",
            "samples": 200,
            "classes": classes,
            "features": n_in,
            "scale": "standard",
        },
        f"{n_in} input{'s' * (n_in != 1)}, {classes} classes: blobs, scaled to unit variance",
    )
