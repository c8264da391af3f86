"""Layer classes and no script chaining them: with --layers, nnfix builds the chain, and
which activation goes between the dense layers is the user's to choose (three would do)."""

import numpy as np


class Dense:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out) * 0.5
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, g):
        self.dW = self.x.T @ g
        self.db = g.sum(0)
        return g @ self.W.T


class Tanh:
    def forward(self, x):
        self.a = np.tanh(x)
        return self.a

    def backward(self, g):
        return g * (1 - self.a**2)


class ReLU:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, g):
        return g * (self.x > 0)


class Sigmoid:
    def forward(self, x):
        self.a = 1 / (1 + np.exp(-x))
        return self.a

    def backward(self, g):
        return g * self.a * (1 - self.a)


class BCE:
    def forward(self, p, y):
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def backward(self, p, y):
        return (p - y) / (p * (1 - p)) / len(y)
