"""Batch normalisation per unit (after dense: (batch, n)), per channel (after conv2d: (batch, C,
H, W)) or per feature (sequences: (batch, T, features)): x̂ = (x − μ) / √(σ² + eps), out = γ·x̂ + β.
Train mode normalises by the batch's statistics, which `update_buffers` then folds into the
running ones; eval mode normalises by the running ones."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, cast

import numpy as np
from pydantic import BaseModel, Field

from nnfix.engine.layers.layer import (
    Array,
    Base,
    LayerActivation,
    Mistake,
    Param,
    Shape,
    unit_axis,
)
from nnfix.engine.specs import InitSpec, Strict


class BatchNormSpec(Strict):
    """{type: batchnorm}: over the previous layer's units (per channel after conv2d)."""

    type: Literal["batchnorm"]
    """batchnorm."""
    momentum: float = Field(0.9, ge=0, lt=1)
    """How much of the running statistics each train step keeps: r ← m·r + (1 − m)·batch."""
    eps: float = Field(1e-5, gt=0)
    """Added to the variance before its square root."""


# gamma and beta (units,): they start equal across units by design, so no symmetry rule
SCALE = Param("gamma", "scale", unit_axis=0, l2=False, symmetric=False)
SHIFT = Param("beta", "shift", unit_axis=0, l2=False, symmetric=False)


def _backward(
    layer: BatchNorm, dout: Array, cache: Any, need_dx: bool = True, statistics: bool = True
) -> tuple[list[Array], Array | None]:
    """The gradients of gamma, beta and x; `statistics`: in train mode, through the batch's
    mean and variance too (they depend on every x of the unit)."""
    xhat, inv_std, _, _, train = cache
    axis = unit_axis(dout.ndim)
    over = tuple(i for i in range(dout.ndim) if i != axis)
    grads = [(dout * xhat).sum(axis=over), dout.sum(axis=over)]
    if not need_dx:
        return grads, None
    dxhat = dout * layer._shaped(layer.gamma, dout.ndim)
    if not (train and statistics):  # eval mode: the statistics are constants
        return grads, dxhat * inv_std
    mean_dxhat = dxhat.mean(axis=over, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=over, keepdims=True)
    return grads, inv_std * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


def _without_statistics(layer: BatchNorm, dout: Array, cache: object) -> tuple[list[Array], Array]:
    """The usual mistake: the gradient missing the batch statistics' terms."""
    grads, dx = _backward(layer, dout, cache, statistics=False)
    assert dx is not None
    return grads, dx


@dataclass
class BatchNorm(Base):
    Spec: ClassVar[type[BaseModel]] = BatchNormSpec
    type: ClassVar[str] = "batchnorm"
    mistakes: ClassVar[tuple[Mistake, ...]] = (
        Mistake(
            "the input gradient misses the terms through the batch's mean and variance",
            _without_statistics,
        ),
    )

    gamma: Array  # (units,)
    beta: Array  # (units,)
    running_mean: Array
    running_var: Array
    momentum: float = 0.9
    eps: float = 1e-5
    act: LayerActivation | None = None

    @classmethod
    def build(
        cls,
        spec: BatchNormSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> BatchNorm:
        """γ = 1, β = 0 (whatever the init: a unit's scale and shift start as the identity), the
        running mean 0 and variance 1."""
        n = in_shape[unit_axis(len(in_shape) + 1) - 1]
        ones, zeros = np.ones(n, dtype), np.zeros(n, dtype)
        return cls(ones, zeros.copy(), zeros.copy(), ones.copy(), spec.momentum, spec.eps)

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def params(self) -> list[Array]:
        return [self.gamma, self.beta]

    def param_info(self) -> list[Param]:
        return [SCALE, SHIFT]

    def buffers(self) -> dict[str, Array]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def with_params(self, params: list[Array]) -> BatchNorm:
        """A layer holding `params` and its own copy of the running statistics, so that a
        copy's training leaves this layer's untouched."""
        return replace(
            self,
            gamma=params[0],
            beta=params[1],
            running_mean=self.running_mean.copy(),
            running_var=self.running_var.copy(),
        )

    def _shaped(self, v: Array, ndim: int) -> Array:
        """A per-unit vector broadcast against x of `ndim` dimensions."""
        shape = [1] * ndim
        shape[unit_axis(ndim)] = -1
        return v.reshape(shape)

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        axis = unit_axis(x.ndim)
        over = tuple(i for i in range(x.ndim) if i != axis)
        if train:
            mean, var = x.mean(axis=over), x.var(axis=over)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = self._shaped(1 / np.sqrt(var + self.eps), x.ndim).astype(x.dtype, copy=False)
        xhat = (x - self._shaped(mean, x.ndim)) * inv_std
        out = xhat * self._shaped(self.gamma, x.ndim) + self._shaped(self.beta, x.ndim)
        return out, (xhat, inv_std, mean, var, train)

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        return _backward(self, dout, cache, need_dx)

    def update_buffers(self, cache: object) -> None:
        """After a train step: r ← m·r + (1 − m)·(the batch's statistic), in place."""
        _, _, mean, var, train = cast(tuple[Array, Array, Array, Array, bool], cache)
        if not train:
            return
        m = self.momentum
        for running, batch in ((self.running_mean, mean), (self.running_var, var)):
            running *= m
            running += (1 - m) * batch
