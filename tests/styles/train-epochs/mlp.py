import numpy as np


def relu(z):
    return np.maximum(0, z)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class NeuralNet:
    """A small fully connected classifier trained with full-batch gradient descent."""

    def __init__(self, layer_sizes, learning_rate=0.1, decay=0.01, seed=7):
        rng = np.random.default_rng(seed)
        self.weights = []
        self.biases = []
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            self.weights.append(rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in))
            self.biases.append(np.zeros(n_out))
        self.learning_rate = learning_rate
        self.decay = decay

    def predict_proba(self, X):
        a = X
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W + b
            a = relu(z) if i < len(self.weights) - 1 else sigmoid(z)
        return a

    def train(self, X, y, epochs):
        y = y.reshape(-1, 1)
        history = []
        for epoch in range(epochs):
            lr = self.learning_rate / (1 + self.decay * epoch)
            activations = [X]
            zs = []
            for i, (W, b) in enumerate(zip(self.weights, self.biases)):
                z = activations[-1] @ W + b
                zs.append(z)
                activations.append(relu(z) if i < len(self.weights) - 1 else sigmoid(z))
            p = activations[-1]
            history.append(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
            delta = (p - y) / len(X)
            for i in reversed(range(len(self.weights))):
                grad_W = activations[i].T @ delta
                grad_b = delta.sum(axis=0)
                if i > 0:
                    delta = (delta @ self.weights[i].T) * (zs[i - 1] > 0)
                self.weights[i] -= lr * grad_W
                self.biases[i] -= lr * grad_b
        return history
