"""Truth for dense-mnist-softmax-aliach04: the notebook's init_param, forward_prop and
backward_prop on 4 samples (columns) with integer labels that include 9; the loss is the tutorial's
cross-entropy J = -(1/m) Σ one_hot(Y)·log A2 of the notebook's own forward (its softmax included);
the gradients are backward_prop's (dW1, db1, dW2, db2)."""

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

ns = load_defs("mnist-from-scratch.ipynb")  # imports and defs; the data cells read a Kaggle path
seed_everything(0)
batch = np.load("batch.npz")
X, Y = batch["x"].T, batch["y"]  # stored one sample per row; the notebook uses columns
m = Y.size
W1, b1, W2, b2 = ns["init_param"]()

Z1, A1, Z2, A2 = ns["forward_prop"](W1, b1, W2, b2, X)
dW1, db1, dW2, db2 = ns["backward_prop"](Z1, A1, Z2, A2, W2, X, Y)
onehot = np.eye(10)[Y].T


def loss() -> float:
    A = ns["forward_prop"](W1, b1, W2, b2, X)[3]
    return float(-np.sum(onehot * np.log(A)) / m)


A2_check = ns["forward_prop"](W1, b1, W2, b2, X)[3]
report(
    [Param("W1", W1, dW1), Param("b1", b1, db1), Param("W2", W2, dW2), Param("b2", b2, db2)],
    loss,
    columns_sum_to_one=bool(np.allclose(A2_check.sum(axis=0), 1.0)),
)
