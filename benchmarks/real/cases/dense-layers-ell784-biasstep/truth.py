"""Truth for dense-layers-ell784-biasstep: Dense(4,8) Sigmoid Dense(8,3) Softmax on 4 column
samples; the loss is their mse summed over the samples; the user's gradient of each Dense
parameter is −Δ/alpha of one backward pass per sample (the body of their train loop), restored
between samples."""

import sys

sys.path.insert(0, "Assignment1")
import numpy as np
from NeuralNetwork.activations import Sigmoid, Softmax
from NeuralNetwork.dense import Dense
from NeuralNetwork.losses import mse, mse_derive
from NeuralNetwork.network import predict
from truthlib import Param, report, seed_everything

seed_everything(0)
NN = [Dense(4, 8), Sigmoid(), Dense(8, 3), Softmax()]
rng = np.random.default_rng(1)
X = rng.normal(size=(4, 4, 1))
Y = np.eye(3)[[0, 1, 2, 0]].reshape(4, 3, 1)
ALPHA = 0.03
dense = {0: NN[0], 2: NN[2]}


def loss() -> float:
    return sum(float(mse(y, predict(NN, x))) for x, y in zip(X, Y))


grads = {
    (i, a): np.zeros_like(getattr(d, a)) for i, d in dense.items() for a in ("weights", "bias")
}
for x, y in zip(X, Y):
    before = {(i, a): getattr(d, a).copy() for i, d in dense.items() for a in ("weights", "bias")}
    gradient = mse_derive(y, predict(NN, x))
    for layer in reversed(NN):
        gradient = layer.backward(gradient, ALPHA)
    for (i, a), old in before.items():
        arr = getattr(dense[i], a)
        grads[(i, a)] -= (arr - old) / ALPHA
        arr[...] = old

report(
    [
        Param(f"NN[{i}].{a}", getattr(dense[i], a), grads[(i, a)])
        for i in (0, 2)
        for a in ("weights", "bias")
    ],
    loss,
)
