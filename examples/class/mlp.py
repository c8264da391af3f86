"""A small multilayer perceptron as a class, the way many tutorials write one: lists of
weight matrices and bias rows, a forward pass that keeps what backward needs, and a backward
pass that returns the gradients as two lists. Rows layout: X is (samples, features)."""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class MLP:
    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.sizes = sizes
        self.weights = [
            rng.normal(0.0, np.sqrt(1.0 / n_in), (n_in, n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])
        ]
        self.biases = [np.zeros((1, n_out)) for n_out in sizes[1:]]

    def forward(self, X):
        """tanh hidden layers, a sigmoid output; remembers every layer's output."""
        self.activations = [X]
        a = X
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W + b
            a = sigmoid(z) if i == len(self.weights) - 1 else np.tanh(z)
            self.activations.append(a)
        return a

    def backward(self, X, Y):
        """Gradients of the mean binary cross-entropy: (grads_w, grads_b), input layer first."""
        m = X.shape[0]
        grads_w = [None] * len(self.weights)
        grads_b = [None] * len(self.biases)
        delta = (self.activations[-1] - Y) / m  # sigmoid + cross-entropy: dL/dz = a - y
        for i in reversed(range(len(self.weights))):
            grads_w[i] = self.activations[i].T @ delta
            grads_b[i] = delta.sum(axis=0, keepdims=True)
            if i > 0:
                delta = (delta @ self.weights[i].T) * (1 - self.activations[i] ** 2)
        return grads_w, grads_b

    def train(self, X, Y, lr=0.5, epochs=200):
        for _ in range(epochs):
            self.forward(X)
            grads_w, grads_b = self.backward(X, Y)
            for i in range(len(self.weights)):
                self.weights[i] -= lr * grads_w[i]
                self.biases[i] -= lr * grads_b[i]
