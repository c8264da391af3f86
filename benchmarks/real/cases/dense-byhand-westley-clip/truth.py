"""Truth for dense-byhand-westley-clip: NeuralNet(8, tanh, softmax) initialised for 4 inputs and
3 classes; the loss is the summed cross-entropy −Σ y ln p over 6 samples (the one whose descent
direction delta = Y − P is); the user's gradient is −Δ/lr of one continue_training(X, Y, 1)."""

import numpy as np
from neural_network import NeuralNet
from truthlib import Param, report, seed_everything

seed_everything(0)
net = NeuralNet(8, "tanh", "softmax", learning_rate=0.01)
net.initialise_network(4, 3)
for b in net.biases:  # away from the zero init, as after some training
    b += 0.1 * np.random.randn(*b.shape)
rng = np.random.default_rng(1)
X = rng.normal(size=(6, 4))
Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
LR = net.learning_rate


def loss() -> float:
    return float(-np.sum(Y * np.log(net.probabilities(X))))


before = [a.copy() for a in net.weights + net.biases]
net.continue_training(X, Y, num_epochs=1)
after = net.weights + net.biases
grads = [-(a - b) / LR for a, b in zip(after, before)]
for a, b in zip(after, before):
    a[...] = b

params = []
for i in range(len(net.weights)):
    params += [
        Param(f"weights[{i}]", net.weights[i], grads[i]),
        Param(f"biases[{i}]", net.biases[i], grads[len(net.weights) + i]),
    ]
report(params, loss)
