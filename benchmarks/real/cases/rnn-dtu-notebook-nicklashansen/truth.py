"""Truth for rnn-dtu-notebook-nicklashansen: the notebook's vanilla RNN (forward_pass /
backward_pass) on one one-hot sequence (a a b b -> a b b EOS, vocabulary of 4, hidden size 8).

The loss is the notebook's own, computed inside backward_pass (-mean over the vocabulary of
log p * target, summed over time); the gradients are backward_pass's, which are the cross-entropy
gradients (1/vocab of nothing) rescaled by clip_gradient_norm(max_norm=0.25), so a correct backward
would be the truth times one constant c. The constant is read from the output layer (W, b_out: no
recurrence, no tanh) and divided out before judging, as SPEC §3.3 reads conventions; what is left
wrong is what the tanh derivative (and the t-1 index at t=0) get wrong."""

import types

import numpy as np
from truthlib import Param, emit, judge, load_defs, seed_everything

NB = "RNN_LSTM_from_scratch.ipynb"
# imports and defs only (the other cells train and plot). torch is not needed by the NumPy RNN: `data`
# and `nn` stand in for torch.utils.data and torch.nn, which only the notebook's Dataset class and its
# PyTorch section subclass, and `params` for the global that the LSTM section's
# `def backward(..., p = params)` reads when it is defined
stub = types.SimpleNamespace
ns = load_defs(NB, data=stub(Dataset=object), nn=stub(Module=object), params=None)
seed_everything(0)
params = ns["init_rnn"](hidden_size=8, vocab_size=4)
data = np.load("sequence.npz")
inputs, targets = (
    data["x"][0],
    data["y"][0],
)  # (T, vocab, 1) one-hot, as one_hot_encode_sequence makes
h0 = np.zeros((8, 1))

outputs, hidden_states = ns["forward_pass"](inputs, h0, params)
_, grads = ns["backward_pass"](inputs, outputs, hidden_states, targets, params)
grads = [np.array(g, dtype=np.float64) for g in grads]


def loss() -> float:
    outs, hs = ns["forward_pass"](inputs, h0, params)
    return float(ns["backward_pass"](inputs, outs, hs, targets, params)[0])


names = [
    "U",
    "V",
    "b_hidden",
    "W",
    "b_out",
]  # forward order: tanh(U x + V h + b_hidden), W h + b_out
order = [0, 1, 3, 2, 4]  # positions in the notebook's (U, V, W, b_hidden, b_out) tuples
first = judge([Param(n, params[k], grads[k]) for n, k in zip(names, order)], loss)
c = first["tensors"]["W"]["ratio"]  # the output layer's constant (clipping x vocabulary)
out = judge([Param(n, params[k], grads[k] / c) for n, k in zip(names, order)], loss)
out["output_scale"] = c
out["output_scale_agrees"] = bool(
    np.isclose(first["tensors"]["b_out"].get("ratio", np.nan), c, rtol=1e-3)
)
emit(out)
