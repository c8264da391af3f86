"""The constant a backward carries, read from a gradient check (SPEC §3.3): ½ from a loss with a
factor ½, −1 from a backward that returns the descent direction, m from a sum where the loss is
a mean — and, beside it, the tensors that are not that constant times their true gradient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnfix.diagnose.gradcheck import GradcheckResult, TensorCheck

CONVENTION_RTOL = 1e-3  # G105: a tensor carries c when it is c × its true gradient within this


@dataclass(frozen=True)
class Reading:
    """A check read for the constant the backward carries (SPEC §3.3): `c` (1 when none), the
    judged tensors that are c × the true gradient, and the others — the G101s, output first."""

    c: float
    agree: list[TensorCheck]
    off: list[TensorCheck]

    @property
    def convention(self) -> float | None:
        """c where the backward carries a constant (G105), else None."""
        return self.c if self.c != 1.0 else None


def _fits(t: TensorCheck, c: float) -> bool:
    """Is t's gradient c × its finite differences, to CONVENTION_RTOL and their own noise? At
    c = 1 that is the check's own verdict (right, or within the bands below wrong)."""
    if c == 1.0:
        return not t.wrong
    fit = np.linalg.norm(t.analytic - c * t.numeric)
    return bool(fit <= CONVENTION_RTOL * np.linalg.norm(t.analytic) + abs(c) * t.noise)


def reading(result: GradcheckResult, layer_of: Callable[[str], int]) -> Reading:
    """The constant c read from the tensors nearest the output that agree (SPEC §3.3): going
    from the output down, the first layer whose judged tensors all carry one factor (1 where
    they are right, the constant a scaled one is off by) that more than one judged tensor
    carries gives c — a bug enters below the tensors that carry the convention and corrupts
    what lies under it, never above, while a convention scales weights and biases alike (a
    layer whose weight and bias disagree has a bug in one of them). c is then the factor known
    most precisely among the tensors that carry it (a tensor far above the noise floor).
    Without such a layer, c = 1: each tensor is judged against the true gradient. Tensors
    below the noise floor are not judged."""
    judged = [t for t in result.tensors if not t.unverifiable]
    layers: dict[int, list[TensorCheck]] = {}  # output first, as the check reports them
    for t in judged:
        layers.setdefault(layer_of(t.name), []).append(t)
    c = 1.0
    for group in layers.values():
        factor = 1.0 if not group[0].wrong else group[0].factor  # zero (0) is no convention
        if not factor or not all(_fits(u, factor) for u in group):
            continue
        carriers = [u for u in judged if _fits(u, factor)]
        if len(carriers) == 1 and len(judged) > 1:
            continue  # one tensor alone: its factor may be its own bug
        if factor != 1.0:
            best = min(
                (u for u in carriers if u.factor),
                key=lambda u: u.noise / max(float(np.linalg.norm(u.numeric)), 1e-300),
            )
            assert best.factor is not None
            factor = best.factor
        c = factor if abs(factor - 1) >= CONVENTION_RTOL else 1.0
        break
    return Reading(c, [t for t in judged if _fits(t, c)], [t for t in judged if not _fits(t, c)])
