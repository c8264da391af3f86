"""Finite-difference gradient checking, in float64, per tensor: the check behind G101 and the
public `nnfix.gradcheck` / `nnfix.assert_gradients` for a user's own pytest suite.

Modes: `full` checks every entry; `directional` checks vᵀg along random unit directions v (one
pair of evaluations checks a whole tensor, as PyTorch's fast gradcheck does); `sampled` checks
random entries; `auto` is full for small tensors and directional plus sampled for large ones, so
its cost grows with the number of tensors, not of parameters. The public functions in `auto`
mode first check every tensor at once along two random directions (`screen`) and do the
per-tensor work only when those disagree.

A difference of two loss evaluations carries the loss's rounding: about
ROUNDING·precision·S / ε per difference (the noise floor), where S is the loss's size and what
the values it is computed through add to its rounding (`Target.rounding`, which the network
and user-code checks compute: a saturated unit rounds away what the parameters below it do to
the loss). What lies within it is never called
wrong: a tensor whose gradient is below it is unverifiable (G104), and a tensor that seems wrong
beyond it is measured again with a step CONFIRM times larger, whose rounding is CONFIRM times
smaller — a difference that does not keep its value between the two steps is noise, not a bug.
A tensor whose finite differences are within their noise (a bias followed by batchnorm, which
the normalisation cancels) and whose backprop gradient is below ZERO_SHARE of the largest
gradient's norm (where the rounding of backprop's own arithmetic puts it) has a true gradient of
zero up to rounding: unverifiable, never wrong; one whose backprop gradient is larger than that,
or whose differences measure a gradient, is judged as any other."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

BANDS = ((1e-7, "excellent"), (1e-5, "fine"), (1e-3, "suspicious"), (math.inf, "wrong"))
FULL_LIMIT = 256  # auto: tensors up to this many entries are checked entry by entry
FLOAT64 = float(np.finfo(np.float64).eps)
ROUNDING = 4.0  # rounding of a loss evaluation, in units of its precision times its size
CONFIRM = 10.0  # the second step, as a multiple of eps, for a tensor that seems wrong
CONFIRM_LIMIT = 32  # values measured again at the second step: those that differ most
SAFETY = 3.0  # a discrepancy counts only beyond this many times the measured difference noise
RESOLUTION = 0.1  # a tensor agreeing within noise above this fraction of its gradient: unjudged
ZERO_SHARE = 1e-6  # backprop's gradient this small a share of the largest, differences in noise: 0
SCREEN_RTOL = 1e-7  # screen: the relative agreement of a directional derivative over all tensors
KINK_RTOL = 1e-4  # one-sided slopes closer than this (relative) cannot make a difference wrong
SCREEN_CAP = 100.0  # screen: at most this factor of extra weight for a small-gradient tensor
MODES = ("auto", "full", "directional", "sampled")

Params = Sequence[np.ndarray] | Mapping[str, np.ndarray]
Index = tuple[int, ...] | tuple[str, int]  # an entry, or ("direction", k)
Step = int | np.ndarray  # an entry's flat index, or a direction in the tensor's shape


def band(error: float) -> str:
    for limit, name in BANDS:
        if error <= limit:
            return name
    return "wrong"


def relative_error(a, n) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖), 0 when both are 0."""
    a, n = np.asarray(a, float).ravel(), np.asarray(n, float).ravel()
    scale = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(a - n) / scale) if scale > 0 else 0.0


@dataclass
class TensorCheck:
    """One tensor's verdict."""

    name: str
    shape: tuple[int, ...]
    mode: str
    error: float  # relative error of the values compared
    evaluations: int  # loss evaluations spent on it
    analytic: np.ndarray  # the values compared: entries, directional derivatives or both
    numeric: np.ndarray
    indices: list[Index]  # which entries or directions, in the order of `analytic`
    classification: str | None = None  # for wrong tensors: what kind of wrong
    factor: float | None = None  # the constant a scaled gradient is off by
    unverifiable: str | None = None  # why no verdict could be given
    kinks: int = 0  # differences left out because they crossed a ReLU kink
    noise: float = 0.0  # how far `numeric` may be from the truth: rounding and step error
    confirmed: bool = False  # measured again with a step CONFIRM times larger

    @property
    def band(self) -> str:
        return "unverifiable" if self.unverifiable else band(self.error)

    @property
    def wrong(self) -> bool:
        return self.band == "wrong"

    def worst(self, k: int = 3, c: float = 1.0) -> list[tuple[Index, float, float]]:
        """The k entries (directions only where no entry was compared) where backprop and c ×
        the finite differences differ most (c: the constant the rest of the backward carries):
        (index, yours, numeric)."""
        gap = np.abs(self.analytic - c * self.numeric)
        entry = np.array([not isinstance(i[0], str) for i in self.indices], bool)
        order = np.lexsort((-gap, ~entry))[:k] if entry.any() else np.argsort(-gap)[:k]
        return [(self.indices[j], float(self.analytic[j]), float(self.numeric[j])) for j in order]


