"""A cs231n-style ConvNet: conv (im2col) - relu - 2x2 avg pool - flatten - affine - softmax."""

import numpy as np
from layers import (
    affine_backward,
    affine_forward,
    avg_pool_backward,
    avg_pool_forward,
    conv_backward,
    conv_forward,
    flatten_backward,
    flatten_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


class ConvNet:
    def __init__(self, input_dim=(1, 6, 6), filters=3, k=3, classes=3, seed=0):
        rng = np.random.default_rng(seed)
        C, H, W = input_dim
        self.params = {
            "W1": rng.normal(scale=0.5, size=(filters, C, k, k)),
            "b1": rng.normal(scale=0.1, size=filters),
            "W2": rng.normal(scale=0.3, size=(filters * (H // 2) * (W // 2), classes)),
            "b2": np.zeros(classes),
        }

    def loss(self, X, y=None):
        p = self.params
        conv, conv_cache = conv_forward(X, p["W1"], p["b1"], pad=1)
        act, relu_cache = relu_forward(conv)
        pooled, pool_cache = avg_pool_forward(act, 2)
        flat, flat_cache = flatten_forward(pooled)
        scores, fc_cache = affine_forward(flat, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dflat, grads["W2"], grads["b2"] = affine_backward(dscores, fc_cache)
        dpooled = flatten_backward(dflat, flat_cache)
        dact = avg_pool_backward(dpooled, pool_cache)
        dconv = relu_backward(dact, relu_cache)
        _, grads["W1"], grads["b1"] = conv_backward(dconv, conv_cache)
        return loss, grads
