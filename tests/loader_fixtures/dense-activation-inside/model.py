"""Circles classifier built from the layers in layers.py."""

import numpy as np
from layers import *  # Dense, BinaryCrossEntropy, ...


def make_circles(n=200, noise=0.05, factor=0.5, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(np.arange(n) < n // 2, 1.0, factor)
    X = np.stack([r * np.cos(t), r * np.sin(t)]) + noise * rng.standard_normal((2, n))
    y = (np.arange(n) >= n // 2).astype(float).reshape(1, n)
    return X, y


def build_model():
    return [
        Dense(2, 16, activation="tanh"),
        Dense(16, 16, activation="tanh"),
        Dense(16, 1, activation="sigmoid"),
    ]


def train(model, loss_fn, X, y, lr=0.5, epochs=2000):
    for epoch in range(epochs):
        out = X
        for layer in model:
            out = layer.forward(out)
        loss = loss_fn.forward(out, y)
        grad = loss_fn.backward(out, y)
        for layer in reversed(model):
            grad = layer.backward(grad)
        for layer in model:
            for k in layer.params:
                layer.params[k] -= lr * layer.grads[k]
        if epoch % 200 == 0:
            acc = np.mean((out > 0.5) == y)
            print(f"{epoch:5d}  loss={loss:.4f}  acc={acc:.2f}")
    return model


if __name__ == "__main__":
    X, y = make_circles()
    model = train(build_model(), BinaryCrossEntropy(), X, y)