@dataclass
class GradcheckResult:
    tensors: list[TensorCheck]
    evaluations: int
    batch_size: int | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # tensors left out when time ran out

    @property
    def ok(self) -> bool:
        return not any(t.wrong for t in self.tensors)

    @property
    def wrong(self) -> list[TensorCheck]:
        return [t for t in self.tensors if t.wrong]

    def table(self) -> str:
        rows = [f"{'tensor':<8} {'shape':<12} {'mode':<20} {'rel. error':>11}  verdict"]
        for t in self.tensors:
            verdict = t.band + (f": {t.classification}" if t.classification else "")
            if t.unverifiable:
                verdict += f" ({t.unverifiable})"
            shape = "x".join(map(str, t.shape))
            rows.append(f"{t.name:<8} {shape:<12} {t.mode:<20} {t.error:>11.3e}  {verdict}")
            if t.wrong:
                for index, yours, numeric in t.worst():
                    rows.append(
                        f"{'':<8} at {index}: backprop {yours:.6g}, finite differences {numeric:.6g}"
                    )
        rows.append(
            f"{self.evaluations} loss evaluations"
            + (f" on a batch of {self.batch_size}" if self.batch_size else "")
        )
        return "\n".join(rows + self.notes)

    def __str__(self) -> str:
        return self.table()


def classify(
    a: np.ndarray,
    n: np.ndarray,
    batch: int | None,
    transposed: np.ndarray | None = None,
    noise: float = 0.0,
) -> tuple[str, float | None]:
    """What kind of wrong a tensor's gradient is, from the values compared; `noise` is how far
    the finite differences `n` may be from the truth, so a fit within it is a fit."""
    a, n = np.asarray(a, float).ravel(), np.asarray(n, float).ravel()
    na, nn = np.linalg.norm(a), np.linalg.norm(n)
    if nn <= noise:
        return (
            f"not zero where the loss does not move: finite differences are within their noise "
            f"({noise:.1e}), backprop's gradient has norm {na:.3g}",
            None,
        )
    if na <= 1e-3 * nn:
        return "zero: backprop gives (almost) no gradient", 0.0
    if transposed is not None:
        t = np.ravel(transposed)
        if np.linalg.norm(a - t) <= 1e-4 * (na + np.linalg.norm(t)) + noise:
            return "transposed: the gradient of Wᵀ", None
    c = float(a @ n / (n @ n))
    if np.linalg.norm(a - c * n) <= 1e-3 * na + abs(c) * noise:
        near = 1e-3 + noise / nn  # how closely c is known
        if abs(c + 1) <= near:
            return "sign flipped: backprop points uphill", c
        if batch and abs(c - batch) <= near * batch:
            return f"scaled by the batch size ({batch}): a sum where the mean is taken", c
        if batch and abs(c * batch - 1) <= near:
            return f"divided by the batch size ({batch}) once too often", c
        if a.size == 1:
            return f"off by a factor {c:.4g}", c
        return f"scaled by a constant {c:.4g}", c
    return (
        "wrong in its pattern, not only in sign or scale (no constant factor or transpose explains it)",
        None,
    )


@dataclass
class Target:
    """What a check differentiates: float64 working arrays (perturbed in place), the gradients
    to check, and the loss at the arrays as they stand. `loss(i)` is told which tensor is being
    moved (None: none, or all of them at once), so it may reuse what does not depend on it;
    `pattern()`, called after an evaluation, says which side of its kink every ReLU-like unit
    was on."""

    arrays: list[np.ndarray]
    grads: list[np.ndarray]
    names: list[str]
    loss: Callable[[int | None], float]
    pattern: Callable[[], object] | None = None
    evaluations: int = 0
    precision: float = FLOAT64  # the machine epsilon the loss is computed in (float32 code: 1.2e-7)
    rounding: float = 0.0  # what the values the loss is computed through add to its rounding
    origin: list[np.ndarray] = field(default_factory=list)  # the arrays' values, restored exactly
    one_sided: bool = False  # no pattern: a kink is told by the slope on each side (_kinked)
    at: float | None = None  # the loss at the origin, for `one_sided`

    def __post_init__(self) -> None:
        if not self.origin:
            self.origin = [a.copy() for a in self.arrays]

    def __call__(self, tensor: int | None) -> float:
        self.evaluations += 1
        return float(self.loss(tensor))

    def side(self) -> object:
        return self.pattern() if self.pattern is not None else None


