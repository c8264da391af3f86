"""Truth for norm-dropout-ontheway361: the learner's FullyConnectedNet built from a config dict,
{affine - batchnorm - relu - dropout} x 2 - affine - softmax, dropout p = 0.3 (their dropout
keeps a unit with probability 1 - p and does not rescale in training), batchnorm on, float64,
their default L2 reg 1e-2, on 8 samples of 4 features. The loss is what their loss(X, y)
returns (with the L2 term), the gradients its grads dict. NumPy is reseeded before every
evaluation, so each evaluation draws the same dropout masks (np.random.rand). Their modules
import IPython's `embed` (a debugging hook they never call here), stubbed when IPython is
missing."""

import sys
import types

import numpy as np
from truthlib import Param, report, seed_everything

try:
    import IPython  # noqa: F401
except ImportError:
    sys.modules["IPython"] = types.SimpleNamespace(embed=lambda *a, **k: None)

sys.path.insert(0, "level_2.0")
from classifiers.fc_net import FullyConnectedNet

seed_everything(0)
net = FullyConnectedNet(
    {
        "input_dim": 4,
        "hidden_dims": [7, 6],
        "num_classes": 3,
        "dropout": 0.3,
        "use_batchnorm": True,
        "weights_scale": 0.1,
        "dtype": np.float64,
    }
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
