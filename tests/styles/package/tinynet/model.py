import numpy as np

from .layers import Linear, Sigmoid, Tanh
from .losses import mse, mse_grad


class Model:
    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.layers.append(Linear(n_in, n_out, rng))
            self.layers.append(Tanh() if i < len(sizes) - 2 else Sigmoid())

    def forward(self, X):
        out = X
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def backward(self, Y):
        grad = mse_grad(self.layers[-1].out, Y)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)

    def loss(self, X, Y):
        return mse(self.forward(X), Y)
