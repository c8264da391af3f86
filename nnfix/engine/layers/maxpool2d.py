"""Max pooling over (C, H, W) samples: each output is the largest entry of its size×size window,
and its gradient goes to that one entry. Where two entries tie the max has no derivative:
`kinks` tells the gradient check which samples are too close to a tie to be checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, cast

import numpy as np
from pydantic import BaseModel, Field, PositiveInt

from nnfix.engine.layers.avgpool2d import check_input, entries, offsets, pooled_shape
from nnfix.engine.layers.layer import Array, Base, Kinks, LayerActivation, Param, Shape
from nnfix.engine.specs import InitSpec, Strict


class MaxPool2dSpec(Strict):
    """{type: maxpool2d, size: 2}: the largest entry of each size×size window."""

    type: Literal["maxpool2d"]
    """maxpool2d."""
    size: PositiveInt = Field(examples=[2])
    """The side of each square window."""
    stride: PositiveInt | None = None
    """The step between two windows (default: size)."""


@dataclass
class MaxPool2d(Base):
    Spec: ClassVar[type[BaseModel]] = MaxPool2dSpec
    type: ClassVar[str] = "maxpool2d"

    size: int
    stride: int
    act: LayerActivation | None = None

    @classmethod
    def build(
        cls,
        spec: MaxPool2dSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> MaxPool2d:
        check_input("maxpool2d", in_shape, spec.size)
        return cls(spec.size, spec.stride or spec.size)

    def output_shape(self, in_shape: Shape) -> Shape:
        return pooled_shape(in_shape, self.size, self.stride)

    def params(self) -> list[Array]:
        return []

    def param_info(self) -> list[Param]:
        return []

    def with_params(self, params: list[Array]) -> MaxPool2d:
        return self

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        hw = self.output_shape(x.shape[1:])[1:]
        (i, j), *rest = offsets(self.size)
        top = entries(x, i, j, hw, self.stride).copy()
        argmax = np.zeros(top.shape, np.int32)  # q = i·size + j of each window's first max
        for q, (i, j) in enumerate(rest, start=1):  # arithmetic, not masked writes: no branches
            entry = entries(x, i, j, hw, self.stride)
            above = entry > top
            argmax += above * (q - argmax)
            top = np.maximum(top, entry)
        return top, (x, argmax)

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        if not need_dx:
            return [], None
        x, argmax = cast(tuple[Array, Array], cache)
        dx = np.zeros_like(x, dout.dtype)  # x's memory order: conv's channel-major stays so
        for q, (i, j) in enumerate(offsets(self.size)):
            view = entries(dx, i, j, dout.shape[2:], self.stride)
            view += dout * (argmax == q)
        return [], dx

    def kinks(self, cache: object) -> Kinks | None:
        """The argmax of every window; per sample, half the smallest gap between a window's
        largest entry and its next (moving entries by less than that changes no argmax)."""
        x, argmax = cast(tuple[Array, Array], cache)
        n = len(x)
        if self.size == 1:
            return Kinks(argmax, np.full(n, np.inf))
        hw = argmax.shape[2:]
        every = np.stack([entries(x, i, j, hw, self.stride) for i, j in offsets(self.size)])
        top2 = -np.partition(-every, 1, axis=0)[:2]
        gap = (top2[0] - top2[1]).reshape(n, -1).min(axis=1)
        return Kinks(argmax, gap / 2)
