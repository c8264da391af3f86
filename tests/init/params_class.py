"""A class that keeps its parameters in one dict, self.params = {"W1": ..., "b1": ...}, with
forward(X) -> class probabilities, compute_loss(X, y) and backward(X, y) -> a dict of gradients
keyed like the parameters. Integer labels, softmax output; rows layout."""

import numpy as np


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, std=0.1, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }

    def forward(self, X):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        self.h = np.maximum(0, X @ W1 + b1)
        scores = self.h @ W2 + b2
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        self.probs = e / e.sum(axis=1, keepdims=True)
        return self.probs

    def compute_loss(self, X, y):
        probs = self.forward(X)
        return -np.mean(np.log(probs[np.arange(len(y)), y]))

    def backward(self, X, y):
        probs = self.forward(X)
        n = len(y)
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        dscores /= n
        grads = {"W2": self.h.T @ dscores, "b2": dscores.sum(axis=0)}
        dh = dscores @ self.params["W2"].T
        dh[self.h <= 0] = 0
        grads["W1"] = X.T @ dh
        grads["b1"] = dh.sum(axis=0)
        return grads

    def train(self, X, y, learning_rate=0.5, iterations=200):
        for _ in range(iterations):
            grads = self.backward(X, y)
            for k in self.params:
                self.params[k] -= learning_rate * grads[k]


if __name__ == "__main__":
    net = TwoLayerNet(4, 10, 3)
    X = np.random.randn(90, 4)
    y = np.repeat(np.arange(3), 30)
    net.train(X, y)
