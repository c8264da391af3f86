"""Finite-difference gradient checking, in float64, per tensor: the check behind G101 and the
public `nnfix.gradcheck` / `nnfix.assert_gradients` for a user's own pytest suite.

Modes: `full` checks every entry; `directional` checks vᵀg along random unit directions v (one
pair of evaluations checks a whole tensor, as PyTorch's fast gradcheck does); `sampled` checks
random entries; `auto` is full for small tensors and directional plus sampled for large ones, so
its cost grows with the number of tensors, not of parameters."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

BANDS = ((1e-7, "excellent"), (1e-5, "fine"), (1e-3, "suspicious"), (math.inf, "wrong"))
FULL_LIMIT = 256  # auto: tensors up to this many entries are checked entry by entry
FLOAT64 = float(np.finfo(np.float64).eps)
ROUNDING = 4.0  # rounding of a loss evaluation, in units of its precision times its size
MODES = ("auto", "full", "directional", "sampled")

Params = Sequence[np.ndarray] | Mapping[str, np.ndarray]
Index = tuple[int, ...] | tuple[str, int]  # an entry, or ("direction", k)


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
    error: float  # relative error, the worst of the checks made
    evaluations: int  # loss evaluations spent on it
    analytic: np.ndarray  # the entries compared (all of them in full mode)
    numeric: np.ndarray
    indices: list[Index]  # which entries, in the order of `analytic`
    classification: str | None = None  # for wrong tensors: what kind of wrong
    factor: float | None = None  # the constant a scaled gradient is off by
    unverifiable: str | None = None  # why no verdict could be given
    kinks: int = 0  # differences left out because they crossed a ReLU kink

    @property
    def band(self) -> str:
        return "unverifiable" if self.unverifiable else band(self.error)

    @property
    def wrong(self) -> bool:
        return self.band == "wrong"

    def worst(self, k: int = 3) -> list[tuple[Index, float, float]]:
        """The k entries where backprop and finite differences differ most: (index, yours, numeric)."""
        order = np.argsort(-np.abs(self.analytic - self.numeric))[:k]
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
) -> tuple[str, float | None]:
    """What kind of wrong a tensor's gradient is, from the entries compared."""
    a, n = np.asarray(a, float).ravel(), np.asarray(n, float).ravel()
    na, nn = np.linalg.norm(a), np.linalg.norm(n)
    if na <= 1e-3 * nn:
        return "zero: backprop gives (almost) no gradient", 0.0
    if transposed is not None and relative_error(a, np.ravel(transposed)) < 1e-4:
        return "transposed: the gradient of Wᵀ", None
    if nn > 0:
        c = float(a @ n / (n @ n))
        if np.linalg.norm(a - c * n) <= 1e-3 * na:
            if abs(c + 1) < 1e-3:
                return "sign flipped: backprop points uphill", c
            if batch and abs(c - batch) < 1e-3 * batch:
                return f"scaled by the batch size ({batch}): a sum where the mean is taken", c
            if batch and abs(c * batch - 1) < 1e-3:
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
    moved (None: none), so it may reuse what does not depend on it; `pattern()`, called after an
    evaluation, says which side of its kink every ReLU-like unit was on."""

    arrays: list[np.ndarray]
    grads: list[np.ndarray]
    names: list[str]
    loss: Callable[[int | None], float]
    pattern: Callable[[], object] | None = None
    evaluations: int = 0
    precision: float = FLOAT64  # the machine epsilon the loss is computed in (float32 code: 1.2e-7)

    def __call__(self, tensor: int | None) -> float:
        self.evaluations += 1
        return float(self.loss(tensor))

    def side(self) -> object:
        return self.pattern() if self.pattern is not None else None


@dataclass
class Comparison:
    """The finite differences of one tensor set against its gradient."""

    analytic: list[float] = field(default_factory=list)
    numeric: list[float] = field(default_factory=list)
    indices: list[Index] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    kinks: int = 0


def _difference(target: Target, i: int, step: np.ndarray | tuple[int, float]) -> float:
    """(f(p + h) − f(p − h)) / 2 along a step: an entry (j, eps) or an array added to tensor i;
    NaN when the two evaluations straddle a kink."""
    p = target.arrays[i]
    flat = p.reshape(-1)
    if isinstance(step, tuple):
        j, eps = step
        old = flat[j]
        flat[j] = old + eps
        plus, side = target(i), target.side()
        flat[j] = old - eps
        minus = target(i)
        flat[j] = old
    else:
        p += step
        plus, side = target(i), target.side()
        p -= 2 * step
        minus = target(i)
        p += step
    if target.pattern is not None and target.side() != side:
        return math.nan
    return (plus - minus) / 2


def _entries(target: Target, i: int, picks: Iterable[int], eps: float, out: Comparison) -> None:
    """Central differences of chosen entries of tensor i against their gradient entries."""
    p, g = target.arrays[i], target.grads[i].reshape(-1)
    numeric, analytic, indices = [], [], []
    for j in picks:
        d = _difference(target, i, (int(j), eps)) / eps
        if math.isnan(d):
            out.kinks += 1
            continue
        numeric.append(d)
        analytic.append(float(g[j]))
        indices.append(tuple(int(x) for x in np.unravel_index(int(j), p.shape)))
    out.errors.append(relative_error(analytic, numeric))
    out.numeric += numeric
    out.analytic += analytic
    out.indices += indices


def _directions(
    target: Target, i: int, count: int, eps: float, rng: np.random.Generator, out: Comparison
) -> list[tuple[float, float]]:
    """vᵀg against (f(p + εv) − f(p − εv)) / 2ε for `count` random unit directions v."""
    p, g = target.arrays[i], target.grads[i]
    pairs = []
    for _ in range(count):
        v = rng.standard_normal(p.shape)
        v /= np.linalg.norm(v)
        d = _difference(target, i, eps * v) / eps
        if math.isnan(d):
            out.kinks += 1
            continue
        analytic = float(np.sum(v * g))
        out.errors.append(relative_error([analytic], [d]))
        pairs.append((analytic, d))
    return pairs


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
) -> TensorCheck:
    """`base` is the loss at the unperturbed parameters; a difference's rounding noise is
    about ROUNDING·precision·|base| / eps, and what lies within it is not judged."""
    p, g, name = target.arrays[i], target.grads[i], target.names[i]
    if g.shape != p.shape:
        raise ValueError(f"gradient of {name} has shape {g.shape}, the parameter {p.shape}")
    before = target.evaluations
    use = mode if mode != "auto" else ("full" if p.size <= FULL_LIMIT else "auto")
    out = Comparison()
    if use == "full":
        _entries(target, i, range(p.size), eps, out)
    if use in ("directional", "auto"):
        pairs = _directions(target, i, directions, eps, rng, out)
        if use == "directional":
            out.analytic, out.numeric = [a for a, _ in pairs], [n for _, n in pairs]
            out.indices = [("direction", k) for k in range(len(pairs))]
    if use in ("sampled", "auto"):
        picks = rng.choice(p.size, size=min(samples, p.size), replace=False)
        out.analytic, out.numeric, out.indices = [], [], []  # the entries are what is shown
        _entries(target, i, picks, eps, out)
    analytic, numeric = np.asarray(out.analytic, float), np.asarray(out.numeric, float)
    check = TensorCheck(
        name,
        p.shape,
        use if use != "auto" else "directional+sampled",
        max(out.errors, default=0.0),
        target.evaluations - before,
        analytic,
        numeric,
        out.indices,
        kinks=out.kinks,
    )
    transposed = None
    if p.ndim == 2 and p.shape[0] == p.shape[1] and use == "full" and numeric.size == p.size:
        transposed = numeric.reshape(p.shape).T
    noise = ROUNDING * target.precision * max(base, 1e-12) / eps * np.sqrt(max(numeric.size, 1))
    if numeric.size and np.linalg.norm(analytic - numeric) <= noise:
        check.error = min(check.error, BANDS[2][0])  # the difference is within the rounding
    if numeric.size == 0:
        check.unverifiable = "every difference crossed a ReLU kink"
    elif np.linalg.norm(numeric) < noise and np.linalg.norm(analytic) < noise:
        check.unverifiable = (
            f"gradient below the finite-difference noise floor ({noise:.1e}: the loss's "
            f"rounding over a step of {eps:g})"
        )
    elif check.wrong:
        check.classification, check.factor = classify(analytic, numeric, batch_size, transposed)
    return check


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
) -> GradcheckResult:
    """Check every tensor of `target`, in `order` (the order to report them: backprop order);
    past `deadline` (a time.perf_counter() value) the tensors not yet begun are left out and
    named in `skipped` — the first one is always checked."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    rng = np.random.default_rng(seed)
    if target.precision > 1e-10:  # single precision: a step its rounding does not swamp
        eps = max(eps, target.precision ** (1 / 3))
    base = abs(target(None))
    tensors: list[TensorCheck] = []
    skipped: list[str] = []
    for i in order if order is not None else range(len(target.arrays)):
        if tensors and deadline is not None and time.perf_counter() > deadline:
            skipped.append(target.names[i])
            continue
        tensors.append(
            _check_tensor(
                target,
                i,
                mode=mode,
                eps=eps,
                samples=samples,
                directions=directions,
                rng=rng,
                base=base,
                batch_size=batch_size,
            )
        )
    return GradcheckResult(tensors, target.evaluations, batch_size, skipped=skipped)


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
    `batch_size` lets a scaled gradient be named "scaled by the batch size"."""
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
    return check_target(
        target,
        eps=eps,
        mode=mode,
        samples=samples,
        directions=directions,
        seed=seed,
        batch_size=batch_size,
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
