"""The corpus's ground truth: central differences of a user's own loss against the user's own
gradients, in float64, written with NumPy only and nothing of nnfix (so nnfix is never judged by
itself).

A case's `truth.py` imports the user's code (copied beside it by run.py), builds a tiny batch,
and hands this module the parameters in forward order, the loss as a function of nothing
(it reads the parameters where the user's code keeps them), and the user's gradients:

    from truthlib import Param, report
    report([Param("W1", net.W1, grads["dW1"]), ...], loss=lambda: cost(forward(X), Y))

`report` prints one JSON line, the last line of the script's output, that run.py reads:
{"verdict": "correct" | "convention" | "wrong", "wrong": [...], "first_wrong": ..., "scale": c,
"tensors": {...}}. A parameter may be a NumPy array of any rank, a nested list of floats, or a
list of objects holding a float attribute (an autograd engine's `Value.data`); its gradient
the same, or None when the code gives none (that tensor is then wrong: "missing").
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPS = 1e-6  # central-difference step, relative to max(1, |value|)
RTOL = 1e-4  # relative error above which an entry is wrong
ATOL_FLOOR = 1e-7  # entries whose truth and claim are both below this are not judged
MAX_ENTRIES = 40  # entries compared per tensor (all of them when it has fewer)
CONVENTION_SPREAD = 1e-3  # the ratios of a convention agree to this relative spread


# --- reading and writing one entry of any container --------------------------------------


def _leaves(obj: Any, attr: str | None, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """Index paths of the float leaves of a nested list (or of objects holding `attr`)."""
    if isinstance(obj, list | tuple):
        out: list[tuple[int, ...]] = []
        for i, item in enumerate(obj):
            out.extend(_leaves(item, attr, (*path, i)))
        return out
    return [path]


def _get(obj: Any, path: tuple[int, ...], attr: str | None) -> float:
    for i in path:
        obj = obj[i]
    return float(getattr(obj, attr) if attr else obj)


def _set(obj: Any, path: tuple[int, ...], value: float, attr: str | None) -> None:
    for i in path[:-1]:
        obj = obj[i]
    if attr:
        setattr(obj[path[-1]] if path else obj, attr, value)
    else:
        obj[path[-1]] = value


@dataclass
class Param:
    """One parameter tensor and the gradient the user's code gives for it.

    `value`: a NumPy array (changed in place), a nested list of floats, or a (nested) list of
    objects whose `attr` holds the float (`attr="data"` for a micrograd `Value`). `grad`: the
    same kind of thing (`grad_attr="grad"` reads the objects' own attribute), or None.
    """

    name: str
    value: Any
    grad: Any
    attr: str | None = None
    grad_attr: str | None = None
    _paths: list[Any] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.value, np.ndarray):
            if not np.issubdtype(self.value.dtype, np.floating):
                raise TypeError(f"{self.name}: not a float array ({self.value.dtype})")
            self._paths = list(np.ndindex(self.value.shape))
        else:
            self._paths = _leaves(self.value, self.attr)

    @classmethod
    def engine(cls, name: str, values: Any, attr: str = "data", grad_attr: str = "grad") -> Param:
        """An autograd engine's scalars (micrograd `Value`s, nested in lists): each holds its
        float in `attr` and its gradient, after `loss.backward()`, in `grad_attr`."""
        return cls(name, values, values, attr=attr, grad_attr=grad_attr)

    @property
    def size(self) -> int:
        return len(self._paths)

    def get(self, k: int) -> float:
        if isinstance(self.value, np.ndarray):
            return float(self.value[self._paths[k]])
        return _get(self.value, self._paths[k], self.attr)

    def set(self, k: int, v: float) -> None:
        if isinstance(self.value, np.ndarray):
            self.value[self._paths[k]] = v
        else:
            _set(self.value, self._paths[k], v, self.attr)

    def claimed(self) -> np.ndarray | None:
        """The user's gradient as a flat float64 array in the value's order, or None."""
        g = self.grad
        if g is None:
            return None
        if self.grad_attr is not None:
            return np.array([_get(g, p, self.grad_attr) for p in _leaves(g, self.grad_attr)])
        arr = np.asarray(g, dtype=np.float64)
        if arr.size != self.size:
            return arr  # shape mismatch: judged by its shape
        if isinstance(self.value, np.ndarray) and arr.shape != self.value.shape:
            return arr
        return arr.reshape(-1)


# --- the check -----------------------------------------------------------------------------


def _numeric(p: Param, k: int, loss: Callable[[], float], eps: float) -> float:
    x = p.get(k)
    h = eps * max(1.0, abs(x))
    p.set(k, x + h)
    up = float(loss())
    p.set(k, x - h)
    down = float(loss())
    p.set(k, x)
    return (up - down) / (2 * h)


def judge(
    params: Sequence[Param],
    loss: Callable[[], float],
    *,
    eps: float = EPS,
    rtol: float = RTOL,
    max_entries: int = MAX_ENTRIES,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare each tensor's claimed gradient with central differences of `loss`.

    A tensor is right when every compared entry agrees to `rtol`; when every judged tensor is
    the truth times one constant c ≠ 1 the code is consistent (a "convention": ½ in the loss,
    the descent direction, a sum where the loss is a mean), else each disagreeing tensor is
    wrong. Tensors are listed in the order given (forward order); `first_wrong` is the wrong
    one nearest the output (the last).
    """
    rng = np.random.default_rng(seed)
    base = float(loss())
    tensors: dict[str, dict[str, Any]] = {}
    ratios: dict[str, float] = {}
    for p in params:
        claim = p.claimed()
        info: dict[str, Any] = {"size": p.size}
        tensors[p.name] = info
        if claim is None:
            info["status"] = "missing"
            continue
        if claim.ndim != 1 or claim.size != p.size:
            info["status"] = "shape"
            info["shape"] = list(claim.shape)
            continue
        picks = (
            range(p.size)
            if p.size <= max_entries
            else rng.choice(p.size, max_entries, replace=False)
        )
        num = np.array([_numeric(p, int(k), loss, eps) for k in picks])
        ana = claim[np.asarray(list(picks), dtype=int)]
        if not (np.all(np.isfinite(num)) and np.all(np.isfinite(ana))):
            info["status"] = "non-finite"
            continue
        scale = max(np.abs(num).max(), np.abs(ana).max())
        if scale < ATOL_FLOOR:
            info["status"] = "below-floor"
            continue
        rel = np.abs(ana - num) / np.maximum(np.maximum(np.abs(ana), np.abs(num)), ATOL_FLOOR)
        judged = np.maximum(np.abs(ana), np.abs(num)) > ATOL_FLOOR * 10
        info["max_rel"] = float(rel[judged].max()) if judged.any() else 0.0
        info["status"] = "right" if info["max_rel"] <= rtol else "differs"
        # the constant c with claim ≈ c · truth (least squares), and how well it fits
        nn = float(num @ num)
        if nn > 0:
            c = float(ana @ num) / nn
            resid = np.abs(ana - c * num).max() / max(np.abs(ana).max(), ATOL_FLOOR)
            if resid <= CONVENTION_SPREAD:
                ratios[p.name] = c
                info["ratio"] = c
    judged_names = [n for n, i in tensors.items() if i["status"] in ("right", "differs")]
    wrong = [n for n, i in tensors.items() if i["status"] in ("differs", "missing", "shape")]
    verdict = "correct" if not wrong else "wrong"
    scale_c = 1.0
    if wrong and all(tensors[n]["status"] == "differs" for n in wrong):
        cs = [ratios.get(n) for n in judged_names]
        if all(c is not None for c in cs) and cs:
            lo, hi = min(cs), max(cs)  # type: ignore[type-var]
            if math.isclose(lo, hi, rel_tol=CONVENTION_SPREAD * 10):
                verdict, scale_c, wrong = "convention", float(np.mean(cs)), []  # type: ignore[arg-type]
    return {
        "verdict": verdict,
        "wrong": wrong,
        "first_wrong": wrong[-1] if wrong else None,
        "scale": scale_c,
        "loss": base,
        "unjudged": [n for n, i in tensors.items() if i["status"] in ("below-floor", "non-finite")],
        "tensors": tensors,
    }


def report(params: Sequence[Param], loss: Callable[[], float], **extra: Any) -> dict[str, Any]:
    """judge(), plus any facts of the case's own (`extra`), printed as the last line."""
    out = judge(params, loss)
    out.update(extra)
    emit(out)
    return out


def emit(result: dict[str, Any]) -> None:
    """The one JSON line run.py reads (the last line of stdout)."""
    sys.stdout.write("\n" + json.dumps(result, default=float) + "\n")
    sys.stdout.flush()


def plateau(losses: Sequence[float], prior: float, *, tol: float = 0.01) -> dict[str, Any]:
    """A training claim: does the loss end within `tol` (relative) of the constant-prediction
    loss `prior`, and where did it start? For cases whose bug is in training, not gradients."""
    last = float(losses[-1])
    return {
        "verdict": "plateau" if abs(last - prior) <= tol * max(prior, 1e-12) else "learns",
        "first": float(losses[0]),
        "last": last,
        "prior": float(prior),
        "finite": bool(all(math.isfinite(x) for x in losses)),
    }


def source_of(path: str) -> str:
    """A .py file's text, or a notebook's code cells joined in order (shell and magic lines
    dropped), so a script or notebook can be loaded without running it whole."""
    from pathlib import Path

    p = Path(path)
    if p.suffix != ".ipynb":
        return p.read_text(encoding="utf-8")
    cells = json.loads(p.read_text(encoding="utf-8"))["cells"]
    out = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        src = cell["source"]
        text = "".join(src) if isinstance(src, list) else src
        out.append(
            "\n".join(
                "" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()
            )
        )
    return "\n\n".join(out)


def load_defs(path: str, *, keep: Callable[[Any], bool] | None = None, **given: Any) -> dict:
    """Execute only a file's imports, `def`s, `class`es and assignments whose right side is a
    literal (plus any top-level statement `keep(node)` accepts), in a fresh namespace seeded with
    `given` (e.g. X=..., Y=... where the script reads data). Returns the namespace. For scripts and
    notebooks whose top level trains, plots or reads files. Imports that fail are skipped."""
    import ast

    tree = ast.parse(source_of(path))
    ns: dict[str, Any] = {"__name__": "user_defs", **given}
    for node in tree.body:
        wanted = isinstance(
            node,
            ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef | ast.Import | ast.ImportFrom,
        ) or (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant | ast.List | ast.Tuple | ast.Dict)
        )
        if not (wanted or (keep is not None and keep(node))):
            continue
        code = compile(ast.Module(body=[node], type_ignores=[]), path, "exec")
        try:
            exec(code, ns)
        except ImportError:
            if not isinstance(node, ast.Import | ast.ImportFrom):
                raise
    return ns


def seed_everything(seed: int = 0) -> None:
    """NumPy's global and default generators and Python's random, as before each run."""
    import random

    random.seed(seed)
    np.random.seed(seed)
