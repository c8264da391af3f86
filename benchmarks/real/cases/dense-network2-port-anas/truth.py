"""Truth for dense-network2-port-anas: Network([4, 8, 3]) with CrossEntropyCost; the loss is the
cost's own fn(a, y) summed over 4 column samples, against backprop's (nabla_b, nabla_w) summed."""

import sys

sys.path.insert(0, "src")
import numpy as np
from network import CrossEntropyCost, Network
from truthlib import Param, report, seed_everything

seed_everything(0)
net = Network([4, 8, 3], cost=CrossEntropyCost)
rng = np.random.default_rng(1)
xs = [rng.normal(size=(4, 1)) for _ in range(4)]
ys = [np.eye(3)[:, [k % 3]] for k in range(4)]


def loss() -> float:
    return sum(float(net.cost.fn(net.feedforward(x), y)) for x, y in zip(xs, ys))


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
