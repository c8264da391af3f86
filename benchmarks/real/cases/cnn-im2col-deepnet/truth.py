"""Truth for cnn-im2col-deepnet: CNN(make_cifar10_cnn((3, 8, 8), 10)) (conv 5x5 pad 2 -> relu ->
maxpool 2/2 -> conv 5x5 -> relu -> maxpool -> flatten -> fully connected) on 4 images; the loss is
train_step's own (SoftmaxLoss + l2_regularization), the gradients the list train_step returns
(reversed layer order, [dW, db] per layer)."""

import sys
import types

import numpy as np
from truthlib import Param, report, seed_everything

# deepnet/solver.py imports sklearn.utils.shuffle (not installed here, and not used by train_step)
_sk, _sku = types.ModuleType("sklearn"), types.ModuleType("sklearn.utils")
_sku.shuffle = None
_sk.utils = _sku
sys.modules.setdefault("sklearn", _sk)
sys.modules.setdefault("sklearn.utils", _sku)

from deepnet.loss import SoftmaxLoss, l2_regularization
from deepnet.nnet import CNN
from run_cnn import make_cifar10_cnn

seed_everything(0)
cnn = CNN(make_cifar10_cnn((3, 8, 8), 10))
rng = np.random.default_rng(1)
X = 0.3 * rng.normal(size=(4, 3, 8, 8))
y = np.array([0, 1, 2, 3])
_, grads = cnn.train_step(X, y)


def loss() -> float:
    return float(SoftmaxLoss(cnn.forward(X), y)[0] + l2_regularization(cnn.layers))


params = []
for i, (layer, grad) in enumerate(zip(cnn.layers, reversed(grads))):
    for k, (p, g) in enumerate(zip(layer.params, grad)):
        # FullyConnected's db is (10,) for a (1, 10) bias: same entries, applied by broadcasting
        g = np.reshape(g, p.shape) if np.size(g) == p.size else g
        params.append(Param(f"layers[{i}].params[{k}]", p, g))
report(params, loss)
