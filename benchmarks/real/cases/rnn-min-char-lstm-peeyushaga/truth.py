"""Truth for rnn-min-char-lstm-peeyushaga: the learner's min-char-rnn-style LSTM (module-level
parameters, lossFun(inputs, targets, hprev, cprev)) on one sequence of 4 character ids with zero
initial states. The loss and the gradients are lossFun's own (cross-entropy summed over the
sequence; dWf, dbf, dWi, dbi, dWcc, dbcc, dWo, dbo, dWy, dby). The script trains at top level, so
only its definitions, literal settings and the parameter assignments run (truthlib.load_defs), with
V = the 65 characters of input.txt (hidden size 100). Its randn * 0.01 weights leave most gradient
entries near the central-difference noise, so the weights are redrawn at a 0.3 scale (any point
checks a gradient) and the step is 1e-5 instead of truthlib's 1e-6 (the loss is ~17 and many entries
are ~1e-5: rounding, not truncation, limits the check); on 4 steps every entry stays inside the
clip to [-5, 5] (checked below)."""

import ast
from pathlib import Path

import numpy as np
from truthlib import Param, emit, judge, load_defs, seed_everything

PARAMS = (
    "Wf",
    "bf",
    "Wi",
    "bi",
    "Wo",
    "bo",
    "Wcc",
    "bcc",
    "Wy",
    "by",
)  # forward order: f, i, o, cc, y
seed_everything(0)
text = Path("input.txt").read_text()
V = len(set(text))
ns = load_defs(
    "min-char-lstm.py",
    V=V,
    keep=lambda node: (
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id in (*PARAMS, "HV") for t in node.targets)
    ),
)
rng = np.random.default_rng(1)
for k in PARAMS:
    ns[k][...] = 0.3 * rng.normal(size=ns[k].shape)
inputs, targets = [5, 17, 2, 40], [17, 2, 40, 11]
H = ns["hidden_size"]
hprev, cprev = np.zeros((H, 1)), np.zeros((H, 1))
out = ns["lossFun"](inputs, targets, hprev, cprev)
grads = dict(zip(("Wf", "bf", "Wi", "bi", "Wcc", "bcc", "Wo", "bo", "Wy", "by"), out[1:11]))


def loss() -> float:
    return float(ns["lossFun"](inputs, targets, hprev, cprev)[0])


clip_inactive = bool(max(np.abs(g).max() for g in grads.values()) < 5)
result = judge([Param(k, ns[k], grads[k]) for k in PARAMS], loss, eps=1e-5)
emit({**result, "clip_inactive": clip_inactive, "vocab": V})
