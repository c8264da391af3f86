"""The user's implementation as a network nnfix's Trainer can train: their forward and
backward, nnfix's optimiser loop. Parameters stay in the user's layout; the Trainer only needs
each gradient to have its parameter's shape (checked here, with the user's names)."""

from __future__ import annotations

from typing import cast

import numpy as np

from nnfix.engine.losses import Loss
from nnfix.engine.network import Cache, Network
from nnfix.implementation.adapter import Implementation, UserCallError


class UserNetwork:
    """Looks like engine.Network to the Trainer: params, forward, loss, loss_and_grads."""

    def __init__(self, impl: Implementation, reference: Network):
        self.impl = impl
        self.reference = reference
        self.activations = reference.activations
        self.slots = reference.slots
        self.names = reference.names
        self.weight_index = reference.weight_index
        # the user's dict in the spec's dtype, updated in place by the optimiser
        self.values = impl.params(reference, reference.params[0].dtype)
        self.params = [self.values[impl.key[n]] for n in self.names]

    @property
    def depth(self) -> int:
        return self.impl.depth

    @property
    def weights(self) -> list[np.ndarray]:
        return self.weight_grads(self.params)

    def weight_grads(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        return [grads[i] for i in self.weight_index]

    def copy(self) -> UserNetwork:
        clone = object.__new__(UserNetwork)
        clone.__dict__.update(self.__dict__)
        clone.values = {k: v.copy() for k, v in self.values.items()}
        clone.params = [clone.values[self.impl.key[n]] for n in self.names]
        return clone

    def as_network(self) -> Network:
        """The same weights as nnfix's network (rows layout), to look inside the layers."""
        to_rows = (lambda a: a.T) if self.impl.columns else (lambda a: a)
        return self.reference.with_params([to_rows(p).copy() for p in self.params])

    def forward(self, x: np.ndarray) -> Cache:
        """The user's output, in nnfix's rows layout, as the last layer of a cache."""
        AL, cache = self.impl.forward(
            {k: v.copy() for k, v in self.values.items()}, self.impl.samples(x)
        )
        out = Cache(x, [], [self.impl.to_rows(AL)])
        out.user = (AL, cache)  # what their backward needs
        return out

    def loss(self, cache: Cache, y: np.ndarray, loss: Loss, l2: float = 0.0) -> float:
        AL = cast(tuple, cache.user)[0]
        value = self.impl.loss(AL, self.impl.samples(y), loss)
        if l2:
            value += 0.5 * l2 * sum(float(np.sum(w * w)) for w in self.weights)
        return value

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0):
        cache = self.forward(x)
        value = self.loss(cache, y, loss, l2)
        AL, user_cache = cast(tuple, cache.user)
        raw = self.impl.backward(
            {k: v.copy() for k, v in self.values.items()},
            self.impl.samples(x),
            self.impl.samples(y),
            AL,
            user_cache,
        )
        matched = self.impl.gradients(raw)
        grads = []
        for name, p in zip(self.names, self.params, strict=True):
            g = matched.arrays.get(name)
            if g is None:
                raise UserCallError(
                    "backward",
                    f"your backward returned no gradient for {name} (key '{self.impl.grad_key[name]}'); `nnfix diagnose` says more",
                )
            if g.shape != p.shape:
                raise UserCallError(
                    "backward",
                    f"your gradient of {name} has shape {g.shape}, {name} has {p.shape}; `nnfix diagnose` says more",
                )
            grads.append(np.ascontiguousarray(g, dtype=p.dtype))
        if l2:
            for i in self.weight_index:
                grads[i] = grads[i] + l2 * self.params[i]
        return value, grads, cache
