"""Max pooling over (C, H, W) samples: each output is the largest entry of its size×size window,
and its gradient goes to that one entry. Where two entries tie the max has no derivative:
`kinks` tells the gradient check which samples are too close to a tie to be checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, cast

import numpy as np
from pydantic import BaseModel, Field, PositiveInt

from nnfix.engine.layers.avgpool2d import check_input, pooled_shape, unpool, windows
from nnfix.engine.layers.layer import Array, Base, Kinks, LayerActivation, Param, Shape
from nnfix.spec.parts import InitSpec, Strict


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
        w = windows(x, self.size, self.stride)
        flat = w.reshape(*w.shape[:4], self.size * self.size)  # (N, C, Ho, Wo, size²)
        idx = flat.argmax(axis=-1)[..., None]
        return np.take_along_axis(flat, idx, axis=-1)[..., 0], (flat, idx, x.shape)

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        if not need_dx:
            return [], None
        _, idx, x_shape = cast(tuple[Array, Array, Shape], cache)
        at_max = np.arange(self.size * self.size) == idx
        d = np.where(at_max, dout[..., None], 0).astype(dout.dtype, copy=False)
        return [], unpool(
            d.reshape(*d.shape[:4], self.size, self.size), x_shape, self.size, self.stride
        )

    def kinks(self, cache: object) -> Kinks | None:
        """The argmax of every window; per sample, half the smallest gap between a window's
        largest entry and its next (moving entries by less than that changes no argmax)."""
        flat, idx, _ = cast(tuple[Array, Array, Shape], cache)
        n = flat.shape[0]
        if flat.shape[-1] == 1:
            return Kinks(idx[..., 0], np.full(n, np.inf))
        top2 = -np.partition(-flat, 1, axis=-1)[..., :2]
        gap = (top2[..., 0] - top2[..., 1]).reshape(n, -1).min(axis=1)
        return Kinks(idx[..., 0], gap / 2)
