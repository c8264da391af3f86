"""Whole-network backprop against central differences, on random architectures."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfix.engine import activations
from nnfix.engine.losses import Loss
from nnfix.engine.network import LayerActivation, Network

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "swish", "linear"]
HEADS = [
    ("sigmoid", "bce"),
    ("softmax", "cce"),
    ("linear", "mse"),
    ("tanh", "mse"),
    ("sigmoid", "mse"),
]


def layer(name: str) -> LayerActivation:
    act = activations.get(name)
    return LayerActivation(name, act.fn, act.derivative if act.elementwise else None, act)


def numeric_grads(net: Network, x, y, loss: Loss, l2: float, eps=1e-6):
    grads = []
    for p in net.params:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            plus = net.loss(net.forward(x), y, loss, l2)
            p[i] = old - eps
            minus = net.loss(net.forward(x), y, loss, l2)
            p[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


@given(
    widths=st.lists(st.integers(1, 5), min_size=0, max_size=3),
    hidden=st.lists(st.sampled_from(HIDDEN), min_size=3, max_size=3),
    head=st.sampled_from(HEADS),
    outputs=st.integers(1, 3),
    reduction=st.sampled_from(["mean", "sum"]),
    l2=st.sampled_from([0.0, 0.01]),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=60, deadline=None)
def test_backprop_matches_central_differences(widths, hidden, head, outputs, reduction, l2, seed):
    rng = np.random.default_rng(seed)
    out_name, loss_name = head
    outputs = max(outputs, 2) if out_name == "softmax" else outputs
    sizes = [3, *widths, outputs]
    names = [*hidden[: len(widths)], out_name]
    # nudge pre-activations away from ReLU's kink so finite differences are exact
    weights = [rng.normal(0, 0.8, (a, b)) for a, b in itertools.pairwise(sizes)]
    biases = [rng.normal(0, 0.3, (1, b)) + 0.05 for b in sizes[1:]]
    net = Network.dense(weights, biases, [layer(n) for n in names])
    x = rng.normal(size=(7, 3))
    if loss_name == "cce":
        y = np.eye(outputs)[rng.integers(0, outputs, 7)]
    elif loss_name == "bce":
        y = rng.integers(0, 2, (7, outputs)).astype(float)
    else:
        y = rng.normal(size=(7, outputs))
    loss = Loss(loss_name, reduction)
    cache = net.forward(x)
    if any(np.any(np.abs(z) < 1e-4) for z in cache.z):
        return  # a kink within reach of the finite difference: not a fair comparison
    _, grads, _ = net.loss_and_grads(x, y, loss, l2)
    for name, g, n in zip(net.names, grads, numeric_grads(net, x, y, loss, l2), strict=True):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-7, err_msg=name)


def test_declared_wrong_derivative_trains_as_the_users_code_does():
    """Forward keeps the true tanh; backward uses the user's 1 - z**2."""
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(2, 3)), rng.normal(size=(3, 1))]
    b = [np.zeros((1, 3)), np.zeros((1, 1))]
    tanh, sig = activations.get("tanh"), activations.get("sigmoid")
    wrong = LayerActivation("tanh", tanh.fn, lambda z, a: 1 - z**2, tanh, declared=True)
    right = LayerActivation("tanh", tanh.fn, tanh.derivative, tanh)
    out = LayerActivation("sigmoid", sig.fn, sig.derivative, sig)
    x, y = rng.normal(size=(5, 2)), rng.integers(0, 2, (5, 1)).astype(float)
    a_wrong = Network.dense(W, b, [wrong, out]).loss_and_grads(x, y, Loss("bce"))
    a_right = Network.dense(W, b, [right, out]).loss_and_grads(x, y, Loss("bce"))
    assert a_wrong[0] == a_right[0]  # same forward, same loss
    np.testing.assert_allclose(a_wrong[1][2], a_right[1][2])  # output layer untouched
    cache = a_right[2]
    dA1 = Network.dense(W, b, [right, out]).output_delta(cache, y, Loss("bce")) @ W[1].T
    np.testing.assert_allclose(a_wrong[1][0], x.T @ (dA1 * (1 - cache.z[0] ** 2)))
    assert not np.allclose(a_wrong[1][0], a_right[1][0])
