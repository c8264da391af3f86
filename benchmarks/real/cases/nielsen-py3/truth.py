"""Truth for nielsen-py3: ½‖a − y‖² summed over 4 samples, against backprop's (dw, db) summed."""

import numpy as np
from network import Network
from truthlib import Param, report, seed_everything

seed_everything(0)
net = Network([4, 8, 3])
rng = np.random.default_rng(1)
xs = [rng.normal(size=(4, 1)) for _ in range(4)]
ys = [np.eye(3)[:, [k % 3]] for k in range(4)]


def loss() -> float:
    return sum(0.5 * float(np.sum((net.forward(x) - y) ** 2)) for x, y in zip(xs, ys))


dw = [np.zeros_like(w) for w in net.weights]
db = [np.zeros_like(b) for b in net.biases]
for x, y in zip(xs, ys):
    w_, b_ = net.backprop(x, y)
    dw = [a + b for a, b in zip(dw, w_)]
    db = [a + b for a, b in zip(db, b_)]
params = []
for i, (w, b) in enumerate(zip(net.weights, net.biases)):
    params += [Param(f"weights[{i}]", w, dw[i]), Param(f"biases[{i}]", b, db[i])]
report(params, loss)
