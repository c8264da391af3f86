"""A vanilla RNN classifying a sequence of token ids from its last hidden state, as a class whose
forward keeps the list of hidden states on self and whose backward runs through time over that
list and returns a dict of gradients. Samples are rows; each step's input is a one-hot row."""

import numpy as np


class SequenceRNN:
    def __init__(self, vocab, hidden, classes):
        rng = np.random.default_rng(5)
        self.vocab, self.hidden = vocab, hidden
        self.params = {
            "Wx": rng.normal(scale=0.5, size=(vocab, hidden)),
            "Wh": rng.normal(scale=0.5, size=(hidden, hidden)),
            "b": rng.normal(scale=0.1, size=hidden),
            "Wy": rng.normal(scale=0.5, size=(hidden, classes)),
            "by": np.zeros(classes),
        }

    def forward(self, X):
        p = self.params
        N, T = X.shape
        self.xs = []
        self.hs = [np.zeros((N, self.hidden))]
        for t in range(T):
            x = np.eye(self.vocab)[X[:, t]]
            self.xs.append(x)
            h = np.tanh(x @ p["Wx"] + self.hs[-1] @ p["Wh"] + p["b"])
            self.hs.append(h)
        scores = self.hs[-1] @ p["Wy"] + p["by"]
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        self.probs = e / e.sum(axis=1, keepdims=True)
        return self.probs

    def loss(self, probs, y):
        return float(-np.log(probs[np.arange(len(y)), y]).mean())

    def backward(self, y):
        p = self.params
        m = len(y)
        grads = {}
        dscores = self.probs.copy()
        dscores[np.arange(m), y] -= 1
        dscores /= m
        grads["Wy"] = self.hs[-1].T @ dscores
        grads["by"] = dscores.sum(axis=0)
        dWx, dWh, db = np.zeros_like(p["Wx"]), np.zeros_like(p["Wh"]), np.zeros_like(p["b"])
        dh = dscores @ p["Wy"].T
        for t in reversed(range(len(self.xs))):
            draw = dh * (1 - self.hs[t + 1] ** 2)
            dWx += self.xs[t].T @ draw
            dWh += self.hs[t].T @ draw
            db += draw.sum(axis=0)
            dh = draw @ p["Wh"].T
        grads["Wx"], grads["Wh"], grads["b"] = dWx, dWh, db
        return grads
