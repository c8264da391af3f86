"""A stack of layers: forward caches z and a per layer; backward uses each layer's
*declared* derivative, so a spec with the user's wrong derivative trains as their code does.

Parameters are addressed through slots (name, layer, role), never by position arithmetic, so a
layer may have no bias and another layer type can bring its own parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnfix.engine.layers import Dense, Layer, LayerActivation, Slot
from nnfix.engine.losses import Loss

Array = np.ndarray
__all__ = ["Cache", "Dense", "LayerActivation", "Network", "Slot"]


@dataclass
class Cache:
    """What the backward pass needs: the input and each layer's z and a."""

    x: Array
    z: list[Array]
    a: list[Array]
    user: object = None  # what the user's own forward returned, for their backward


class Network:
    """Dense layers in the rows layout: X (samples, features)."""

    def __init__(self, layers: list[Layer]):
        self.layers = layers
        self.slots = [s for l, layer in enumerate(layers, start=1) for s in layer.slots(l)]
        self.params = [p for layer in layers for p in layer.params()]  # updated in place
        self.weight_index = [i for i, s in enumerate(self.slots) if s.role == "weight"]

    @classmethod
    def dense(
        cls,
        weights: list[Array],
        biases: list[Array | None],
        activations: list[LayerActivation],
    ) -> Network:
        """A stack of dense layers from their weights, biases (None: no bias) and activations."""
        return cls(
            [Dense(W, b, act) for W, b, act in zip(weights, biases, activations, strict=True)]
        )

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.slots]

    @property
    def activations(self) -> list[LayerActivation]:
        return [layer.act for layer in self.layers]

    @property
    def weights(self) -> list[Array]:
        return [layer.W for layer in self.layers]

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].W.shape[0], *(layer.W.shape[1] for layer in self.layers)]

    def weight_grads(self, grads: list[Array]) -> list[Array]:
        """The weight gradient of each layer, from a list aligned with `params`."""
        return [grads[i] for i in self.weight_index]

    def with_params(self, params: list[Array]) -> Network:
        """The same layers and activations holding `params` (aligned with `self.params`)."""
        layers, i = [], 0
        for layer in self.layers:
            n = len(layer.params())
            layers.append(layer.with_params(params[i : i + n]))
            i += n
        return Network(layers)

    def copy(self) -> Network:
        return self.with_params([p.copy() for p in self.params])

    def astype(self, dtype) -> Network:
        return self.with_params([p.astype(dtype) for p in self.params])

    def forward(self, x: Array, start: int = 0, below: Cache | None = None) -> Cache:
        """z and a of every layer; from layer `start` on, taking the layers under it from `below`."""
        if start and below is not None:
            cache = Cache(x, list(below.z[:start]), list(below.a[:start]))
            a = cache.a[-1]
        else:
            cache, a = Cache(x, [], []), x
        for layer in self.layers[start:]:
            z, a = layer.forward(a)
            cache.z.append(z)
            cache.a.append(a)
        return cache

    def predict(self, x: Array) -> Array:
        return self.forward(x).a[-1]

    def backward(self, cache: Cache, dZ: Array) -> list[Array]:
        """The gradients, aligned with `params`, from the output layer's dL/dz, through each
        layer's declared derivative."""
        per_layer: list[list[Array]] = [[] for _ in self.layers]
        for l in range(self.depth - 1, -1, -1):
            a_prev = cache.a[l - 1] if l > 0 else cache.x
            per_layer[l], dA = self.layers[l].backward(dZ, a_prev, l > 0)
            if dA is not None:
                derivative = self.layers[l - 1].act.derivative
                assert derivative is not None  # only an output layer (softmax) has none
                dA *= derivative(cache.z[l - 1], cache.a[l - 1])  # in place: dA is fresh
                dZ = dA
        return [g for grads in per_layer for g in grads]

    def output_delta(self, cache: Cache, y: Array, loss: Loss) -> Array:
        out = self.layers[-1].act
        return loss.delta(
            cache.z[-1], cache.a[-1], y, out.builtin_name, out.derivative, out.declared
        )

    def loss(self, cache: Cache, y: Array, loss: Loss, l2: float = 0.0) -> float:
        out = self.layers[-1].act
        value = loss.value(cache.z[-1], cache.a[-1], y, out.builtin_name)
        if l2:
            value += 0.5 * l2 * sum(float(np.sum(w * w)) for w in self.weights)
        return value

    def loss_and_grads(
        self, x: Array, y: Array, loss: Loss, l2: float = 0.0
    ) -> tuple[float, list[Array], Cache]:
        """One forward and backward pass: the loss, the gradients (aligned with `params`) and
        the cache."""
        cache = self.forward(x)
        value = self.loss(cache, y, loss, l2)
        grads = self.backward(cache, self.output_delta(cache, y, loss))
        if l2:
            for i, W in zip(self.weight_index, self.weights, strict=True):
                grads[i] += l2 * W
        return value, grads, cache
