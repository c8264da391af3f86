"""Tiny layer library: a Dense layer that applies its own activation, and losses.

Column convention (like the deeplearning.ai course): a batch is (features, batch_size),
W is (n_out, n_in), b is (n_out, 1).
"""

import numpy as np


class Dense:
    def __init__(self, n_in, n_out, activation="relu"):
        limit = np.sqrt(6.0 / (n_in + n_out))  # glorot uniform
        self.params = {
            "W": np.random.uniform(-limit, limit, size=(n_out, n_in)),
            "b": np.zeros((n_out, 1)),
        }
        self.grads = {"W": np.zeros((n_out, n_in)), "b": np.zeros((n_out, 1))}
        self.activation = activation
        self.cache = {}

    def __repr__(self):
        n_out, n_in = self.params["W"].shape
        return f"Dense({n_in}, {n_out}, activation={self.activation!r})"

    def _act(self, z):
        if self.activation == "relu":
            return np.maximum(0, z)
        elif self.activation == "tanh":
            return np.tanh(z)
        elif self.activation == "sigmoid":
            return 1 / (1 + np.exp(-z))
        return z  # linear

    def _act_grad(self, z, a):
        # derivative of the activation, written with the output a where that is easier
        if self.activation == "relu":
            return (z > 0).astype(float)
        elif self.activation == "tanh":
            return 1 - a**2
        elif self.activation == "sigmoid":
            return a * (1 - a)
        return np.ones_like(z)

    def forward(self, x):
        z = self.params["W"] @ x + self.params["b"]
        a = self._act(z)
        self.cache = {"x": x, "z": z, "a": a}
        return a

    def backward(self, grad):
        """grad = dLoss/da for every sample (not averaged); returns dLoss/dx."""
        x, z, a = self.cache["x"], self.cache["z"], self.cache["a"]
        m = x.shape[1]
        dz = grad * self._act_grad(z, a)
        dW = dz @ x.T / m
        db = np.sum(dz, axis=1, keepdims=True) / m
        self.grads["W"], self.grads["b"] = dW, db
        return self.params["W"].T @ dz


class BinaryCrossEntropy:
    eps = 1e-12

    def forward(self, y_pred, y_true):
        p = np.clip(y_pred, self.eps, 1 - self.eps)
        return float(np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))))

    def backward(self, y_pred, y_true):
        # per-sample derivative, the layers take care of the 1/m
        p = np.clip(y_pred, self.eps, 1 - self.eps)
        return (p - y_true) / (p * (1 - p))


class MeanSquaredError:
    def forward(self, y_pred, y_true):
        return float(np.mean(np.sum((y_pred - y_true) ** 2, axis=0)))

    def backward(self, y_pred, y_true):
        return 2 * (y_pred - y_true)
