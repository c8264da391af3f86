"""A tiny layer library in the style of "neural networks from scratch" books: every layer is
an object with forward(inputs) and backward(grad), keeps what its backward needs, stores its
parameters' gradients on itself, and returns the gradient for the layer below."""

import numpy as np


class Dense:
    def __init__(self, n_in, n_out):
        self.W = np.random.randn(n_in, n_out) * np.sqrt(2.0 / n_in)
        self.b = np.zeros(n_out)

    def forward(self, inputs):
        self.inputs = inputs
        return inputs @ self.W + self.b

    def backward(self, grad):
        self.dW = self.inputs.T @ grad
        self.db = grad.sum(axis=0)
        return grad @ self.W.T


class ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        return np.maximum(inputs, 0)

    def backward(self, grad):
        return grad * (self.inputs > 0)


class Softmax:
    def forward(self, inputs):
        e = np.exp(inputs - inputs.max(axis=1, keepdims=True))
        self.out = e / e.sum(axis=1, keepdims=True)
        return self.out

    def backward(self, grad):
        # the Jacobian-vector product of softmax, for every sample at once
        return self.out * (grad - (grad * self.out).sum(axis=1, keepdims=True))


class CrossEntropy:
    """Mean categorical cross-entropy against integer labels."""

    def forward(self, probs, labels):
        m = len(labels)
        return -np.log(probs[np.arange(m), labels] + 1e-12).mean()

    def backward(self, probs, labels):
        m = len(labels)
        grad = np.zeros_like(probs)
        grad[np.arange(m), labels] = -1.0 / (probs[np.arange(m), labels] + 1e-12)
        return grad / m
