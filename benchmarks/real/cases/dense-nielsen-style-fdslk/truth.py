"""Truth for dense-nielsen-style-fdslk: NeuralNetwork([4, 8, 5, 3]) with sigmoid and the cost
‖a − y‖² (distance_derivative = 2(a − y)) summed over 4 column samples, against backprop's
(nabla_b, nabla_w) summed over the samples."""

import sys

sys.path.insert(0, "BP")
import numpy as np
from BP import NeuralNetwork, distance_derivative, sigmoid, sigmoid_derivative
from truthlib import Param, report, seed_everything

seed_everything(0)
net = NeuralNetwork([4, 8, 5, 3], sigmoid, sigmoid_derivative, distance_derivative)
rng = np.random.default_rng(1)
xs = [rng.normal(size=(4, 1)) for _ in range(4)]
ys = [np.eye(3)[:, [k % 3]] for k in range(4)]


def loss() -> float:
    return sum(float(np.sum((net.feedforward(x) - y) ** 2)) for x, y in zip(xs, ys))


nb = [np.zeros_like(b) for b in net.biases]
nw = [np.zeros_like(w) for w in net.weights]
for x, y in zip(xs, ys):
    db, dw = net.backprop(x, y)
    nb = [a + b for a, b in zip(nb, db)]
    nw = [a + b for a, b in zip(nw, dw)]
params = []
for i, (w, b) in enumerate(zip(net.weights, net.biases)):
    params += [Param(f"weights[{i}]", w, nw[i]), Param(f"biases[{i}]", b, nb[i])]
report(params, loss)