def _floor(target: Target, loss: float, eps: float) -> float:
    """The rounding noise of one central difference at step eps: the loss's rounding (its own
    size, and what the values it is computed through add: `Target.rounding`) over the step."""
    size = max(math.hypot(loss, target.rounding), 1e-12)
    return ROUNDING * target.precision * size / eps


def _move(target: Target, i: int, step: Step, h: float, sign: float) -> None:
    """Tensor i at its origin plus sign·h along a step (an entry, or a direction)."""
    p, p0 = target.arrays[i], target.origin[i]
    if isinstance(step, int | np.integer):
        p.flat[int(step)] = p0.flat[int(step)] + sign * h  # .flat: any memory layout
    else:
        np.add(p0, (sign * h) * step, out=p)


def _restore(target: Target, i: int, step: Step) -> None:
    p, p0 = target.arrays[i], target.origin[i]
    if isinstance(step, int | np.integer):
        p.flat[int(step)] = p0.flat[int(step)]
    else:
        np.copyto(p, p0)


def _difference(target: Target, i: int, step: Step, h: float) -> float:
    """(f(p + h·step) − f(p − h·step)) / 2h for tensor i; NaN when the two evaluations
    straddle a kink, inf when the loss is not finite at one of them."""
    _move(target, i, step, h, 1.0)
    plus, side = target(i), target.side()
    _move(target, i, step, h, -1.0)
    minus = target(i)
    _restore(target, i, step)
    if not (math.isfinite(plus) and math.isfinite(minus)):
        return math.inf
    if target.pattern is not None and target.side() != side:
        return math.nan
    if target.pattern is None and target.one_sided and _kinked(target, i, step, h, plus, minus):
        return math.nan
    return (plus - minus) / (2 * h)


def _kinked(target: Target, i: int, step: Step, h: float, plus: float, minus: float) -> bool:
    """Code nnfix cannot see the kinks of (the user's own ReLU, max-pool): the slopes on the
    two sides of the point differ. A curvature's difference grows with the step, a kink's does
    not (a ReLU exactly at 0, as a zero pixel under a zero bias gives, is one at every step):
    so a difference beyond the rounding (and large enough to matter) is measured again at
    CONFIRM·h, and it is a kink where it has not grown with the step."""
    if target.at is None:
        target.at = target(None)
    base = target.at
    if not math.isfinite(base):
        return False
    right, left = (plus - base) / h, (base - minus) / h
    jump = abs(right - left)
    if jump <= max(2 * SAFETY * _floor(target, base, h), KINK_RTOL * (abs(right) + abs(left))):
        return False  # within the rounding, or too small to make a difference wrong
    far = CONFIRM * h
    _move(target, i, step, far, 1.0)
    plus_far = target(i)
    _move(target, i, step, far, -1.0)
    minus_far = target(i)
    _restore(target, i, step)
    if not (math.isfinite(plus_far) and math.isfinite(minus_far)):
        return False
    jump_far = abs((plus_far - base) - (base - minus_far)) / far
    return jump_far < math.sqrt(CONFIRM) * jump


def _measure(target: Target, i: int, steps: Sequence[Step], h: float) -> np.ndarray:
    return np.array([_difference(target, i, s, h) for s in steps], float)


def _plan(
    p: np.ndarray, use: str, samples: int, directions: int, rng: np.random.Generator
) -> tuple[list[Step], list[Index]]:
    """What to compare in one tensor: entries (flat indices) and random unit directions."""
    steps: list[Step] = []
    indices: list[Index] = []
    if use in ("directional", "auto"):
        for k in range(directions):
            v = rng.standard_normal(p.shape)
            steps.append(v / np.linalg.norm(v))
            indices.append(("direction", k))
    if use == "full":
        picks = np.arange(p.size)
    elif use in ("sampled", "auto"):
        picks = np.sort(rng.choice(p.size, size=min(samples, p.size), replace=False))
    else:
        picks = np.arange(0)
    steps += [int(j) for j in picks]
    indices += [tuple(int(x) for x in np.unravel_index(int(j), p.shape)) for j in picks]
    return steps, indices


