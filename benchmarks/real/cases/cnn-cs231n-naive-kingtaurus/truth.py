"""Truth for cnn-cs231n-naive-kingtaurus: the learner's own naive layer functions composed as the
assignment's notebook composes them (conv 3x3 pad 1 -> relu -> max-pool 2x2/2 -> affine ->
softmax_loss) on 4 images (2, 6, 6); the loss is their softmax_loss, the gradients what their
backward functions return, chained through the caches."""

import sys

import numpy as np
from truthlib import Param, report, seed_everything

sys.path.insert(0, "assignment2")
from cs231n.layers import (
    affine_backward,
    affine_forward,
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
    softmax_loss,
)

seed_everything(0)
rng = np.random.default_rng(1)
X = rng.normal(size=(4, 2, 6, 6))
y = np.array([0, 1, 2, 0])
W1, b1 = 0.5 * rng.normal(size=(3, 2, 3, 3)), 0.1 * rng.normal(size=3)
W2, b2 = 0.5 * rng.normal(size=(3 * 3 * 3, 3)), 0.1 * rng.normal(size=3)
conv_param = {"stride": 1, "pad": 1}
pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}


def forward():
    a, c1 = conv_forward_naive(X, W1, b1, conv_param)
    r, c2 = relu_forward(a)
    p, c3 = max_pool_forward_naive(r, pool_param)
    s, c4 = affine_forward(p, W2, b2)
    return s, (c1, c2, c3, c4)


scores, (c1, c2, c3, c4) = forward()
_, dscores = softmax_loss(scores, y)
dp, dW2, db2 = affine_backward(dscores, c4)
dr = max_pool_backward_naive(dp, c3)
da = relu_backward(dr, c2)
_, dW1, db1 = conv_backward_naive(da, c1)


def loss() -> float:
    return float(softmax_loss(forward()[0], y)[0])


report(
    [Param("W1", W1, dW1), Param("b1", b1, db1), Param("W2", W2, dW2), Param("b2", b2, db2)], loss
)
