"""Average pooling over (C, H, W) samples, and the window entries both pools read: each output is
the mean of a size×size window, windows `stride` apart (default: size, no overlap)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, cast

import numpy as np
from pydantic import BaseModel, Field, PositiveInt

from nnfix.engine.layers.layer import Array, Base, LayerActivation, Param, Shape, ShapeError
from nnfix.engine.specs import InitSpec, Strict


class AvgPool2dSpec(Strict):
    """{type: avgpool2d, size: 2}: the mean of each size×size window."""

    type: Literal["avgpool2d"]
    """avgpool2d."""
    size: PositiveInt = Field(examples=[2])
    """The side of each square window."""
    stride: PositiveInt | None = None
    """The step between two windows (default: size)."""


def pooled_shape(in_shape: Shape, size: int, stride: int) -> Shape:
    """(C, Ho, Wo) of a pool over (C, H, W) samples."""
    c, h, w = in_shape
    return (c, (h - size) // stride + 1, (w - size) // stride + 1)


def offsets(size: int) -> list[tuple[int, int]]:
    """The (row, column) offsets inside a size×size window, in C order (entry q = i·size + j)."""
    return [(i, j) for i in range(size) for j in range(size)]


def entries(x: Array, i: int, j: int, out_hw: Shape, stride: int) -> Array:
    """The view (N, C, Ho, Wo) of x (N, C, H, W) holding entry (i, j) of every window: pools
    loop over the size² offsets, never over pixels."""
    ho, wo = out_hw
    return x[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]


def check_input(type_: str, in_shape: Shape, size: int) -> None:
    """ShapeError unless a pool of `size` fits in samples of `in_shape`."""
    if len(in_shape) != 3:
        raise ShapeError(f"{type_} takes (C, H, W) samples, not shape {in_shape}")
    if min(in_shape[1:]) < size:
        h, w = in_shape[1:]
        raise ShapeError(f"a {size}x{size} window does not fit in a {h}x{w} input", "size")


@dataclass
class AvgPool2d(Base):
    Spec: ClassVar[type[BaseModel]] = AvgPool2dSpec
    type: ClassVar[str] = "avgpool2d"

    size: int
    stride: int
    act: LayerActivation | None = None

    @classmethod
    def build(
        cls,
        spec: AvgPool2dSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> AvgPool2d:
        check_input("avgpool2d", in_shape, spec.size)
        return cls(spec.size, spec.stride or spec.size)

    def output_shape(self, in_shape: Shape) -> Shape:
        return pooled_shape(in_shape, self.size, self.stride)

    def params(self) -> list[Array]:
        return []

    def param_info(self) -> list[Param]:
        return []

    def with_params(self, params: list[Array]) -> AvgPool2d:
        return self

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        hw = self.output_shape(x.shape[1:])[1:]
        (i, j), *rest = offsets(self.size)
        total = entries(x, i, j, hw, self.stride).copy()
        for i, j in rest:
            total += entries(x, i, j, hw, self.stride)
        total /= self.size * self.size
        return total, x

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        if not need_dx:
            return [], None
        dx = np.zeros_like(cast(Array, cache), dout.dtype)  # in x's memory order
        share = dout / (self.size * self.size)
        for i, j in offsets(self.size):
            view = entries(dx, i, j, dout.shape[2:], self.stride)
            view += share
        return [], dx
