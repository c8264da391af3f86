"""The dense layer: z = a_prev @ W + b, a = act(z); W (n_in, n_out), b (1, n_out) or none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnfix.engine.initializers import initialize
from nnfix.engine.layers.layer import Array, LayerActivation, Slot
from nnfix.spec.model import InitSpec


@dataclass
class Dense:
    W: Array
    b: Array | None
    act: LayerActivation

    @classmethod
    def build(
        cls,
        n_in: int,
        n_out: int,
        act: LayerActivation,
        init: InitSpec,
        bias_init: InitSpec | None,
        rng: np.random.Generator,
        dtype: str,
    ) -> Dense:
        """Initialised from `rng`: the weights by `init`, then the bias (none: `bias_init` None)."""
        W = initialize(init, (n_in, n_out), n_in, n_out, rng).astype(dtype)
        b = None
        if bias_init is not None:
            b = initialize(bias_init, (1, n_out), n_in, n_out, rng).astype(dtype)
        return cls(W, b, act)

    def params(self) -> list[Array]:
        return [self.W] if self.b is None else [self.W, self.b]

    def slots(self, layer: int) -> list[Slot]:
        out = [Slot(f"W{layer}", layer, "weight")]
        return out if self.b is None else [*out, Slot(f"b{layer}", layer, "bias")]

    def with_params(self, params: list[Array]) -> Dense:
        return Dense(params[0], params[1] if self.b is not None else None, self.act)

    def forward(self, a_prev: Array) -> tuple[Array, Array]:
        z = a_prev @ self.W
        if self.b is not None:
            z += self.b
        return z, self.act.forward(z)

    def backward(
        self, dZ: Array, a_prev: Array, need_input: bool
    ) -> tuple[list[Array], Array | None]:
        dW = a_prev.T @ dZ
        grads = [dW] if self.b is None else [dW, dZ.sum(axis=0, keepdims=True)]
        return grads, (dZ @ self.W.T if need_input else None)
