"""The simple recurrent layer over (T, features) sequences: h_t = f(x_t·Wx + h_{t−1}·Wh + b),
h_0 = 0; the output is h_T (`sequence: last`) or every h_t (`all`). Backward runs through
time; f' is the derivative the spec declares, as in a dense layer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, cast

import numpy as np
from pydantic import BaseModel, Field, PositiveInt

from nnfix.engine.initializers import initialize
from nnfix.engine.layers.layer import (
    Array,
    Base,
    Kinks,
    LayerActivation,
    Mistake,
    Param,
    Shape,
    ShapeError,
)
from nnfix.engine.specs import ActivationSpec, InitSpec, Weighted


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


def time_major(x: Array) -> Array:
    """x (batch, T, features) as one contiguous (T·batch, features) matrix, step by step: each
    step's rows are then one contiguous block (the loops through time read nothing strided)."""
    n, t, d = x.shape
    return np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, d)


def layer_output(hs: Array, sequence: str) -> Array:
    """The output (batch, units) or (batch, T, units) from the states hs (T + 1, batch, units)."""
    return hs[-1].copy() if sequence == "last" else hs[1:].transpose(1, 0, 2).copy()


def output_grads(dout: Array, hs: Array, sequence: str) -> Array:
    """dL/dh_t for every step (T, batch, units), from the gradient of the layer's output."""
    dh = np.zeros_like(hs[1:])
    if sequence == "last":
        dh[-1] = dout
    else:
        dh[:] = dout.transpose(1, 0, 2)
    return dh


def weight_grads(
    x: Array, hs: Array, dz: Array, has_bias: bool, Wx: Array, need_dx: bool
) -> tuple[list[Array], Array | None]:
    """The gradients of Wx, Wh (and b), and of x (batch, T, features) if `need_dx`, from
    x time-major (T·batch, features), the states (T + 1, batch, units) and dL/dz of every step
    (T, batch, ·)."""
    t, n = dz.shape[:2]
    flat = dz.reshape(t * n, -1)
    grads = [x.T @ flat, hs[:-1].reshape(t * n, -1).T @ flat]
    if has_bias:
        grads.append(flat.sum(axis=0, keepdims=True))
    if not need_dx:
        return grads, None
    return grads, (flat @ Wx.T).reshape(t, n, -1).transpose(1, 0, 2)


def _backward(
    layer: RNN, dout: Array, cache: Any, need_dx: bool = True, through_time: bool = True
) -> tuple[list[Array], Array | None]:
    """Backpropagation through time; `through_time` False stops each step's gradient at
    h_{t−1} (a mistake: the recurrence's own term is lost)."""
    x, z, hs = cache  # time-major: (T·batch, features), (T, batch, units), (T + 1, batch, units)
    derivative = layer.cell.derivative
    assert derivative is not None  # build refuses a cell without one
    dh = output_grads(dout, hs, layer.sequence)
    dz = np.empty_like(z)
    for s in range(len(z) - 1, -1, -1):
        dz[s] = dh[s] * derivative(z[s], hs[s + 1])
        if through_time and s:
            dh[s - 1] += dz[s] @ layer.Wh.T
    return weight_grads(x, hs, dz, layer.b is not None, layer.Wx, need_dx)


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
        n, t, _ = x.shape
        xt = time_major(x)
        z = (xt @ self.Wx).reshape(t, n, self.units)
        if self.b is not None:
            z += self.b
        hs = np.zeros((t + 1, n, self.units), z.dtype)  # hs[0] = h_0
        for s in range(t):
            z[s] += hs[s] @ self.Wh
            hs[s + 1] = self.cell.forward(z[s])
        return layer_output(hs, self.sequence), (xt, z, hs)

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        return _backward(self, dout, cache, need_dx)

    @property
    def activation(self) -> LayerActivation:
        """The cell: the function the spec names and whose derivative it may declare."""
        return self.cell

    def activation_input(self, out: Array, cache: object) -> Array:
        """The cell's z of every step, batch first (batch, T, units)."""
        return cast(tuple[Array, Array, Array], cache)[1].transpose(1, 0, 2)

    def kinks(self, cache: object) -> Kinks | None:
        """A cell with kinks (relu, leaky_relu) has them inside the layer, where the network
        cannot see them: which side of each kink every step's z is on, and per sample how far
        its nearest z is from one. None for a smooth cell."""
        builtin = self.cell.builtin
        if builtin is None or not builtin.kinks:
            return None
        z = cast(tuple[Array, Array, Array], cache)[1]  # (T, batch, units)
        pattern = np.stack([z > k for k in builtin.kinks]).astype(np.int8)
        distance = np.min([np.abs(z - k) for k in builtin.kinks], axis=0)
        return Kinks(pattern, distance.min(axis=(0, 2)))
