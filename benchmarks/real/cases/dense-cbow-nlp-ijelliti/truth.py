"""Truth for dense-cbow-nlp-ijelliti: the notebook's initialize_model(8, 12), forward_prop and
back_prop on the batch in batch.npz (4 samples, used as columns: averaged one-hot contexts, one-hot centre words);
the loss is the assignment's cross-entropy J = -(1/m) Σ y log softmax(z) of forward_prop's scores,
with the notebook's own softmax; the gradients are back_prop's."""

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

NB = "2 - Natural Language Processing with Probabilistic Models/Labs/Week 4/C2_W4_Assignment.ipynb"
ns = load_defs(
    NB
)  # imports (nltk, utils2 skipped when missing) and defs; later cells read data and train
seed_everything(0)
batch = np.load("batch.npz")
x, y = batch["x"].T, batch["y"].T  # stored one sample per row; the notebook uses columns
m = x.shape[1]
W1, W2, b1, b2 = ns["initialize_model"](8, 12)

z, h = ns["forward_prop"](x, W1, W2, b1, b2)
yhat = ns["softmax"](z)
gW1, gW2, gb1, gb2 = ns["back_prop"](x, yhat, y, h, W1, W2, b1, b2, m)


def loss() -> float:
    zz, _ = ns["forward_prop"](x, W1, W2, b1, b2)
    return float(-np.sum(y * np.log(ns["softmax"](zz))) / m)


# forward order: h = relu(W1 x + b1), z = W2 h + b2
report(
    [Param("W1", W1, gW1), Param("b1", b1, gb1), Param("W2", W2, gW2), Param("b2", b2, gb2)],
    loss,
    hidden_all_active=bool(np.all(W1 @ x + b1 > 0)),
)
