"""cs231n-style layer functions: each forward returns (out, cache), each backward takes
(dout, cache). Images are (N, C, H, W)."""

import numpy as np


def im2col(x, k, pad):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    cols = np.zeros((C * k * k, N * H_out * W_out))
    col = 0
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                cols[:, col] = xp[n, :, i : i + k, j : j + k].reshape(-1)
                col += 1
    return cols


def col2im(dcols, x_shape, k, pad):
    N, C, H, W = x_shape
    H_out, W_out = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    col = 0
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                dxp[n, :, i : i + k, j : j + k] += dcols[:, col].reshape(C, k, k)
                col += 1
    return dxp[:, :, pad : pad + H, pad : pad + W]


def conv_forward(x, w, b, pad):
    N, C, H, W = x.shape
    F, _, k, _ = w.shape
    H_out, W_out = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    cols = im2col(x, k, pad)
    out = w.reshape(F, -1) @ cols + b.reshape(-1, 1)
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    return out, (x, w, pad, cols)


def conv_backward(dout, cache):
    x, w, pad, cols = cache
    F, _, k, _ = w.shape
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    db = dout_mat.sum(axis=1)
    dw = (dout_mat @ cols.T).reshape(w.shape)
    dcols = w.reshape(F, -1).T @ dout_mat
    dx = col2im(dcols, x.shape, k, pad)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def avg_pool_forward(x, size):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H // size, W // size))
    for i in range(H // size):
        for j in range(W // size):
            window = x[:, :, i * size : (i + 1) * size, j * size : (j + 1) * size]
            out[:, :, i, j] = window.mean(axis=(2, 3))
    return out, (x.shape, size)


def avg_pool_backward(dout, cache):
    shape, size = cache
    dx = np.zeros(shape)
    for i in range(shape[2] // size):
        for j in range(shape[3] // size):
            share = dout[:, :, i, j][:, :, None, None] / (size * size)
            dx[:, :, i * size : (i + 1) * size, j * size : (j + 1) * size] += share
    return dx


def flatten_forward(x):
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    return dout.reshape(cache)


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def softmax_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    N = scores.shape[0]
    loss = -np.log(probs[np.arange(N), y]).mean()
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    return loss, dscores / N