def _analytic(g: np.ndarray, step: Step) -> float:
    if isinstance(step, int | np.integer):
        return float(g.flat[int(step)])
    return float(np.vdot(step, g))


@dataclass
class Verdict:
    numeric: np.ndarray  # the finite differences shown: of the step that fits best
    error: float
    noise: float  # how far `numeric` may be from the truth
    unverifiable: str | None


def _verdict(a: np.ndarray, d1: np.ndarray, d10: np.ndarray | None, floor: float) -> Verdict:
    """Compare backprop `a` with finite differences at eps (`d1`) and, where measured (not NaN),
    at CONFIRM·eps (`d10`). `floor` is the rounding noise of one difference at eps.

    The truth is g; d1 = g + r + t, d10 = g + r/CONFIRM + CONFIRM²·t (rounding r, step error t),
    so ‖d1 − d10‖ is about the larger of ‖r‖ and CONFIRM²·‖t‖: what either of them may be off
    by (measured on some of the values, it is scaled to all of them as independent noise). A
    discrepancy within that is noise."""
    noise = floor * math.sqrt(max(a.size, 1))
    numeric = d1
    if d10 is not None and (measured := np.isfinite(d10)).any():
        spread = float(np.linalg.norm(d1[measured] - d10[measured]))
        noise = max(noise, SAFETY * spread * math.sqrt(a.size / measured.sum()))
        if np.linalg.norm((a - d10)[measured]) < np.linalg.norm((a - d1)[measured]):
            numeric = np.where(measured, d10, d1)
    na, nn = float(np.linalg.norm(a)), float(np.linalg.norm(numeric))
    gap = float(np.linalg.norm(a - numeric))
    error = relative_error(a, numeric)
    if max(na, nn) <= noise:
        return Verdict(
            numeric,
            error,
            noise,
            f"gradient below the finite-difference noise floor ({noise:.1e})",
        )
    if gap <= noise and noise > RESOLUTION * (na + nn):
        return Verdict(
            numeric,
            error,
            noise,
            f"gradient too close to the finite-difference noise floor to judge (it agrees with "
            f"the differences within their noise, {noise:.1e}: {noise / (na + nn):.0%} of the "
            "gradient)",
        )
    if gap <= noise:
        error = min(error, BANDS[2][0])
    return Verdict(numeric, error, noise, None)


def _confirm(
    target: Target, i: int, steps: list[Step], a: np.ndarray, d1: np.ndarray, eps: float
) -> np.ndarray:
    """Finite differences at CONFIRM·eps of the CONFIRM_LIMIT values that differ most at eps
    (NaN for the others, and where a kink was crossed)."""
    d10 = np.full(len(steps), np.nan)
    for j in np.argsort(-np.abs(a - d1))[:CONFIRM_LIMIT]:
        d10[j] = _difference(target, i, steps[j], CONFIRM * eps)
    return d10


