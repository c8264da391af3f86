"""The flatten layer: one sample of any shape, (C, H, W) or (T, features), as one axis of
features, in C order, for a dense layer above it. No parameters, no activation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel

from nnfix.engine.layers.layer import Array, Base, LayerActivation, Param, Shape
from nnfix.engine.specs import InitSpec, Strict


class FlattenSpec(Strict):
    """A flatten layer: a sample's axes as one axis of features."""

    type: Literal["flatten"]
    """flatten."""


@dataclass
class Flatten(Base):
    Spec: ClassVar[type[BaseModel]] = FlattenSpec
    type: ClassVar[str] = "flatten"
    act: LayerActivation | None = None

    @classmethod
    def build(
        cls,
        spec: FlattenSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> Flatten:
        return cls()

    def output_shape(self, in_shape: Shape) -> Shape:
        return (math.prod(in_shape),)

    def params(self) -> list[Array]:
        return []

    def param_info(self) -> list[Param]:
        return []

    def with_params(self, params: list[Array]) -> Flatten:
        return Flatten()

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        return x.reshape(len(x), -1), x.shape

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        shape: tuple[int, ...] = cache  # type: ignore[assignment]
        return [], (dout.reshape(shape) if need_dx else None)
