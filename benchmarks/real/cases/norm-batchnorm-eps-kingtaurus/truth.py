"""Truth for norm-batchnorm-eps-kingtaurus: the learner's FullyConnectedNet (affine - batchnorm -
relu) x 2 - affine - softmax, use_batchnorm=True, float64, its default weight_scale 1e-2, on 8
samples of 4 features; the loss is what their loss(X, y) returns, the gradients its grads dict
(keyed by tuples such as ('W', 1) and ('dgamma', 0)). The batch statistics are the training-mode
ones on every evaluation (bn_param 'mode' stays 'train'; the running averages it updates are never
read in training mode)."""

import sys

import numpy as np
from truthlib import Param, report, seed_everything

sys.path.insert(0, "assignment2")
from cs231n.classifiers.fc_net import FullyConnectedNet

seed_everything(0)
net = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, use_batchnorm=True, dtype=np.float64)
rng = np.random.default_rng(1)
X = rng.normal(size=(8, 4))
y = np.array([0, 1, 2, 0, 1, 2, 0, 1])

_, grads = net.loss(X, y)


def loss() -> float:
    return float(net.loss(X, y)[0])


order = [
    ("W", 0),
    ("b", 0),
    ("dgamma", 0),
    ("dbeta", 0),
    ("W", 1),
    ("b", 1),
    ("dgamma", 1),
    ("dbeta", 1),
    ("W", 2),
    ("b", 2),
]
report([Param(f"{k[0]}{k[1]}", net.params[k], grads[k]) for k in order], loss)