def _check_tensor(
    target: Target,
    i: int,
    *,
    mode: str,
    eps: float,
    samples: int,
    directions: int,
    rng: np.random.Generator,
    base: float,
    batch_size: int | None,
    top: float = 0.0,
) -> TensorCheck:
    """`base` is the loss at the unperturbed parameters; a difference's rounding noise is
    about ROUNDING·precision·|base| / eps, and what lies within it is not judged wrong. A
    tensor that seems wrong beyond it is measured again at CONFIRM·eps (`_verdict`). `top`
    is the largest gradient norm among the tensors checked (see ZERO_SHARE)."""
    p, g, name = target.arrays[i], target.grads[i], target.names[i]
    if g.shape != p.shape:
        raise ValueError(f"gradient of {name} has shape {g.shape}, the parameter {p.shape}")
    before = target.evaluations
    use = mode if mode != "auto" else ("full" if p.size <= FULL_LIMIT else "auto")
    steps, indices = _plan(p, use, samples, directions, rng)
    analytic = np.array([_analytic(g, s) for s in steps], float)
    d1 = _measure(target, i, steps, eps)
    floor = _floor(target, base, eps)
    keep = np.isfinite(d1)
    verdict = _verdict(analytic[keep], d1[keep], None, floor)
    confirmed = False
    if keep.any() and verdict.unverifiable is None and verdict.error > BANDS[1][0]:
        kept = [s for s, k in zip(steps, keep, strict=True) if k]
        d10 = _confirm(target, i, kept, analytic[keep], d1[keep], eps)
        verdict = _verdict(analytic[keep], d1[keep], d10, floor)
        confirmed = True
    kept_indices = [x for x, k in zip(indices, keep, strict=True) if k]
    check = TensorCheck(
        name,
        p.shape,
        use if use != "auto" else "directional+sampled",
        verdict.error,
        target.evaluations - before,
        analytic[keep],
        verdict.numeric,
        kept_indices,
        kinks=int(np.isnan(d1).sum()),
        noise=verdict.noise,
        confirmed=confirmed,
    )
    if not keep.any():
        check.unverifiable = (
            "the loss is not finite, or saturated, where the check moves the parameters (NaN, "
            "inf, or an output probability of exactly 0 or 1)"
            if np.isinf(d1).any()
            else "every difference crossed a ReLU kink"
        )
    elif verdict.unverifiable:
        check.unverifiable = f"{verdict.unverifiable}: the loss's rounding over a step of {eps:g}"
    elif check.wrong and (zero := _zero(check, top)):
        check.unverifiable = zero
    elif check.wrong:
        transposed = None
        if p.ndim == 2 and p.shape[0] == p.shape[1] and use == "full" and keep.all():
            transposed = verdict.numeric.reshape(p.shape).T
        check.classification, check.factor = classify(
            check.analytic, check.numeric, batch_size, transposed, verdict.noise
        )
    return check


def _zero(check: TensorCheck, top: float) -> str | None:
    """Why a tensor that seems wrong is zero up to rounding (see ZERO_SHARE), or None."""
    na, nn = float(np.linalg.norm(check.analytic)), float(np.linalg.norm(check.numeric))
    if nn > check.noise or na > ZERO_SHARE * top:
        return None
    return (
        f"gradient zero up to rounding (the finite differences are within their noise, "
        f"{check.noise:.1e}, and backprop's gradient, {na:.1e}, is below {ZERO_SHARE:g} of the "
        f"largest, {top:.1e})"
    )


def _screen(
    target: Target, order: Sequence[int], eps: float, directions: int, rng: np.random.Generator
) -> tuple[list[TensorCheck] | None, float, list[np.ndarray], list[float]]:
    """Every tensor at once: the directional derivative along v = (w_t·u_t)_t, u_t standard
    normal, against central differences that move every parameter together (2 evaluations per
    direction). Returns the per-tensor verdicts when every direction agrees (None otherwise),
    the loss, and the last direction's parts and their contributions w_t·a_tᵀu_t.

    The weights w_t = min(SCREEN_CAP, max_s ‖a_s‖ / ‖a_t‖) give each tensor about the same
    share of the derivative, so a large tensor cannot drown a small one. Why agreement means
    correct: let e = a − g be the error of the gradients checked. Then vᵀa − vᵀg = vᵀe is normal
    with standard deviation s = (Σ_t w_t²‖e_t‖²)^½, and the check misses e only when
    |vᵀe| ≤ tol = SAFETY·floor + SCREEN_RTOL·(|A| + |D|), which has probability at most
    √(2/π)·tol/s. A tensor t that G101 would call wrong has ‖e_t‖ ≥ ρ‖a_t‖ with ρ ≥ 1e-3 (its
    relative error exceeds 1e-3), so s ≥ ρ·max_s ‖a_s‖ while ‖a_t‖ ≥ max_s ‖a_s‖ / SCREEN_CAP
    (below that, the bound weakens by the missing factor), and |A| ≈ |D| is about
    max_s ‖a_s‖·√T for T tensors: one direction misses with probability about
    1.6·SCREEN_RTOL·√T/ρ — 7e-4 for 20 tensors at the smallest G101 error — and two independent
    ones about its square (5e-7). An error within the noise floor can be missed, as by any
    finite-difference check; an agreement that fails only costs the per-tensor work."""
    norms = [float(np.linalg.norm(g)) for g in target.grads]
    top = max(norms, default=0.0)
    weights = [
        min(SCREEN_CAP, top / n) if n > 0 else (SCREEN_CAP if top > 0 else 1.0) for n in norms
    ]
    worst, loss = 0.0, 0.0
    parts: list[np.ndarray] = []
    shares: list[float] = []
    for _ in range(directions):
        parts = [
            w * rng.standard_normal(p.shape, dtype=np.float32).astype(np.float64)
            for w, p in zip(weights, target.arrays, strict=True)
        ]
        shares = [float(np.vdot(v, g)) for v, g in zip(parts, target.grads, strict=True)]
        a = float(sum(shares))
        for i in order:
            _move(target, i, parts[i], eps, 1.0)
        plus, side = target(None), target.side()
        for i in order:
            _move(target, i, parts[i], eps, -1.0)
        minus = target(None)
        for i in order:
            np.copyto(target.arrays[i], target.origin[i])
        loss = (plus + minus) / 2
        d = (plus - minus) / (2 * eps)
        floor = _floor(target, loss, eps)
        kinked = target.pattern is not None and target.side() != side
        if kinked or not _agree(a, d, floor):
            return None, abs(loss), parts, shares
        worst = max(worst, relative_error([a], [d]))
    empty = np.zeros(0)
    checks = [
        TensorCheck(target.names[i], target.arrays[i].shape, "screened", worst, 0, empty, empty, [])
        for i in order
    ]
    return checks, abs(loss), parts, shares


