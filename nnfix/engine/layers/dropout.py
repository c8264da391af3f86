"""The dropout layer (inverted): in training each value is kept with probability 1 - rate and
scaled by 1 / (1 - rate), so evaluating needs no change; off when evaluating. The mask comes
from the generator the network seeds, so the same seed gives the same mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field

from nnfix.engine.layers.layer import Array, Base, LayerActivation, Param, Shape
from nnfix.engine.specs import InitSpec, Strict


class DropoutSpec(Strict):
    """A dropout layer: the fraction of values it drops while training."""

    type: Literal["dropout"]
    """dropout."""
    rate: float = Field(0.5, ge=0, lt=1, examples=[0.5])
    """The probability that a value is dropped (set to 0) in a training pass."""


@dataclass
class Dropout(Base):
    Spec: ClassVar[type[BaseModel]] = DropoutSpec
    type: ClassVar[str] = "dropout"
    random: ClassVar[bool] = True

    rate: float
    act: LayerActivation | None = None

    @classmethod
    def build(
        cls,
        spec: DropoutSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> Dropout:
        return cls(spec.rate)

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def params(self) -> list[Array]:
        return []

    def param_info(self) -> list[Param]:
        return []

    def with_params(self, params: list[Array]) -> Dropout:
        return Dropout(self.rate)

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        if not train or self.rate == 0:
            return x, None
        assert rng is not None  # the network gives a random layer a generator in training
        scale = np.asarray(1 / (1 - self.rate), x.dtype)
        mask = (rng.random(x.shape) >= self.rate).astype(x.dtype) * scale
        return x * mask, mask

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        if not need_dx:
            return [], None
        mask: Array | None = cache  # type: ignore[assignment]
        return [], (dout.copy() if mask is None else dout * mask)
