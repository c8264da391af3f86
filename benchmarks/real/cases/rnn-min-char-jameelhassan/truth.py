"""Truth for rnn-min-char-jameelhassan: Karpathy's min-char-rnn as the learner runs it (module-level
parameters, lossFun(inputs, targets, hprev)), on one sequence of 4 character ids with hprev = 0.
The loss and the gradients are lossFun's own (cross-entropy summed over the sequence; dWxh, dWhh,
dWhy, dbh, dby). The script trains at top level, so only its definitions, literal settings and the
five parameter assignments run (truthlib.load_defs), with the script's own text as `data` (hidden
size 250, vocabulary 62). The script's randn * 0.01 weights leave dWhh and dWhy entries near the
central-difference noise, so the weights are redrawn at a 0.1 scale (any point checks a gradient);
on 4 steps every gradient entry stays inside the clip to [-5, 5], so the clipping never acts
(checked below)."""

import ast
from pathlib import Path

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

PARAMS = ("Wxh", "Whh", "Why", "bh", "by")
seed_everything(0)
text = Path("shakespeare_train.txt").read_text()
ns = load_defs(
    "min-char-rnn.py",
    data=text,
    chars=sorted(set(text)),
    keep=lambda node: (
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id in PARAMS for t in node.targets)
    ),
)
vocab = ns["vocab_size"]
rng = np.random.default_rng(1)
for k in PARAMS:
    ns[k][...] = 0.1 * rng.normal(size=ns[k].shape)
inputs, targets = [5, 17, 2, 40], [17, 2, 40, 11]
hprev = np.zeros((ns["hidden_size"], 1))
loss0, dWxh, dWhh, dWhy, dbh, dby, _ = ns["lossFun"](inputs, targets, hprev)
grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}


def loss() -> float:
    return float(ns["lossFun"](inputs, targets, hprev)[0])


clip_inactive = bool(max(np.abs(g).max() for g in grads.values()) < 5)
# forward order: hs[t] = tanh(Wxh x + Whh h + bh), ys[t] = Why h + by
report([Param(k, ns[k], grads[k]) for k in PARAMS], loss, clip_inactive=clip_inactive, vocab=vocab)
