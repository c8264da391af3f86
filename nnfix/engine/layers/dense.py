"""The dense layer: z = x @ W + b on (features,) samples; W (n_in, n_out), b (1, n_out) or none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, PositiveInt

from nnfix.engine.initializers import initialize
from nnfix.engine.layers.layer import Array, Base, LayerActivation, Param, Shape, ShapeError
from nnfix.engine.specs import ActivationSpec, InitSpec, Weighted


class DenseSpec(Weighted):
    """A dense layer: its units and activation, and its own init where it differs."""

    type: Literal["dense"] = "dense"
    """The layer type (default dense)."""
    units: PositiveInt = Field(examples=[5])
    """How many units (outputs) the layer has."""
    activation: ActivationSpec = Field(
        examples=["tanh", {"name": "tanh", "derivative": "1 - z**2", "derivative_of": "z"}]
    )
    """sigmoid | tanh | relu | leaky_relu | elu | softplus | swish | linear | softmax (last
    layer only), or a mapping with the math your code uses: {name: tanh, derivative: "1 -
    z**2", derivative_of: z}, so nnfix trains exactly what you train."""


WEIGHT = Param("W", "weight", unit_axis=1, l2=True, symmetric=True)
BIAS = Param("b", "bias", unit_axis=1, l2=False, symmetric=True)


@dataclass
class Dense(Base):
    Spec: ClassVar[type[BaseModel]] = DenseSpec
    type: ClassVar[str] = "dense"

    W: Array
    b: Array | None
    act: LayerActivation

    @classmethod
    def build(
        cls,
        spec: DenseSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> Dense:
        """Initialised from `rng`: the weights by `init`, then the bias (none: `bias_init` None)."""
        if len(in_shape) != 1:
            raise ShapeError(
                f"a dense layer takes one axis of features, not a sample of shape "
                f"{tuple(in_shape)}: put a {{type: flatten}} layer before it"
            )
        assert act is not None  # a dense spec always has an activation
        n_in, n_out = in_shape[0], spec.units
        W = initialize(init, (n_in, n_out), n_in, n_out, rng).astype(dtype)
        b = None
        if bias_init is not None:
            b = initialize(bias_init, (1, n_out), n_in, n_out, rng).astype(dtype)
        return cls(W, b, act)

    def output_shape(self, in_shape: Shape) -> Shape:
        return (self.W.shape[1],)

    def fans(self, in_shape: Shape) -> tuple[int, int]:
        return self.W.shape[0], self.W.shape[1]

    def params(self) -> list[Array]:
        return [self.W] if self.b is None else [self.W, self.b]

    def param_info(self) -> list[Param]:
        return [WEIGHT] if self.b is None else [WEIGHT, BIAS]

    def with_params(self, params: list[Array]) -> Dense:
        return Dense(params[0], params[1] if self.b is not None else None, self.act)

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        z = x @ self.W
        if self.b is not None:
            z += self.b
        return z, x

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        x: Array = cache  # type: ignore[assignment]
        dW = x.T @ dout
        grads = [dW] if self.b is None else [dW, dout.sum(axis=0, keepdims=True)]
        return grads, (dout @ self.W.T if need_dx else None)
