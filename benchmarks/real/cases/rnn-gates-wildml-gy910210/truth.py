"""Truth for rnn-gates-wildml-gy910210: Model(word_dim=8, hidden_dim=6, bptt_truncate=4) on one
sequence of 4 word ids (so the truncation never cuts: full backpropagation through time). The
loss is the model's own calculate_loss(x, y) (cross-entropy averaged over the time steps); the
gradients are bptt(x, y)'s (dU, dW, dV), which are sums over the steps: a correct bptt is the
truth times T = 4 (a convention). As written no single constant fits: the forward's output reads
the previous state while the backward differentiates the current one."""

from rnn import Model
from truthlib import Param, report, seed_everything

seed_everything(0)
model = Model(8, hidden_dim=6, bptt_truncate=4)
x, y = [1, 5, 2, 7], [5, 2, 7, 3]
dU, dW, dV = model.bptt(x, y)


def loss() -> float:
    return float(model.calculate_loss(x, y))


# forward order: s = tanh(U x + W prev_s), then the output V · (a state)
report([Param("U", model.U, dU), Param("W", model.W, dW), Param("V", model.V, dV)], loss)
