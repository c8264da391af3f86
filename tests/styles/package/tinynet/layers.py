import numpy as np

from .init import glorot


class Linear:
    """y = W x + b, one column per sample."""

    def __init__(self, n_in, n_out, rng):
        self.W = glorot(rng, n_out, n_in)
        self.b = np.zeros((n_out, 1))

    def forward(self, x):
        self.x = x
        return self.W @ x + self.b

    def backward(self, grad):
        self.dW = grad @ self.x.T
        self.db = grad.sum(axis=1, keepdims=True)
        return self.W.T @ grad


class Tanh:
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out**2)


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)
