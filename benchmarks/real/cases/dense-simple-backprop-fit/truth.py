"""Truth for dense-simple-backprop-fit: NeuralNetwork(4, 6, 3) with sigmoid hidden and output
layers; the loss is ½‖y − a‖² summed over 4 samples (what fit's deltas descend); the user's
gradient is −Δ/lr of one fit() call on each single sample, the weights restored in between."""

import numpy as np
from BackPropagationNN import NeuralNetwork
from truthlib import Param, report, seed_everything

seed_everything(0)
net = NeuralNetwork(4, 6, 3, activation="sigmoid", output_act="sigmoid")
rng = np.random.default_rng(1)
X = rng.normal(size=(4, 4))
Y = np.eye(3)[[0, 1, 2, 0]]
LR = 0.2


def loss() -> float:
    return sum(0.5 * float(np.sum((y - net.feedforward(x)) ** 2)) for x, y in zip(X, Y))


g_wi, g_wo = np.zeros_like(net.wi), np.zeros_like(net.wo)
for i in range(len(X)):
    wi0, wo0 = net.wi.copy(), net.wo.copy()
    net.updatei, net.updateo = 0, 0
    net.fit(X[i : i + 1], Y[i : i + 1], epochs=1, learning_rate=LR)
    g_wi -= (net.wi - wi0) / LR
    g_wo -= (net.wo - wo0) / LR
    net.wi[...] = wi0
    net.wo[...] = wo0

report([Param("wi", net.wi, g_wi), Param("wo", net.wo, g_wo)], loss)
