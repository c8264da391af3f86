import numpy as np


class TwoLayerNet:
    """A two-layer fully-connected classifier with a ReLU hidden layer and a softmax output.
    forward returns the class probabilities and a cache; backward takes that cache."""

    def __init__(self, input_size, hidden_size, output_size, std=0.5):
        rng = np.random.RandomState(0)
        self.params = {
            "W1": std * rng.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": std * rng.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def forward(self, X):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        h = X.dot(W1) + b1
        h_relu = np.maximum(0, h)
        scores = h_relu.dot(W2) + b2
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        cache = (X, h, h_relu, probs)
        return probs, cache

    def backward(self, y_onehot, cache):
        X, h, h_relu, probs = cache
        N = X.shape[0]
        dscores = (probs - y_onehot) / N
        grads = {}
        grads["W2"] = h_relu.T.dot(dscores)
        grads["b2"] = dscores.sum(axis=0)
        dh = dscores.dot(self.params["W2"].T)
        dh[h <= 0] = 0
        grads["W1"] = X.T.dot(dh)
        grads["b1"] = dh.sum(axis=0)
        return grads
