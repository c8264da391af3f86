"""Embedding, one attention head, mean over time, affine, softmax: as functions over a params
dict, the forward keeping its caches and the backward returning a dict of gradients."""

import numpy as np
from layers import (
    affine_backward,
    affine_forward,
    attention_backward,
    attention_forward,
    embedding_backward,
    embedding_forward,
    mean_pool_backward,
    mean_pool_forward,
    softmax_loss,
)


def init_params(vocab, dim, classes):
    rng = np.random.default_rng(5)
    return {
        "W_embed": rng.normal(scale=0.8, size=(vocab, dim)),
        "Wq": rng.normal(scale=0.6, size=(dim, dim)),
        "Wk": rng.normal(scale=0.6, size=(dim, dim)),
        "Wv": rng.normal(scale=0.6, size=(dim, dim)),
        "W_out": rng.normal(scale=0.6, size=(dim, classes)),
        "b_out": np.zeros(classes),
    }


def forward(ids, params):
    x, c1 = embedding_forward(ids, params["W_embed"])
    h, c2 = attention_forward(x, params["Wq"], params["Wk"], params["Wv"])
    pooled, c3 = mean_pool_forward(h)
    scores, c4 = affine_forward(pooled, params["W_out"], params["b_out"])
    return scores, (c1, c2, c3, c4)


def compute_loss(scores, y):
    return softmax_loss(scores, y)[0]


def backward(scores, y, caches):
    c1, c2, c3, c4 = caches
    _, dscores = softmax_loss(scores, y)
    grads = {}
    dpooled, grads["W_out"], grads["b_out"] = affine_backward(dscores, c4)
    dh = mean_pool_backward(dpooled, c3)
    dx, grads["Wq"], grads["Wk"], grads["Wv"] = attention_backward(dh, c2)
    grads["W_embed"] = embedding_backward(dx, c1)
    return grads
