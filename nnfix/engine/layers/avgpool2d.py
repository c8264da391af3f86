"""Average pooling over (C, H, W) samples, and the window view both pools read: each output is
the mean of a size×size window, windows `stride` apart (default: size, no overlap)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, Field, PositiveInt

from nnfix.engine.layers.layer import Array, Base, LayerActivation, Param, Shape, ShapeError
from nnfix.spec.parts import InitSpec, Strict


class AvgPool2dSpec(Strict):
    """{type: avgpool2d, size: 2}: the mean of each size×size window."""

    type: Literal["avgpool2d"]
    """avgpool2d."""
    size: PositiveInt = Field(examples=[2])
    """The side of each square window."""
    stride: PositiveInt | None = None
    """The step between two windows (default: size)."""


def windows(x: Array, size: int, stride: int) -> Array:
    """The windows of x (N, C, H, W) as a view (N, C, Ho, Wo, size, size)."""
    return sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]


def pooled_shape(in_shape: Shape, size: int, stride: int) -> Shape:
    """(C, Ho, Wo) of a pool over (C, H, W) samples."""
    c, h, w = in_shape
    return (c, (h - size) // stride + 1, (w - size) // stride + 1)


def unpool(d: Array, x_shape: Shape, size: int, stride: int) -> Array:
    """The gradient of x from a gradient per window entry, d (N, C, Ho, Wo, size, size): summed
    where windows overlap (a loop over the size² offsets; every window at once)."""
    ho, wo = d.shape[2:4]
    dx = np.zeros(x_shape, d.dtype)
    for i in range(size):
        for j in range(size):
            dx[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += d[..., i, j]
    return dx


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
        return windows(x, self.size, self.stride).mean(axis=(4, 5)), x.shape

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        if not need_dx:
            return [], None
        share = dout[..., None, None] / (self.size * self.size)
        d = np.broadcast_to(share, (*dout.shape, self.size, self.size))
        return [], unpool(d, cast(Shape, cache), self.size, self.stride)
