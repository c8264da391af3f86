"""
Minimal multi-layer perceptron in numpy, PyTorch-ish: an MLP holds a list of Linear
layers, each Linear keeps its own weights and, after backward(), its own gradients
(grad_W, grad_b).  ReLU between the layers, softmax + cross-entropy at the end.
Batches are rows: x has shape (batch, features).
"""

import numpy as np


def relu(x):
    return np.maximum(x, 0)


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class Linear:
    def __init__(self, in_features, out_features):
        # kaiming init since we use relu
        self.W = np.random.randn(in_features, out_features) * np.sqrt(2.0 / in_features)
        self.b = np.zeros(out_features)
        self.grad_W = None
        self.grad_b = None

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        self.x = x  # needed for grad_W
        return x @ self.W + self.b

    def backward(self, grad_out):
        self.grad_W = self.x.T @ grad_out
        self.grad_b = grad_out.sum(axis=0)
        return grad_out @ self.W.T


class MLP:
    def __init__(self, sizes):
        self.sizes = sizes
        self.layers = [Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def forward(self, x):
        self.hs = []  # pre-activations of the hidden layers, for the relu backward
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                self.hs.append(x)
                x = relu(x)
        self.probs = softmax(x)
        return self.probs

    def loss(self, y):
        # y is one-hot, (batch, classes)
        return -np.mean(np.sum(y * np.log(self.probs + 1e-12), axis=1))

    def backward(self, y):
        n = y.shape[0]
        grad = (self.probs - y) / n  # softmax + cross-entropy, averaged over the batch
        for i in reversed(range(len(self.layers))):
            grad = self.layers[i].backward(grad)
            if i > 0:
                grad = grad * (self.hs[i - 1] > 0)  # relu of the layer below

    def step(self, lr=0.1):
        for layer in self.layers:
            layer.W -= lr * layer.grad_W
            layer.b -= lr * layer.grad_b

    def parameters(self):
        return [p for layer in self.layers for p in (layer.W, layer.b)]


def one_hot(labels, num_classes):
    out = np.zeros((len(labels), num_classes))
    out[np.arange(len(labels)), labels] = 1
    return out


def fit(model, X, labels, num_classes, epochs=500, lr=0.5, batch_size=32):
    Y = one_hot(labels, num_classes)
    for epoch in range(epochs):
        perm = np.random.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = perm[start : start + batch_size]
            model.forward(X[idx])
            model.backward(Y[idx])
            model.step(lr)
        if epoch % 50 == 0:
            model.forward(X)
            acc = (model.probs.argmax(axis=1) == labels).mean()
            print(f"epoch {epoch}: loss {model.loss(Y):.4f}, acc {acc:.3f}")
    return model
