"""Truth for dense-dsfs-grus-lists: a [4, 5, 3] network of Python lists; the loss is ½Σ(o − t)²
over 4 samples; the user's gradient is minus the change one backpropagate() call makes (step 1),
per sample, the weights restored in between."""

import copy
import random
import sys

sys.path.insert(0, "code-python3")
import numpy as np
from neural_networks import backpropagate, feed_forward
from truthlib import Param, report, seed_everything

seed_everything(0)
network = [
    [[random.random() for __ in range(4 + 1)] for __ in range(5)],
    [[random.random() for __ in range(5 + 1)] for __ in range(3)],
]
rng = np.random.default_rng(1)
xs = [list(map(float, rng.normal(size=4))) for _ in range(4)]
ts = [[1.0 if k == j % 3 else 0.0 for k in range(3)] for j in range(4)]


def loss() -> float:
    total = 0.0
    for x, t in zip(xs, ts):
        out = feed_forward(network, x)[-1]
        total += 0.5 * sum((o - ti) ** 2 for o, ti in zip(out, t))
    return total


grads = [[[0.0] * len(neuron) for neuron in layer] for layer in network]
for x, t in zip(xs, ts):
    before = copy.deepcopy(network)
    backpropagate(network, x, t)
    for l, layer in enumerate(network):
        for n, neuron in enumerate(layer):
            for k in range(len(neuron)):
                grads[l][n][k] += before[l][n][k] - neuron[k]  # step size 1
                neuron[k] = before[l][n][k]

report([Param(f"network[{l}]", network[l], grads[l]) for l in range(2)], loss)
