"""Truth for dense-layers-meesh-mseprime: Dense(2,3) tanh Dense(3,1) tanh on 4 XOR samples
(columns); the loss is their mse summed over the samples; the user's gradient of each Dense
parameter is −Δ/lr of one backward pass per sample (their train loop's body), restored between
samples. An in-place update along +gradient climbs the loss: that is an error (SPEC §3.5), never a
convention, so a negative common scale is reported as wrong here."""

import numpy as np
from activation_functions import tanh
from dense import Dense
from loss import mse, mse_prime
from network import predict
from truthlib import Param, emit, judge, seed_everything

seed_everything(0)
network = [Dense(2, 3), tanh(), Dense(3, 1), tanh()]
X = np.reshape([[0, 0], [0, 1], [1, 0], [1, 1]], (4, 2, 1)).astype(float)
Y = np.reshape([[0], [1], [1], [0]], (4, 1, 1)).astype(float)
LR = 0.1
dense = {0: network[0], 2: network[2]}


def loss() -> float:
    return sum(float(mse(y, predict(network, x))) for x, y in zip(X, Y))


grads = {
    (i, a): np.zeros_like(getattr(d, a)) for i, d in dense.items() for a in ("weights", "bias")
}
for x, y in zip(X, Y):
    before = {(i, a): getattr(d, a).copy() for i, d in dense.items() for a in ("weights", "bias")}
    grad = mse_prime(y, predict(network, x))
    for layer in reversed(network):
        grad = layer.backward(grad, LR)
    for (i, a), old in before.items():
        arr = getattr(dense[i], a)
        grads[(i, a)] -= (arr - old) / LR
        arr[...] = old

params = [
    Param(f"network[{i}].{a}", getattr(dense[i], a), grads[(i, a)])
    for i in (0, 2)
    for a in ("weights", "bias")
]
out = judge(params, loss)
if out["verdict"] == "convention" and out["scale"] < 0:  # an update that climbs the loss
    out["verdict"] = "wrong"
    out["wrong"] = [p.name for p in params]
    out["first_wrong"] = params[-1].name
emit(out)
