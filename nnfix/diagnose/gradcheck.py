"""Finite-difference gradient checking, in float64, per tensor: the check behind G101 and the
public `nnfix.gradcheck` / `nnfix.assert_gradients` for a user's own pytest suite.

Modes: `full` checks every entry; `directional` checks vᵀg along random unit directions v (one
pair of evaluations checks a whole tensor, as PyTorch's fast gradcheck does); `sampled` checks
random entries; `auto` is full for small tensors and directional plus sampled for large ones, so
its cost grows with the number of tensors, not of parameters."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

BANDS = ((1e-7, "excellent"), (1e-5, "fine"), (1e-3, "suspicious"), (math.inf, "wrong"))
FULL_LIMIT = 256  # auto: tensors up to this many entries are checked entry by entry
NOISE = 1e-9  # below this |gradient| (relative to the loss) central differences cannot tell


def band(error: float) -> str:
    for limit, name in BANDS:
        if error <= limit:
            return name
    return "wrong"


def relative_error(a: np.ndarray, n: np.ndarray) -> float:
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
    indices: list[tuple[int, ...]] | None  # which entries (None: all, in order)
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

    def worst(self, k: int = 3) -> list[tuple[tuple[int, ...], float, float]]:
        """The k entries where backprop and finite differences differ most: (index, yours, numeric)."""
        diff = np.abs(self.analytic - self.numeric)
        order = np.argsort(-diff)[:k]
        index = self.indices or [
            tuple(int(i) for i in np.unravel_index(j, self.shape)) for j in range(diff.size)
        ]
        return [(index[j], float(self.analytic[j]), float(self.numeric[j])) for j in order]


@dataclass
class GradcheckResult:
    tensors: list[TensorCheck]
    evaluations: int
    batch_size: int | None = None
    notes: list[str] = field(default_factory=list)

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
            rows.append(
                f"{t.name:<8} {'x'.join(map(str, t.shape)):<12} {t.mode:<20} {t.error:>11.3e}  {verdict}"
            )
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
    shape: tuple[int, ...],
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


def _as_list(params) -> tuple[list[str], list[np.ndarray]]:
    if isinstance(params, Mapping):
        return list(params), list(params.values())
    return [f"p{i}" for i in range(len(params))], list(params)


def gradcheck(
    f: Callable[[list[np.ndarray]], float],
    grad_f: Callable[[list[np.ndarray]], Sequence[np.ndarray] | Mapping[str, np.ndarray]]
    | Sequence[np.ndarray],
    params: Sequence[np.ndarray] | Mapping[str, np.ndarray],
    *,
    names: Sequence[str] | None = None,
    eps: float = 1e-6,
    mode: str = "auto",
    samples: int = 16,
    directions: int = 2,
    seed: int = 0,
    batch_size: int | None = None,
    order: Sequence[int] | None = None,
    pattern: Callable[[], object] | None = None,
    partial: Callable[[object, int], float] | None = None,
) -> GradcheckResult:
    """Check `grad_f(params)` against central differences of `f(params)` in float64.

    `params` is a list or dict of arrays (a dict's keys name the tensors); `f` and `grad_f` take
    the same container type back. `batch_size` lets a scaled gradient be named as "scaled by the
    batch size". `order` lists the tensors in the order to report them (backprop order).
    `pattern()`, called after each evaluation of `f`, returns which side of its kink every ReLU-
    like unit was on; a difference whose two evaluations disagree straddles a kink and is left
    out (not judged), as are directions that do. `partial(params, i)`, where given, is `f` for
    evaluations that perturb only tensor i: it may reuse whatever does not depend on it."""
    keys, arrays = _as_list(params)
    names = list(names) if names is not None else keys
    work = [np.array(p, dtype=np.float64, order="C") for p in arrays]  # C order: flat views
    container = (
        (lambda xs: dict(zip(keys, xs, strict=True)))
        if isinstance(params, Mapping)
        else (lambda xs: xs)
    )
    grads = grad_f(container(work)) if callable(grad_f) else grad_f
    if isinstance(grads, Mapping):
        grads = [grads[k] for k in keys]
    grads = [np.asarray(g, dtype=np.float64) for g in grads]
    rng = np.random.default_rng(seed)
    count = 0

    current: int | None = None  # the tensor being perturbed

    def loss() -> float:
        nonlocal count
        count += 1
        if partial is not None and current is not None:
            return float(partial(container(work), current))
        return float(f(container(work)))

    base = abs(loss())
    tensors = []
    for i in order if order is not None else range(len(work)):
        p, g, name = work[i], grads[i], names[i]
        current = i
        if g.shape != p.shape:
            raise ValueError(f"gradient of {name} has shape {g.shape}, the parameter {p.shape}")
        before = count
        use = mode if mode != "auto" else ("full" if p.size <= FULL_LIMIT else "auto")
        flat, gflat = p.reshape(-1), g.reshape(-1)
        errors, analytic, numeric, indices = [], [], [], None
        kinks = 0

        def entry(j: int, flat: np.ndarray = flat) -> float:
            old = flat[j]
            flat[j] = old + eps
            plus, side = loss(), pattern() if pattern else None
            flat[j] = old - eps
            minus = loss()
            flat[j] = old
            if pattern and pattern() != side:
                return math.nan  # crossed a kink: no derivative to compare with
            return (plus - minus) / (2 * eps)

        if use == "full":
            numeric = np.array([entry(j) for j in range(p.size)])
            analytic = gflat.copy()
            smooth = np.isfinite(numeric)
            kinks += int((~smooth).sum())
            errors.append(relative_error(analytic[smooth], numeric[smooth]))
        if use in ("directional", "auto"):
            ratios = []
            for _ in range(directions):
                v = rng.standard_normal(p.shape)
                v /= np.linalg.norm(v)
                p += eps * v
                plus, side = loss(), pattern() if pattern else None
                p -= 2 * eps * v
                minus = loss()
                p += eps * v
                if pattern and pattern() != side:
                    kinks += 1
                    continue
                d_n, d_a = (plus - minus) / (2 * eps), float(np.sum(v * g))
                errors.append(relative_error([d_a], [d_n]))
                ratios.append((d_a, d_n))
            if use == "directional":
                analytic, numeric = (
                    np.array([r[0] for r in ratios]),
                    np.array([r[1] for r in ratios]),
                )
                indices = [("direction", k) for k in range(len(ratios))]
        transposed = None
        if use in ("sampled", "auto"):
            picks = rng.choice(p.size, size=min(samples, p.size), replace=False)
            indices = [tuple(int(x) for x in np.unravel_index(j, p.shape)) for j in picks]
            numeric = np.array([entry(int(j)) for j in picks])
            analytic = gflat[picks].copy()
            smooth = np.isfinite(numeric)
            kinks += int((~smooth).sum())
            errors.append(relative_error(analytic[smooth], numeric[smooth]))
        analytic, numeric = np.asarray(analytic, float), np.asarray(numeric, float)
        smooth = np.isfinite(numeric)
        if not smooth.all():  # leave out the differences that crossed a kink
            if indices is None:
                indices = [
                    tuple(int(x) for x in np.unravel_index(j, p.shape)) for j in range(p.size)
                ]
            indices = [i for i, keep in zip(indices, smooth, strict=True) if keep]
            analytic, numeric = analytic[smooth], numeric[smooth]
        mode_name = use if use != "auto" else "directional+sampled"
        check = TensorCheck(
            name,
            p.shape,
            mode_name,
            max(errors, default=0.0),
            count - before,
            analytic,
            numeric,
            indices,
            kinks=kinks,
        )
        if p.ndim == 2 and p.shape[0] == p.shape[1] and use == "full" and numeric.size == p.size:
            transposed = numeric.reshape(p.shape).T
        if numeric.size == 0:
            check.unverifiable = "every difference crossed a ReLU kink"
        elif check.wrong:
            check.classification, check.factor = classify(
                analytic, numeric, p.shape, batch_size, transposed
            )
        elif np.linalg.norm(numeric) < NOISE * max(base, 1.0) and np.linalg.norm(
            analytic
        ) < NOISE * max(base, 1.0):
            check.unverifiable = "gradient below the finite-difference noise floor"
        tensors.append(check)
    return GradcheckResult(tensors, count, batch_size)


def assert_gradients(*args, **kwargs) -> GradcheckResult:
    """`gradcheck(...)`, raising AssertionError with the per-tensor table when a tensor is wrong."""
    result = gradcheck(*args, **kwargs)
    if not result.ok:
        wrong = ", ".join(t.name for t in result.wrong)
        raise AssertionError(
            f"gradients of {wrong} do not match finite differences:\n{result.table()}"
        )
    return result
