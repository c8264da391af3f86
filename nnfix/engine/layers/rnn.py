"""The simple recurrent layer over (T, features) sequences: h_t = f(x_t·Wx + h_{t−1}·Wh + b),
h_0 = 0; the output is h_T (`sequence: last`) or every h_t (`all`). Backward runs through
time; f' is the derivative the spec declares, as in a dense layer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, PositiveInt

from nnfix.engine.initializers import initialize
from nnfix.engine.layers.layer import (
    Array,
    Base,
    LayerActivation,
    Mistake,
    Param,
    Shape,
    ShapeError,
)
from nnfix.spec.parts import ActivationSpec, InitSpec, Weighted


class RNNSpec(Weighted):
    """{type: rnn, units: 16, activation: tanh, sequence: last}: over (T, features) inputs."""

    type: Literal["rnn"]
    """rnn."""
    units: PositiveInt = Field(examples=[16])
    """The size of the hidden state."""
    activation: ActivationSpec = ActivationSpec(name="tanh")
    """The function of the state update (default tanh), written as a dense layer's."""
    sequence: Literal["last", "all"] = "last"
    """last: the output is the final state (units,); all: every state (T, units)."""


INPUT = Param("Wx", "weight", unit_axis=1, l2=True, symmetric=True)  # (features, g·units)
RECURRENT = Param("Wh", "recurrent", unit_axis=1, l2=True, symmetric=True)  # (units, g·units)
BIAS = Param("b", "bias", unit_axis=1, l2=False, symmetric=True)  # (1, g·units)


def recurrent_params(has_bias: bool) -> list[Param]:
    """Wx, Wh and b of a recurrent layer with g blocks of units (rnn 1, lstm 4)."""
    return [INPUT, RECURRENT, BIAS] if has_bias else [INPUT, RECURRENT]


def check_sequences(type_: str, in_shape: Shape) -> None:
    if len(in_shape) != 2:
        raise ShapeError(f"{type_} takes (T, features) sequences, not shape {in_shape}")


def output_grads(dout: Array, like: Array, sequence: str) -> Array:
    """dL/dh_t for every t (batch, T, units), from the gradient of the layer's output."""
    dh = np.zeros_like(like)
    if sequence == "last":
        dh[:, -1] = dout
    else:
        dh[:] = dout
    return dh


def weight_grads(
    x: Array, h_prev: Array, dz: Array, has_bias: bool, Wx: Array, need_dx: bool
) -> tuple[list[Array], Array | None]:
    """The gradients of Wx, Wh (and b), and of x if `need_dx`, from dL/dz of every step
    (batch, T, ·)."""
    n, t, d = x.shape
    flat = dz.reshape(n * t, -1)
    grads = [x.reshape(n * t, d).T @ flat, h_prev.reshape(n * t, -1).T @ flat]
    if has_bias:
        grads.append(flat.sum(axis=0, keepdims=True))
    return grads, (flat @ Wx.T).reshape(n, t, d) if need_dx else None


def _backward(
    layer: RNN, dout: Array, cache: Any, need_dx: bool = True, through_time: bool = True
) -> tuple[list[Array], Array | None]:
    """Backpropagation through time; `through_time` False stops each step's gradient at
    h_{t−1} (a mistake: the recurrence's own term is lost)."""
    x, z, hs = cache
    derivative = layer.cell.derivative
    assert derivative is not None  # build refuses a cell without one
    dh_out = output_grads(dout, hs[:, 1:], layer.sequence)
    dz = np.empty_like(z)
    dh_next = np.zeros_like(hs[:, 0])
    for s in range(x.shape[1] - 1, -1, -1):
        dz[:, s] = (dh_out[:, s] + dh_next) * derivative(z[:, s], hs[:, s + 1])
        if through_time:
            dh_next = dz[:, s] @ layer.Wh.T
    return weight_grads(x, hs[:, :-1], dz, layer.b is not None, layer.Wx, need_dx)


def _cut_through_time(layer: RNN, dout: Array, cache: object) -> tuple[list[Array], Array]:
    """The usual mistake: the gradient not carried back through h_t−1."""
    grads, dx = _backward(layer, dout, cache, through_time=False)
    assert dx is not None
    return grads, dx


@dataclass
class RNN(Base):
    Spec: ClassVar[type[BaseModel]] = RNNSpec
    type: ClassVar[str] = "rnn"
    mistakes: ClassVar[tuple[Mistake, ...]] = (
        Mistake(
            "the gradient of h_t does not flow back into h_t−1 through Wh",
            _cut_through_time,
        ),
    )

    Wx: Array  # (features, units)
    Wh: Array  # (units, units)
    b: Array | None  # (1, units)
    cell: LayerActivation  # applied inside each step; nothing is applied after the layer
    sequence: str = "last"
    act: LayerActivation | None = None

    @classmethod
    def build(
        cls,
        spec: RNNSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> RNN:
        """Wx by `init` with fans (features, units), Wh with (units, units), then the bias."""
        check_sequences("rnn", in_shape)
        if act is None or act.derivative is None:
            raise ShapeError("an rnn's activation must be elementwise (not softmax)", "activation")
        d, h = in_shape[1], spec.units
        Wx = initialize(init, (d, h), d, h, rng).astype(dtype)
        Wh = initialize(init, (h, h), h, h, rng).astype(dtype)
        b = None if bias_init is None else initialize(bias_init, (1, h), d, h, rng).astype(dtype)
        return cls(Wx, Wh, b, act, spec.sequence)

    @property
    def units(self) -> int:
        return self.Wh.shape[0]

    def output_shape(self, in_shape: Shape) -> Shape:
        return (self.units,) if self.sequence == "last" else (in_shape[0], self.units)

    def fans(self, in_shape: Shape) -> tuple[int, int]:
        return in_shape[1], self.units

    def params(self) -> list[Array]:
        return [self.Wx, self.Wh] if self.b is None else [self.Wx, self.Wh, self.b]

    def param_info(self) -> list[Param]:
        return recurrent_params(self.b is not None)

    def with_params(self, params: list[Array]) -> RNN:
        b = params[2] if self.b is not None else None
        return replace(self, Wx=params[0], Wh=params[1], b=b)

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        n, t, d = x.shape
        z = (x.reshape(n * t, d) @ self.Wx).reshape(n, t, self.units)
        if self.b is not None:
            z += self.b
        hs = np.zeros((n, t + 1, self.units), z.dtype)  # hs[:, 0] = h_0
        for s in range(t):
            z[:, s] += hs[:, s] @ self.Wh
            hs[:, s + 1] = self.cell.forward(z[:, s])
        out = hs[:, -1] if self.sequence == "last" else hs[:, 1:]
        return out.copy(), (x, z, hs)

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        return _backward(self, dout, cache, need_dx)
