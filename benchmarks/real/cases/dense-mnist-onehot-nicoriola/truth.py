"""Truth for dense-mnist-onehot-nicoriola: the module's forward and backward on the spec's batch
(labels 0, 3, 1, 2): backward_propagation raises (one_hot has labels.max() + 1 = 4 rows, A2 has 10),
so the verdict is a crash, with the exception and the user's line that raised. As a control, the
same code on a batch whose labels include 9 gives gradients that agree with central differences of
the cross-entropy averaged over the batch."""

import sys
import traceback

import numpy as np
from truthlib import Param, emit, judge, seed_everything

sys.path.insert(0, "src")
import neural_network as nn

seed_everything(0)
batch = np.load("batch.npz")
X, Y = batch["x"].T, batch["y"]  # stored one sample per row; the module uses columns
W1, b1, W2, b2 = nn.init_parameters()
out = {}
try:
    Z1, A1, Z2, A2 = nn.forward_propagation(X, W1, b1, W2, b2)
    nn.backward_propagation(X, Y, A1, A2, Z1, W2)
    out["verdict"] = "no-crash"
except Exception as e:
    frames = [
        f for f in traceback.extract_tb(e.__traceback__) if f.filename.endswith("neural_network.py")
    ]
    out.update(verdict="crash", error=type(e).__name__, line=frames[-1].lineno if frames else None)

# control: the same code on a batch with a 9 among the labels
Y9 = np.array([0, 3, 9, 2])
Z1, A1, Z2, A2 = nn.forward_propagation(X, W1, b1, W2, b2)
db1, db2, dW1, dW2 = nn.backward_propagation(X, Y9, A1, A2, Z1, W2)
onehot = np.eye(10)[Y9].T


def loss() -> float:
    A = nn.forward_propagation(X, W1, b1, W2, b2)[3]
    return float(-np.sum(onehot * np.log(A)) / Y9.size)


control = judge(
    [Param("W1", W1, dW1), Param("b1", b1, db1), Param("W2", W2, dW2), Param("b2", b2, db2)], loss
)
out["with_label_9"] = control["verdict"]
emit(out)
