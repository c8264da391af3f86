"""Keras-style layers that find their input size when they first see data."""

import numpy as np


class Dense:
    def __init__(self, units, activation="relu"):
        self.units = units
        self.activation = activation
        self.kernel = None
        self.bias = None

    def build(self, input_dim):
        rng = np.random.default_rng(self.units)
        self.kernel = rng.normal(0.0, np.sqrt(2.0 / input_dim), size=(input_dim, self.units))
        self.bias = np.zeros(self.units)

    def __call__(self, inputs):
        if self.kernel is None:
            self.build(inputs.shape[-1])
        self.inputs = inputs
        self.z = inputs @ self.kernel + self.bias
        if self.activation == "relu":
            self.a = np.maximum(self.z, 0)
        else:
            e = np.exp(self.z - self.z.max(axis=1, keepdims=True))
            self.a = e / e.sum(axis=1, keepdims=True)
        return self.a


class Sequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def gradients(self, y_true):
        """Softmax + categorical cross-entropy, averaged over the batch."""
        batch = y_true.shape[0]
        grads = []
        delta = (self.layers[-1].a - y_true) / batch
        for layer in reversed(self.layers):
            grads.append({"kernel": layer.inputs.T @ delta, "bias": delta.sum(axis=0)})
            if layer is not self.layers[0]:
                previous = self.layers[self.layers.index(layer) - 1]
                delta = (delta @ layer.kernel.T) * (previous.z > 0)
        return grads[::-1]
