"""Truth for norm-layernorm-fortileizhang: the learner's FullyConnectedNet
{affine - layer_norm - relu - dropout} x 2 (7 and 6 units) - affine - softmax
(normalization='layer_norm', dropout keep-probability 0.8), float64, on 8 samples of 4 features.
The loss is what their loss(X, y) returns, the gradients its grads dict. NumPy's generators are
reseeded before every evaluation, so each evaluation draws the same dropout masks (dropout_forward
draws them with np.random.rand)."""

import sys

import numpy as np
from truthlib import Param, report, seed_everything

sys.path.insert(0, "code/cs231n/assignment2")
from cs231n.classifiers.fc_net import FullyConnectedNet

seed_everything(0)
net = FullyConnectedNet(
    [7, 6], input_dim=4, num_classes=3, weight_scale=0.1, dropout=0.8, normalization="layer_norm"
)
rng = np.random.default_rng(1)
X = rng.normal(size=(8, 4))
y = np.array([0, 1, 2, 0, 1, 2, 0, 1])

seed_everything(0)
_, grads = net.loss(X, y)


def loss() -> float:
    seed_everything(0)
    return float(net.loss(X, y)[0])


names = ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
report([Param(n, net.params[n], grads[n]) for n in names], loss)
