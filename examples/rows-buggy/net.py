"""The rows example with one bug: the output layer's sigmoid derivative a(1 - a) is fed Z
instead of A. Otherwise a two-hidden-layer net in the rows layout: X is (samples, features),
W{l} is (n_{l-1}, n_l), b{l} is (1, n_l); tanh hidden layers, a sigmoid output."""

import numpy as np


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def forward(params, X):
    cache = {"A0": X}
    A = X
    for l in (1, 2, 3):
        Z = A @ params[f"W{l}"] + params[f"b{l}"]
        A = np.tanh(Z) if l < 3 else sigmoid(Z)
        cache[f"Z{l}"], cache[f"A{l}"] = Z, A
    return A, cache


def backward(params, cache, X, Y):
    m = X.shape[0]
    A3 = cache["A3"]
    dA3 = -(Y / A3 - (1 - Y) / (1 - A3))
    Z3 = cache["Z3"]
    dZ = dA3 * Z3 * (1 - Z3)  # the bug: sigmoid's derivative a(1 - a) fed Z instead of A
    grads = {}
    for l in (3, 2, 1):
        grads[f"dW{l}"] = cache[f"A{l - 1}"].T @ dZ / m
        grads[f"db{l}"] = np.sum(dZ, axis=0, keepdims=True) / m
        if l > 1:
            dA = dZ @ params[f"W{l}"].T
            dZ = dA * (1 - cache[f"A{l - 1}"] ** 2)
    return grads
