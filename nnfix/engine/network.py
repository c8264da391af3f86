"""A stack of dense layers: forward caches z and a per layer; backward uses each layer's
*declared* derivative, so a spec with the user's wrong derivative trains as their code does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnfix.engine.losses import Loss

Array = np.ndarray


@dataclass(frozen=True)
class LayerActivation:
    """What one layer computes: the true forward function and the derivative backward uses."""

    name: str  # as the spec writes it: 'tanh', 'z * sigmoid(z)', 'acts.py:gelu'
    forward: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array] | None  # (z, a) -> da/dz; None for softmax
    builtin: str | None = None  # the built-in function of the forward pass, if it is one
    declared: bool = False  # the derivative is the user's, not the true one


@dataclass
class Cache:
    """What the backward pass needs: the input and each layer's z and a."""

    x: Array
    z: list[Array]
    a: list[Array]


class Network:
    """Dense layers in the rows layout: X (samples, features), W (n_in, n_out), b (1, n_out)."""

    def __init__(
        self, weights: list[Array], biases: list[Array], activations: list[LayerActivation]
    ):
        self.weights = weights
        self.biases = biases
        self.activations = activations

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def params(self) -> list[Array]:
        """[W1, b1, W2, b2, …]: the arrays an optimiser updates in place."""
        return [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]

    @property
    def names(self) -> list[str]:
        return [f"{kind}{l}" for l in range(1, self.depth + 1) for kind in ("W", "b")]

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[0], *(w.shape[1] for w in self.weights)]

    def copy(self) -> Network:
        return Network(
            [w.copy() for w in self.weights], [b.copy() for b in self.biases], self.activations
        )

    def astype(self, dtype) -> Network:
        return Network(
            [w.astype(dtype) for w in self.weights],
            [b.astype(dtype) for b in self.biases],
            self.activations,
        )

    def forward(self, x: Array, start: int = 0, below: Cache | None = None) -> Cache:
        """z and a of every layer; from layer `start` on, taking the layers under it from `below`."""
        cache = (
            Cache(x, list(below.z[:start]), list(below.a[:start])) if start else Cache(x, [], [])
        )
        a = cache.a[-1] if start else x
        for W, b, act in zip(
            self.weights[start:], self.biases[start:], self.activations[start:], strict=True
        ):
            z = a @ W
            z += b
            a = act.forward(z)
            cache.z.append(z)
            cache.a.append(a)
        return cache

    def predict(self, x: Array) -> Array:
        return self.forward(x).a[-1]

    def backward(self, cache: Cache, dZ: Array) -> list[Array]:
        """[dW1, db1, …] from the output layer's dL/dz, through each declared derivative."""
        grads: list[Array] = [None] * (2 * self.depth)  # type: ignore[list-item]
        for l in range(self.depth - 1, -1, -1):
            a_prev = cache.a[l - 1] if l > 0 else cache.x
            grads[2 * l] = a_prev.T @ dZ
            grads[2 * l + 1] = dZ.sum(axis=0, keepdims=True)
            if l > 0:
                dZ = dZ @ self.weights[l].T  # dA of the layer below, a fresh array:
                dZ *= self.activations[l - 1].derivative(cache.z[l - 1], cache.a[l - 1])  # in place
        return grads

    def output_delta(self, cache: Cache, y: Array, loss: Loss) -> Array:
        out = self.activations[-1]
        return loss.delta(cache.z[-1], cache.a[-1], y, out.builtin, out.derivative, out.declared)

    def loss(self, cache: Cache, y: Array, loss: Loss, l2: float = 0.0) -> float:
        out = self.activations[-1]
        value = loss.value(cache.z[-1], cache.a[-1], y, out.builtin)
        if l2:
            value += 0.5 * l2 * sum(float(np.sum(w * w)) for w in self.weights)
        return value

    def loss_and_grads(
        self, x: Array, y: Array, loss: Loss, l2: float = 0.0
    ) -> tuple[float, list[Array], Cache]:
        """One forward and backward pass: the loss, [dW1, db1, …] and the cache."""
        cache = self.forward(x)
        value = self.loss(cache, y, loss, l2)
        grads = self.backward(cache, self.output_delta(cache, y, loss))
        if l2:
            for l, W in enumerate(self.weights):
                grads[2 * l] += l2 * W
        return value, grads, cache
