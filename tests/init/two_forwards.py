"""Two functions that compute the same forward pass, and no init function: nnfix can tell
neither the layer sizes nor which forward is meant."""

import numpy as np


def forward(params, X):
    A1 = np.tanh(X @ params["W1"] + params["b1"])
    return 1 / (1 + np.exp(-(A1 @ params["W2"] + params["b2"])))


def forward_pass(params, X):
    A1 = np.tanh(X @ params["W1"] + params["b1"])
    return 1 / (1 + np.exp(-(A1 @ params["W2"] + params["b2"])))


def backward(params, X, Y):
    A1 = np.tanh(X @ params["W1"] + params["b1"])
    A2 = 1 / (1 + np.exp(-(A1 @ params["W2"] + params["b2"])))
    m = len(X)
    dZ2 = (A2 - Y) / m
    dZ1 = dZ2 @ params["W2"].T * (1 - A1**2)
    return {
        "dW2": A1.T @ dZ2,
        "db2": dZ2.sum(axis=0, keepdims=True),
        "dW1": X.T @ dZ1,
        "db1": dZ1.sum(axis=0, keepdims=True),
    }
