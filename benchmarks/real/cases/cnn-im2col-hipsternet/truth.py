"""Truth for cnn-im2col-hipsternet: ConvNet(D=4, C=3, H=8, lam=0) (conv 3x3 pad 1 via im2col -> relu
-> maxpool 2/2 via im2col -> fc -> relu -> fc) on 4 images (1, 28, 28); the loss is train_step's own
(hipsternet.loss.cross_entropy); the gradients the dict train_step returns."""

import numpy as np
from hipsternet.neuralnet import ConvNet
from truthlib import Param, report, seed_everything

seed_everything(0)
net = ConvNet(4, 3, 8, lam=0.0)
rng = np.random.default_rng(1)
X = rng.normal(size=(4, 1, 28, 28))
y = np.array([0, 1, 2, 0])
grad, _ = net.train_step(X, y)


def loss() -> float:
    y_pred, _ = net.forward(X, train=True)
    return float(net.loss_funs[net.loss](net.model, y_pred, y, net.lam))


names = ["W1", "b1", "W2", "b2", "W3", "b3"]
# b1's gradient is (D, 1) as b1; fc biases are (1, H) with (H,) gradients: same entries, broadcast in the update
report(
    [Param(f"model['{k}']", net.model[k], np.reshape(grad[k], net.model[k].shape)) for k in names],
    loss,
)
