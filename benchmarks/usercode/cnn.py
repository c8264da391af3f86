"""A CNN written with naive loops, as functions over a params dict: a 3x3 conv of 4 filters
(N, C, H, W), relu, a 2x2 max-pool, flatten, a dense softmax output."""

import numpy as np


def init_params(filters=4, channels=1, size=12, classes=3):
    rng = np.random.default_rng(2)
    pooled = filters * ((size - 2) // 2) ** 2
    return {
        "W1": rng.normal(scale=0.4, size=(filters, channels, 3, 3)),
        "b1": rng.normal(scale=0.1, size=filters),
        "W2": rng.normal(scale=0.2, size=(pooled, classes)),
        "b2": np.zeros(classes),
    }


def conv_forward(x, w, b):
    N, C, H, W = x.shape
    F = w.shape[0]
    out = np.zeros((N, F, H - 2, W - 2))
    for n in range(N):
        for f in range(F):
            for i in range(H - 2):
                for j in range(W - 2):
                    out[n, f, i, j] = np.sum(x[n, :, i : i + 3, j : j + 3] * w[f]) + b[f]
    return out


def conv_backward(dout, x, w):
    N, F, H_out, W_out = dout.shape
    dw = np.zeros_like(w)
    db = np.zeros(F)
    for n in range(N):
        for f in range(F):
            db[f] += dout[n, f].sum()
            for i in range(H_out):
                for j in range(W_out):
                    dw[f] += dout[n, f, i, j] * x[n, :, i : i + 3, j : j + 3]
    return dw, db


def maxpool_forward(x):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H // 2, W // 2))
    for i in range(H // 2):
        for j in range(W // 2):
            out[:, :, i, j] = x[:, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max(axis=(2, 3))
    return out


def maxpool_backward(dout, x):
    N, C, H, W = x.shape
    dx = np.zeros_like(x)
    for i in range(H // 2):
        for j in range(W // 2):
            window = x[:, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            share = dout[:, :, i, j][:, :, None, None]
            dx[:, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] += mask * share
    return dx


def forward(X, params):
    conv = conv_forward(X, params["W1"], params["b1"])
    act = np.maximum(conv, 0)
    pooled = maxpool_forward(act)
    flat = pooled.reshape(X.shape[0], -1)
    scores = flat @ params["W2"] + params["b2"]
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return probs, (X, conv, act, pooled, flat)


def loss(probs, y):
    return float(-np.log(probs[np.arange(len(y)), y]).mean())


def backward(probs, y, cache, params):
    X, conv, act, pooled, flat = cache
    N = len(y)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {"W2": flat.T @ dscores, "b2": dscores.sum(axis=0)}
    dpooled = (dscores @ params["W2"].T).reshape(pooled.shape)
    dact = maxpool_backward(dpooled, act)
    dconv = dact * (conv > 0)
    grads["W1"], grads["b1"] = conv_backward(dconv, X, params["W1"])
    return grads
