"""Backprop in two calls, as the tutorial splits it: compute every layer's delta, then
update every layer's weights from the deltas."""

import numpy as np


def build(sizes, seed=1):
    rng = np.random.default_rng(seed)
    return [
        {"W": rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out)), "b": np.zeros(n_out)}
        for n_in, n_out in zip(sizes[:-1], sizes[1:])
    ]


def relu(z):
    return np.maximum(z, 0)


def forward(net, X):
    a = X
    for i, layer in enumerate(net):
        layer["input"] = a
        layer["z"] = a @ layer["W"] + layer["b"]
        a = relu(layer["z"]) if i < len(net) - 1 else layer["z"]
        layer["out"] = a
    return a


def backpropagate(net, Y):
    last = net[-1]
    last["delta"] = 2 * (last["out"] - Y) / len(Y)
    for i in range(len(net) - 2, -1, -1):
        layer, above = net[i], net[i + 1]
        layer["delta"] = (above["delta"] @ above["W"].T) * (layer["z"] > 0)


def update_weights(net, learning_rate):
    for layer in net:
        layer["W"] -= learning_rate * layer["input"].T @ layer["delta"]
        layer["b"] -= learning_rate * layer["delta"].sum(axis=0)