def _agree(a: float, d: float, floor: float) -> bool:
    """A directional derivative and its central difference agree as strictly as the screen
    asks: within the rounding of the difference and SCREEN_RTOL."""
    return math.isfinite(d) and abs(a - d) <= SAFETY * floor + SCREEN_RTOL * (abs(a) + abs(d))


def _screened_tensor(
    target: Target, i: int, part: np.ndarray, share: float, eps: float, base: float
) -> TensorCheck | None:
    """Tensor i alone along its part of the screen's direction: its verdict if it agrees as
    strictly as the screen asks, else None (it is checked in full)."""
    before = target.evaluations
    d = _difference(target, i, part, eps)
    floor = _floor(target, base, eps)
    if not _agree(share, d, floor):
        return None
    return TensorCheck(
        target.names[i],
        target.arrays[i].shape,
        "directional",
        relative_error([share], [d]),
        target.evaluations - before,
        np.array([share]),
        np.array([d]),
        [("direction", 0)],
        noise=SAFETY * floor,
    )


LOADED = 4.0  # the wall time a check may take, as a multiple of its budget, on a loaded machine


class _Spent:
    """The time a check has used of what was left of its budget when it began: the lesser of
    the wall time and this process's CPU time, so the time other processes take from a loaded
    machine is not counted (up to LOADED times the budget in wall time: a user's call that
    sleeps still ends the check)."""

    def __init__(self, deadline: float | None):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.allowed = None if deadline is None else deadline - self.wall

    def over(self) -> bool:
        if self.allowed is None:
            return False
        wall = time.perf_counter() - self.wall
        work = min(wall, time.process_time() - self.cpu)
        return work > self.allowed or wall > LOADED * max(self.allowed, 0.0)


