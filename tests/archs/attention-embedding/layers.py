"""cs231n-style layer functions for a one-head self-attention classifier over token ids: each
forward returns (out, cache), each backward takes (dout, cache). Sequences are (N, T)."""

import numpy as np


def embedding_forward(ids, W_embed):
    return W_embed[ids], (ids, W_embed.shape)


def embedding_backward(dout, cache):
    ids, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, ids, dout)
    return dW


def attention_forward(x, Wq, Wk, Wv):
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = q @ k.transpose(0, 2, 1) * scale
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    att = e / e.sum(axis=-1, keepdims=True)
    out = att @ v
    return out, (x, Wq, Wk, Wv, q, k, v, att, scale)


def attention_backward(dout, cache):
    x, Wq, Wk, Wv, q, k, v, att, scale = cache
    datt = dout @ v.transpose(0, 2, 1)
    dv = att.transpose(0, 2, 1) @ dout
    dscores = att * (datt - np.sum(datt * att, axis=-1, keepdims=True))
    dq = dscores @ k * scale
    dk = dscores.transpose(0, 2, 1) @ q * scale
    dWq = np.einsum("ntd,nte->de", x, dq)
    dWk = np.einsum("ntd,nte->de", x, dk)
    dWv = np.einsum("ntd,nte->de", x, dv)
    dx = dq @ Wq.T + dk @ Wk.T + dv @ Wv.T
    return dx, dWq, dWk, dWv


def mean_pool_forward(x):
    return x.mean(axis=1), x.shape


def mean_pool_backward(dout, shape):
    return np.repeat(dout[:, None, :], shape[1], axis=1) / shape[1]


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
