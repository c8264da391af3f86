"""
Deep regression network from scratch (Kaggle-style notebook exported to a script).

  X: (n_samples, n_features)      y: (n_samples, 1)
  3 hidden layers with leaky ReLU, a linear output unit.
  loss = 0.5 * mean((y_hat - y)^2)
"""

import numpy as np

LEAK = 0.1  # slope of the leaky relu for negative inputs


def leaky_relu(z):
    return np.where(z > 0, z, LEAK * z)


def leaky_relu_grad(z):
    return np.where(z > 0, 1.0, LEAK)


def init_params(layer_sizes=(3, 32, 16, 8, 1), seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(layer_sizes)):
        fan_in = layer_sizes[l - 1]
        params[f"W{l}"] = rng.standard_normal((fan_in, layer_sizes[l])) * np.sqrt(2 / fan_in)
        params[f"b{l}"] = np.zeros((1, layer_sizes[l]))
    return params


def forward(params, X):
    n_layers = len(params) // 2
    a = X
    cache = [(None, X)]  # (z, a) for every layer, the input first
    for l in range(1, n_layers + 1):
        z = a @ params[f"W{l}"] + params[f"b{l}"]
        a = z if l == n_layers else leaky_relu(z)  # linear output
        cache.append((z, a))
    return a, cache


def mse_loss(y_hat, y):
    return 0.5 * np.mean((y_hat - y) ** 2)


def backward(params, cache, y):
    n_layers = len(cache) - 1  # the cache also holds the input
    m = y.shape[0]
    y_hat = cache[-1][1]
    grads = {}

    delta = y_hat - y  # dloss/dz of the linear output, per sample (the 0.5 cancels the 2)
    for l in range(n_layers, 0, -1):
        a_prev = cache[l - 1][1]
        grads[f"grad_W{l}"] = a_prev.T @ delta / m
        grads[f"grad_b{l}"] = np.sum(delta, axis=0, keepdims=True) / m
        if l > 1:
            z_prev = cache[l - 1][0]
            delta = (delta @ params[f"W{l}"].T) * leaky_relu_grad(z_prev)
    return grads


def train(X, y, epochs=300, lr=0.01, batch_size=32, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params((X.shape[1], 32, 16, 8, 1), seed)
    for epoch in range(epochs):
        idx = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = idx[start : start + batch_size]
            y_hat, cache = forward(params, X[batch])
            grads = backward(params, cache, y[batch])
            for name in params:
                params[name] -= lr * grads["grad_" + name]
        if epoch % 50 == 0:
            print(f"epoch {epoch:3d}  loss {mse_loss(forward(params, X)[0], y):.5f}")
    return params
