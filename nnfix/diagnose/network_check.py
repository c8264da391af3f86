"""The gradient check of the spec's own network: its backprop — with the declared derivatives
and loss gradient — against central differences of its loss, in float64, on a batch of
training samples, tensor by tensor from the output down."""

from __future__ import annotations

import numpy as np

from nnfix.diagnose.gradcheck import GradcheckResult, Target, check_target
from nnfix.engine.losses import Loss
from nnfix.engine.network import Cache, Network

BATCH = 64  # samples the check runs on
KINK = 1e-4  # a ReLU-like pre-activation this close to its kink may cross it under a perturbation


def batch(net: Network, cache: Cache, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Up to BATCH samples of a forward pass, leaving out those sitting on a kink; and how many
    were left out."""
    x = cache.x
    near = np.zeros(len(x), bool)
    for layer, act in enumerate(net.activations):
        if act.builtin is not None and act.builtin.kinks:
            near |= ~np.all(act.builtin.smooth(cache.z[layer], KINK), axis=1)
    keep = np.flatnonzero(~near)
    excluded = 0
    if len(keep) and len(keep) >= min(BATCH, len(x)) // 2:  # enough smooth ones: only those
        excluded = int(near[: keep[:BATCH][-1] + 1].sum())
        x, y = x[keep], y[keep]
    return x[:BATCH], y[:BATCH], excluded


class NetworkTarget(Target):
    """The net's loss on one batch as a function of its parameters: an evaluation that moves
    tensor i recomputes only the layers from i's up, reusing the cached pass below them."""

    def __init__(self, net: Network, x: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0):
        self.net, self.x, self.y, self.loss_fn, self.l2 = net, x, y, loss, l2
        self.kinked = [
            l
            for l, act in enumerate(net.activations)
            if act.builtin is not None and act.builtin.kinks
        ]
        self.base = net.forward(x)
        self.last_side = b""
        arrays = [np.array(p, dtype=np.float64, order="C") for p in net.params]
        self.working = net.with_params(arrays)
        self.layer_of = [s.layer - 1 for s in net.slots]
        grads = self.working.loss_and_grads(x, y, loss, l2)[1]
        super().__init__(
            arrays,
            grads,
            net.names,
            self._loss,
            self._pattern if self.kinked else None,
        )

    def _loss(self, tensor: int | None) -> float:
        start = self.layer_of[tensor] if tensor is not None else 0
        cache = self.working.forward(self.x, start, self.base)
        if self.kinked:
            sides = [(cache.z[l] > 0).ravel() for l in self.kinked]
            self.last_side = np.packbits(np.concatenate(sides)).tobytes()
        return self.working.loss(cache, self.y, self.loss_fn, self.l2)

    def _pattern(self) -> bytes:
        return self.last_side

    def check(self, **options) -> GradcheckResult:
        """Every tensor, from the output layer down (the first wrong one is where a bug enters)."""
        order = sorted(range(len(self.arrays)), key=lambda i: -self.layer_of[i])
        return check_target(self, order=order, batch_size=len(self.x), **options)
