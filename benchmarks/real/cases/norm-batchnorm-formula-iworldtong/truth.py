"""Truth for norm-batchnorm-formula-iworldtong: the learner's layer functions (utils/layers.py)
composed as affine -> batchnorm (training mode) -> affine -> softmax_loss, the network the spec
declares, on 8 samples of 4 features and 3 classes, each backward fed the cache its forward returned; the loss is their
softmax_loss, the gradients what their backward functions return."""

import numpy as np
from truthlib import Param, report, seed_everything
from utils.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    softmax_loss,
)

seed_everything(0)
rng = np.random.default_rng(1)
X = rng.normal(size=(8, 4))
y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
W1, b1 = 0.5 * rng.normal(size=(4, 6)), 0.1 * rng.normal(size=6)
gamma, beta = 1.0 + 0.1 * rng.normal(size=6), 0.1 * rng.normal(size=6)
W2, b2 = 0.5 * rng.normal(size=(6, 3)), 0.1 * rng.normal(size=3)
bn_param = {"mode": "train"}


def forward():
    a, c1 = affine_forward(X, W1, b1)
    n, c2 = batchnorm_forward(a, gamma, beta, bn_param)
    s, c3 = affine_forward(n, W2, b2)
    return s, (c1, c2, c3)


scores, (c1, c2, c3) = forward()
_, dscores = softmax_loss(scores, y)
dn, dW2, db2 = affine_backward(dscores, c3)
da, dgamma, dbeta = batchnorm_backward(dn, c2)
_, dW1, db1 = affine_backward(da, c1)


def loss() -> float:
    return float(softmax_loss(forward()[0], y)[0])


report(
    [
        Param("W1", W1, dW1),
        Param("b1", b1, db1),
        Param("gamma", gamma, dgamma),
        Param("beta", beta, dbeta),
        Param("W2", W2, dW2),
        Param("b2", b2, db2),
    ],
    loss,
)
