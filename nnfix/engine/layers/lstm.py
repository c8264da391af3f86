"""The LSTM layer over (T, features) sequences: gates i, f, o = σ(·) and candidate g = tanh(·)
of x_t·Wx + h_{t−1}·Wh + b (four blocks of `units` columns, in that order);
c_t = f·c_{t−1} + i·g, h_t = o·tanh(c_t); c_0 = h_0 = 0. The output is h_T (`sequence: last`)
or every h_t (`all`). Backward runs through time along both h and the cell state c."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, PositiveInt

from nnfix.engine.initializers import initialize
from nnfix.engine.layers.layer import Array, Base, LayerActivation, Mistake, Param, Shape
from nnfix.engine.layers.rnn import (
    check_sequences,
    layer_output,
    output_grads,
    recurrent_params,
    time_major,
    weight_grads,
)
from nnfix.engine.specs import InitSpec, Weighted


class LSTMSpec(Weighted):
    """{type: lstm, units: 16, sequence: last}: over (T, features) inputs."""

    type: Literal["lstm"]
    """lstm."""
    units: PositiveInt = Field(examples=[16])
    """The size of the hidden and cell states."""
    sequence: Literal["last", "all"] = "last"
    """last: the output is the final state (units,); all: every state (T, units)."""


def blocks(a: Array, u: int) -> tuple[Array, Array, Array, Array]:
    """The four gate blocks i, f, o, g of a (batch, 4·units), as views (np.split costs more
    than the arithmetic at these sizes)."""
    return a[:, :u], a[:, u : 2 * u], a[:, 2 * u : 3 * u], a[:, 3 * u :]


def _backward(
    layer: LSTM, dout: Array, cache: Any, need_dx: bool = True, cell_path: bool = True
) -> tuple[list[Array], Array | None]:
    """Backpropagation through time along h and c; `cell_path` False drops dL/dc_t's term
    through c_{t+1} = f·c_t + ... (a mistake: the cell state then carries nothing back)."""
    x, gates, hs, cs = cache  # time-major, as in rnn
    u = layer.units
    dh = output_grads(dout, hs, layer.sequence)
    da = np.empty_like(gates)
    dc_next = np.zeros_like(cs[0])
    for s in range(len(gates) - 1, -1, -1):
        i, f, o, g = blocks(gates[s], u)
        tc = np.tanh(cs[s + 1])
        dc = dh[s] * o * (1 - tc * tc)
        if cell_path:
            dc += dc_next
        da[s, :, :u] = dc * g * i * (1 - i)
        da[s, :, u : 2 * u] = dc * cs[s] * f * (1 - f)
        da[s, :, 2 * u : 3 * u] = dh[s] * tc * o * (1 - o)
        da[s, :, 3 * u :] = dc * i * (1 - g * g)
        dc_next = dc * f
        if s:
            dh[s - 1] += da[s] @ layer.Wh.T
    return weight_grads(x, hs, da, layer.b is not None, layer.Wx, need_dx)


def _without_cell_path(layer: LSTM, dout: Array, cache: object) -> tuple[list[Array], Array]:
    """The usual mistake: the gradient not carried back along the cell state."""
    grads, dx = _backward(layer, dout, cache, cell_path=False)
    assert dx is not None
    return grads, dx


@dataclass
class LSTM(Base):
    Spec: ClassVar[type[BaseModel]] = LSTMSpec
    type: ClassVar[str] = "lstm"
    mistakes: ClassVar[tuple[Mistake, ...]] = (
        Mistake(
            "the cell state's gradient does not flow back through c_t = f·c_t−1 + i·g",
            _without_cell_path,
        ),
    )

    Wx: Array  # (features, 4·units): blocks i, f, o, g
    Wh: Array  # (units, 4·units)
    b: Array | None  # (1, 4·units)
    sequence: str = "last"
    act: LayerActivation | None = None  # the gates apply their own functions

    @classmethod
    def build(
        cls,
        spec: LSTMSpec,
        in_shape: Shape,
        act: LayerActivation | None,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> LSTM:
        """Wx by `init` with fans (features, units) per gate, Wh with (units, units), then b."""
        check_sequences("lstm", in_shape)
        d, h = in_shape[1], spec.units
        Wx = initialize(init, (d, 4 * h), d, h, rng).astype(dtype)
        Wh = initialize(init, (h, 4 * h), h, h, rng).astype(dtype)
        b = None
        if bias_init is not None:
            b = initialize(bias_init, (1, 4 * h), d, h, rng).astype(dtype)
        return cls(Wx, Wh, b, spec.sequence)

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

    def with_params(self, params: list[Array]) -> LSTM:
        b = params[2] if self.b is not None else None
        return replace(self, Wx=params[0], Wh=params[1], b=b)

    def forward(
        self, x: Array, train: bool, rng: np.random.Generator | None = None
    ) -> tuple[Array, object]:
        n, t, _ = x.shape
        u = self.units
        xt = time_major(x)
        gates = (xt @ self.Wx).reshape(t, n, 4 * u)  # i, f, o, g: their inputs, then themselves
        if self.b is not None:
            gates += self.b
        hs = np.zeros((t + 1, n, u), gates.dtype)  # hs[0] = h_0
        cs = np.zeros((t + 1, n, u), gates.dtype)
        for s in range(t):
            a = gates[s]
            a += hs[s] @ self.Wh
            sig = a[:, : 3 * u]  # σ(v) = (1 + tanh(v/2)) / 2: one transcendental, no branches
            sig *= 0.5
            np.tanh(sig, out=sig)
            sig += 1
            sig *= 0.5
            np.tanh(a[:, 3 * u :], out=a[:, 3 * u :])
            i, f, o, g = blocks(a, u)
            cs[s + 1] = f * cs[s] + i * g
            hs[s + 1] = o * np.tanh(cs[s + 1])
        return layer_output(hs, self.sequence), (xt, gates, hs, cs)

    def backward(
        self, dout: Array, cache: object, need_dx: bool = True
    ) -> tuple[list[Array], Array | None]:
        return _backward(self, dout, cache, need_dx)
