"""The gradient check of the spec's own network: its backprop — with the declared derivatives
and loss gradient — against central differences of its loss, in float64, on a batch of
training samples, tensor by tensor from the output down."""

from __future__ import annotations

import numpy as np

from nnfix.diagnose.gradcheck import (
    BANDS,
    SAFETY,
    GradcheckResult,
    Target,
    _floor,
    check_target,
    relative_error,
)
from nnfix.engine.losses import Loss, gradient
from nnfix.engine.network import Cache, Network

BATCH = 64  # samples the check runs on
KINK = 1e-4  # a ReLU-like pre-activation this close to its kink may cross it under a perturbation
SEED = 0  # the masks of the training pass the check differentiates (one mask every evaluation)
DIRECTIONS = 3  # random directions along which each layer's input gradient is measured
STEP = 1e-5  # their central differences' step (each direction of unit norm)
WRONG = BANDS[2][0]  # a relative error past the "suspicious" band is wrong, as G101's
FROM_LOGITS = {("bce", "sigmoid"), ("cce", "softmax")}  # losses computed from z, not from a


def batch(net: Network, cache: Cache, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Up to BATCH samples of a forward pass, leaving out those sitting on a kink; and how many
    were left out."""
    x = cache.x
    keep, excluded = smooth(net, cache, BATCH)
    return x[keep][:BATCH], y[keep][:BATCH], excluded


def smooth(net: Network, cache: Cache, size: int) -> tuple[np.ndarray, int]:
    """The samples of a forward pass whose ReLU-like pre-activations all lie further than KINK
    from their kink, when at least half of the first `size` do (else all of them), and how many
    of those first `size` were left out: a perturbation moves them across the kink, where the
    loss has no derivative to check."""
    near = np.zeros(len(cache.x), bool)
    zs = net.preactivations(cache)
    for layer, act in enumerate(net.activations):
        if act.builtin is not None and act.builtin.kinks:
            z = zs[layer]
            near |= ~np.all(act.builtin.smooth(z, KINK).reshape(len(z), -1), axis=1)
        own = net.layers[layer].kinks(cache.layers[layer])
        if own is not None:  # the layer's own (max-pool ties)
            near |= own.margin <= KINK
    keep = np.flatnonzero(~near)
    if len(keep) and len(keep) >= min(size, len(near)) // 2:  # enough smooth ones: only those
        return keep, int(near[: keep[:size][-1] + 1].sum())
    return np.arange(len(near)), 0


def kinked(net: Network, cache: Cache) -> list[int]:
    """The layers (from 0) whose activation has a kink (ReLU-like) or that have kinks of
    their own on this pass (max-pool)."""
    return [
        l
        for l, act in enumerate(net.activations)
        if (act.builtin is not None and act.builtin.kinks)
        or net.layers[l].kinks(cache.layers[l]) is not None
    ]


def sides(net: Network, cache: Cache, layers: list[int]) -> bytes:
    """Which side of its kink every pre-activation of `layers` is on, and which choice each
    layer with kinks of its own made: two evaluations that differ here straddle a kink."""
    parts = []
    zs = net.preactivations(cache)
    for l in layers:
        act = net.activations[l]
        if act.builtin is not None and act.builtin.kinks:
            parts.append(np.packbits((zs[l] > 0).ravel()).tobytes())
        own = net.layers[l].kinks(cache.layers[l])
        if own is not None:
            parts.append(np.ascontiguousarray(own.pattern).tobytes())
    return b"".join(parts)


def rounding(net: Network, cache: Cache, y: np.ndarray, loss: Loss, from_output: bool) -> float:
    """How large the rounding error of the loss computed through this forward pass is, in units
    of the machine precision (beyond the loss's own size): every value v the pass computes is
    rounded, and its rounding reaches the loss times ∂L/∂v. The root-sum-square over the
    pre-activations (each rounded as the sum it is: |a_prev|·|W| + |b|), the activations and,
    when the loss is computed from the output's activations (`from_output`), those too.

    A saturated unit is where this matters: a sigmoid at 1 − 1e-13 cannot move by less than its
    rounding, so a parameter below it changes the computed loss in steps, not smoothly, and its
    finite differences say nothing about its gradient."""
    m = len(y)
    dZ = net.output_delta(cache, y, loss)
    out = net.activations[-1]
    terms = []
    if from_output or (loss.name, out.builtin_name) not in FROM_LOGITS:
        dA = gradient(loss.name, cache.a[-1], y) * loss.factor * loss.reduce(m)
        terms.append(dA * cache.a[-1])
    else:  # the loss's own terms (softplus(z) − y·z, log-sum-exp) are rounded at the size of z
        terms.append(cache.z[-1] * loss.factor * loss.reduce(m))
    for l in range(net.depth - 1, -1, -1):
        layer = net.layers[l]
        a_prev = cache.a[l - 1] if l > 0 else cache.x.reshape(len(cache.x), *net.in_shape)
        # each output rounded as the sum it is: the layer on |input| with |parameters|
        # (|a_prev| @ |W| + |b| for a dense layer)
        size = layer.with_params([np.abs(p) for p in layer.params()]).forward(
            np.abs(a_prev), False
        )[0]
        terms.append(dZ * size)
        if l == 0:
            break
        _, d_prev = layer.backward(dZ, cache.layers[l], True)
        assert d_prev is not None
        terms.append(d_prev * a_prev)
        below = net.layers[l - 1].act
        if below is None:
            dZ = d_prev
            continue
        derivative = below.builtin.derivative if below.builtin is not None else below.derivative
        assert derivative is not None  # only an output layer is softmax
        dZ = d_prev * derivative(cache.z[l - 1], a_prev)
    with np.errstate(all="ignore"):
        total = float(np.sqrt(sum(float(np.sum(t * t)) for t in terms)))
    return total if np.isfinite(total) else float(np.finfo(float).max)


class NetworkTarget(Target):
    """The net's loss on one batch as a function of its parameters: an evaluation that moves
    tensor i recomputes only the layers from i's up, reusing the cached pass below them."""

    def __init__(self, net: Network, x: np.ndarray, y: np.ndarray, loss: Loss, l2: float = 0.0):
        self.net, self.x, self.y, self.loss_fn, self.l2 = net, x, y, loss, l2
        self.base = net.forward(x, train=True, seed=SEED)
        self.kinked = kinked(net, self.base)
        self.last_side = b""
        arrays = [np.array(p, dtype=np.float64, order="C") for p in net.params]
        self.working = net.with_params(arrays)
        self.layer_of = [s.layer - 1 for s in net.slots]
        grads, cache = self.working.loss_and_grads(x, y, loss, l2, seed=SEED)[1:]
        super().__init__(
            arrays,
            grads,
            net.names,
            self._loss,
            self._pattern if self.kinked else None,
            rounding=rounding(self.working, cache, y, loss, from_output=False),
        )

    def _loss(self, tensor: int | None) -> float:
        start = self.layer_of[tensor] if tensor is not None else 0
        cache = self.working.forward(self.x, start, self.base, train=True, seed=SEED)
        if self.kinked:
            self.last_side = sides(self.working, cache, self.kinked)
        return self.working.loss(cache, self.y, self.loss_fn, self.l2)

    def _pattern(self) -> bytes:
        return self.last_side

    def wrong_input_gradient(self, c: float = 1.0) -> tuple[int, float] | None:
        """The first layer from the output (from 2) whose backward hands down a wrong dL/dx,
        with the relative error of it; None when every one is right, or one above the first
        wrong cannot be judged. Measured along DIRECTIONS random unit directions v of the
        z below the layer, moved as the net can move it (its input a ± δ = act(z ± STEP·v), so
        a ReLU's zeros and a max-pool's ties over them stay): the change its dx gives, dx · δ,
        against the loss's (c × it where the backward carries a convention); wrong past WRONG
        and beyond SAFETY × the differences' rounding noise. A direction that moves a kink
        (its pattern changes) says nothing and is left out."""
        with np.errstate(all="ignore"):
            return self._wrong_input_gradient(c)

    def _wrong_input_gradient(self, c: float) -> tuple[int, float] | None:
        net = self.working
        cache = net.forward(self.x, train=True, seed=SEED)
        noise = SAFETY * _floor(self, net.loss(cache, self.y, self.loss_fn), STEP)
        handed: dict[int, np.ndarray] = {}
        net.backward(cache, net.output_delta(cache, self.y, self.loss_fn), handed)
        rng = np.random.default_rng(SEED)
        for layer in sorted(handed, reverse=True):
            z, act = cache.z[layer - 2], net.layers[layer - 2].act
            kinked_above = [l for l in self.kinked if l >= layer - 1]
            base = sides(net, cache, kinked_above)
            analytic, numeric = [], []
            for _ in range(DIRECTIONS):
                v = rng.standard_normal(z.shape)
                v /= np.linalg.norm(v)
                moved = [z + STEP * v, z - STEP * v]
                up, down = (act.forward(m) for m in moved) if act is not None else moved
                losses = []
                for a in (up, down):
                    at = self._with_input(cache, layer, a)
                    if sides(net, at, kinked_above) != base:
                        break
                    losses.append(net.loss(at, self.y, self.loss_fn))
                if len(losses) == 2:
                    analytic.append(float(np.sum(handed[layer] * (up - down))) / (2 * STEP))
                    numeric.append(c * (losses[0] - losses[1]) / (2 * STEP))
            if not analytic:
                return None  # unjudged: nothing below it can be told apart from it
            a, n = np.array(analytic), np.array(numeric)
            error = relative_error(a, n)
            if error > WRONG and np.max(np.abs(a - n)) > abs(c) * noise:
                return layer, error
        return None

    def _with_input(self, cache: Cache, layer: int, a: np.ndarray) -> Cache:
        """The training pass with layer `layer`'s (from 1) input replaced by `a`."""
        l = layer - 1
        below = Cache(cache.x, cache.z[:l], [*cache.a[: l - 1], a], layers=cache.layers[:l])
        return self.working.forward(self.x, l, below, train=True, seed=SEED)

    def check(self, **options) -> GradcheckResult:
        """Every tensor, from the output layer down (the first wrong one is where a bug enters)."""
        order = sorted(range(len(self.arrays)), key=lambda i: -self.layer_of[i])
        return check_target(self, order=order, batch_size=len(self.x), **options)