def check_target(
    target: Target,
    *,
    order: Sequence[int] | None = None,
    eps: float = 1e-6,
    mode: str = "auto",
    samples: int = 16,
    directions: int = 2,
    seed: int = 0,
    batch_size: int | None = None,
    deadline: float | None = None,
    screen: bool = False,
) -> GradcheckResult:
    """Check every tensor of `target`, in `order` (the order to report them: backprop order);
    past `deadline` (a time.perf_counter() value) the tensors not yet begun are left out and
    named in `skipped` — the first one is always checked. The time counted against the deadline
    is the work this process did (`_Spent`), so a machine loaded by others does not leave a
    wrong tensor unchecked.

    `screen` (auto mode): first every tensor at once along `directions` random directions
    (`_screen`); when they agree, that is the verdict. Otherwise each tensor alone along its
    part of the direction, and those that disagree are checked as `auto` checks them."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    rng = np.random.default_rng(seed)
    if target.precision > 1e-10:  # single precision: a step its rounding does not swamp
        eps = max(eps, target.precision ** (1 / 3))
    order = list(order if order is not None else range(len(target.arrays)))
    notes: list[str] = []
    parts: list[np.ndarray] | None = None
    shares: list[float] = []
    if screen and mode == "auto" and order:
        screened, base, parts, shares = _screen(target, order, eps, directions, rng)
        total = sum(p.size for p in target.arrays)
        if screened is not None:
            notes.append(
                f"all {total:,} parameters checked at once along {directions} random "
                "directions (weighted per tensor): they agree within the noise floor"
            )
            return GradcheckResult(screened, target.evaluations, batch_size, notes)
        notes.append(
            f"the check of all {total:,} parameters at once disagreed: each tensor checked alone"
        )
    else:
        base = abs(target(None))
    top = max((float(np.linalg.norm(target.grads[i])) for i in order), default=0.0)
    tensors: list[TensorCheck] = []
    skipped: list[str] = []
    spent = _Spent(deadline)
    for i in order:
        if tensors and spent.over():
            skipped.append(target.names[i])
            continue
        found = None
        if parts is not None:
            found = _screened_tensor(target, i, parts[i], shares[i], eps, base)
        if found is None:
            found = _check_tensor(
                target,
                i,
                mode=mode,
                eps=eps,
                samples=samples,
                directions=directions,
                rng=rng,
                base=base,
                batch_size=batch_size,
                top=top,
            )
        tensors.append(found)
    return GradcheckResult(tensors, target.evaluations, batch_size, notes, skipped=skipped)


def gradcheck(
    f: Callable[..., float],
    grad_f: Callable[..., Sequence[np.ndarray] | Mapping[str, np.ndarray]]
    | Sequence[np.ndarray]
    | Mapping[str, np.ndarray],
    params: Params,
    *,
    eps: float = 1e-6,
    mode: str = "auto",
    samples: int = 16,
    directions: int = 2,
    seed: int = 0,
    batch_size: int | None = None,
) -> GradcheckResult:
    """Check `grad_f(params)` against central differences of `f(params)` in float64.

    `params` is a list or dict of arrays (a dict's keys name the tensors); `f` and `grad_f` are
    given the same kind of container back. `grad_f` may also be the gradients themselves.
    `batch_size` lets a scaled gradient be named "scaled by the batch size".

    In `auto` mode all parameters are first checked at once along `directions` random
    directions, weighted so that every tensor counts (4 evaluations of `f` for 2 directions);
    when they agree within the noise floor the gradients are right — a wrong one slips through
    with probability below 1e-6 (see `_screen`). Only when they disagree is each tensor checked
    on its own, to say which ones are wrong and how."""
    if isinstance(params, Mapping):
        keys = [str(k) for k in params]
        arrays = list(params.values())
    else:
        keys = [f"p{i}" for i in range(len(params))]
        arrays = list(params)
    work = [np.array(p, dtype=np.float64, order="C") for p in arrays]  # C order: flat views

    def container(xs: list[np.ndarray]):
        return dict(zip(params, xs, strict=True)) if isinstance(params, Mapping) else xs

    grads = grad_f(container(work)) if callable(grad_f) else grad_f
    if isinstance(grads, Mapping):
        grads = [grads[k] for k in (params if isinstance(params, Mapping) else keys)]
    target = Target(
        work,
        [np.asarray(g, dtype=np.float64) for g in grads],
        keys,
        lambda _: float(f(container(work))),
    )
    for name, p, g in zip(keys, work, target.grads, strict=True):
        if g.shape != p.shape:
            raise ValueError(f"gradient of {name} has shape {g.shape}, the parameter {p.shape}")
    return check_target(
        target,
        eps=eps,
        mode=mode,
        samples=samples,
        directions=directions,
        seed=seed,
        batch_size=batch_size,
        screen=True,
    )


def assert_gradients(
    f: Callable[..., float],
    grad_f: Callable[..., Sequence[np.ndarray] | Mapping[str, np.ndarray]]
    | Sequence[np.ndarray]
    | Mapping[str, np.ndarray],
    params: Params,
    *,
    eps: float = 1e-6,
    mode: str = "auto",
    samples: int = 16,
    directions: int = 2,
    seed: int = 0,
    batch_size: int | None = None,
) -> GradcheckResult:
    """`gradcheck(...)`, raising AssertionError with the per-tensor table when a tensor is wrong."""
    result = gradcheck(
        f,
        grad_f,
        params,
        eps=eps,
        mode=mode,
        samples=samples,
        directions=directions,
        seed=seed,
        batch_size=batch_size,
    )
    if not result.ok:
        wrong = ", ".join(t.name for t in result.wrong)
        raise AssertionError(
            f"gradients of {wrong} do not match finite differences:\n{result.table()}"
        )
    return result
