"""Truth for norm-batchnorm-oilneck-sequential: the learner's Keras-like Sequential (deepL_module)
with Dense(tanh) - Batch_norm_Layer - Dense(relu) - Batch_norm_Layer - Dense, softmax
cross-entropy, on 6 samples of 3 features. The loss is their model.loss(x, t) (training-mode
batch statistics every time), the gradients the dict their model.gradient(x, t) returns, compared
for every array in model.params that the forward reads (params['beta1'], params['beta2'] are
never read: add() wires the Dense biases in as the batchnorm shifts)."""

import sys

import numpy as np
from truthlib import Param, report, seed_everything

sys.path.insert(0, "prml")
from deepL_module.nn.layers import Batch_norm_Layer, Dense
from deepL_module.nn.sequential import Sequential

seed_everything(0)
model = Sequential()
model.add(Dense(6, input_dim=3, activation="tanh"))
model.add(Batch_norm_Layer())
model.add(Dense(4, activation="relu"))
model.add(Batch_norm_Layer())
model.add(Dense(3))
model.compile(loss="categorical_crossentropy", optimizer="sgd")

rng = np.random.default_rng(1)
x = rng.normal(size=(6, 3))
t = np.eye(3)[[0, 1, 2, 0, 1, 2]]

grads = model.gradient(x, t)


def loss() -> float:
    return float(model.loss(x, t))


# params["beta1"] and params["beta2"] never reach the forward (see SOURCE.txt): not parameters
names = ["W1", "b1", "gamma1", "W2", "b2", "gamma2", "W3", "b3"]
report([Param(n, model.params[n], grads.get(n)) for n in names], loss)
