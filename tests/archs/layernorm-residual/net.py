"""A residual MLP block with layer norm, as a class whose forward keeps what its backward needs
on self and whose backward returns a dict of gradients: x0 = x W0 -> affine -> layer norm
-> relu -> affine, added to x0 -> affine -> softmax cross-entropy. Samples are rows."""

import numpy as np


class ResidualNet:
    def __init__(self, dim, hidden, classes, eps=1e-5):
        rng = np.random.default_rng(9)
        self.eps = eps
        self.params = {
            "W0": rng.normal(scale=0.6, size=(dim, dim)),
            "W1": rng.normal(scale=0.6, size=(dim, hidden)),
            "b1": rng.normal(scale=0.1, size=hidden),
            "gamma": 1 + rng.normal(scale=0.1, size=hidden),
            "beta": rng.normal(scale=0.1, size=hidden),
            "W2": rng.normal(scale=0.6, size=(hidden, dim)),
            "b2": rng.normal(scale=0.1, size=dim),
            "W3": rng.normal(scale=0.6, size=(dim, classes)),
            "b3": np.zeros(classes),
        }

    def forward(self, X):
        p = self.params
        self.X = X
        self.x0 = X @ p["W0"]
        self.z1 = self.x0 @ p["W1"] + p["b1"]
        self.mu = self.z1.mean(axis=1, keepdims=True)
        self.var = self.z1.var(axis=1, keepdims=True)
        self.xhat = (self.z1 - self.mu) / np.sqrt(self.var + self.eps)
        self.n1 = p["gamma"] * self.xhat + p["beta"]
        self.a1 = np.maximum(0, self.n1)
        self.r = self.a1 @ p["W2"] + p["b2"]
        self.h = self.x0 + self.r
        scores = self.h @ p["W3"] + p["b3"]
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
        grads["W3"] = self.h.T @ dscores
        grads["b3"] = dscores.sum(axis=0)
        dh = dscores @ p["W3"].T
        dr = dh
        grads["W2"] = self.a1.T @ dr
        grads["b2"] = dr.sum(axis=0)
        da1 = dr @ p["W2"].T
        dn1 = da1 * (self.n1 > 0)
        grads["gamma"] = (dn1 * self.xhat).sum(axis=0)
        grads["beta"] = dn1.sum(axis=0)
        dxhat = dn1 * p["gamma"]
        H = self.z1.shape[1]
        inv = 1 / np.sqrt(self.var + self.eps)
        dvar_term = self.xhat * (dxhat * self.xhat).sum(axis=1, keepdims=True)
        dz1 = inv / H * (H * dxhat - dxhat.sum(axis=1, keepdims=True) - dvar_term)
        grads["W1"] = self.x0.T @ dz1
        grads["b1"] = dz1.sum(axis=0)
        dx0 = dh + dz1 @ p["W1"].T
        grads["W0"] = self.X.T @ dx0
        return grads
